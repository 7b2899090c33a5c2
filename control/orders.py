"""The control API's verbs on one order: ``GET /v1/orders/{client_order_id}`` (the order as
the book knows it, with its fills; 404 when unknown) and ``DELETE
/v1/orders/{client_order_id}`` (cancel it: 202 once the cancel is journaled and handed to
the wire, 404 when there is no such order, 409 when it cannot be cancelled now, with the
reason; the CANCELED state follows through the exchange's report, see ``GET`` or
``/v1/events``). Both under the control API's token; a cancel is allowed while RED.

``PUT /v1/orders/{client_order_id}`` with a new order's body (as ``POST /v1/orders``) is a
cancel-replace, one intent: refused whole (422 / 409 with the reason) or journaled whole
and sent as one exchange request (202 with the new order's client order id).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import ValidationError

from runtime.messages import (
    CancelDecision,
    CancelOrder,
    IntentDecision,
    OrdersQuery,
    ReplaceIntent,
)

if TYPE_CHECKING:
    from assembly.system import VigilSystem

CLIENT_ORDER_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")  # Binance's newClientOrderId
MAX_REASON = 500


class OrderRoutes:
    """The handlers; ``add_to(router)`` registers them."""

    def __init__(self, system: VigilSystem) -> None:
        self.system = system

    def add_to(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v1/orders/{client_order_id}", self.get_order)
        router.add_delete("/v1/orders/{client_order_id}", self.cancel_order)
        router.add_put("/v1/orders/{client_order_id}", self.replace_order)

    async def _ask(self, message: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: self.system.ask("order_broker", message))

    @staticmethod
    def _cid(request: web.Request) -> str | None:
        cid = request.match_info["client_order_id"]
        return cid if CLIENT_ORDER_ID.match(cid) else None

    async def get_order(self, request: web.Request) -> web.Response:
        cid = self._cid(request)
        if cid is None:
            return web.json_response({"error": "bad client order id"}, status=422)
        found = await self._ask(OrdersQuery(client_order_id=cid, with_fills=True))
        if not found:
            return web.json_response({"error": f"no such order: {cid}"}, status=404)
        return web.json_response(found[0])

    async def cancel_order(self, request: web.Request) -> web.Response:
        cid = self._cid(request)
        if cid is None:
            return web.json_response({"error": "bad client order id"}, status=422)
        reason = request.query.get("reason", "operator cancel via the control API")
        if len(reason) > MAX_REASON:
            return web.json_response({"error": "reason too long"}, status=422)
        message = CancelOrder(symbol="", client_order_id=cid, reason=reason)
        decision: CancelDecision = await self._ask(message)
        answer = {
            "accepted": decision.accepted,
            "client_order_id": decision.client_order_id,
            "correlation_id": message.correlation_id,
        }
        if decision.accepted:
            return web.json_response(answer, status=202)
        status = 404 if not decision.found else 409
        return web.json_response({**answer, "error": decision.reason}, status=status)

    async def replace_order(self, request: web.Request) -> web.Response:
        from control.server import REFUSAL_STATUS, OrderBody  # (server imports this module)

        cid = self._cid(request)
        if cid is None:
            return web.json_response({"error": "bad client order id"}, status=422)
        try:
            body = OrderBody.model_validate(await request.json())
        except (ValueError, ValidationError) as exc:
            return web.json_response({"error": "bad order", "detail": str(exc)}, status=422)
        if not self.system.accepting:
            return web.json_response({"error": "shutting down: no new intents"}, status=503)
        order = body.intent()
        decision: IntentDecision = await self._ask(
            ReplaceIntent(cancel_client_order_id=cid, order=order)
        )
        answer = {
            "client_order_id": decision.client_order_id,
            "replaces": cid,
            "correlation_id": order.correlation_id,
        }
        if decision.accepted:
            return web.json_response(answer, status=202)
        status = REFUSAL_STATUS.get(decision.refusal, 409) if decision.refusal else 409
        return web.json_response({**answer, "error": decision.reason}, status=status)
