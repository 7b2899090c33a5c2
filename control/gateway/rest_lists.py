"""The gateway's order-list endpoints, each mapped onto the broker's messages and scoped to the
calling key's strategy.

``POST /api/v3/orderList/oco``, ``/oto`` and ``/otoco`` are an ``OrderListIntent`` (the path
of every intent, whole: the protective rules, policy and the strategy's own limits → breaker
gate → one journal entry → wire), answered once the exchange acknowledged it, in Binance's
shape (``orderListId``, ``contingencyType``, ``listStatusType``, ``listOrderStatus``,
``listClientOrderId``, ``transactionTime``, ``symbol``, ``orders``, ``orderReports``). The
strategy's ``listClientOrderId`` and legs' client order ids are its own (scoped to it); the
exchange sees Vigil's. A refusal is -2010 with Vigil's reason, a filter failure -1013, as for
single orders. ``GET /api/v3/orderList``, ``/openOrderList`` and ``/allOrderList`` are a
``ListsQuery`` of Vigil's book; ``DELETE /api/v3/orderList`` cancels an open leg (on Binance,
cancelling one order of a list cancels the whole list), journaled and guarded like any cancel.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from control.gateway import reports
from control.gateway.order_params import (
    IGNORED,
    RESP_TYPES,
    STOP_TYPES,
    TIME_IN_FORCE,
    limit_param,
    page,
    unsupported,
)
from control.gateway.rest_orders import ENDED, limits_of, refusal_error
from control.gateway.signed import Signed, busy
from domain.admission import Refusal
from exchange.protocol.errors import ApiError, bad_symbol, mandatory, not_required
from exchange.protocol.params import Params
from runtime.messages import CancelOrder, ListLeg, ListsQuery, OrderListIntent
from storage.strategy_keys import StrategyKey

if TYPE_CHECKING:
    from assembly.system import VigilSystem

LEG_TYPES = {  # what Binance allows in each place of a list
    "above": frozenset(
        {"STOP_LOSS_LIMIT", "STOP_LOSS", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}
    ),
    "below": frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}),
    "working": frozenset({"LIMIT", "LIMIT_MAKER"}),
    "pending": frozenset({"LIMIT", "MARKET", "LIMIT_MAKER", *STOP_TYPES}),
}
PRICED = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
WITH_TIF = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
ACK_FIELDS = ("symbol", "orderId", "orderListId", "clientOrderId", "transactTime")
LEG_UNSUPPORTED = ("IcebergQty", "PegPriceType", "PegOffsetType", "PegOffsetValue")


def list_refusal(refusal: Refusal | None, reason: str) -> ApiError:
    """A refused list as a single order's refusal (-2010 ``Vigil RED: ...``, ``Vigil
    policy: ...``; -1013), the leg the guard judged named after the reason."""
    role, sep, rest = reason.partition(" order: ")
    if not sep or role not in LEG_TYPES:
        return refusal_error(refusal, reason)
    error = refusal_error(refusal, rest)
    if error.code == -2010 and error.msg.startswith("Vigil"):
        return ApiError(error.code, f"{error.msg} ({role} order)")
    return error


def _leg(params: Params, prefix: str, place: str, side: str, quantity: Any) -> ListLeg:
    """One leg's ``{prefix}Type``, ``Price``, ``StopPrice``, ``TrailingDelta``,
    ``TimeInForce``, ``ClientOrderId`` as Binance checks them."""
    leg_type = params.require(f"{prefix}Type")
    if leg_type not in LEG_TYPES[place]:
        raise ApiError(-1116, "Invalid orderType.")
    for name in LEG_UNSUPPORTED:
        if params.get(f"{prefix}{name}") is not None:
            raise unsupported(f"parameter '{prefix}{name}'")
    for name in IGNORED:
        params.get(f"{prefix}{name[0].upper()}{name[1:]}")
    price = params.decimal(f"{prefix}Price")
    if leg_type in PRICED and price is None:
        raise mandatory(f"{prefix}Price")
    if leg_type not in PRICED and price is not None:
        raise not_required(f"{prefix}Price")
    stop = params.decimal(f"{prefix}StopPrice")
    trailing = params.integer(f"{prefix}TrailingDelta")
    if leg_type in STOP_TYPES and stop is None and trailing is None:
        raise ApiError(
            -1102,
            f"Param '{prefix}StopPrice' or '{prefix}TrailingDelta' must be sent, "
            "but both were empty/null!",
        )
    if leg_type not in STOP_TYPES and (stop is not None or trailing is not None):
        raise not_required(f"{prefix}StopPrice")
    tif = params.get(f"{prefix}TimeInForce")
    if leg_type in WITH_TIF and tif is None:
        raise mandatory(f"{prefix}TimeInForce")
    if tif is not None:
        if tif not in TIME_IN_FORCE:
            raise ApiError(-1115, "Invalid timeInForce.")
        if leg_type not in WITH_TIF:
            raise not_required(f"{prefix}TimeInForce")
    for value in (price, stop):
        if value is not None and value <= 0:
            raise ApiError(-1013, "Illegal price.")
    if trailing is not None and trailing <= 0:
        raise ApiError(-2010, "Invalid trailingDelta.")
    return ListLeg(
        type=leg_type,
        side=side,
        quantity=quantity,
        price=price,
        stop_price=stop,
        trailing_delta=trailing,
        time_in_force=tif,
        strategy_order_id=params.client_id(f"{prefix}ClientOrderId"),
    )


def _side(params: Params, name: str) -> str:
    side = params.require(name)
    if side not in ("BUY", "SELL"):
        raise ApiError(-1117, "Invalid side.")
    return side


def _quantity(params: Params, name: str) -> Any:
    quantity = params.decimal(name)
    if quantity is None:
        raise mandatory(name)
    if quantity <= 0:
        raise ApiError(-1013, "Filter failure: LOT_SIZE")
    return quantity


def read_list(params: Params, list_type: str) -> tuple[tuple[str, ListLeg], ...]:
    """The (role, leg) pairs of ``orderList/oco|oto|otoco``'s parameters."""
    if list_type == "OCO":
        side, qty = _side(params, "side"), _quantity(params, "quantity")
        return (
            ("above", _leg(params, "above", "above", side, qty)),
            ("below", _leg(params, "below", "below", side, qty)),
        )
    working = _leg(
        params,
        "working",
        "working",
        _side(params, "workingSide"),
        _quantity(params, "workingQuantity"),
    )
    side, qty = _side(params, "pendingSide"), _quantity(params, "pendingQuantity")
    if list_type == "OTO":
        return ("working", working), ("pending", _leg(params, "pending", "pending", side, qty))
    return (
        ("working", working),
        ("above", _leg(params, "pendingAbove", "above", side, qty)),
        ("below", _leg(params, "pendingBelow", "below", side, qty)),
    )


