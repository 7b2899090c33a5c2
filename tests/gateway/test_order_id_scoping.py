"""A strategy naming an order by the exchange's ``orderId`` reaches only its own orders: a
second strategy guessing the first one's orderId gets Binance's "does not exist" from every
endpoint that takes one (query, cancel, myTrades, cancelReplace) and changes nothing; a
cancel naming both ``orderId`` and ``origClientOrderId`` that are not the same order is
refused, as on Binance (rest-api.md: "If both conditions are not met the request will be
rejected"), and cancels neither."""

from __future__ import annotations

import pytest
from binance.exceptions import BinanceAPIException

from tests.gateway.conftest import Gateway
from tests.gateway.test_orders_python_binance import place_limit, sim_order

S = "BTCUSDT"


def test_another_strategys_order_id_is_unknown(gateway: Gateway) -> None:
    one, two = gateway.client("alpha"), gateway.client("beta")
    mine = place_limit(one, "alpha-1")
    filled = one.create_order(symbol=S, side="BUY", type="MARKET", quantity="0.001")
    order_id, filled_id = mine["orderId"], filled["orderId"]
    for call, code in (
        (lambda: two.get_order(symbol=S, orderId=order_id), -2013),
        (lambda: two.cancel_order(symbol=S, orderId=order_id), -2011),
        (
            lambda: two.cancel_replace_order(
                symbol=S,
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.001",
                price="58000",
                cancelReplaceMode="STOP_ON_FAILURE",
                cancelOrderId=order_id,
            ),
            -2022,
        ),
    ):
        with pytest.raises(BinanceAPIException) as refused:
            call()
        assert refused.value.code == code
    assert two.get_my_trades(symbol=S, orderId=filled_id) == []
    assert two.get_all_orders(symbol=S, orderId=0) == []
    assert sim_order(gateway, order_id)["status"] == "NEW"
    assert sim_order(gateway, order_id)["price"] == "59000.00000000"


def test_cancel_by_both_ids_of_different_orders_is_refused(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    a = place_limit(client, "a-1", "59000")
    b = place_limit(client, "b-1", "58900")
    with pytest.raises(BinanceAPIException) as refused:
        client.cancel_order(symbol=S, orderId=a["orderId"], origClientOrderId="b-1")
    assert refused.value.code == -2011
    assert sim_order(gateway, a["orderId"])["status"] == "NEW"
    assert sim_order(gateway, b["orderId"])["status"] == "NEW"
