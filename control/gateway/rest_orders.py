"""The gateway's order endpoints, each mapped onto the broker's messages and scoped to the
calling key's strategy.

``POST /api/v3/order`` is an ``OrderIntent`` (the same path as every intent: policy and the
strategy's own limits → breaker gate → journal → wire); it answers after the exchange's
acknowledgment (the ``"execution"`` event of that order, within ``order_ack_timeout_s``;
a MARKET, IOC or FOK order after it ended, so its fills are in the answer), as ACK, RESULT
or FULL. A refusal is HTTP 400 -2010 with Vigil's reason (``Vigil RED: ...``, ``Vigil
policy: ...``), a filter failure -1013, a duplicate id Binance's "Duplicate order sent.".
``DELETE /api/v3/order`` and ``/openOrders`` are ``CancelOrder``s (journaled and guarded by
the broker) answered once the exchange said CANCELED. Every query (``GET /api/v3/order``,
``/openOrders``, ``/allOrders``, ``/myTrades``) is an ``OrdersQuery`` of Vigil's book. The
strategy's ``newClientOrderId`` / ``origClientOrderId`` is its own id; ``orderId`` is the
exchange's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from control.gateway import reports
from control.gateway.order_params import (
    NewOrder,
    limit_param,
    order_ref,
    page,
    read_new_order,
    unsupported,
)
from control.gateway.signed import Signed, busy
from domain.admission import Refusal
from domain.strategy_limits import StrategyLimits
from exchange.protocol.errors import ApiError, bad_symbol
from exchange.protocol.params import Params
from runtime.events import Subscription
from runtime.messages import CancelOrder, OrderIntent, OrdersQuery
from storage.strategy_keys import KeyRing, StrategyKey

if TYPE_CHECKING:
    from assembly.system import VigilSystem

FILTER_RE = re.compile(r"Filter failure: [A-Z_]+")
CROSS_WAIT_S = 1.0  # how long a crossing LIMIT's answer waits for its first fill
ENDED = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED"})


def limits_of(key: StrategyKey) -> StrategyLimits:
    return StrategyLimits(
        symbols=None if key.symbols is None else frozenset(key.symbols),
        max_order_notional=key.max_order_notional,
        max_open_orders=key.max_open_orders,
    )


def intent_of(order: NewOrder, key: StrategyKey) -> OrderIntent:
    """A strategy's new order (``POST order``, the new half of ``cancelReplace``) as the
    intent every order takes: its own id scoped to it, its key's limits on top of [policy]."""
    return OrderIntent(
        symbol=order.symbol,
        side=order.side,
        type=order.type,
        quantity=order.quantity,
        price=order.price,
        time_in_force=order.time_in_force,
        stop_price=order.stop_price,
        trailing_delta=order.trailing_delta,
        source="gateway",
        strategy=key.name,
        strategy_order_id=order.client_order_id,
        strategy_limits=limits_of(key),
    )


def refusal_error(refusal: Refusal | None, reason: str) -> ApiError:
    """A refused intent as Binance's error (HTTP 400)."""
    if refusal is Refusal.DUPLICATE:
        return ApiError(-2010, "Duplicate order sent.")
    if refusal is Refusal.FILTER:  # Binance's own words when Vigil's check found them
        found = FILTER_RE.search(reason)
        return ApiError(-1013, found.group(0) if found else f"Filter failure: Vigil {reason}")
    if refusal is Refusal.BREAKER:
        reason = reason.removeprefix("breaker: ")  # "RED: ...", "YELLOW: ...", as Vigil says
    if refusal is Refusal.POLICY and not reason.startswith("policy"):
        reason = f"policy: {reason}"  # a strategy's own limit
    return ApiError(-2010, f"Vigil {reason}")


def traded(event: dict[str, Any]) -> bool:
    """The order has a fill, or has ended."""
    return Decimal(event.get("executed_qty") or 0) > 0 or event.get("state") in ENDED


def unknown_order() -> ApiError:
    return ApiError(-2013, "Order does not exist.")


