"""``POST /api/v3/order/cancelReplace``: cancel an order and place a new one, as one request.

The new order's parameters and filters are checked first (a failure there is an ordinary
error and nothing happens); then the cancel, then — unless the cancel failed with
``cancelReplaceMode=STOP_ON_FAILURE`` — the new order. A half that failed is reported
in ``data`` under ``-2021`` (one half failed, HTTP 409) or ``-2022`` (the cancel failed
and the new order failed or was not attempted, HTTP 400), as rest-api.md shows; a new
order the matching engine refused after a successful cancel is also an
``executionReport`` with ``x`` = ``REJECTED``. ``orderRateLimitExceededMode=CANCEL_ONLY``
still cancels when the unfilled order count is exceeded (HTTP 429 or as the table says).
"""

from __future__ import annotations

from typing import Any

from exchange.simulator import rendering
from exchange.simulator.engine import Engine
from exchange.simulator.errors import ApiError
from exchange.simulator.limits import RateLimited, RateLimiter
from exchange.simulator.model import ZERO, SimOrder
from exchange.simulator.params import Request, Route, illegal
from exchange.simulator.rest_trading import TradingEndpoints, cancel_restrictions
from exchange.simulator.validation import check_new_order, either

MODES = ("STOP_ON_FAILURE", "ALLOW_FAILURE")
RATE_MODES = ("DO_NOTHING", "CANCEL_ONLY")
#: executionReport ``r`` for the engine's refusals (user-data-stream.md, Order Reject Reason)
REJECT_REASONS = {
    "Account has insufficient balance for requested action.": "INSUFFICIENT_BALANCES",
    "Order would trigger immediately.": "STOP_PRICE_WOULD_TRIGGER_IMMEDIATELY",
    "Order would immediately match and take.": "WOULD_MATCH_IMMEDIATELY",
}


class ReplaceFailed(ApiError):
    """-2021 / -2022 with the two halves' results in ``data``."""

    def __init__(self, code: int, http_status: int, data: dict[str, Any]) -> None:
        msg = (
            "Order cancel-replace partially failed."
            if code == -2021
            else "Order cancel-replace failed."
        )
        super().__init__(code, msg, http_status)
        self.data = data

    def body(self) -> dict[str, Any]:
        return {**super().body(), "data": self.data}


