"""REST order list endpoints (signed): OCO, OTO and OTOCO placement, query and cancel.

``POST /api/v3/orderList/oco|oto|otoco`` read each order of the list from its prefixed
parameters (``aboveType``, ``workingPrice``, ``pendingBelowStopPrice``, ...) and hand
them to :mod:`exchange.simulator.order_lists`; ``GET /api/v3/orderList``,
``DELETE /api/v3/orderList``, ``GET /api/v3/openOrderList`` and
``GET /api/v3/allOrderList`` answer in Binance's shapes. ``newOrderRespType`` defaults
to ``FULL`` for order lists.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from exchange.simulator import rendering
from exchange.simulator.connections import drop_connection
from exchange.simulator.engine import Engine
from exchange.simulator.errors import ApiError
from exchange.simulator.faults import FaultBook
from exchange.simulator.order_lists import Leg
from exchange.simulator.params import Request, Route, illegal
from exchange.simulator.validation import either

RESP_TYPES = ("ACK", "RESULT", "FULL")
DAY_MS = 86_400_000


def prefixed(prefix: str, shared: dict[str, str] | None = None) -> Callable[[str], str]:
    """How a list request names an order's parameter: ``price`` -> ``abovePrice``; the
    ``shared`` ones (an OCO's ``side`` and ``quantity``) by their own list-wide name."""
    names = shared or {}

    def label(name: str) -> str:
        return names.get(name) or prefix + name[0].upper() + name[1:]

    return label


def read_leg(
    request: Request, role: str, label: Callable[[str], str], side: str, quantity: Decimal | None
) -> Leg:
    """One order of the list from its parameters."""
    return Leg(
        role=role,
        side=side,
        order_type=request.require(label("type")),
        quantity=quantity,
        time_in_force=request.get(label("timeInForce")),
        price=request.decimal(label("price")),
        stop_price=request.decimal(label("stopPrice")),
        trailing_delta=request.integer(label("trailingDelta")),
        client_order_id=request.client_id(label("clientOrderId")),
        label=label,
    )


class OrderListEndpoints:
    """The order list endpoints under ``/api/v3``."""

    def __init__(self, engine: Engine, faults: FaultBook | None = None) -> None:
        self.engine = engine
        self.faults = faults

    def routes(self) -> list[Route]:
        placed = self._lost_response
        return [
            Route("POST", "/api/v3/orderList/oco", 1, True, placed(self.new_oco), True, 2),
            Route("POST", "/api/v3/orderList/oto", 1, True, placed(self.new_oto), True, 2),
            Route("POST", "/api/v3/orderList/otoco", 1, True, placed(self.new_otoco), True, 3),
            Route("GET", "/api/v3/orderList", 4, True, self.query),
            Route("DELETE", "/api/v3/orderList", 1, True, self.cancel),
            Route("GET", "/api/v3/openOrderList", 6, True, self.open_lists),
            Route("GET", "/api/v3/allOrderList", 20, True, self.all_lists),
        ]

    # ------------------------------------------------------------------ placement

    def _lost_response(
        self, handler: Callable[[Request], dict[str, Any]]
    ) -> Callable[[Request], Any]:
        """The ``lost_response`` fault on a list's placement: the list is placed, then the
        connection is dropped with no response (as for a single new order)."""

        async def placed(request: Request) -> Any:
            body = handler(request)
            lost = self.faults.take("lost_response") if self.faults is not None else None
            if lost is not None and request.http is not None:
                drop_connection(request.http)
                return web.Response(status=500)
            return body

        return placed

    @staticmethod
    def _resp_type(request: Request) -> str:
        resp_type = request.get("newOrderRespType") or "FULL"
        if resp_type not in RESP_TYPES:
            raise illegal("newOrderRespType", ", ".join(RESP_TYPES))
        return resp_type

    def _place(self, request: Request, kind: str, legs: list[Leg]) -> dict[str, Any]:
        return self.engine.lists.place(
            symbol=request.require("symbol"),
            kind=kind,
            legs=legs,
            list_client_order_id=request.client_id("listClientOrderId"),
            resp_type=self._resp_type(request),
        )

    def new_oco(self, request: Request) -> dict[str, Any]:
        request.require("symbol")
        side = request.require("side")
        quantity = request.decimal("quantity")
        if quantity is None:
            request.require("quantity")
        shared = {"side": "side", "quantity": "quantity"}
        legs = [
            read_leg(request, role, prefixed(role, shared), side, quantity)
            for role in ("above", "below")
        ]
        return self._place(request, "OCO", legs)

    def _working(self, request: Request) -> Leg:
        label = prefixed("working")
        side = request.require(label("side"))
        quantity = request.decimal(label("quantity"))
        if quantity is None:
            request.require(label("quantity"))
        if request.decimal(label("price")) is None:
            request.require(label("price"))
        return read_leg(request, "working", label, side, quantity)

    def new_oto(self, request: Request) -> dict[str, Any]:
        request.require("symbol")
        working = self._working(request)
        label = prefixed("pending")
        side = request.require(label("side"))
        quantity = request.decimal(label("quantity"))
        if quantity is None:
            request.require(label("quantity"))
        return self._place(
            request, "OTO", [working, read_leg(request, "pending", label, side, quantity)]
        )

    def new_otoco(self, request: Request) -> dict[str, Any]:
        request.require("symbol")
        working = self._working(request)
        side = request.require("pendingSide")
        quantity = request.decimal("pendingQuantity")
        if quantity is None:
            request.require("pendingQuantity")
        shared = {"side": "pendingSide", "quantity": "pendingQuantity"}
        legs = [working] + [
            read_leg(request, role, prefixed("pending" + role.capitalize(), shared), side, quantity)
            for role in ("above", "below")
        ]
        return self._place(request, "OTOCO", legs)

    # ------------------------------------------------------------------ query, cancel

    def query(self, request: Request) -> dict[str, Any]:
        list_id, client_id = request.integer("orderListId"), request.get("origClientOrderId")
        if list_id is None and client_id is None:
            raise either("orderListId", "origClientOrderId")
        with self.engine.lock:
            return rendering.order_list_json(self.engine.lists.get(list_id, client_id))

    def cancel(self, request: Request) -> dict[str, Any]:
        symbol = request.require("symbol")
        list_id, client_id = request.integer("orderListId"), request.get("listClientOrderId")
        if list_id is None and client_id is None:
            raise either("orderListId", "listClientOrderId")
        new_id = request.client_id("newClientOrderId")
        engine = self.engine
        with engine.lock:
            market = engine.market(symbol)
            try:
                order_list = engine.lists.get(list_id, client_id)
            except ApiError:
                raise ApiError(-2011, "Unknown order sent.") from None
            if order_list.symbol != symbol or not order_list.is_open:
                raise ApiError(-2011, "Unknown order sent.")
            open_orders = [o for o in order_list.orders if o.is_open]
            cancel_id = engine.lists.cancel(order_list, new_id)
            engine.account_position(market)
            return rendering.order_list_json(order_list) | {
                "orderReports": [rendering.cancel_json(o, cancel_id) for o in open_orders]
            }

    def open_lists(self, request: Request) -> list[dict[str, Any]]:
        with self.engine.lock:
            return [rendering.order_list_json(o) for o in self.engine.lists.open_lists()]

    def all_lists(self, request: Request) -> list[dict[str, Any]]:
        from_id, start, end = (
            request.integer("fromId"),
            request.integer("startTime"),
            request.integer("endTime"),
        )
        limit = request.integer("limit")
        if limit is None:
            limit = 500
        elif not 1 <= limit <= 1000:
            raise illegal("limit", "1-1000")
        if from_id is not None and (start is not None or end is not None):
            raise ApiError(-1128, "Combination of optional parameters invalid.")
        if start is not None and end is not None and end - start > DAY_MS:
            raise ApiError(-1127, "More than 24 hours between startTime and endTime.")
        with self.engine.lock:
            lists = list(self.engine.lists.lists)
            if from_id is not None:
                lists = [o for o in lists if o.order_list_id >= from_id]
            if start is not None:
                lists = [o for o in lists if o.orders[0].time >= start]
            if end is not None:
                lists = [o for o in lists if o.orders[0].time <= end]
            chosen = lists[:limit] if (from_id is not None or start is not None) else lists[-limit:]
            # newest first, as rest-api.md's example lists them
            return [rendering.order_list_json(o) for o in reversed(chosen)]