def list_json(
    found: dict[str, Any], *, reports_too: bool = False, resp_type: str = "RESULT"
) -> dict[str, Any]:
    """An order list (a ``ListsQuery`` dict) in Binance's shape, the strategy's ids in it."""
    orders = found["orders"]
    answer: dict[str, Any] = {
        "orderListId": -1 if found["order_list_id"] is None else int(found["order_list_id"]),
        "contingencyType": found["contingency_type"]
        or ("OCO" if found["list_type"] == "OCO" else "OTO"),
        "listStatusType": found["list_status_type"] or "EXEC_STARTED",
        "listOrderStatus": found["list_order_status"] or "EXECUTING",
        "listClientOrderId": found["strategy_list_id"] or found["list_client_order_id"],
        "transactionTime": int(found["updated_ms"] or found["created_ms"]),
        "symbol": found["symbol"],
        "orders": [
            {
                "symbol": o["symbol"],
                "orderId": -1 if o["order_id"] is None else int(o["order_id"]),
                "clientOrderId": o.get("strategy_order_id") or o["client_order_id"],
            }
            for o in orders
        ],
    }
    if reports_too:
        list_id = answer["orderListId"]
        answer["orderReports"] = [{**_report(o), "orderListId": list_id} for o in orders]
        if resp_type == "ACK":  # Binance's ACK: the ids and the time only
            answer["orderReports"] = [{k: r[k] for k in ACK_FIELDS} for r in answer["orderReports"]]
    return answer


