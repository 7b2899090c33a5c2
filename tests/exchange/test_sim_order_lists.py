"""Order lists, conditional orders and cancel-replace, answer by answer: one row per endpoint
and situation, each answer compared field by field (names, JSON types, values) with the
shape rest-api.md documents for it; then the user data events each situation sends, in
order (user-data-stream.md: the orders' executionReports with ``g`` = orderListId, and
``listStatus``).

Requests are sent raw and signed here. Where the reference leaves a choice open, the row
says which one the simulator makes. Prices: BTCUSDT starts at a mid of 60000 (bid 60000.00,
ask 60000.01); the account holds 1 BTC and 100000 USDT.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests.conftest import SimHandle, UserStream
from tests.exchange.sim_requests import INT, STR, field_by_field, ok, signed

S = "BTCUSDT"
Q = "0.01000000"
ZERO8 = "0.00000000"


def report(
    order_id: int,
    client_id: Any,
    order_type: str,
    side: str,
    price: str,
    *,
    status: str = "NEW",
    stop: str | None = None,
    working: Any = INT,
    list_id: int = 1,
    tif: str = "GTC",
    executed: str = ZERO8,
    cum: str = ZERO8,
    fills: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An order report in the RESULT shape (FULL with ``fills``)."""
    out: dict[str, Any] = {
        "symbol": S,
        "orderId": order_id,
        "orderListId": list_id,
        "clientOrderId": client_id,
        "transactTime": INT,
        "price": price,
        "origQty": Q,
        "executedQty": executed,
        "origQuoteOrderQty": ZERO8,
        "cummulativeQuoteQty": cum,
        "status": status,
        "timeInForce": tif,
        "type": order_type,
        "side": side,
    }
    if stop is not None:
        out["stopPrice"] = stop
    out["workingTime"] = working
    out["selfTradePreventionMode"] = "NONE"
    if fills is not None:
        out["fills"] = fills
    return out


def ack(order_id: int, client_id: Any, list_id: int = 1) -> dict[str, Any]:
    return {
        "symbol": S,
        "orderId": order_id,
        "orderListId": list_id,
        "clientOrderId": client_id,
        "transactTime": INT,
    }


def cancelled(
    order_id: int, orig: str, order_type: str, side: str, price: str, cancel_id: Any, **kw: Any
) -> dict[str, Any]:
    """A cancel's report: the order's own id as origClientOrderId, no workingTime."""
    body = report(order_id, cancel_id, order_type, side, price, status="CANCELED", **kw)
    del body["workingTime"]
    return {
        "symbol": S,
        "origClientOrderId": orig,
        **{k: v for k, v in body.items() if k != "symbol"},
    }


def order_list(
    kind: str, orders: list[tuple[int, str]], *, done: bool = False, client_id: str = "L1"
) -> dict[str, Any]:
    return {
        "orderListId": 1,
        "contingencyType": kind,
        "listStatusType": "ALL_DONE" if done else "EXEC_STARTED",
        "listOrderStatus": "ALL_DONE" if done else "EXECUTING",
        "listClientOrderId": client_id,
        "transactionTime": INT,
        "symbol": S,
        "orders": [{"symbol": S, "orderId": i, "clientOrderId": c} for i, c in orders],
    }


# ------------------------------------------------------------------------------ requests

