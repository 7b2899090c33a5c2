"""The gateway's ``POST /api/v3/order/cancelReplace``: the broker's cancel-replace intent
(``ReplaceIntent``: one intent, refused whole or journaled whole, both halves in one exchange
request), scoped to the calling key's strategy.

The order to cancel is the strategy's own (``cancelOrigClientOrderId`` / ``cancelOrderId``);
the new order is checked as ``POST /api/v3/order`` checks it and guarded as any intent.
Answers in Binance's shapes: ``{"cancelResult", "newOrderResult", "cancelResponse",
"newOrderResponse"}``; -2022 "Order cancel-replace failed." when nothing was done (the order
unknown, Vigil refused the replacement, or the exchange did not cancel it: Vigil never
cancels half of it), -2021 "Order cancel-replace partially failed." when the exchange
cancelled the order but rejected the new one. ``cancelReplaceMode`` ``ALLOW_FAILURE`` is
accepted and behaves as ``STOP_ON_FAILURE`` (a refused intent is refused whole).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from actors.order_broker.wire import REPLACE_HALVES
from control.gateway import reports
from control.gateway.order_params import read_new_order
from control.gateway.rest_orders import (
    ENDED,
    cancel_json,
    intent_of,
    refusal_error,
    wait_order,
)
from control.gateway.signed import Signed, busy
from exchange.protocol.errors import ApiError
from exchange.protocol.params import Params
from runtime.messages import OrdersQuery, ReplaceIntent
from storage.strategy_keys import StrategyKey

if TYPE_CHECKING:
    from assembly.system import VigilSystem

MODES = frozenset({"STOP_ON_FAILURE", "ALLOW_FAILURE"})
RESTRICTIONS = frozenset({"ONLY_NEW", "ONLY_PARTIALLY_FILLED"})
RATE_MODES = frozenset({"DO_NOTHING", "CANCEL_ONLY"})


class ReplaceFailed(ApiError):
    """-2021 / -2022 with Binance's ``data`` (what became of each half)."""

    def __init__(self, code: int, msg: str, data: dict[str, Any], http_status: int) -> None:
        super().__init__(code, msg, http_status)
        self.data = data

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg, "data": self.data}


def failed(cancel: dict[str, Any], new: dict[str, Any] | None, *, new_result: str) -> ApiError:
    """Nothing done: -2022 (HTTP 400)."""
    return ReplaceFailed(
        -2022,
        "Order cancel-replace failed.",
        {
            "cancelResult": "FAILURE",
            "newOrderResult": new_result,
            "cancelResponse": cancel,
            "newOrderResponse": new,
        },
        400,
    )


def _enum(params: Params, name: str, allowed: frozenset[str]) -> str | None:
    value = params.get(name)
    if value is not None and value not in allowed:
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'.")
    return value