def wait_order(
    sub: Subscription, cid: str, done: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any] | None:
    """The first ``"execution"`` event of Vigil's order ``cid`` for which ``done`` holds,
    waiting up to ``timeout`` seconds (None: none came)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        event = sub.get(left)
        if event is None or event.kind != "execution":
            continue
        data = dict(event.data)
        if data.get("client_order_id") == cid and done(data):
            return data


class OrderEndpoints:
    def __init__(self, system: VigilSystem, signed: Signed, ring: KeyRing) -> None:
        self.system = system
        self.signed = signed
        self.ring = ring
        self.ack_timeout_s = system.settings.gateway.order_ack_timeout_s

    def add_routes(self, app: web.Application) -> None:
        r, e = app.router, self.signed.endpoint
        r.add_post("/api/v3/order", e(self.new_order))
        r.add_post("/api/v3/order/test", e(self.test_order))
        r.add_get("/api/v3/order", e(self.get_order))
        r.add_delete("/api/v3/order", e(self.cancel_order))
        r.add_get("/api/v3/openOrders", e(self.open_orders))
        r.add_delete("/api/v3/openOrders", e(self.cancel_open_orders))
        r.add_get("/api/v3/allOrders", e(self.all_orders))
        r.add_get("/api/v3/myTrades", e(self.my_trades))

    def _symbol(self, params: Params, *, required: bool = True) -> str | None:
        """The ``symbol`` parameter: one Vigil trades (-1121), mandatory unless told."""
        symbol = params.require("symbol") if required else params.get("symbol")
        if symbol is not None and symbol not in self.system.markets:
            raise bad_symbol()
        return symbol

    def _query(self, key: StrategyKey, **filters: Any) -> list[dict[str, Any]]:
        return list(self.signed.ask(OrdersQuery(strategy=key.name, **filters)))

    def _one(self, key: StrategyKey, params: Params) -> dict[str, Any]:
        symbol, own_id, order_id = order_ref(params)
        self._symbol(params)
        found = self._query(
            key, symbol=symbol, strategy_order_id=own_id, order_id=order_id, with_fills=True
        )
        found = [o for o in found if o["symbol"] == symbol]
        if not found:
            raise unknown_order()
        return found[-1]

    # ---------------------------------------------------------------- new orders

    def new_order(self, key: StrategyKey, params: Params) -> dict[str, Any]:
        order = read_new_order(params, self.system.markets)
        params.done()  # an unread parameter refuses the order before anything is done
        if not self.system.accepting:
            raise ApiError(-1016, "This service is no longer available.", 503)
        intent = intent_of(order, key)
        ends_at_once = order.type == "MARKET" or order.time_in_force in ("IOC", "FOK")
        taker = ends_at_once or self._crosses(order)
        with self.system.events.subscribe() as sub:  # before the ask: no event is missed
            decision = self.signed.ask(intent)
            if not decision.accepted:
                raise refusal_error(decision.refusal, decision.reason)
            cid = decision.client_order_id
            acked = wait_order(
                sub,
                cid,
                lambda e: (not ends_at_once) or e.get("state") in ENDED,
                self.ack_timeout_s,
            )
            if acked is not None and taker and not ends_at_once and not traded(acked):
                # a LIMIT that takes liquidity: Binance answers with its fills, so wait
                # (briefly: the book may have moved away) for the first of them
                acked = wait_order(sub, cid, traded, CROSS_WAIT_S) or acked
        if acked is None:
            raise busy()  # sent, no answer yet: -1007, the order may exist (query it)
        if acked.get("execution_type") == "REJECTED":
            raise ApiError(
                -2010, f"Vigil: the exchange rejected the order: {acked.get('reject_reason')}"
            )
        if Decimal(acked.get("executed_qty") or 0) == 0:  # nothing filled: the event says all
            return reports.new_order_json({**acked, "fills": []}, order.resp_type)
        found = self._query(key, client_order_id=cid, with_fills=True)
        return reports.new_order_json(found[-1] if found else acked, order.resp_type)

    def _crosses(self, order: NewOrder) -> bool:
        """Whether a LIMIT order's price reaches the other side of the latest bookTicker."""
        ticker = self.system.adapter.reference_price(order.symbol)
        if ticker is None or order.price is None or order.type != "LIMIT":
            return False
        if order.side == "BUY":
            return bool(order.price >= ticker.ask_price)
        return bool(order.price <= ticker.bid_price)

    def test_order(self, key: StrategyKey, params: Params) -> dict[str, Any]:
        """The parameters' checks and the strategy's symbols; nothing is journaled or sent."""
        order = read_new_order(params, self.system.markets)
        if params.get("computeCommissionRates") == "true":
            raise unsupported("computeCommissionRates")
        params.done()
        if key.symbols is not None and order.symbol not in key.symbols:
            raise ApiError(-2010, f"Vigil policy: strategy {key.name}: symbol not allowed")
        return {}

    # ---------------------------------------------------------------- queries

    def get_order(self, key: StrategyKey, params: Params) -> dict[str, Any]:
        return reports.order_json(self._one(key, params))

    def open_orders(self, key: StrategyKey, params: Params) -> list[dict[str, Any]]:
        symbol = self._symbol(params, required=False)
        found = self._query(key, symbol=symbol, open_only=True)
        return [reports.order_json(o) for o in found if o["state"] in reports.OPEN_STATES]

    def all_orders(self, key: StrategyKey, params: Params) -> list[dict[str, Any]]:
        symbol = self._symbol(params)
        from_id = params.integer("orderId")
        start, end = params.integer("startTime"), params.integer("endTime")
        limit = limit_param(params)
        found = [
            o
            for o in self._query(key, symbol=symbol)
            if (from_id is None or (o["order_id"] or 0) >= from_id)
            and (start is None or o["created_ms"] >= start)
            and (end is None or o["created_ms"] <= end)
        ]
        return [
            reports.order_json(o)
            for o in page(found, limit, from_start=from_id is not None or start is not None)
        ]

    def my_trades(self, key: StrategyKey, params: Params) -> list[dict[str, Any]]:
        symbol = self._symbol(params)
        order_id, from_id = params.integer("orderId"), params.integer("fromId")
        start, end = params.integer("startTime"), params.integer("endTime")
        limit = limit_param(params)
        trades = []
        for order in self._query(key, symbol=symbol, order_id=order_id, with_fills=True):
            trades += [reports.trade_json(order, f) for f in order.get("fills") or []]
        trades.sort(key=lambda t: t["id"])
        chosen = [
            t
            for t in trades
            if (from_id is None or t["id"] >= from_id)
            and (start is None or t["time"] >= start)
            and (end is None or t["time"] <= end)
        ]
        return page(chosen, limit, from_start=from_id is not None or start is not None)

    # ---------------------------------------------------------------- cancels

    def cancel_order(self, key: StrategyKey, params: Params) -> dict[str, Any]:
        symbol, own_id, order_id = order_ref(params)
        self._symbol(params)
        params.client_id("newClientOrderId")
        params.get("cancelRestrictions")
        params.done()
        return self._cancel(key, symbol, own_id, order_id)

    def _cancel(
        self, key: StrategyKey, symbol: str, own_id: str | None, order_id: int | None
    ) -> dict[str, Any]:
        request = CancelOrder(
            symbol=symbol,
            strategy=key.name,
            strategy_order_id=own_id,
            order_id=order_id,
            reason=f"strategy {key.name}",
        )
        with self.system.events.subscribe() as sub:
            decision = self.signed.ask(request)
            if not decision.found:
                raise ApiError(-2011, "Unknown order sent.")
            if not decision.accepted:
                raise ApiError(-2011, f"Vigil: {decision.reason}")
            cid = decision.client_order_id
            ended = wait_order(sub, cid, lambda e: e.get("state") in ENDED, self.ack_timeout_s)
        found = self._query(key, client_order_id=cid)
        if not found:
            raise ApiError(-2011, "Unknown order sent.")
        order = found[-1]
        if ended is None and order["state"] not in ENDED:
            raise busy()
        return cancel_json(order)

    def cancel_open_orders(self, key: StrategyKey, params: Params) -> list[dict[str, Any]]:
        symbol = str(self._symbol(params))
        params.done()
        live = [
            o
            for o in self._query(key, symbol=symbol, open_only=True)
            if o["state"] in ("NEW", "PARTIALLY_FILLED")
        ]
        if not live:
            raise ApiError(-2011, "Unknown order sent.")
        answers = []
        for o in live:
            try:
                answers.append(self._cancel(key, symbol, o["strategy_order_id"], None))
            except ApiError as exc:  # a list's leg ends with the list when another leg's
                # cancel ended it: that is this order cancelled, not an error
                now = self._query(key, client_order_id=o["client_order_id"])
                if exc.code != -2011 or not now or now[-1]["state"] not in ENDED:
                    raise
                answers.append(cancel_json(now[-1]))
        return answers


def cancel_json(order: dict[str, Any]) -> dict[str, Any]:
    """``DELETE /api/v3/order``'s answer."""
    full = reports.order_json(order)
    return {
        "symbol": full["symbol"],
        "origClientOrderId": full["clientOrderId"],
        "orderId": full["orderId"],
        "orderListId": full["orderListId"],
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
        "selfTradePreventionMode": "NONE",
    }
