"""The WebSocket API (``/ws-api/v3``) and the user data stream it carries.

Methods: ``ping``, ``time``, ``session.status``, ``session.subscriptions``,
``userDataStream.subscribe.signature`` and ``userDataStream.unsubscribe``. The engine's
events are fanned out to every subscription by :meth:`UserStreams.publish`, which is also
where the event faults act (drop, drop an OCO order's expiry, duplicate, malform, delay).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from loguru import logger

from exchange.simulator.auth import check_api_key, check_signature, check_timing, ws_payload
from exchange.simulator.config import SimulatorConfig
from exchange.simulator.connections import (
    abort_ws,
    converse,
    json_response,
    running_loop,
)
from exchange.simulator.engine import Engine
from exchange.simulator.errors import ApiError, mandatory
from exchange.simulator.faults import Fault, FaultBook
from exchange.simulator.limits import RateLimited, RateLimiter


def is_list_expiry(event: dict[str, Any]) -> bool:
    """An executionReport of an OCO order expired because its partner executed."""
    return (
        event.get("e") == "executionReport"
        and event.get("x") == "EXPIRED"
        and event.get("eR") == "OCO_TRIGGER"
    )


@dataclass
class UserSession:
    connected_since: int
    subscriptions: set[int] = field(default_factory=set)
    next_subscription: int = 0
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)


class UserStreams:
    """WebSocket API sessions and their user data subscriptions."""

    def __init__(
        self,
        config: SimulatorConfig,
        engine: Engine,
        faults: FaultBook,
        limiter: RateLimiter,
        outage: Callable[[], Fault | None],
    ) -> None:
        self.config = config
        self.engine = engine
        self.faults = faults
        self.limiter = limiter
        self.outage = outage
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sockets: dict[web.WebSocketResponse, UserSession] = {}

    def subscription_count(self) -> int:
        return sum(len(s.subscriptions) for s in self.sockets.values())

    # ------------------------------------------------------------------ events

    def publish(self, event: dict[str, Any]) -> None:
        """Engine callback: fan one user data event out to every subscription (thread-safe)."""
        copies = 1
        delay = 0.0
        if self.faults.take("drop_events") is not None:
            return
        if self.faults.take_if("drop_list_expiry", lambda f: is_list_expiry(event)) is not None:
            return
        if self.faults.take("duplicate_events") is not None:
            copies = 2
        corrupt = self.faults.take_if("malformed_events", lambda f: f.params["field"] in event)
        if corrupt is not None:
            event = {**event, corrupt.params["field"]: corrupt.params["value"]}
        delayed = self.faults.take("delay_events")
        if delayed is not None:
            delay = float(delayed.params["delay_ms"]) / 1000
        loop = self.loop
        if loop is None:
            return
        payloads = [event] * copies

        def deliver() -> None:
            for session in list(self.sockets.values()):
                for sub_id in sorted(session.subscriptions):
                    for payload in payloads:
                        session.queue.put_nowait({"subscriptionId": sub_id, "event": payload})

        def schedule() -> None:
            if delay > 0:
                loop.call_later(delay, deliver)
            else:
                deliver()

        if running_loop() is loop:
            schedule()
        else:
            loop.call_soon_threadsafe(schedule)

    def terminate(self) -> int:
        """stream_terminated fault: end every subscription with eventStreamTerminated."""
        ended = 0
        for session in list(self.sockets.values()):
            for sub_id in sorted(session.subscriptions):
                self._terminated(session, sub_id)
                ended += 1
            session.subscriptions.clear()
        return ended

    def _terminated(self, session: UserSession, sub_id: int) -> None:
        session.queue.put_nowait(
            {
                "subscriptionId": sub_id,
                "event": {"e": "eventStreamTerminated", "E": self.engine.server_time()},
            }
        )

    async def disconnect(self, mode: str) -> None:
        """ws_disconnect fault: cut every WebSocket API connection (abort or close)."""
        for ws in list(self.sockets):
            if mode == "close":
                await ws.close(code=1001, message=b"going away")
            else:
                abort_ws(ws)

    # ------------------------------------------------------------------ connections

    async def handle(self, http: web.Request) -> web.StreamResponse:
        outage = self.outage()
        if outage is not None and outage.params["scope"] == "all":
            return json_response({"code": -1008, "msg": "Server is currently overloaded."}, 503)
        ws = web.WebSocketResponse(heartbeat=20.0, autoping=True)
        await ws.prepare(http)
        session = UserSession(connected_since=self.engine.server_time())
        self.sockets[ws] = session
        return await converse(
            ws,
            session.queue,
            lambda text: self._request(session, text),
            lambda: self.sockets.pop(ws, None),
        )

    def _request(self, session: UserSession, text: str) -> dict[str, Any]:
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
            self.limiter.admit(2, False)
            result = self._method(session, method, params)
            return {
                "id": request_id,
                "status": 200,
                "result": result,
                "rateLimits": [self.limiter.rate_limits_json()[0]],
            }
        except RateLimited as exc:
            return {
                "id": request_id,
                "status": exc.http_status,
                "error": {**exc.body(), "data": {"retryAfter": exc.retry_after}},
            }
        except ApiError as exc:
            return {"id": request_id, "status": exc.http_status, "error": exc.body()}
        except Exception:
            logger.exception("simulator: internal error in WebSocket API")
            return {
                "id": request_id,
                "status": 500,
                "error": {
                    "code": -1000,
                    "msg": "An unknown error occurred while processing the request.",
                },
            }

    def _method(self, session: UserSession, method: str, params: dict[str, Any]) -> Any:
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": self.engine.server_time()}
        if method == "session.status":
            return {
                "apiKey": None,
                "authorizedSince": None,
                "connectedSince": session.connected_since,
                "returnRateLimits": True,
                "serverTime": self.engine.server_time(),
                "userDataStream": bool(session.subscriptions),
            }
        if method == "session.subscriptions":
            return [{"subscriptionId": s} for s in sorted(session.subscriptions)]
        if method == "userDataStream.subscribe.signature":
            return self._subscribe(session, params)
        if method == "userDataStream.unsubscribe":
            sub = params.get("subscriptionId")
            if sub is not None and (isinstance(sub, bool) or not isinstance(sub, int | str)):
                raise ApiError(-1100, "Illegal characters found in parameter 'subscriptionId'.")
            try:
                ended = sorted(session.subscriptions) if sub is None else [int(sub)]
            except ValueError:
                raise ApiError(
                    -1100, "Illegal characters found in parameter 'subscriptionId'."
                ) from None
            for sub_id in ended:
                if sub_id in session.subscriptions:
                    session.subscriptions.discard(sub_id)
                    self._terminated(session, sub_id)
            return {}
        if method == "userDataStream.subscribe":
            raise ApiError(-1002, "You are not authorized to execute this request.", 401)
        raise ApiError(-1020, "This operation is not supported.")

    def _subscribe(self, session: UserSession, params: dict[str, Any]) -> dict[str, Any]:
        for name in ("apiKey", "timestamp", "signature"):
            if params.get(name) in (None, ""):
                raise mandatory(name)
        check_api_key(self.config.api_key, str(params["apiKey"]))
        check_timing(params, self.engine.server_time(), self.config.max_recv_window_ms)
        secret = self.config.api_secret.get_secret_value()
        check_signature(secret, [ws_payload(params)], str(params["signature"]))
        if session.subscriptions:
            raise ApiError(-2035, "User Data Stream subscription already active.")
        sub_id = session.next_subscription
        session.next_subscription += 1
        session.subscriptions.add(sub_id)
        return {"subscriptionId": sub_id}