SELL_OCO = {
    "symbol": S, "side": "SELL", "quantity": "0.01", "listClientOrderId": "L1",
    "aboveType": "LIMIT_MAKER", "abovePrice": "61000", "aboveClientOrderId": "tp",
    "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": "59000", "belowPrice": "58900",
    "belowTimeInForce": "GTC", "belowClientOrderId": "sl",
}  # fmt: skip
OTO = {
    "symbol": S, "listClientOrderId": "L1",
    "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "59000",
    "workingQuantity": "0.01", "workingTimeInForce": "GTC", "workingClientOrderId": "w",
    "pendingType": "STOP_LOSS_LIMIT", "pendingSide": "SELL", "pendingQuantity": "0.01",
    "pendingStopPrice": "58000", "pendingPrice": "57900", "pendingTimeInForce": "GTC",
    "pendingClientOrderId": "p",
}  # fmt: skip
OTOCO = {
    "symbol": S, "listClientOrderId": "L1",
    "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "59000",
    "workingQuantity": "0.01", "workingTimeInForce": "GTC", "workingClientOrderId": "w",
    "pendingSide": "SELL", "pendingQuantity": "0.01",
    "pendingAboveType": "LIMIT_MAKER", "pendingAbovePrice": "61000",
    "pendingAboveClientOrderId": "tp",
    "pendingBelowType": "STOP_LOSS", "pendingBelowStopPrice": "58000",
    "pendingBelowClientOrderId": "sl",
}  # fmt: skip
RESTING = {
    "symbol": S, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
    "price": "59000", "newClientOrderId": "a1",
}  # fmt: skip
REPLACE = {
    "symbol": S, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
    "price": "59100", "newClientOrderId": "a2", "cancelOrigClientOrderId": "a1",
    "cancelNewClientOrderId": "c1", "cancelReplaceMode": "STOP_ON_FAILURE",
}  # fmt: skip


def place(path: str, params: dict[str, str]) -> Callable[[SimHandle], None]:
    def setup(sim: SimHandle) -> None:
        ok(sim, "POST", path, **params)

    return setup


def both(*steps: Callable[[SimHandle], None]) -> Callable[[SimHandle], None]:
    def setup(sim: SimHandle) -> None:
        for step in steps:
            step(sim)

    return setup


def nothing(sim: SimHandle) -> None:
    pass


@dataclass(frozen=True)
class Row:
    """One endpoint and one situation: what is sent (after ``setup``), and the answer."""

    id: str
    method: str
    path: str
    params: dict[str, str]
    status: int
    body: Any
    setup: Callable[[SimHandle], None] = nothing
    note: str = ""


CANCEL_A1 = cancelled(1, "a1", "LIMIT", "BUY", "59000.00000000", "c1", list_id=-1)
TP_REPORT = report(2, "tp", "LIMIT_MAKER", "SELL", "61000.00000000")
SL_REPORT = report(
    1, "sl", "STOP_LOSS_LIMIT", "SELL", "58900.00000000", stop="59000.00000000", working=-1
)
OCO_LIST = order_list("OCO", [(1, "sl"), (2, "tp")])
OCO_DONE = order_list("OCO", [(1, "sl"), (2, "tp")], done=True)

