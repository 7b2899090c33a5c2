"""The gateway's cancelReplace when the exchange refuses it: answered as Binance answers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from binance.exceptions import BinanceAPIException

from tests.conftest import wait_for
from tests.gateway.conftest import Gateway
from tests.gateway.test_lists_python_binance import sim_order

S = "BTCUSDT"


def test_a_cancel_that_failed_on_the_exchange_is_not_reported_as_cancelled(
    gateway_factory: Callable[..., Gateway],
) -> None:
    """A regression test (found by review): when the exchange refuses a cancelReplace because its
    cancel half failed (-2022: the order is no longer open there, the new order was not
    attempted), the gateway answers -2021 with ``cancelResult: SUCCESS`` — the strategy is
    told its order was cancelled and a new one refused, whatever really became of the old
    order: here it filled (the book had not heard yet), so the strategy holds a position it
    was told it does not have. Binance answers -2022, cancelResult FAILURE, newOrderResult
    NOT_ATTEMPTED."""
    # slow polls: the book must not learn by REST that the order left the exchange
    gateway = gateway_factory(
        poller={"interval_s": 60.0, "fast_interval_s": 60.0},
        reconciliation={"interval_s": 60.0, "grace_s": 60.0, "balance_grace_s": 60.0},
    )
    client = gateway.client("bot1")
    placed = client.create_order(
        symbol=S, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
        price="59000", newClientOrderId="old",
    )  # fmt: skip
    sim = gateway.vigil.sim
    sim.arm("drop_events", count=100, duration=30)  # Vigil does not hear of the fill below
    sim.set_price(S, "58900")  # the old order fills on the exchange
    wait_for(lambda: sim_order(gateway, placed["orderId"])["status"] == "FILLED", timeout=5)
    with pytest.raises(BinanceAPIException) as failed:
        client.cancel_replace_order(
            symbol=S, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
            price="59100", cancelReplaceMode="STOP_ON_FAILURE", cancelOrigClientOrderId="old",
        )  # fmt: skip
    data = failed.value.response.json()["data"]
    assert failed.value.code == -2022, (failed.value.code, data)
    assert (data["cancelResult"], data["newOrderResult"]) == ("FAILURE", "NOT_ATTEMPTED")
