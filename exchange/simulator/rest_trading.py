"""REST trading endpoints (signed): account, orders, cancels, order and trade history.

New orders are where the order faults act: ``reject_orders``, ``unknown_status``,
``slippage``, ``lost_response`` and ``timeout_after_accept`` read their (already
validated) parameters from the armed fault.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from aiohttp import web

from exchange.simulator import rendering
from exchange.simulator.connections import drop_connection
from exchange.simulator.engine import Engine
from exchange.simulator.errors import ApiError
from exchange.simulator.faults import Fault, FaultBook
from exchange.simulator.limits import RateLimiter
from exchange.simulator.params import Request, Route, illegal

RESP_TYPES = ("ACK", "RESULT", "FULL")
CANCEL_RESTRICTIONS = ("ONLY_NEW", "ONLY_PARTIALLY_FILLED")
UNKNOWN_STATUS_MSG = (
    "Timeout waiting for response from backend server. Send status unknown; "
    "execution status unknown."
)


def cancel_restrictions(request: Request, name: str) -> str | None:
    """``cancelRestrictions``: ONLY_NEW or ONLY_PARTIALLY_FILLED; anything else -1145."""
    value = request.get(name)
    if value is not None and value not in CANCEL_RESTRICTIONS:
        raise ApiError(-1145, "Invalid cancelRestrictions")
    return value


class TradingEndpoints:
    """The signed endpoints under ``/api/v3``."""

    def __init__(self, engine: Engine, faults: FaultBook, limiter: RateLimiter) -> None:
        self.engine = engine
        self.config = engine.config
        self.faults = faults
        self.limiter = limiter

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/api/v3/account", 20, True, self.account),
            Route("POST", "/api/v3/order", 1, True, self.new_order, is_order=True),
            Route("POST", "/api/v3/order/test", 1, True, self.test_order),
            Route("GET", "/api/v3/order", 4, True, self.query_order),
            Route("DELETE", "/api/v3/order", 1, True, self.cancel_order),
            Route("DELETE", "/api/v3/openOrders", 1, True, self.cancel_open_orders),
            Route("GET", "/api/v3/openOrders", 6, True, self.open_orders),
            Route("GET", "/api/v3/allOrders", 20, True, self.all_orders),
            Route("GET", "/api/v3/myTrades", 20, True, self.my_trades),
            Route("GET", "/api/v3/rateLimit/order", 40, True, self.rate_limit_order),
            Route("GET", "/sapi/v1/account/apiRestrictions", 1, True, self.api_restrictions),
        ]

    def account(self, request: Request) -> dict[str, Any]:
        omit_zero = request.get("omitZeroBalances") == "true"
        with self.engine.lock:
            return rendering.account_json(
                self.engine.balances,
                maker=self.config.maker_commission,
                taker=self.config.taker_commission,
                update_time=self.engine.update_time,
                omit_zero=omit_zero,
            )

    @staticmethod
    def _order_args(request: Request) -> dict[str, Any]:
        return {
            "symbol": request.require("symbol"),
            "side": request.require("side"),
            "order_type": request.require("type"),
            "time_in_force": request.get("timeInForce"),
            "quantity": request.decimal("quantity"),
            "quote_order_qty": request.decimal("quoteOrderQty"),
            "price": request.decimal("price"),
            "stop_price": request.decimal("stopPrice"),
            "trailing_delta": request.integer("trailingDelta"),
        }

    def test_order(self, request: Request) -> dict[str, Any]:
        args = self._order_args(request)
        request.client_id("newClientOrderId")
        self._resp_type(request, args["order_type"])
        self.engine.place_order(**args, test_only=True)
        return {}

    @staticmethod
    def _resp_type(request: Request, order_type: str) -> str:
        """``newOrderRespType``: ACK, RESULT or FULL (FULL for LIMIT and MARKET by default)."""
        resp_type = request.get("newOrderRespType")
        if resp_type is None:
            return "FULL" if order_type in ("LIMIT", "MARKET") else "ACK"
        if resp_type not in RESP_TYPES:
            raise illegal("newOrderRespType", ", ".join(RESP_TYPES))
        return resp_type

    @staticmethod
    def _unknown_status(fault: Fault) -> ApiError:
        return ApiError(fault.params["code"], UNKNOWN_STATUS_MSG, fault.params["status"])

    async def new_order(self, request: Request) -> Any:
        args = self._order_args(request)
        client_order_id = request.client_id("newClientOrderId")
        resp_type = self._resp_type(request, args["order_type"])
        reject = self.faults.take("reject_orders")
        if reject is not None:
            p = reject.params
            raise ApiError(p["code"], p["msg"], p["http_status"])
        unknown = self.faults.take("unknown_status")
        if unknown is not None and not unknown.params["placed"]:
            raise self._unknown_status(unknown)
        slippage = self.faults.take("slippage")
        market = self.engine.market(args["symbol"])
        if slippage is not None:
            bps: Decimal = slippage.params["bps"]
            ticks = (market.mid * bps / Decimal(10000) / market.tick).to_integral_value()
            market.slippage_ticks = max(1, int(ticks))
        try:
            order, trades = self.engine.place_order(**args, client_order_id=client_order_id)
        finally:
            if slippage is not None:
                market.slippage_ticks = 0
        assert order is not None
        body = rendering.order_response(order, trades, resp_type)
        if unknown is not None:
            raise self._unknown_status(unknown)
        if self.faults.take("lost_response") is not None and request.http is not None:
            drop_connection(request.http)
            return web.Response(status=500)
        delayed = self.faults.take("timeout_after_accept")
        if delayed is not None:
            await asyncio.sleep(delayed.params["delay"])
        return body

    @staticmethod
    def _order_ref(request: Request) -> tuple[str, int | None, str | None]:
        symbol = request.require("symbol")
        order_id = request.integer("orderId")
        orig = request.get("origClientOrderId")
        if order_id is None and orig is None:
            raise ApiError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        return symbol, order_id, orig

    def query_order(self, request: Request) -> dict[str, Any]:
        with self.engine.lock:
            return rendering.order_json(self.engine.find_order(*self._order_ref(request)))

    def cancel_order(self, request: Request) -> dict[str, Any]:
        symbol, order_id, orig = self._order_ref(request)
        new_id = request.client_id("newClientOrderId")
        restriction = cancel_restrictions(request, "cancelRestrictions")
        with self.engine.lock:
            order, cancel_id = self.engine.cancel_order(symbol, order_id, orig, new_id, restriction)
            return rendering.cancel_json(order, cancel_id)

    def cancel_open_orders(self, request: Request) -> list[dict[str, Any]]:
        """Every open order on the symbol; an order list's as one list entry (rest-api.md)."""
        with self.engine.lock:
            cancelled = self.engine.cancel_open_orders(request.require("symbol"))
            out: list[dict[str, Any]] = []
            lists: dict[int, dict[str, Any]] = {}
            for order, cancel_id in cancelled:
                report = rendering.cancel_json(order, cancel_id)
                if order.order_list_id == -1:
                    out.append(report)
                    continue
                entry = lists.get(order.order_list_id)
                if entry is None:
                    order_list = self.engine.lists.get(order.order_list_id, None)
                    entry = rendering.order_list_json(order_list) | {"orderReports": []}
                    lists[order.order_list_id] = entry
                    out.append(entry)
                entry["orderReports"].append(report)
            return out

    def open_orders(self, request: Request) -> list[dict[str, Any]]:
        with self.engine.lock:
            return [rendering.order_json(o) for o in self.engine.open_orders(request.get("symbol"))]

    @staticmethod
    def _limit(request: Request) -> int:
        """``limit``: default 500, at most 1000 (rest-api.md); below 1 is refused."""
        limit = request.integer("limit")
        if limit is None:
            return 500
        if not 1 <= limit <= 1000:
            raise illegal("limit", "1-1000")
        return limit

    def all_orders(self, request: Request) -> list[dict[str, Any]]:
        symbol = request.require("symbol")
        self.engine.market(symbol)
        limit = self._limit(request)
        from_id, start, end = (
            request.integer("orderId"),
            request.integer("startTime"),
            request.integer("endTime"),
        )
        with self.engine.lock:
            orders = list(self.engine.orders[symbol])
            if from_id is not None:
                orders = [o for o in orders if o.order_id >= from_id]
            if start is not None:
                orders = [o for o in orders if o.time >= start]
            if end is not None:
                orders = [o for o in orders if o.time <= end]
            from_start = from_id is not None or start is not None
            chosen = orders[:limit] if from_start else orders[-limit:]
            return [rendering.order_json(o) for o in chosen]

    def my_trades(self, request: Request) -> list[dict[str, Any]]:
        symbol = request.require("symbol")
        self.engine.market(symbol)
        limit = self._limit(request)
        order_id, from_id = request.integer("orderId"), request.integer("fromId")
        start, end = request.integer("startTime"), request.integer("endTime")
        if from_id is not None and (start is not None or end is not None):
            raise ApiError(-1128, "Combination of optional parameters invalid.")
        with self.engine.lock:
            trades = list(self.engine.trades[symbol])
        if order_id is not None:
            trades = [t for t in trades if t.order_id == order_id]
        if from_id is not None:
            trades = [t for t in trades if t.trade_id >= from_id]
        if start is not None:
            trades = [t for t in trades if t.time >= start]
        if end is not None:
            trades = [t for t in trades if t.time <= end]
        chosen = trades[:limit] if (from_id is not None or start is not None) else trades[-limit:]
        return [rendering.trade_json(t) for t in chosen]

    def rate_limit_order(self, request: Request) -> list[dict[str, Any]]:
        return [lim for lim in self.limiter.rate_limits_json() if lim["rateLimitType"] == "ORDERS"]

    def api_restrictions(self, request: Request) -> dict[str, Any]:
        """The key's permissions; an armed ``dangerous_key`` turns its chosen ones on."""
        fault = self.faults.take("dangerous_key")
        turned_on = frozenset(
            name for name, on in (fault.params.items() if fault is not None else ()) if on
        )
        return self.config.api_restrictions.as_binance(turned_on)
