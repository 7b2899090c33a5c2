"""The control API: HTTP on loopback, ``Authorization: Bearer <token>``.

``GET /v1/status``, ``POST /v1/orders``, ``GET /v1/orders``, ``GET``/``DELETE
/v1/orders/{client_order_id}`` (``control.orders``), ``GET /v1/balances``,
``POST /v1/halt``, ``POST /v1/reset``, ``POST /v1/resync``, ``POST /v1/cancel-all``,
``GET /v1/incidents``, ``GET /metrics`` (Prometheus text), ``POST /v1/heartbeat`` (the
operator's dead man's switch, when ``breaker.triggers.operator_heartbeat`` is on),
``POST /v1/reconcile`` (one reconciliation cycle now, and its result), ``POST /v1/flatten``
(the emergency flatten, ``control.flatten``), ``GET /v1/events``
(Server-Sent Events: order updates, fills, breaker changes, the status every second) and
``GET /`` (the status page: HTML with no data in it, the one answer without a token). The token is
compared in constant time; a missing or wrong one gets 401 and is audited; too many from
one address within a minute get 429 for a minute (``control.throttle``). A body over
64 KiB gets 413, a body nested too deeply to parse 400; every answer is JSON (but
``/metrics``, ``/v1/events`` and ``/``). Runs on its own thread.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import pykka
from aiohttp import web
from prometheus_client import generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from control import flatten, page
from control.metrics import registry as metrics_registry
from control.order_lists import OrderListRoutes
from control.orders import OrderRoutes
from control.throttle import AuthThrottle
from domain.admission import Refusal
from domain.breaker_rules import EvidenceKind
from domain.money import plain
from runtime.clock import now_ms
from runtime.events import breaker_event
from runtime.messages import (
    BreakerInput,
    CancelAll,
    Halt,
    OrderIntent,
    ReconcileNow,
    ResetRequest,
    ResyncRequest,
    StatusRequest,
)

if TYPE_CHECKING:
    from assembly.system import VigilSystem


# the HTTP answer for each gate's refusal: a policy refusal is the request's own fault (422);
# RED, a duplicate id and a storage failure conflict with the state Vigil is in (409)
MAX_BODY = 64 * 1024  # bytes: a bigger body gets 413
MAX_TEXT = 500  # characters of a reason or an operator name
RECONCILE_TIMEOUT_S = 30.0  # POST /v1/reconcile waits this long for its cycle (then 504)
# what GET /v1/events forwards (``execution``/``account``: as the gateway's user stream)
EVENT_KINDS = frozenset({"order", "fill", "breaker", "execution", "account"})

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


class Reason(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reason: str = Field(min_length=1, max_length=MAX_TEXT)
    confirm: bool = False
    operator: str = Field(default="operator", max_length=MAX_TEXT)


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="ignore")
    operator: str = Field(default="operator", max_length=64)


class Confirm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    confirm: bool = False
    reason: str = Field(default="", max_length=MAX_TEXT)


class ReconcileBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timeout_s: float = Field(default=RECONCILE_TIMEOUT_S, gt=0, le=120)


class ControlServer:
    def __init__(self, system: VigilSystem, host: str, port: int, token: str) -> None:
        self.system = system
        self.host, self.port = host, port
        self._token = token.encode()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
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
        r.add_get("/v1/balances", self.balances)
        r.add_post("/v1/halt", self.halt)
        r.add_post("/v1/reset", self.reset)
        r.add_post("/v1/resync", self.resync)
        r.add_post("/v1/cancel-all", self.cancel_all)
        r.add_get("/v1/incidents", self.incidents)
        r.add_get("/metrics", self.metrics)
        r.add_post("/v1/heartbeat", self.heartbeat)
        r.add_post("/v1/reconcile", self.reconcile)
        r.add_get("/v1/events", self.events)
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
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve()), name="control-api", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the control API did not start")
        return self

    async def _serve(self) -> None:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=self._tls)
        await site.start()
        self.port = int(runner.addresses[0][1])
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            for wake in list(self._streams):  # event streams end now, not at their next tick
                wake.set()
            await runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(5)

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

    async def heartbeat(self, request: web.Request) -> web.Response:
        body = await self._body(request, Heartbeat)
        heard = self.system.directory.tell(
            "breaker",
            BreakerInput(kind=EvidenceKind.OPERATOR_HEARTBEAT, detail=body.operator),
            sender="control",
        )
        answer = {
            "ok": heard,
            "breaker": self.system.gate.state.level.value,
            # whether its absence would pause trading (breaker.triggers.operator_heartbeat)
            "armed": self.system.heartbeat_armed,
        }
        if not heard:  # the breaker is restarting: this heartbeat was not received
            answer["reason"] = "the breaker is not running; send the heartbeat again"
        return web.json_response(answer, status=200 if heard else 503)

    async def post_order(self, request: web.Request) -> web.Response:
        try:
            body = OrderBody.model_validate(await self._json(request))
        except (ValueError, ValidationError, InvalidOperation) as exc:
            return web.json_response({"error": "bad order", "detail": str(exc)}, status=422)
        if not self.system.accepting:
            return web.json_response({"error": "shutting down: no new intents"}, status=503)
        intent = OrderIntent(
            symbol=body.symbol,
            side=body.side,
            type=body.type,
            quantity=body.quantity,
            price=body.price,
            client_order_id=body.client_order_id,
            time_in_force=body.time_in_force,
            stop_price=body.stop_price,
            trailing_delta=body.trailing_delta,
            source="api",
        )
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

    async def halt(self, request: web.Request) -> web.Response:
        body = await self._body(request, Reason)
        reason = f"operator halt: {body.reason}"
        await self._call(lambda: self.system.gate.trip_red(reason, "operator"))  # at once
        self.system.directory.tell(
            "breaker", Halt(reason=reason, source="operator"), sender="control"
        )
        return web.json_response(
            {"breaker": self.system.gate.state.level.value, "reason": self.system.gate.state.reason}
        )

    async def reset(self, request: web.Request) -> web.Response:
        body = await self._body(request, Reason)
        if not body.confirm:
            return web.json_response({"ok": False, "reason": "a reset needs confirm"}, status=409)
        answer = await self._call(
            lambda: self.system.ask(
                "breaker", ResetRequest(reason=body.reason, operator=body.operator)
            )
        )
        return web.json_response(answer, status=200 if answer["ok"] else 409)

    async def resync(self, request: web.Request) -> web.Response:
        body = await self._body(request, Confirm)
        answer = await self._call(
            lambda: self.system.ask(
                "order_broker",
                ResyncRequest(confirmed=body.confirm, reason=body.reason),
                timeout=30,
            )
        )
        return web.json_response(answer, status=200 if answer["ok"] else 409)

    async def cancel_all(self, request: web.Request) -> web.Response:
        body = await self._body(request, Confirm)  # an optional {"reason"} for the audit
        reason = f"operator: {body.reason}" if body.reason else "operator"
        count = await self._call(lambda: self.system.ask("order_broker", CancelAll(reason=reason)))
        return web.json_response({"cancelling": count})

    async def reconcile(self, request: web.Request) -> web.Response:
        """One reconciliation cycle that begins after this request, and its result (504 when
        none comes within ``timeout_s``). A cycle already running is waited out first."""
        body = await self._body(request, ReconcileBody)
        asked_ms = now_ms()
        deadline = time.monotonic() + body.timeout_s
        started = False
        while (left := deadline - time.monotonic()) > 0:
            if not started:  # skipped while a cycle runs: ask again until one starts
                started = await self._call(lambda: self._start_cycle(left))
            done = await self._call(lambda: self._reconciled_since(asked_ms, left))
            if done is not None:
                self.system.audit("operator_reconcile", result=done["result"])
                return web.json_response(done)
            await asyncio.sleep(0.02)
        return web.json_response(
            {"error": f"no reconciliation result within {body.timeout_s:g} s"}, status=504
        )

    def _ask_within(self, left: float) -> float:
        return max(0.01, min(left, self.system.settings.supervision.ask_timeout_s))

    def _start_cycle(self, left: float) -> bool:
        """Whether a cycle started (or will: the request waits in a busy reconciler's inbox)."""
        try:
            return bool(self.system.ask("reconciler", ReconcileNow(), self._ask_within(left)))
        except pykka.Timeout:
            return True

    def _reconciled_since(self, asked_ms: int, left: float) -> dict[str, Any] | None:
        """The result of a cycle that began at or after ``asked_ms``, or None (yet)."""
        gate = self.system.gate
        began, result = gate.last_result_ms, gate.last_result
        if began is None or began < asked_ms:
            return None
        try:
            last = self.system.ask("reconciler", StatusRequest(), self._ask_within(left))["last"]
        except pykka.Timeout:
            return None
        if not last or last["at_ms"] < began or last["result"] != result:
            return None  # the reconciler's own record of that cycle is still to come
        return {**last, "started_ms": began}

    async def incidents(self, request: web.Request) -> web.Response:
        return web.json_response({"incidents": await self._call(self.system.store.incidents)})

    async def metrics(self, request: web.Request) -> web.Response:
        text = await self._call(lambda: generate_latest(self.registry))
        return web.Response(body=text, content_type="text/plain", charset="utf-8")

    # ---------------------------------------------------------------- live view

    async def page(self, request: web.Request) -> web.Response:
        """The status page: static HTML (inline CSS and JS, no data); it asks for the token
        and reads everything else from the token-guarded endpoints."""
        body, headers = page.response()
        return web.Response(body=body, headers=headers)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: the breaker state at once and on every change, order
        updates and fills as the broker books them, the status (as ``GET /v1/status``)
        every ``status_every_s``, a comment at least every ``heartbeat_every_s``. A client
        that falls behind loses its oldest events (a ``dropped`` event says how many so
        far), never slowing the broker; one that goes away is unsubscribed."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        sub = self.system.events.subscribe(wake=lambda: loop.call_soon_threadsafe(wake.set))
        self._streams.add(wake)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        try:
            await response.prepare(request)
            await response.write(b": vigil events\n\n")
            await response.write(sse("breaker", breaker_event(self.system.gate.state)))
            next_status = next_beat = loop.time()
            dropped = 0
            while self._stopped is not None and not self._stopped.is_set():
                wake.clear()
                for event in sub.drain():
                    if event.kind in EVENT_KINDS:
                        await response.write(sse(event.kind, event.data))
                if sub.dropped != dropped:
                    dropped = sub.dropped
                    await response.write(sse("dropped", {"count": dropped}))
                if loop.time() >= next_status:
                    next_status = loop.time() + self.status_every_s
                    try:
                        status = await self._call(self._status)
                    except Exception as exc:  # the status is best effort; the stream goes on
                        status = {"error": f"status failed: {type(exc).__name__}"}
                    await response.write(sse("status", status))
                if loop.time() >= next_beat:
                    next_beat = loop.time() + self.heartbeat_every_s
                    await response.write(b": keep-alive\n\n")
                timeout = max(0.0, min(next_status, next_beat) - loop.time())
                try:
                    await asyncio.wait_for(wake.wait(), timeout)
                except TimeoutError:
                    pass
        except ConnectionError:
            pass  # the client went away
        finally:
            sub.close()
            self._streams.discard(wake)
        return response


def sse(kind: str, data: Any) -> bytes:
    """One Server-Sent Event (JSON on one ``data:`` line)."""
    return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n".encode()