ROWS = [
    Row("POST orderList/oco SELL RESULT", "POST", "/api/v3/orderList/oco",
        {**SELL_OCO, "newOrderRespType": "RESULT"}, 200,
        OCO_LIST | {"orderReports": [SL_REPORT, TP_REPORT]},
        note="the stop-loss order comes first, as in every rest-api.md example"),
    Row("POST orderList/oco BUY ACK", "POST", "/api/v3/orderList/oco",
        {"symbol": S, "side": "BUY", "quantity": "0.01", "listClientOrderId": "L1",
         "aboveType": "STOP_LOSS", "aboveStopPrice": "61000", "aboveClientOrderId": "sl",
         "belowType": "LIMIT_MAKER", "belowPrice": "59000", "belowClientOrderId": "tp",
         "newOrderRespType": "ACK"}, 200,
        order_list("OCO", [(1, "sl"), (2, "tp")]) | {"orderReports": [ack(1, "sl"), ack(2, "tp")]}),
    Row("POST orderList/oco default FULL", "POST", "/api/v3/orderList/oco",
        {"symbol": S, "side": "SELL", "quantity": "0.01", "listClientOrderId": "L1",
         "aboveType": "TAKE_PROFIT", "aboveStopPrice": "61000", "aboveClientOrderId": "tp",
         "belowType": "STOP_LOSS", "belowStopPrice": "59000", "belowClientOrderId": "sl"}, 200,
        OCO_LIST | {"orderReports": [
            report(1, "sl", "STOP_LOSS", "SELL", ZERO8, stop="59000.00000000", working=-1,
                   fills=[]),
            report(2, "tp", "TAKE_PROFIT", "SELL", ZERO8, stop="61000.00000000", working=-1,
                   fills=[]),
        ]}, note="newOrderRespType defaults to FULL for order lists (the simulator's choice)"),
    Row("POST orderList/oto RESULT", "POST", "/api/v3/orderList/oto",
        {**OTO, "newOrderRespType": "RESULT"}, 200,
        order_list("OTO", [(1, "w"), (2, "p")]) | {"orderReports": [
            report(1, "w", "LIMIT", "BUY", "59000.00000000"),
            report(2, "p", "STOP_LOSS_LIMIT", "SELL", "57900.00000000", status="PENDING_NEW",
                   stop="58000.00000000", working=-1),
        ]}),
    Row("POST orderList/oto working filled at once", "POST", "/api/v3/orderList/oto",
        {**OTO, "workingPrice": "60100"}, 200,
        order_list("OTO", [(1, "w"), (2, "p")]) | {"orderReports": [
            report(1, "w", "LIMIT", "BUY", "60100.00000000", status="FILLED", executed=Q,
                   cum="600.00010000", fills=[{"price": "60000.01000000", "qty": Q,
                   "commission": "0.00001000", "commissionAsset": "BTC", "tradeId": 1}]),
            report(2, "p", "STOP_LOSS_LIMIT", "SELL", "57900.00000000", status="PENDING_NEW",
                   stop="58000.00000000", working=-1, fills=[]),
        ]}, note="the pending order still PENDING_NEW in the answer, as rest-api.md says"),
    Row("POST orderList/otoco RESULT", "POST", "/api/v3/orderList/otoco",
        {**OTOCO, "newOrderRespType": "RESULT"}, 200,
        order_list("OTO", [(1, "w"), (2, "sl"), (3, "tp")]) | {"orderReports": [
            report(1, "w", "LIMIT", "BUY", "59000.00000000"),
            report(2, "sl", "STOP_LOSS", "SELL", ZERO8, status="PENDING_NEW",
                   stop="58000.00000000", working=-1),
            report(3, "tp", "LIMIT_MAKER", "SELL", "61000.00000000", status="PENDING_NEW",
                   working=-1),
        ]}, note="an OTOCO's contingencyType is OTO, as rest-api.md's example shows"),
    Row("GET orderList by orderListId", "GET", "/api/v3/orderList", {"orderListId": "1"}, 200,
        OCO_LIST, place("/api/v3/orderList/oco", SELL_OCO)),
    Row("GET orderList by origClientOrderId", "GET", "/api/v3/orderList",
        {"origClientOrderId": "L1"}, 200, OCO_LIST, place("/api/v3/orderList/oco", SELL_OCO)),
    Row("GET openOrderList", "GET", "/api/v3/openOrderList", {}, 200, [OCO_LIST],
        place("/api/v3/orderList/oco", SELL_OCO)),
    Row("GET allOrderList", "GET", "/api/v3/allOrderList", {}, 200, [OCO_LIST],
        place("/api/v3/orderList/oco", SELL_OCO)),
    Row("DELETE orderList", "DELETE", "/api/v3/orderList",
        {"symbol": S, "orderListId": "1", "newClientOrderId": "cx"}, 200,
        OCO_DONE | {"orderReports": [
            cancelled(1, "sl", "STOP_LOSS_LIMIT", "SELL", "58900.00000000", "cx",
                      stop="59000.00000000"),
            cancelled(2, "tp", "LIMIT_MAKER", "SELL", "61000.00000000", "cx"),
        ]}, place("/api/v3/orderList/oco", SELL_OCO)),
    Row("DELETE order of a list", "DELETE", "/api/v3/order",
        {"symbol": S, "origClientOrderId": "tp", "newClientOrderId": "cx"}, 200,
        cancelled(2, "tp", "LIMIT_MAKER", "SELL", "61000.00000000", "cx"),
        place("/api/v3/orderList/oco", SELL_OCO), note="the whole list is cancelled"),
    Row("DELETE openOrders with a list", "DELETE", "/api/v3/openOrders", {"symbol": S}, 200,
        [OCO_DONE | {"orderReports": [
            cancelled(1, "sl", "STOP_LOSS_LIMIT", "SELL", "58900.00000000", STR,
                      stop="59000.00000000"),
            cancelled(2, "tp", "LIMIT_MAKER", "SELL", "61000.00000000", STR),
         ]},
         cancelled(3, "a1", "LIMIT", "BUY", "59000.00000000", STR, list_id=-1)],
        both(place("/api/v3/orderList/oco", SELL_OCO), place("/api/v3/order", RESTING))),
    Row("POST order/cancelReplace SUCCESS", "POST", "/api/v3/order/cancelReplace", REPLACE, 200,
        {"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS", "cancelResponse": CANCEL_A1,
         "newOrderResponse": report(2, "a2", "LIMIT", "BUY", "59100.00000000", list_id=-1,
                                    fills=[])},
        place("/api/v3/order", RESTING)),
    Row("POST order/cancelReplace cancel fails, STOP_ON_FAILURE", "POST",
        "/api/v3/order/cancelReplace", {**REPLACE, "cancelOrigClientOrderId": "nobody"}, 400,
        {"code": -2022, "msg": "Order cancel-replace failed.", "data": {
            "cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
            "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
            "newOrderResponse": None}},
        place("/api/v3/order", RESTING)),
    Row("POST order/cancelReplace new order fails", "POST", "/api/v3/order/cancelReplace",
        {**REPLACE, "type": "LIMIT_MAKER", "timeInForce": "", "price": "60500"}, 409,
        {"code": -2021, "msg": "Order cancel-replace partially failed.", "data": {
            "cancelResult": "SUCCESS", "newOrderResult": "FAILURE", "cancelResponse": CANCEL_A1,
            "newOrderResponse": {"code": -2010, "msg": "Order would immediately match and take."}}},
        place("/api/v3/order", RESTING)),
    Row("POST order/cancelReplace cancel fails, ALLOW_FAILURE", "POST",
        "/api/v3/order/cancelReplace",
        {**REPLACE, "cancelOrigClientOrderId": "nobody", "cancelReplaceMode": "ALLOW_FAILURE"},
        409,
        {"code": -2021, "msg": "Order cancel-replace partially failed.", "data": {
            "cancelResult": "FAILURE", "newOrderResult": "SUCCESS",
            "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
            "newOrderResponse": report(2, "a2", "LIMIT", "BUY", "59100.00000000", list_id=-1,
                                       fills=[])}},
        place("/api/v3/order", RESTING)),
    Row("POST order/cancelReplace both fail, ALLOW_FAILURE", "POST",
        "/api/v3/order/cancelReplace",
        {**REPLACE, "cancelOrigClientOrderId": "nobody", "cancelReplaceMode": "ALLOW_FAILURE",
         "newClientOrderId": "a1"}, 400,
        {"code": -2022, "msg": "Order cancel-replace failed.", "data": {
            "cancelResult": "FAILURE", "newOrderResult": "FAILURE",
            "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
            "newOrderResponse": {"code": -2010, "msg": "Duplicate order sent."}}},
        place("/api/v3/order", RESTING)),
    Row("POST order/cancelReplace cancelRestrictions not met", "POST",
        "/api/v3/order/cancelReplace", {**REPLACE, "cancelRestrictions": "ONLY_PARTIALLY_FILLED"},
        400,
        {"code": -2022, "msg": "Order cancel-replace failed.", "data": {
            "cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
            "cancelResponse": {"code": -2011,
                               "msg": "Order was not canceled due to cancel restrictions."},
            "newOrderResponse": None}},
        place("/api/v3/order", RESTING)),
    Row("POST order STOP_LOSS default ACK", "POST", "/api/v3/order",
        {"symbol": S, "side": "SELL", "type": "STOP_LOSS", "quantity": "0.01",
         "stopPrice": "59000", "newClientOrderId": "s1"}, 200, ack(1, "s1", list_id=-1)),
    Row("POST order trailing TAKE_PROFIT_LIMIT RESULT", "POST", "/api/v3/order",
        {"symbol": S, "side": "SELL", "type": "TAKE_PROFIT_LIMIT", "quantity": "0.01",
         "price": "60500", "timeInForce": "GTC", "trailingDelta": "100",
         "newClientOrderId": "t1", "newOrderRespType": "RESULT"}, 200,
        {**{k: v for k, v in report(1, "t1", "TAKE_PROFIT_LIMIT", "SELL", "60500.00000000",
                                     list_id=-1, stop=ZERO8, working=-1).items()
            if k not in ("workingTime", "selfTradePreventionMode")},
         "trailingDelta": 100, "trailingTime": INT, "workingTime": -1,
         "selfTradePreventionMode": "NONE"},
        note="no stopPrice: it tracks from placement (trailingTime set)"),
    Row("GET order trailing STOP_LOSS", "GET", "/api/v3/order",
        {"symbol": S, "origClientOrderId": "t2"}, 200,
        {"symbol": S, "orderId": 1, "orderListId": -1, "clientOrderId": "t2",
         "price": ZERO8, "origQty": Q, "executedQty": ZERO8, "origQuoteOrderQty": ZERO8,
         "cummulativeQuoteQty": ZERO8, "status": "NEW", "timeInForce": "GTC",
         "type": "STOP_LOSS", "side": "SELL", "stopPrice": "59000.00000000",
         "icebergQty": ZERO8, "time": INT, "updateTime": INT, "isWorking": False,
         "trailingDelta": 50, "trailingTime": -1, "workingTime": -1,
         "selfTradePreventionMode": "NONE"},
        place("/api/v3/order", {"symbol": S, "side": "SELL", "type": "STOP_LOSS",
                                "quantity": "0.01", "stopPrice": "59000", "trailingDelta": "50",
                                "newClientOrderId": "t2"}),
        note="with a stopPrice it waits for it before tracking (trailingTime -1)"),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_every_answer_has_the_documented_fields_types_and_values(sim: SimHandle, row: Row) -> None:
    row.setup(sim)
    params = {k: v for k, v in row.params.items() if v != ""}
    resp = signed(sim, row.method, row.path, **params)
    assert resp.status_code == row.status, resp.text
    assert field_by_field(resp.json(), row.body) == []


def test_the_comparison_names_each_difference() -> None:
    """The table's judge: a wrong JSON type, a missing and an undocumented field all count."""
    assert field_by_field({"a": "1", "c": 3}, {"a": 1, "b": INT}) == [
        "$.b: missing",
        "$.c: not documented here (3)",
        "$.a: '1' != 1",
    ]
    assert field_by_field({"t": True}, {"t": INT}) == ["$.t: True is not <int>"]


# ------------------------------------------------------------------------------ events


def ev(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return kind, fields


def er(order_id: int, x: str, status: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    """An executionReport of order ``order_id``: execution type, order status, more fields."""
    return ev("executionReport", i=order_id, x=x, X=status, **fields)


def ls(status: str, list_id: int = 1, contingency: str = "OCO") -> tuple[str, dict[str, Any]]:
    return ev("listStatus", g=list_id, c=contingency, l=status,
              L="EXECUTING" if status == "EXEC_STARTED" else status, r="NONE")  # fmt: skip


def price(value: str) -> Callable[[SimHandle], None]:
    def act(sim: SimHandle) -> None:
        sim.set_price(S, value)

    return act


def call(method: str, path: str, params: dict[str, str]) -> Callable[[SimHandle], None]:
    def act(sim: SimHandle) -> None:
        ok(sim, method, path, **params)

    return act


def refused(path: str, params: dict[str, Any]) -> Callable[[SimHandle], None]:
    def act(sim: SimHandle) -> None:
        assert signed(sim, "POST", path, **params).status_code != 200

    return act


@dataclass(frozen=True)
class Story:
    """A situation: after ``setup``, ``act`` sends these events (other than account updates)."""

    id: str
    setup: Callable[[SimHandle], None]
    act: Callable[[SimHandle], None]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    note: str = ""


STORIES = [
    Story("OCO placed", nothing, call("POST", "/api/v3/orderList/oco", SELL_OCO), [
        er(1, "NEW", "NEW", g=1, c="sl", w=False, P="59000.00000000"),
        er(2, "NEW", "NEW", g=1, c="tp", w=True, W=INT),
        ls("EXEC_STARTED"),
    ]),
    Story("OCO limit order fills: the stop loss expires", place("/api/v3/orderList/oco", SELL_OCO),
          price("61100"), [
        er(2, "TRADE", "FILLED", g=1, l=Q, L="61000.00000000", m=True),
        er(1, "EXPIRED", "EXPIRED", g=1, eR="OCO_TRIGGER", w=False),
        ls("ALL_DONE"),
    ]),
    Story("OCO stop loss triggers: the limit order expires",
          place("/api/v3/orderList/oco", SELL_OCO), price("58950"), [
        er(1, "NEW", "NEW", g=1, w=True, W=INT),
        er(1, "TRADE", "FILLED", g=1, L="58950.00000000", m=False),
        er(2, "EXPIRED", "EXPIRED", g=1, eR="OCO_TRIGGER"),
        ls("ALL_DONE"),
    ], note="triggered: NEW again, now working (w true, W)"),
    Story("OCO cancelled", place("/api/v3/orderList/oco", SELL_OCO),
          call("DELETE", "/api/v3/orderList", {"symbol": S, "listClientOrderId": "L1",
                                               "newClientOrderId": "cx"}), [
        er(1, "CANCELED", "CANCELED", g=1, c="cx", C="sl"),
        er(2, "CANCELED", "CANCELED", g=1, c="cx", C="tp"),
        ls("ALL_DONE"),
    ]),
    Story("OTO placed", nothing, call("POST", "/api/v3/orderList/oto", OTO), [
        er(1, "NEW", "NEW", g=1, w=True),
        er(2, "NEW", "PENDING_NEW", g=1, w=False),
        ls("EXEC_STARTED", contingency="OTO"),
    ], note="the pending order's executionReport: x NEW, X PENDING_NEW (the simulator's choice)"),
    Story("OTO working order fills: the pending order goes on the book",
          place("/api/v3/orderList/oto", OTO), price("58990"), [
        er(1, "TRADE", "FILLED", g=1),
        er(2, "NEW", "NEW", g=1, w=False),
        ls("ALL_DONE", contingency="OTO"),
    ], note="the list is ALL_DONE once its pending order is placed (the simulator's choice)"),
    Story("OTOCO: working fills, then the pending pair plays out",
          place("/api/v3/orderList/otoco", OTOCO),
          both(price("58990"), price("61100")), [
        er(1, "TRADE", "FILLED", g=1),
        er(2, "NEW", "NEW", g=1, w=False),
        er(3, "NEW", "NEW", g=1, w=True),
        ls("EXEC_STARTED", contingency="OTO"),
        er(3, "TRADE", "FILLED", g=1),
        er(2, "EXPIRED", "EXPIRED", g=1, eR="OCO_TRIGGER"),
        ls("ALL_DONE", contingency="OTO"),
    ]),
    Story("OTO working order cancelled: the list is cancelled",
          place("/api/v3/orderList/oto", OTO),
          call("DELETE", "/api/v3/order", {"symbol": S, "origClientOrderId": "w"}), [
        er(1, "CANCELED", "CANCELED", g=1, C="w"),
        er(2, "CANCELED", "CANCELED", g=1, C="p"),
        ls("ALL_DONE", contingency="OTO"),
    ]),
    Story("stop-limit order triggers", place("/api/v3/order", {
              "symbol": S, "side": "SELL", "type": "STOP_LOSS_LIMIT", "quantity": "0.01",
              "stopPrice": "59000", "price": "58000", "timeInForce": "GTC"}),
          price("58990"), [
        er(1, "NEW", "NEW", g=-1, w=True, W=INT),
        er(1, "TRADE", "FILLED", g=-1, L="58990.00000000"),
    ]),
    Story("trailing stop tracks the high, then triggers", place("/api/v3/order", {
              "symbol": S, "side": "SELL", "type": "STOP_LOSS", "quantity": "0.01",
              "trailingDelta": "100"}),
          both(price("61000"), price("60400"), price("60390")), [
        er(1, "NEW", "NEW", d=100, D=INT, w=True, W=INT),
        er(1, "TRADE", "FILLED", d=100, L="60390.00000000"),
    ], note="60390 = 61000 less 100 BIPS; 60400 is not yet enough"),
    Story("cancel-replace whose new order is refused",
          place("/api/v3/order", RESTING),
          refused("/api/v3/order/cancelReplace", {**REPLACE, "type": "LIMIT_MAKER",
                                                  "price": "60500", "timeInForce": None}), [
        er(1, "CANCELED", "CANCELED", c="c1", C="a1"),
        er(-1, "REJECTED", "REJECTED", c="a2", r="WOULD_MATCH_IMMEDIATELY"),
    ], note="enums.md: REJECTED, for a cancel-replace whose new order is refused"),
]  # fmt: skip


@pytest.mark.parametrize("story", STORIES, ids=[s.id for s in STORIES])
def test_each_situation_sends_the_documented_events_in_order(
    sim: SimHandle, user_stream: UserStream, story: Story
) -> None:
    story.setup(sim)
    user_stream.drain(settle=0.2)
    story.act(sim)
    got = [e for e in user_stream.drain(settle=0.3) if e["e"] != "outboundAccountPosition"]
    assert [(e["e"], e.get("i")) for e in got] == [
        (kind, fields.get("i")) for kind, fields in story.events
    ]
    for event, (_, fields) in zip(got, story.events, strict=True):
        assert field_by_field({k: event.get(k) for k in fields}, fields) == [], event


def test_exchange_info_allows_what_the_simulator_does(sim: SimHandle) -> None:
    """A client reads from exchangeInfo whether a symbol takes stops, trailing stops, order
    lists and cancel-replace, and the limits on them (filters.md)."""
    info = requests.get(f"{sim.rest}/api/v3/exchangeInfo", params={"symbol": S}, timeout=5)
    symbol = info.json()["symbols"][0]
    assert symbol["orderTypes"] == [
        "LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
    ]  # fmt: skip
    flags = ("ocoAllowed", "otoAllowed", "cancelReplaceAllowed", "allowTrailingStop")
    assert {f: symbol[f] for f in flags} == dict.fromkeys(flags, True)
    filters = {f["filterType"]: f for f in symbol["filters"]}
    assert filters["MAX_NUM_ALGO_ORDERS"] == {"filterType": "MAX_NUM_ALGO_ORDERS",
                                              "maxNumAlgoOrders": 5}  # fmt: skip
    assert filters["MAX_NUM_ORDER_LISTS"] == {"filterType": "MAX_NUM_ORDER_LISTS",
                                              "maxNumOrderLists": 20}  # fmt: skip
    assert filters["TRAILING_DELTA"] == {
        "filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10,
        "maxTrailingAboveDelta": 2000, "minTrailingBelowDelta": 10,
        "maxTrailingBelowDelta": 2000,
    }  # fmt: skip
