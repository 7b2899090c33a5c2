"""The wire's flatten path: the one exception to the breaker gate is a MARKET SELL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.order_broker.wire import flatten_refusal
from exchange.contract import OrderRequest, OrderType, Side


def request(side: Side, type: OrderType) -> OrderRequest:
    price = None if type is OrderType.MARKET else Decimal("60000")
    return OrderRequest(
        symbol="BTCUSDT",
        side=side,
        type=type,
        client_order_id="vgl-test-1",
        quantity=Decimal("0.001"),
        price=price,
    )


def test_a_market_sell_may_take_the_flatten_path() -> None:
    assert flatten_refusal(request(Side.SELL, OrderType.MARKET)) is None


@pytest.mark.parametrize(
    ("side", "type"),
    [
        (Side.BUY, OrderType.MARKET),
        (Side.SELL, OrderType.LIMIT),
        (Side.BUY, OrderType.LIMIT),
        (Side.SELL, OrderType.LIMIT_MAKER),
    ],
)
def test_nothing_else_may(side: Side, type: OrderType) -> None:
    refusal = flatten_refusal(request(side, type))
    assert refusal is not None and "only MARKET SELL" in refusal


def test_only_the_brokers_flatten_handler_uses_the_flatten_path() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    callers = sorted(
        str(p.relative_to(root))
        for package in ("actors", "assembly", "control", "runtime", "supervision", "strategies")
        for p in (root / package).rglob("*.py")
        if "send_flatten(" in p.read_text()
    )
    assert callers == ["actors/order_broker/flatten.py", "actors/order_broker/wire.py"]
