"""The simulator's own symbol filters (``filters.md``): each failure is -1013 with Binance's
``Filter failure: X`` message, bounds are inclusive, arithmetic is exact, and the rules are
the ones exchangeInfo publishes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from exchange.simulator import SimulatorConfig
from exchange.simulator.errors import ApiError
from exchange.simulator.filters import SymbolRules, check_filters
from tests.conftest import SimHandle

BTC = SimulatorConfig().symbols[0]  # tick 0.01, step 0.00001, minNotional 5, x0.2..x5
RULES = SymbolRules.from_filters(BTC.exchange_info_entry()["filters"])
MID = Decimal("60000")

# (side, type, quantity, price, stopPrice, open orders, the failing filter or None)
CASES: list[tuple[str, str, str | None, str | None, str | None, int, str | None]] = [
    ("BUY", "LIMIT", "0.01", "59000", None, 0, None),
    ("BUY", "LIMIT", "0.01", "59000.001", None, 0, "PRICE_FILTER"),
    ("SELL", "LIMIT", "0.01", "1000000.01", None, 0, "PRICE_FILTER"),
    ("BUY", "STOP_LOSS_LIMIT", "0.01", "61000", "61000.005", 0, "PRICE_FILTER"),
    ("BUY", "LIMIT", "0.001", "12000", None, 0, None),  # reference x bidMultiplierDown
    ("BUY", "LIMIT", "0.001", "11999.99", None, 0, "PERCENT_PRICE_BY_SIDE"),
    ("SELL", "LIMIT", "0.001", "300000", None, 0, None),  # reference x askMultiplierUp
    ("SELL", "LIMIT", "0.001", "300000.01", None, 0, "PERCENT_PRICE_BY_SIDE"),
    ("BUY", "LIMIT", "0.000015", "59000", None, 0, "LOT_SIZE"),
    ("BUY", "LIMIT", "0.000001", "59000", None, 0, "LOT_SIZE"),
    ("SELL", "LIMIT", "9000.00001", "59000", None, 0, "LOT_SIZE"),
    ("BUY", "LIMIT", "0.00001000000000000001", "59000", None, 0, "LOT_SIZE"),
    ("BUY", "MARKET", "100", None, None, 0, None),
    ("BUY", "MARKET", "100.00001", None, None, 0, "MARKET_LOT_SIZE"),
    ("BUY", "LIMIT", "0.0001", "50000", None, 0, None),  # notional exactly 5
    ("BUY", "LIMIT", "0.00009", "55555.55", None, 0, "NOTIONAL"),  # 4.9999995
    ("BUY", "LIMIT", "150", "60000", None, 0, None),  # notional exactly 9,000,000
    ("BUY", "LIMIT", "150", "60000.01", None, 0, "NOTIONAL"),
    ("SELL", "MARKET", "0.00008", None, None, 0, "NOTIONAL"),  # applyMinToMarket
    ("BUY", "TAKE_PROFIT_LIMIT", "0.00008", "59000", "59000", 0, "NOTIONAL"),
    ("BUY", "LIMIT", "0.01", "59000", None, 199, None),
    ("BUY", "LIMIT", "0.01", "59000", None, 200, "MAX_NUM_ORDERS"),
]


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


@pytest.mark.parametrize(("side", "kind", "qty", "price", "stop", "open_orders", "failure"), CASES)
def test_each_filter_fails_as_binance_words_it(
    side: str,
    kind: str,
    qty: str | None,
    price: str | None,
    stop: str | None,
    open_orders: int,
    failure: str | None,
) -> None:
    def check() -> None:
        check_filters(
            RULES,
            side=side,
            order_type=kind,
            quantity=_dec(qty),
            price=_dec(price),
            stop_price=_dec(stop),
            reference_price=MID,
            open_orders=open_orders,
        )

    if failure is None:
        check()
        return
    with pytest.raises(ApiError) as exc:
        check()
    assert (exc.value.code, exc.value.msg) == (-1013, f"Filter failure: {failure}")


def test_min_notional_percent_price_and_zero_steps_parse_as_filters_md_says() -> None:
    rules = SymbolRules.from_filters(
        [
            {"filterType": "PRICE_FILTER", "minPrice": "0", "maxPrice": "0", "tickSize": "0"},
            {"filterType": "LOT_SIZE", "minQty": "0.1", "maxQty": "0", "stepSize": "0"},
            {"filterType": "MIN_NOTIONAL", "minNotional": "10", "applyToMarket": False},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.1", "multiplierDown": "0.9"},
        ]
    )

    def check(price: str, qty: str, kind: str = "LIMIT") -> None:
        check_filters(
            rules,
            side="BUY",
            order_type=kind,
            quantity=Decimal(qty),
            price=None if kind == "MARKET" else Decimal(price),
            stop_price=None,
            reference_price=Decimal(100),
            open_orders=10**6,  # no MAX_NUM_ORDERS filter
        )

    check("100.123456789", "1234567.987654321")  # tick, step and max all disabled by 0
    check("100", "0.1", kind="MARKET")  # notional 10 is not applied to MARKET
    for price, qty, failure in [("110.01", "1", "PERCENT_PRICE"), ("100", "0.0999", "LOT_SIZE")]:
        with pytest.raises(ApiError, match=rf"Filter failure: {failure}$"):
            check(price, qty)
    with pytest.raises(ApiError, match=r"Filter failure: MIN_NOTIONAL$"):
        check("99", "0.1")


def test_the_exchange_judges_by_the_filters_it_publishes(sim: SimHandle, client: Client) -> None:
    info = client.get_symbol_info("BTCUSDT")
    assert info is not None
    assert SymbolRules.from_filters(info["filters"]) == RULES
    with pytest.raises(BinanceAPIException) as exc:
        client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="100.00001")
    assert (exc.value.code, exc.value.message) == (-1013, "Filter failure: MARKET_LOT_SIZE")
    assert sim.state()["orders"] == []
