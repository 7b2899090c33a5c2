"""The control API: HTTP on loopback, ``Authorization: Bearer <token>``; this module is the
app, its authentication and its lifecycle, with the reads of the system's state.

``GET /v1/status``, ``POST /v1/orders``, ``GET /v1/orders``, ``GET /v1/balances``,
``GET /v1/incidents`` and ``GET /metrics`` (Prometheus text) are served here; ``GET``/``DELETE``/
``PUT /v1/orders/{client_order_id}`` by ``control.orders``, ``POST /v1/order-lists`` by
``control.order_lists``, ``POST /v1/halt``, ``/v1/reset``, ``/v1/resync``, ``/v1/cancel-all``,
``/v1/heartbeat`` (the operator's dead man's switch, when
``breaker.triggers.operator_heartbeat`` is on) and ``/v1/reconcile`` (one reconciliation
cycle now, and its result) by ``control.operator_actions``, ``POST /v1/flatten`` (the
emergency flatten) by ``control.flatten``, ``GET /v1/events`` (Server-Sent Events: order
updates, fills, breaker changes, the status every second) by ``control.event_stream`` and
``GET /`` (the status page: HTML with no data in it, the one answer without a token) by
``control.page``. The token is compared in constant time; a missing or wrong one gets 401
and is audited; too many from one address within a minute get 429 for a minute
(``control.throttle``). A body over 64 KiB gets 413, a body nested too deeply to parse 400;
every answer is JSON (but ``/metrics``, ``/v1/events`` and ``/``). Runs on its own thread.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import ssl
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import pykka
from aiohttp import web
from prometheus_client import generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from control import event_stream, flatten, page
from control.app_thread import AppThread
from control.metrics import registry as metrics_registry
from control.operator_actions import OperatorRoutes
from control.order_lists import OrderListRoutes
from control.orders import OrderRoutes
from control.throttle import AuthThrottle
from domain.admission import Refusal
from domain.money import plain
from runtime.messages import OrderIntent, StatusRequest

if TYPE_CHECKING:
    from assembly.system import VigilSystem


MAX_BODY = 64 * 1024  # bytes: a bigger body gets 413

# the HTTP answer for each gate's refusal: a policy refusal is the request's own fault (422);
# RED, a duplicate id and a storage failure conflict with the state Vigil is in (409)
REFUSAL_STATUS = {
    Refusal.POLICY: 422,
    Refusal.FILTER: 422,
    Refusal.DUPLICATE: 409,
    Refusal.BREAKER: 409,
    Refusal.STORAGE: 409,
}


class OrderBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(min_length=1, max_length=20)
    side: str = Field(pattern="^(BUY|SELL)$")
    type: str = Field(pattern="^(LIMIT|MARKET|LIMIT_MAKER|STOP_LOSS_LIMIT|TAKE_PROFIT_LIMIT)$")
    quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None  # the stop types' trigger
    trailing_delta: int | None = Field(default=None, ge=1)  # BIPS; instead of or with stop_price
    time_in_force: str | None = Field(default=None, pattern="^(GTC|IOC|FOK)$")  # LIMIT-like
    client_order_id: str | None = Field(default=None, pattern=r"^[.A-Z:/a-z0-9_-]{1,36}$")

    @field_validator("quantity", "price", "stop_price", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("send amounts as strings, not floats")
        return value

    def intent(self) -> OrderIntent:
        """This order as the intent every order takes (``POST /v1/orders``, the new half of
        ``PUT /v1/orders/{cid}``)."""
        return OrderIntent(
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            quantity=self.quantity,
            price=self.price,
            client_order_id=self.client_order_id,
            time_in_force=self.time_in_force,
            stop_price=self.stop_price,
            trailing_delta=self.trailing_delta,
            source="api",
        )


class ControlServer:
    def __init__(self, system: VigilSystem, host: str, port: int, token: str) -> None:
        self.system = system
        self.host, self.port = host, port
        self._token = token.encode()
        self._served: AppThread | None = None
        self.registry = metrics_registry(system, self._status)
        c = system.settings.control
        self.throttle = AuthThrottle(c.auth_max_failures, c.auth_window_s, c.auth_block_s)
        self._tls: ssl.SSLContext | None = None
        if c.tls_cert is not None and c.tls_key is not None:  # (the settings pair them)
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(c.tls_cert, c.tls_key)
        self.app = web.Application(middlewares=[self._auth], client_max_size=MAX_BODY)
        r = self.app.router
        r.add_get("/v1/status", self.status)
        r.add_post("/v1/orders", self.post_order)
        r.add_get("/v1/orders", self.get_orders)
        OrderRoutes(system).add_to(r)  # GET and DELETE /v1/orders/{client_order_id}
        OrderListRoutes(system).add_to(r)  # POST /v1/order-lists
        OperatorRoutes(self).add_to(r)  # halt, reset, resync, cancel-all, heartbeat, reconcile
        r.add_get("/v1/balances", self.balances)
        r.add_get("/v1/incidents", self.incidents)
        r.add_get("/metrics", self.metrics)
        r.add_get("/v1/events", event_stream.handler(self))
        r.add_get("/", self.page)
        r.add_post("/v1/flatten", flatten.handler(self))
        self.status_every_s = 1.0  # GET /v1/events: a status event this often
        self.heartbeat_every_s = 15.0  # ... and a comment at least this often
        self._streams: set[asyncio.Event] = set()  # the open event streams' wake-ups

    def __repr__(self) -> str:
        return f"ControlServer({self.url!r})"

    @property
    def url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> ControlServer:
        self._served = AppThread(
            self.app,
            self.host,
            self.port,
            name="control-api",
            what="control API",
            ssl_context=self._tls,
            before_cleanup=self._end_streams,
        )
        self.port = self._served.start()
        return self

    @property
    def stopping(self) -> bool:
        return self._served is None or self._served.stopping

    async def _end_streams(self) -> None:
        for wake in list(self._streams):  # event streams end now, not at their next tick
            wake.set()

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()

    # ---------------------------------------------------------------- plumbing

    @web.middleware
    async def _auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        remote = request.remote or ""
        if self.throttle.retry_after(remote) > 0:  # blocked: not even the right token helps
            return self._throttled(remote)
        if request.path == "/" and request.method in ("GET", "HEAD"):
            return await handler(request)  # the status page holds no data: no token needed
        header = request.headers.get("Authorization", "")
        given = header[7:].encode() if header.startswith("Bearer ") else b""
        if not hmac.compare_digest(given, self._token):
            self.system.audit(
                "control_unauthorized", path=request.path, method=request.method, remote=remote
            )
            if self.throttle.failed(remote):
                self.system.audit(
                    "auth_throttled",
                    remote=remote,
                    failures=self.throttle.max_failures,
                    window_s=self.throttle.window_s,
                    block_s=self.throttle.block_s,
                )
                return self._throttled(remote)
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            if request.body_exists:
                await request.read()  # over MAX_BODY: 413, whether the endpoint reads it or not
            return await handler(request)
        except web.HTTPException as exc:
            if exc.content_type == "application/json":
                raise
            headers = {
                k: v
                for k, v in exc.headers.items()
                if k.lower() not in ("content-type", "content-length")
            }
            return web.json_response(
                {"error": exc.text or exc.reason}, status=exc.status, headers=headers
            )
        except RecursionError:
            return web.json_response({"error": "the body is nested too deeply"}, status=400)
        except (pykka.Timeout, pykka.ActorDeadError) as exc:
            return web.json_response(
                {"error": f"the system did not answer: {type(exc).__name__}"}, status=503
            )

    def _throttled(self, remote: str) -> web.Response:
        return web.json_response(
            {"error": "too many failed authentications from this address; try again later"},
            status=429,
            headers={"Retry-After": self.throttle.retry_after_header(remote)},
        )

    async def _call(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn)

    @staticmethod
    async def _json(request: web.Request) -> Any:
        """The body as JSON; one nested too deeply to parse is a 400, never a 500."""
        try:
            return await request.json()
        except RecursionError:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "the body is nested too deeply"}),
                content_type="application/json",
            ) from None

    async def _body(self, request: web.Request, model: type[BaseModel]) -> Any:
        try:
            data = await self._json(request) if request.body_exists else {}
            return model.model_validate(data)
        except (ValueError, ValidationError) as exc:
            raise web.HTTPUnprocessableEntity(
                text=json.dumps({"error": str(exc)}), content_type="application/json"
            ) from None

    # ---------------------------------------------------------------- endpoints

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(await self._call(self._status))

    def _status(self) -> dict[str, Any]:
        """The system's status plus the breaker's rules (firing, YELLOW causes, measures)."""
        out = self.system.status()
        try:
            detail = self.system.ask("breaker", StatusRequest())
        except (pykka.Timeout, pykka.ActorDeadError):
            out["breaker_rules"] = None
        else:
            keys = ("firing", "yellow_causes", "yellow_limits", "measures")
            out["breaker_rules"] = {k: detail.get(k) for k in keys}
        out["equity"] = self._equity(out)
        return out

    @staticmethod
    def _equity(status: dict[str, Any]) -> dict[str, Any] | None:
        """The equity as the status page charts it (from the broker's figures)."""
        risk = status.get("risk") or {}
        if risk.get("equity_quote") is None:
            return None
        return {
            "quote": risk["equity_quote"],
            "value": risk.get("equity"),
            "unvalued_assets": risk.get("unvalued_assets", []),
        }

    async def post_order(self, request: web.Request) -> web.Response:
        try:
            body = OrderBody.model_validate(await self._json(request))
        except (ValueError, ValidationError, InvalidOperation) as exc:
            return web.json_response({"error": "bad order", "detail": str(exc)}, status=422)
        if not self.system.accepting:
            return web.json_response({"error": "shutting down: no new intents"}, status=503)
        intent = body.intent()
        decision = await self._call(lambda: self.system.ask("order_broker", intent))
        if decision.accepted:
            return web.json_response(
                {
                    "client_order_id": decision.client_order_id,
                    "correlation_id": intent.correlation_id,
                    # what is sent: floored to the lot, moved to the tick (maybe not asked)
                    "type": decision.type,
                    "quantity": None if decision.quantity is None else plain(decision.quantity),
                    "price": None if decision.price is None else plain(decision.price),
                },
                status=202,
            )
        return web.json_response(
            {"error": decision.reason, "client_order_id": decision.client_order_id},
            status=REFUSAL_STATUS.get(decision.refusal, 409),
        )

    async def get_orders(self, request: web.Request) -> web.Response:
        book = await self._call(lambda: self.system.ask("order_broker", StatusRequest()))
        return web.json_response({"orders": book["orders"]})

    async def balances(self, request: web.Request) -> web.Response:
        book = await self._call(lambda: self.system.ask("order_broker", StatusRequest()))
        return web.json_response(
            {"balances": book["balances"], "locked": book["locked"], "positions": book["positions"]}
        )

    async def incidents(self, request: web.Request) -> web.Response:
        return web.json_response({"incidents": await self._call(self.system.store.incidents)})

    async def metrics(self, request: web.Request) -> web.Response:
        text = await self._call(lambda: generate_latest(self.registry))
        return web.Response(body=text, content_type="text/plain", charset="utf-8")

    # ---------------------------------------------------------------- status page

    async def page(self, request: web.Request) -> web.Response:
        """The status page: static HTML (inline CSS and JS, no data); it asks for the token
        and reads everything else from the token-guarded endpoints."""
        body, headers = page.response()
        return web.Response(body=body, headers=headers)
