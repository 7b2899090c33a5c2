"""The gateway's WebSocket API (``/ws-api/v3``): ``ping``, ``time``,
``userDataStream.subscribe.signature`` (signed with a strategy key) and
``userDataStream.unsubscribe``.

A subscription carries that strategy's own ``executionReport``s (from the event bus's
``"execution"`` events whose ``strategy`` is the key's name; a list's leg carries the
list's id in ``g``), the ``listStatus`` of its own order lists (the bus's ``"order_list"``
changes, looked up in the book off the event loop), and the account's
``outboundAccountPosition`` / ``balanceUpdate`` (``"account"`` events), each in Binance's
wrapper ``{"subscriptionId", "event"}``; once the key is revoked, the next event ends the
subscription with ``eventStreamTerminated``. Answers are ``{"id", "status", "result"}`` or
``{"id", "status", "error": {"code", "msg"}}`` as on Binance.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pykka
from aiohttp import WSMsgType, web
from loguru import logger

from control.gateway.auth import signed_ws
from control.gateway.reports import account_event, execution_report, list_status_event
from exchange.protocol.errors import ApiError, mandatory
from runtime.events import EventBus, Subscription, UiEvent
from storage.strategy_keys import KeyRing

MAX_MESSAGE = 64 * 1024
MAX_LIST_IDS = 10_000  # lists whose exchange id the stream remembers


@dataclass
class Session:
    ws: web.WebSocketResponse
    subscriptions: dict[int, str] = field(default_factory=dict)  # id → strategy name
    next_id: int = 0
    bus: Subscription | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class WsApi:
    def __init__(
        self,
        ring: KeyRing,
        events: EventBus,
        server_time: Callable[[], int],
        order_list: Callable[[str, str], dict[str, Any] | None] | None = None,
    ) -> None:
        self.ring = ring
        self.events = events
        self.server_time = server_time
        # (strategy, Vigil's list id) → the strategy's list as ``ListsQuery`` answers it
        self.order_list = order_list
        self.list_ids: dict[str, int] = {}  # Vigil's list id → the exchange's, once known
        self.sockets: set[web.WebSocketResponse] = set()  # open connections (closed at stop)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_MESSAGE)
        await ws.prepare(request)
        session = Session(ws)
        self.sockets.add(ws)
        loop = asyncio.get_running_loop()
        pump = asyncio.create_task(self._pump(session))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                answer = self._request(session, msg.data, loop)
                await ws.send_str(json.dumps(answer, separators=(",", ":")))
        finally:
            self.sockets.discard(ws)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            if session.bus is not None:
                session.bus.close()
        return ws

    def _request(
        self, session: Session, text: str, loop: asyncio.AbstractEventLoop
    ) -> dict[str, Any]:
        request_id: Any = None
        try:
            try:
                message = json.loads(text)
            except ValueError:
                raise ApiError(-1135, "Invalid JSON Request") from None
            if not isinstance(message, dict) or "method" not in message:
                raise ApiError(-1135, "Invalid JSON Request")
            request_id = message.get("id")
            params = message.get("params") or {}
            if not isinstance(params, dict):
                raise ApiError(-1135, "Invalid JSON Request")
            method = str(message["method"]).removeprefix("v3/")
            result = self._method(session, method, params, loop)
            return {"id": request_id, "status": 200, "result": result, "rateLimits": []}
        except ApiError as exc:
            return {"id": request_id, "status": exc.http_status, "error": exc.body()}
        except Exception as exc:  # no traceback in the log: its variables may hold a secret
            logger.error("gateway: internal error in the WebSocket API: {}", type(exc).__name__)
            return {
                "id": request_id,
                "status": 500,
                "error": {
                    "code": -1000,
                    "msg": "An unknown error occurred while processing the request.",
                },
            }

    def _method(
        self,
        session: Session,
        method: str,
        params: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
    ) -> Any:
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": self.server_time()}
        if method == "userDataStream.subscribe.signature":
            for name in ("apiKey", "timestamp", "signature"):
                if params.get(name) in (None, ""):
                    raise mandatory(name)
            key = signed_ws(self.ring, params, self.server_time())
            if key.name in session.subscriptions.values():  # one per account, as Binance
                raise ApiError(-2035, "User Data Stream subscription already active.")
            if session.bus is None:
                session.bus = self.events.subscribe(
                    wake=lambda: loop.call_soon_threadsafe(session.wake.set)
                )
            sub_id = session.next_id
            session.next_id += 1
            session.subscriptions[sub_id] = key.name
            return {"subscriptionId": sub_id}
        if method == "userDataStream.unsubscribe":
            sub = params.get("subscriptionId")
            if sub is None:
                session.subscriptions.clear()
                return {}
            if isinstance(sub, bool) or not isinstance(sub, int | str):
                raise ApiError(-1100, "Illegal characters found in parameter 'subscriptionId'.")
            try:
                session.subscriptions.pop(int(sub), None)
            except ValueError:
                raise ApiError(
                    -1100, "Illegal characters found in parameter 'subscriptionId'."
                ) from None
            return {}
        if method == "session.subscriptions":
            return [{"subscriptionId": s} for s in sorted(session.subscriptions)]
        raise ApiError(-1020, "This operation is not supported.")

    async def _pump(self, session: Session) -> None:
        """Bus events → this session's subscriptions, in order."""
        while True:
            await session.wake.wait()
            session.wake.clear()
            if session.bus is None:
                continue
            for event in session.bus.drain():
                for sub_id, strategy in list(session.subscriptions.items()):
                    if self.ring.revoked(strategy):  # the key is gone: so is its stream
                        del session.subscriptions[sub_id]
                        ended = {"e": "eventStreamTerminated", "E": self.server_time()}
                        wrapped = {"subscriptionId": sub_id, "event": ended}
                        await session.ws.send_str(json.dumps(wrapped, separators=(",", ":")))
                        continue
                    payload = await self._event_for(event, strategy)
                    if payload is None:
                        continue
                    wrapped = {"subscriptionId": sub_id, "event": payload}
                    await session.ws.send_str(json.dumps(wrapped, separators=(",", ":")))

    async def _list(self, strategy: str, list_cid: str) -> dict[str, Any] | None:
        """The strategy's list (None: not its own, or no lookup), asked off the loop."""
        if self.order_list is None:
            return None
        lookup = self.order_list
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(None, lambda: lookup(strategy, list_cid))
        except (pykka.Timeout, pykka.ActorDeadError) as exc:  # the broker restarting: the
            # list's status is skipped, the stream goes on (its pump must never die)
            logger.warning("gateway: user stream: list lookup failed: {}", type(exc).__name__)
            return None
        if found is not None and found.get("order_list_id") is not None:
            if len(self.list_ids) >= MAX_LIST_IDS:  # a cache: the book is the record
                self.list_ids.clear()
            self.list_ids[list_cid] = int(found["order_list_id"])
        return found

    async def _event_for(self, event: UiEvent, strategy: str) -> dict[str, Any] | None:
        if event.kind == "execution":
            if event.data.get("strategy") != strategy:
                return None
            list_cid = event.data.get("order_list")
            list_id = -1
            if list_cid is not None:  # a leg of a list: ``g`` is the list's id
                if list_cid not in self.list_ids:
                    await self._list(strategy, list_cid)
                list_id = self.list_ids.get(list_cid, -1)
            return execution_report(event.data, list_id)
        if event.kind == "order_list":  # a list's status changed: its listStatus, if ours
            found = await self._list(strategy, str(event.data.get("list_client_order_id")))
            if found is None or found.get("order_list_id") is None:
                return None
            return list_status_event(found, self.server_time())
        if event.kind == "account":
            return account_event(event.data)
        return None