def _report(order: dict[str, Any]) -> dict[str, Any]:
    full = reports.order_json(order)
    report = {
        "symbol": full["symbol"],
        "orderId": full["orderId"],
        "orderListId": -1,
        "clientOrderId": full["clientOrderId"],
        "transactTime": full["updateTime"],
        "price": full["price"],
        "origQty": full["origQty"],
        "executedQty": full["executedQty"],
        "origQuoteOrderQty": reports.ZERO8,
        "cummulativeQuoteQty": full["cummulativeQuoteQty"],
        "status": full["status"],
        "timeInForce": full["timeInForce"],
        "type": full["type"],
        "side": full["side"],
    }
    if order.get("stop_price") is not None:
        report["stopPrice"] = full["stopPrice"]
    report["workingTime"] = full["workingTime"]
    report["selfTradePreventionMode"] = "NONE"
    return report


def _rejected(found: dict[str, Any]) -> bool:
    """The exchange refused the list (every leg REJECTED, or its list status says so)."""
    return found["list_order_status"] == "REJECT" or all(
        o["state"] == "REJECTED" for o in found["orders"]
    )


class ListEndpoints:
    def __init__(self, system: VigilSystem, signed: Signed) -> None:
        self.system = system
        self.signed = signed
        self.ack_timeout_s = system.settings.gateway.order_ack_timeout_s

    def add_routes(self, app: web.Application) -> None:
        r, e = app.router, self.signed.endpoint
        r.add_post("/api/v3/orderList/oco", e(lambda k, p: self.new_list(k, p, "OCO")))
        r.add_post("/api/v3/orderList/oto", e(lambda k, p: self.new_list(k, p, "OTO")))
        r.add_post("/api/v3/orderList/otoco", e(lambda k, p: self.new_list(k, p, "OTOCO")))
        r.add_get("/api/v3/orderList", e(self.get_list))
        r.add_delete("/api/v3/orderList", e(self.cancel_list))
        r.add_get("/api/v3/openOrderList", e(self.open_lists))
        r.add_get("/api/v3/allOrderList", e(self.all_lists))

    def _lists(self, key: StrategyKey, **filters: Any) -> list[dict[str, Any]]:
        return list(self.signed.ask(ListsQuery(strategy=key.name, **filters)))

    def _symbol(self, params: Params) -> str:
        symbol = params.require("symbol")
        if symbol not in self.system.markets:
            raise bad_symbol()
        return symbol

    # ---------------------------------------------------------------- new lists

    def new_list(self, key: StrategyKey, params: Params, list_type: str) -> dict[str, Any]:
        symbol = self._symbol(params)
        own_list_id = params.client_id("listClientOrderId")
        legs = read_list(params, list_type)
        resp = params.get("newOrderRespType") or "FULL"
        if resp not in RESP_TYPES:
            raise ApiError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
        params.get("selfTradePreventionMode")
        params.done()
        if not self.system.accepting:
            raise ApiError(-1016, "This service is no longer available.", 503)
        intent = OrderListIntent(
            symbol=symbol,
            list_type=list_type,
            legs=legs,
            source="gateway",
            strategy=key.name,
            strategy_list_id=own_list_id,
            strategy_limits=limits_of(key),
        )
        with self.system.events.subscribe() as sub:
            decision = self.signed.ask(intent)
            if not decision.accepted:
                raise list_refusal(decision.refusal, decision.reason)
            list_cid = decision.list_client_order_id
            deadline = time.monotonic() + self.ack_timeout_s
            found = None
            while True:  # each leg's event wakes this; the list answers once it is known
                got = self._lists(key, list_client_order_id=list_cid)
                found = got[0] if got else None
                if found is not None and (found["order_list_id"] is not None or _rejected(found)):
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sub.get(min(left, 0.05))
        if found is not None and _rejected(found):
            raise ApiError(-2010, "Vigil: the exchange rejected the order list")
        if found is None or found["order_list_id"] is None:
            raise busy()  # sent, no answer yet: -1007 (query it)
        return list_json(found, reports_too=True, resp_type=resp)

    # ---------------------------------------------------------------- queries

    def _one(
        self, key: StrategyKey, params: Params, own_param: str = "listClientOrderId"
    ) -> dict[str, Any]:
        """The strategy's list by ``orderListId`` or its own id in ``own_param`` (Binance
        names it ``origClientOrderId`` in a query, ``listClientOrderId`` in a cancel)."""
        list_id = params.integer("orderListId")
        own = params.client_id(own_param)
        if own is None and own_param != "listClientOrderId":  # the name Vigil took first
            own = params.client_id("listClientOrderId")
        if list_id is None and own is None:
            raise ApiError(
                -1102,
                f"Param 'orderListId' or '{own_param}' must be sent, but both were empty/null!",
            )
        found = self._lists(key, order_list_id=list_id, strategy_list_id=own)
        if not found:
            raise ApiError(-2013, "Order list does not exist.")
        return found[-1]

    def get_list(self, key: StrategyKey, params: Params) -> dict[str, Any]:
        found = self._one(key, params, "origClientOrderId")
        params.done()
        return list_json(found)

    def open_lists(self, key: StrategyKey, params: Params) -> list[dict[str, Any]]:
        params.done()
        return [list_json(f) for f in self._lists(key, open_only=True)]

    def all_lists(self, key: StrategyKey, params: Params) -> list[dict[str, Any]]:
        from_id = params.integer("fromId")
        start, end = params.integer("startTime"), params.integer("endTime")
        limit = limit_param(params)
        params.done()
        found = [
            f
            for f in self._lists(key)
            if (from_id is None or (f["order_list_id"] or 0) >= from_id)
            and (start is None or f["created_ms"] >= start)
            and (end is None or f["created_ms"] <= end)
        ]
        chosen = page(found, limit, from_start=from_id is not None or start is not None)
        return [list_json(f) for f in chosen]

    # ---------------------------------------------------------------- cancels

    def cancel_list(self, key: StrategyKey, params: Params) -> dict[str, Any]:
        symbol = self._symbol(params)
        try:
            found = self._one(key, params)
        except ApiError:
            raise ApiError(-2011, "Unknown order sent.") from None
        params.client_id("newClientOrderId")
        params.done()
        if found["symbol"] != symbol:
            raise ApiError(-2011, "Unknown order sent.")
        live = [o for o in found["orders"] if o["state"] in ("NEW", "PARTIALLY_FILLED")]
        if not found["open"] or not live:
            raise ApiError(-2011, "Unknown order sent.")
        leg = live[0]
        request = CancelOrder(
            symbol=symbol,
            strategy=key.name,
            client_order_id=leg["client_order_id"],
            reason=f"strategy {key.name}: cancel order list",
        )
        list_cid = found["list_client_order_id"]
        with self.system.events.subscribe() as sub:
            decision = self.signed.ask(request)
            if not decision.accepted:
                raise ApiError(-2011, f"Vigil: {decision.reason}")
            deadline = time.monotonic() + self.ack_timeout_s
            while True:  # every order ended, and the list's own status told
                now = self._lists(key, list_client_order_id=list_cid)[0]
                ended = all(o["state"] in ENDED for o in now["orders"])
                if ended and now["list_order_status"] == "ALL_DONE":
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    if ended:
                        break
                    raise busy()
                sub.get(min(left, 0.05))
        answer = list_json(now, reports_too=True)
        for report in answer["orderReports"]:
            report["origClientOrderId"] = report["clientOrderId"]
        return answer
