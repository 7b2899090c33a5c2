"""``cancelReplace``'s ``newOrderResponse`` is ``POST /api/v3/order``'s answer: a replacement
that takes liquidity at once answers with its fills (FULL) and its status after them, as on
Binance — never "NEW" with no fills for an order the exchange already filled."""

from __future__ import annotations

from tests.gateway.conftest import Gateway
from tests.gateway.test_orders_python_binance import place_limit, sim_order

S = "BTCUSDT"


def test_a_crossing_replacement_answers_with_its_fills(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    old = place_limit(client, "chase-1", "59000")
    answer = client.cancel_replace_order(
        symbol=S,
        side="BUY",
        type="LIMIT",
        timeInForce="IOC",
        quantity="0.001",
        price="60500",  # above the ask (about 60,000): fills at once
        cancelReplaceMode="STOP_ON_FAILURE",
        cancelOrigClientOrderId="chase-1",
        newClientOrderId="chase-2",
        newOrderRespType="FULL",
    )
    assert sim_order(gateway, old["orderId"])["status"] == "CANCELED"
    new = answer["newOrderResponse"]
    assert sim_order(gateway, new["orderId"])["status"] == "FILLED"
    assert new["status"] == "FILLED" and new["executedQty"] == "0.00100000"
    assert new["fills"], new