class CancelReplaceEndpoint:
    """``POST /api/v3/order/cancelReplace`` (weight 1, one order)."""

    def __init__(self, engine: Engine, limiter: RateLimiter) -> None:
        self.engine = engine
        self.limiter = limiter

    def routes(self) -> list[Route]:
        return [
            Route(
                "POST", "/api/v3/order/cancelReplace", 1, True, self.cancel_replace, True,
                orders_by_handler=True,
            )
        ]  # fmt: skip

    @staticmethod
    def _choice(request: Request, name: str, choices: tuple[str, ...]) -> str | None:
        value = request.get(name)
        if value is not None and value not in choices:
            raise illegal(name, ", ".join(choices))
        return value

    def cancel_replace(self, request: Request) -> dict[str, Any]:
        args = TradingEndpoints._order_args(request)
        mode = self._choice(request, "cancelReplaceMode", MODES)
        if mode is None:
            request.require("cancelReplaceMode")
        rate_mode = self._choice(request, "orderRateLimitExceededMode", RATE_MODES)
        cancel_id, cancel_orig = (
            request.integer("cancelOrderId"),
            request.get("cancelOrigClientOrderId"),
        )
        if cancel_id is None and cancel_orig is None:
            raise either("cancelOrigClientOrderId", "cancelOrderId")
        cancel_new_id = request.client_id("cancelNewClientOrderId")
        restriction = cancel_restrictions(request, "cancelRestrictions")
        new_id = request.client_id("newClientOrderId")
        resp_type = TradingEndpoints._resp_type(request, args["order_type"])
        engine = self.engine
        with engine.lock:
            market = engine.market(args["symbol"])
            open_orders, open_algo = engine.open_counts(args["symbol"])
            target = self._target(args["symbol"], cancel_id, cancel_orig)
            if target is not None and target.is_open:  # the cancel frees its place
                open_orders -= 1
            check_new_order(
                market,
                **{k: v for k, v in args.items() if k != "symbol"},
                open_orders=open_orders,
                open_algo_orders=open_algo,
            )
            exceeded: RateLimited | None = None
            try:
                self.limiter.admit_orders(1)
            except RateLimited as exc:
                if rate_mode != "CANCEL_ONLY":
                    raise
                exceeded = exc
            cancel_ok, cancel_body = self._cancel(
                args["symbol"], cancel_id, cancel_orig, cancel_new_id, restriction
            )
            if not cancel_ok and mode == "STOP_ON_FAILURE":
                raise ReplaceFailed(
                    -2022,
                    429 if exceeded is not None else 400,
                    {
                        "cancelResult": "FAILURE",
                        "newOrderResult": "NOT_ATTEMPTED",
                        "cancelResponse": cancel_body,
                        "newOrderResponse": None,
                    },
                )
            new_ok, new_body = self._place(args, new_id, resp_type, cancel_ok, exceeded)
            results = {
                "cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
                "newOrderResult": "SUCCESS" if new_ok else "FAILURE",
                "cancelResponse": cancel_body,
                "newOrderResponse": new_body,
            }
            if cancel_ok and new_ok:
                return results
            if cancel_ok or new_ok:
                status = 429 if exceeded is not None and mode == "STOP_ON_FAILURE" else 409
                raise ReplaceFailed(-2021, status, results)
            raise ReplaceFailed(-2022, 400, results)

    def _target(self, symbol: str, order_id: int | None, orig: str | None) -> SimOrder | None:
        try:
            return self.engine.find_order(symbol, order_id, orig)
        except ApiError:
            return None

    def _cancel(
        self,
        symbol: str,
        order_id: int | None,
        orig: str | None,
        new_id: str | None,
        restriction: str | None,
    ) -> tuple[bool, dict[str, Any]]:
        try:
            order, cancel_id = self.engine.cancel_order(symbol, order_id, orig, new_id, restriction)
        except ApiError as exc:
            return False, exc.body()
        return True, rendering.cancel_json(order, cancel_id)

    def _place(
        self,
        args: dict[str, Any],
        new_id: str | None,
        resp_type: str,
        cancel_ok: bool,
        exceeded: RateLimited | None,
    ) -> tuple[bool, dict[str, Any]]:
        if exceeded is not None:
            return False, {"code": exceeded.code, "msg": exceeded.msg}
        try:
            order, trades = self.engine.place_order(**args, client_order_id=new_id)
        except ApiError as exc:
            if cancel_ok and exc.code == -2010:
                self._rejected(args, new_id, exc.msg)
            return False, exc.body()
        assert order is not None
        return True, rendering.order_response(order, trades, resp_type)

    def _rejected(self, args: dict[str, Any], new_id: str | None, msg: str) -> None:
        """The refused new order as the executionReport Binance sends (x = REJECTED)."""
        now = self.engine.server_time()
        order = SimOrder(
            symbol=args["symbol"],
            order_id=-1,
            client_order_id=new_id or self.engine.new_client_id(),
            side=args["side"],
            type=args["order_type"],
            time_in_force=args["time_in_force"] or "GTC",
            price=args["price"] or ZERO,
            orig_qty=args["quantity"] or ZERO,
            stop_price=args["stop_price"] or ZERO,
            orig_quote_qty=args["quote_order_qty"] or ZERO,
            time=now,
            update_time=now,
            status="REJECTED",
            trailing_delta=args["trailing_delta"],
        )
        self.engine.reject(order, REJECT_REASONS.get(msg, "NONE"))
