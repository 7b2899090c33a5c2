"""Order lists and cancel-replace driven by unmodified python-binance, with the exchange's true
state (``GET /_sim/state``) checked after each step: funds locked once for an OCO's shared
quantity, released when the list is done, the order-count limits counting every order."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from exchange.simulator import SimulatedExchange, SimulatorConfig, SymbolSpec
from tests.conftest import SimHandle
from tests.exchange.sim_requests import signed

S = "BTCUSDT"
SELL_OCO: dict[str, Any] = {
    "symbol": S, "side": "SELL", "quantity": "0.01",
    "aboveType": "LIMIT_MAKER", "abovePrice": "61000",
    "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": "59000", "belowPrice": "58900",
    "belowTimeInForce": "GTC",
}  # fmt: skip


def locked(sim: SimHandle, asset: str) -> Decimal:
    return Decimal(sim.balance(asset)["locked"])


def test_python_binance_create_oco_order_and_the_list_queries(
    client: Client, sim: SimHandle
) -> None:
    placed = client.create_oco_order(**SELL_OCO)
    list_id = placed["orderListId"]
    assert placed["listClientOrderId"].startswith(client.SPOT_ORDER_PREFIX)  # its own id
    assert [r["type"] for r in placed["orderReports"]] == ["STOP_LOSS_LIMIT", "LIMIT_MAKER"]
    assert locked(sim, "BTC") == Decimal("0.01"), "the shared quantity is locked once"
    open_lists = client.get_open_oco_orders()
    assert [o["orderListId"] for o in open_lists] == [list_id]
    assert client.v3_get_order_list(orderListId=list_id) == open_lists[0]
    assert client.v3_get_all_order_list() == open_lists
    state = sim.state()
    assert [(o["orderListId"], o["kind"], o["locked"]) for o in state["order_lists"]] == [
        (list_id, "OCO", "0.01000000")
    ]
    assert {o["orderListId"] for o in state["open_orders"]} == {list_id}

    sim.set_price(S, "61100")  # the LIMIT_MAKER fills, the stop loss expires
    stop_id, limit_id = (o["orderId"] for o in placed["orders"])
    stop = client.get_order(symbol=S, orderId=stop_id)
    assert (stop["status"], stop["expiryReason"], stop["orderListId"]) == (
        "EXPIRED", "OCO_TRIGGER", list_id
    )  # fmt: skip
    assert client.get_order(symbol=S, orderId=limit_id)["status"] == "FILLED"
    assert client.get_open_oco_orders() == []
    done = client.v3_get_order_list(orderListId=list_id)
    assert (done["listStatusType"], done["listOrderStatus"]) == ("ALL_DONE", "ALL_DONE")
    assert locked(sim, "BTC") == 0
    trade = client.get_my_trades(symbol=S)[-1]
    assert (trade["orderId"], trade["orderListId"]) == (limit_id, list_id)


def test_python_binance_cancels_a_list_whole_and_funds_come_back(
    client: Client, sim: SimHandle
) -> None:
    placed = client.create_oco_order(**SELL_OCO)
    cancelled = client.v3_delete_order_list(symbol=S, orderListId=placed["orderListId"])
    assert [r["status"] for r in cancelled["orderReports"]] == ["CANCELED", "CANCELED"]
    assert locked(sim, "BTC") == 0 and sim.state()["open_orders"] == []
    with pytest.raises(BinanceAPIException) as again:
        client.v3_delete_order_list(symbol=S, orderListId=placed["orderListId"])
    assert again.value.code == -2011


def test_buy_oco_locks_the_dearer_order_and_the_stop_gets_it(
    client: Client, sim: SimHandle
) -> None:
    before = Decimal(sim.balance("USDT")["free"])
    client.create_oco_order(
        symbol=S, side="BUY", quantity="0.01",
        aboveType="STOP_LOSS_LIMIT", aboveStopPrice="61000", abovePrice="61100",
        aboveTimeInForce="GTC", belowType="LIMIT_MAKER", belowPrice="59000",
    )  # fmt: skip
    assert locked(sim, "USDT") == Decimal("611.00")  # 0.01 x 61100, not both orders
    sim.set_price(S, "61050")  # the stop triggers and buys at the ask (<= 61100)
    assert locked(sim, "USDT") == 0 and sim.state()["open_orders"] == []
    trade = client.get_my_trades(symbol=S)[-1]
    assert before - Decimal(sim.balance("USDT")["free"]) == Decimal(trade["quoteQty"])


def test_oto_pending_order_goes_on_the_book_when_the_working_order_fills(
    client: Client, sim: SimHandle
) -> None:
    placed = client.v3_post_order_list_oto(
        symbol=S, workingType="LIMIT", workingSide="BUY", workingPrice="59000",
        workingQuantity="0.01", workingTimeInForce="GTC",
        pendingType="LIMIT_MAKER", pendingSide="SELL", pendingQuantity="0.01",
        pendingPrice="61000",
    )  # fmt: skip
    pending_id = placed["orders"][1]["orderId"]
    assert client.get_order(symbol=S, orderId=pending_id)["status"] == "PENDING_NEW"
    assert locked(sim, "BTC") == 0, "a pending order locks nothing yet"
    sim.set_price(S, "58990")
    pending = client.get_order(symbol=S, orderId=pending_id)
    assert (pending["status"], pending["isWorking"]) == ("NEW", True)
    assert locked(sim, "BTC") == Decimal("0.01")


def test_otoco_working_order_expiring_expires_the_pending_pair(client: Client) -> None:
    placed = client.v3_post_order_list_otoco(
        symbol=S, workingType="LIMIT", workingSide="BUY", workingPrice="59000",
        workingQuantity="0.01", workingTimeInForce="IOC",
        pendingSide="SELL", pendingQuantity="0.01",
        pendingAboveType="LIMIT_MAKER", pendingAbovePrice="61000",
        pendingBelowType="STOP_LOSS", pendingBelowStopPrice="58000",
    )  # fmt: skip
    statuses = [client.get_order(symbol=S, orderId=o["orderId"]) for o in placed["orders"]]
    assert [(o["status"], o.get("expiryReason")) for o in statuses] == [
        ("EXPIRED", "UNFILLED_IOC_QUANTITY_EXPIRED"),
        ("EXPIRED", "OTO_PHASE_ONE_EXPIRED"),
        ("EXPIRED", "OTO_PHASE_ONE_EXPIRED"),
    ]


def test_cancel_replace_with_python_binance(client: Client, sim: SimHandle) -> None:
    client.create_order(
        symbol=S, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="59000",
        newClientOrderId="old",
    )  # fmt: skip
    replaced = client.cancel_replace_order(
        symbol=S, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.02", price="58000",
        cancelReplaceMode="STOP_ON_FAILURE", cancelOrigClientOrderId="old",
        newClientOrderId="new",
    )  # fmt: skip
    assert (replaced["cancelResult"], replaced["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    assert [o["clientOrderId"] for o in sim.state()["open_orders"]] == ["new"]
    assert locked(sim, "USDT") == Decimal("1160")  # 0.02 x 58000; the old lock released
    with pytest.raises(BinanceAPIException) as failed:
        client.cancel_replace_order(
            symbol=S, side="BUY", type="LIMIT_MAKER", quantity="0.01", price="60500",
            cancelReplaceMode="STOP_ON_FAILURE", cancelOrigClientOrderId="new",
        )  # fmt: skip
    assert (failed.value.status_code, failed.value.code) == (409, -2021)
    assert sim.state()["open_orders"] == [], "the cancel half happened, the new order did not"


@pytest.fixture
def limited() -> Iterator[SimHandle]:
    """Few open orders allowed, so the limits are reached in a few requests."""
    spec = SymbolSpec(
        symbol=S, base_asset="BTC", quote_asset="USDT", start_price=Decimal("60000"),
        volatility_ticks=100, max_num_orders=4, max_num_algo_orders=2, max_num_order_lists=1,
    )  # fmt: skip
    exchange = SimulatedExchange(SimulatorConfig(tick_interval=0, seed=11, symbols=[spec]))
    try:
        yield SimHandle(exchange.start())
    finally:
        exchange.stop()


def test_order_lists_count_every_order_against_the_filters_and_the_order_count(
    limited: SimHandle,
) -> None:
    """filters.md: MAX_NUM_ORDERS and MAX_NUM_ALGO_ORDERS count each order of a list,
    MAX_NUM_ORDER_LISTS the lists; rest-api.md: an OCO adds 2 to the unfilled order count."""
    sim = limited
    first = signed(sim, "POST", "/api/v3/orderList/oco", **SELL_OCO)
    assert first.status_code == 200, first.text
    assert first.headers["X-MBX-ORDER-COUNT-10S"] == "2"
    otoco = {
        "symbol": S, "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "59000",
        "workingQuantity": "0.01", "workingTimeInForce": "GTC", "pendingSide": "SELL",
        "pendingQuantity": "0.01", "pendingAboveType": "LIMIT_MAKER",
        "pendingAbovePrice": "61000", "pendingBelowType": "STOP_LOSS",
        "pendingBelowStopPrice": "58000",
    }  # fmt: skip
    too_many = signed(sim, "POST", "/api/v3/orderList/otoco", **otoco)  # 2 open + 3 > 4
    assert too_many.json() == {"code": -1013, "msg": "Filter failure: MAX_NUM_ORDERS"}
    assert signed(sim, "DELETE", "/api/v3/openOrders", symbol=S).status_code == 200
    stop = {"symbol": S, "side": "SELL", "type": "STOP_LOSS", "quantity": "0.01",
            "stopPrice": "59000"}  # fmt: skip
    assert signed(sim, "POST", "/api/v3/order", **stop).status_code == 200
    two_stops = {**SELL_OCO, "aboveType": "TAKE_PROFIT", "aboveStopPrice": "61000",
                 "abovePrice": None}  # fmt: skip
    too_many_algo = signed(sim, "POST", "/api/v3/orderList/oco", **two_stops)  # 1 + 2 > 2
    assert too_many_algo.json() == {"code": -1013, "msg": "Filter failure: MAX_NUM_ALGO_ORDERS"}
    assert signed(sim, "DELETE", "/api/v3/openOrders", symbol=S).status_code == 200
    assert signed(sim, "POST", "/api/v3/orderList/oco", **SELL_OCO).status_code == 200
    too_many_lists = signed(sim, "POST", "/api/v3/orderList/oco", **SELL_OCO)
    assert too_many_lists.json() == {"code": -1013, "msg": "Filter failure: MAX_NUM_ORDER_LISTS"}


def test_a_list_client_order_id_is_reused_only_once_its_list_is_done(sim: SimHandle) -> None:
    """rest-api.md: a listClientOrderId is accepted again only when the previous list is done."""
    named = {**SELL_OCO, "listClientOrderId": "bracket-1"}
    assert signed(sim, "POST", "/api/v3/orderList/oco", **named).status_code == 200
    again = signed(sim, "POST", "/api/v3/orderList/oco", **named)
    assert (again.status_code, again.json()) == (
        400,
        {"code": -2010, "msg": "Duplicate order sent."},
    )
    signed(sim, "DELETE", "/api/v3/orderList", symbol=S, listClientOrderId="bracket-1")
    assert signed(sim, "POST", "/api/v3/orderList/oco", **named).status_code == 200


@pytest.fixture
def one_order_per_10s() -> Iterator[SimHandle]:
    exchange = SimulatedExchange(SimulatorConfig(tick_interval=0, seed=11, orders_per_10s=1))
    try:
        yield SimHandle(exchange.start())
    finally:
        exchange.stop()


def test_cancel_replace_over_the_order_count_cancels_only_when_asked(
    one_order_per_10s: SimHandle,
) -> None:
    """rest-api.md: with the unfilled order count exceeded, DO_NOTHING (the default) is a
    plain -1015 and nothing is cancelled; CANCEL_ONLY cancels and reports the new order's
    -1015 in a -2021 answer (HTTP 429 under STOP_ON_FAILURE)."""
    sim = one_order_per_10s
    resting = {"symbol": S, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
               "quantity": "0.01", "price": "59000", "newClientOrderId": "r1"}  # fmt: skip
    assert signed(sim, "POST", "/api/v3/order", **resting).status_code == 200
    replace = {**resting, "price": "59100", "newClientOrderId": "r2",
               "cancelOrigClientOrderId": "r1", "cancelReplaceMode": "STOP_ON_FAILURE"}  # fmt: skip
    too_many = {
        "code": -1015,
        "msg": "Too many new orders; current limit is 1 orders per 10 SECOND.",
    }
    limited = signed(sim, "POST", "/api/v3/order/cancelReplace", **replace)
    assert (limited.status_code, limited.json()) == (429, too_many)
    assert [o["clientOrderId"] for o in sim.state()["open_orders"]] == ["r1"]
    cancel_only = signed(sim, "POST", "/api/v3/order/cancelReplace", **replace,
                         orderRateLimitExceededMode="CANCEL_ONLY")  # fmt: skip
    body = cancel_only.json()
    assert (cancel_only.status_code, body["code"]) == (429, -2021), body
    assert (body["data"]["cancelResult"], body["data"]["newOrderResult"]) == ("SUCCESS", "FAILURE")
    assert body["data"]["newOrderResponse"] == too_many
    assert sim.state()["open_orders"] == []


def test_lost_response_places_the_list_then_drops_the_connection(
    client: Client, sim: SimHandle
) -> None:
    import requests

    sim.arm("lost_response", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        client.create_oco_order(**SELL_OCO, listClientOrderId="lost-1")
    lists = sim.state()["order_lists"]
    assert [(ol["listClientOrderId"], ol["listOrderStatus"]) for ol in lists] == [
        ("lost-1", "EXECUTING")
    ]
    found = client.v3_get_order_list(origClientOrderId="lost-1")  # REST knows it
    assert found["orderListId"] == lists[0]["orderListId"]
    client.v3_delete_order_list(symbol=S, listClientOrderId="lost-1")
    again = client.create_oco_order(**SELL_OCO)  # the fault is spent: answered again
    assert again["listOrderStatus"] == "EXECUTING"