class ReplaceEndpoint:
    def __init__(self, system: VigilSystem, signed: Signed) -> None:
        self.system = system
        self.signed = signed
        self.ack_timeout_s = system.settings.gateway.order_ack_timeout_s

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v3/order/cancelReplace", self.signed.endpoint(self.replace))

    def _order(self, cid: str) -> dict[str, Any] | None:
        found = list(self.signed.ask(OrdersQuery(client_order_id=cid)))
        return found[-1] if found else None

    def replace(self, key: StrategyKey, params: Params) -> dict[str, Any]:
        order = read_new_order(params, self.system.markets)
        mode = _enum(params, "cancelReplaceMode", MODES)
        if mode is None:
            raise ApiError(
                -1102,
                "Mandatory parameter 'cancelReplaceMode' was not sent, was empty/null, "
                "or malformed.",
            )
        own_id = params.client_id("cancelOrigClientOrderId")
        order_id = params.integer("cancelOrderId")
        if own_id is None and order_id is None:
            raise ApiError(
                -1102,
                "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, "
                "but both were empty/null!",
            )
        params.client_id("cancelNewClientOrderId")
        restriction = _enum(params, "cancelRestrictions", RESTRICTIONS)
        _enum(params, "orderRateLimitExceededMode", RATE_MODES)
        params.done()
        if not self.system.accepting:
            raise ApiError(-1016, "This service is no longer available.", 503)
        found = list(
            self.signed.ask(
                OrdersQuery(
                    strategy=key.name,
                    symbol=order.symbol,
                    strategy_order_id=own_id if order_id is None else None,
                    order_id=order_id,
                )
            )
        )
        found = [
            o
            for o in found
            if o["symbol"] == order.symbol and (own_id is None or o["strategy_order_id"] == own_id)
        ]
        unknown = {"code": -2011, "msg": "Unknown order sent."}
        if not found or found[-1]["state"] not in ("NEW", "PARTIALLY_FILLED"):
            raise failed(unknown, None, new_result="NOT_ATTEMPTED")
        old = found[-1]
        if restriction is not None and old["state"] != restriction.removeprefix("ONLY_"):
            raise failed(
                {"code": -2011, "msg": "Order was not canceled due to cancel restrictions."},
                None,
                new_result="NOT_ATTEMPTED",
            )
        intent = intent_of(order, key)
        request = ReplaceIntent(cancel_client_order_id=old["client_order_id"], order=intent)
        with self.system.events.subscribe() as sub:
            decision = self.signed.ask(request)
            if not decision.accepted:  # refused whole: the order stays as it was
                error = refusal_error(decision.refusal, decision.reason)
                raise failed(
                    {"code": -2011, "msg": "Vigil: not cancelled: the replacement was refused"},
                    error.body(),
                    new_result="FAILURE",
                )
            cid = decision.client_order_id
            answered = wait_order(sub, cid, lambda e: True, self.ack_timeout_s)
            if answered is None:
                raise busy()
            if (order.type == "MARKET" or order.time_in_force in ("IOC", "FOK")) and (
                answered.get("state") not in ENDED
            ):  # as POST order: one that ends at once answers after it ended, fills in
                answered = (
                    wait_order(sub, cid, lambda e: e.get("state") in ENDED, self.ack_timeout_s)
                    or answered
                )
            old_view = self._order(old["client_order_id"]) or old
            if old_view["state"] not in ENDED:  # its CANCELED may come just after
                wait_order(sub, old["client_order_id"], lambda e: e.get("state") in ENDED, 1.0)
                old_view = self._order(old["client_order_id"]) or old_view
        cancel_answer = cancel_json(old_view)
        reason = str(answered.get("reject_reason") or "")
        # the exchange cancelled the order: its -2021 says so (when the wire's answer made
        # the rejection), or the order's own CANCELED report (when the exchange's report of
        # the rejected order came first); any other refusal (-2022: the cancel failed; one
        # before the wire or of the whole request) did nothing
        cancelled = reason.startswith(REPLACE_HALVES[-2021]) or old_view["state"] == "CANCELED"
        if answered.get("execution_type") == "REJECTED" and not cancelled:
            raise failed(
                {"code": -2011, "msg": f"Vigil: the exchange did not cancel the order: {reason}"},
                None,
                new_result="NOT_ATTEMPTED",
            )
        if answered.get("execution_type") == "REJECTED":
            raise ReplaceFailed(
                -2021,
                "Order cancel-replace partially failed.",
                {
                    "cancelResult": "SUCCESS",
                    "newOrderResult": "FAILURE",
                    "cancelResponse": cancel_answer,
                    "newOrderResponse": {
                        "code": -2010,
                        "msg": f"Vigil: the exchange rejected the order: "
                        f"{answered.get('reject_reason')}",
                    },
                },
                409,
            )
        new_view: dict[str, Any] = {**answered, "fills": []}
        if Decimal(answered.get("executed_qty") or 0) > 0:  # its fills, as POST order's
            filled = list(self.signed.ask(OrdersQuery(client_order_id=cid, with_fills=True)))
            new_view = filled[-1] if filled else new_view
        return {
            "cancelResult": "SUCCESS",
            "newOrderResult": "SUCCESS",
            "cancelResponse": cancel_answer,
            "newOrderResponse": reports.new_order_json(new_view, order.resp_type),
        }
