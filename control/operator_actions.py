"""The control API's operator actions: ``POST /v1/halt`` (RED at once), ``POST /v1/reset``
(the breaker's all-clear, with ``confirm``), ``POST /v1/resync`` (the book from the exchange,
with ``confirm``), ``POST /v1/cancel-all``, ``POST /v1/heartbeat`` (the operator's dead man's
switch) and ``POST /v1/reconcile`` (one reconciliation cycle now, and its result). Each reads
its body through the server's checks and asks the actor that decides."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pykka
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from domain.breaker_rules import EvidenceKind
from runtime.clock import now_ms
from runtime.messages import (
    BreakerInput,
    CancelAll,
    Halt,
    ReconcileNow,
    ResetRequest,
    ResyncRequest,
    StatusRequest,
)

if TYPE_CHECKING:
    from control.server import ControlServer

MAX_TEXT = 500  # characters of a reason or an operator name
RECONCILE_TIMEOUT_S = 30.0  # POST /v1/reconcile waits this long for its cycle (then 504)


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


class OperatorRoutes:
    """The operator's verbs, on the server's token, body checks and executor."""

    def __init__(self, server: ControlServer) -> None:
        self.server = server
        self.system = server.system

    def add_to(self, r: web.UrlDispatcher) -> None:
        r.add_post("/v1/halt", self.halt)
        r.add_post("/v1/reset", self.reset)
        r.add_post("/v1/resync", self.resync)
        r.add_post("/v1/cancel-all", self.cancel_all)
        r.add_post("/v1/heartbeat", self.heartbeat)
        r.add_post("/v1/reconcile", self.reconcile)

    async def _body(self, request: web.Request, model: type[BaseModel]) -> Any:
        return await self.server._body(request, model)

    async def _call(self, fn: Callable[[], Any]) -> Any:
        return await self.server._call(fn)

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
