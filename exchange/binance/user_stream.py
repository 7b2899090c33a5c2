"""The Spot user data stream: a ``userDataStream.subscribe.signature`` subscription on the
WebSocket API (listen keys are retired).

On every (re)connection the stream subscribes again; after ``eventStreamTerminated`` it
resubscribes on the same connection. Every ``SUBSCRIBED`` after the first carries ``gap=True``:
events may have been missed, so the consumer must catch up by REST (open orders, order status,
trades since its watermark). Events go to ``on_event`` in order, on the reader thread.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import websocket

from exchange.binance import parse
from exchange.binance._socket import ReconnectingSocket, _Reconnect
from exchange.binance.clock import ServerClock
from exchange.binance.config import AdapterConfig
from exchange.binance.redact import Redactor
from exchange.contract import (
    AuditSink,
    MalformedPayload,
    StreamState,
    StreamStatus,
    StreamTerminated,
    UserEvent,
)

__all__ = ["UserDataStream", "ws_signature_payload"]


def ws_signature_payload(params: Mapping[str, object]) -> str:
    """WebSocket API signing payload: every param but ``signature``, sorted, ``k=v`` by ``&``."""

    def text(value: object) -> str:
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    return "&".join(f"{k}={text(v)}" for k, v in sorted(params.items()) if k != "signature")


class UserDataStream(ReconnectingSocket):
    stream = "user"

    def __init__(
        self,
        config: AdapterConfig,
        *,
        clock: ServerClock,
        redact: Redactor,
        on_event: Callable[[UserEvent], None],
        on_status: Callable[[StreamStatus], None] | None = None,
        on_malformed: Callable[[MalformedPayload], None] | None = None,
        on_clock_skew: Callable[[], None] | None = None,
        audit: AuditSink | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            config,
            redact=redact,
            on_status=on_status,
            on_malformed=on_malformed,
            audit=audit,
            rng=rng,
        )
        self._clock = clock
        self._on_event = on_event
        self._on_clock_skew = on_clock_skew
        self._ids = itertools.count(1)
        self.subscription_id: int | None = None
        self.subscriptions = 0
        self.events_received = 0

    def __repr__(self) -> str:
        return f"UserDataStream(subscribed={self.subscription_id is not None})"

    def _url(self) -> str:
        return self._config.ws_api_url

    def _on_open(self, ws: websocket.WebSocket) -> None:
        self._subscribe(ws, "connected")

    # --- subscription -------------------------------------------------------------------------

    def _subscribe(self, ws: websocket.WebSocket, why: str) -> None:
        cfg = self._config
        params: dict[str, Any] = {
            "apiKey": cfg.api_key.get_secret_value(),
            "recvWindow": cfg.recv_window_ms,
            "timestamp": self._clock.now_ms(),
        }
        params["signature"] = hmac.new(
            cfg.api_secret.get_secret_value().encode(),
            ws_signature_payload(params).encode(),
            hashlib.sha256,
        ).hexdigest()
        request_id = f"vigil-sub-{next(self._ids)}"
        ws.send(
            json.dumps(
                {"id": request_id, "method": "userDataStream.subscribe.signature", "params": params}
            )
        )
        del params
        response = self._await_response(ws, request_id)
        status = response.get("status")
        if status != 200:
            error = response.get("error")
            error = error if isinstance(error, dict) else {}
            code, msg = error.get("code"), self._redact(str(error.get("msg", "")))
            if code == -1021 and self._on_clock_skew is not None:
                self._on_clock_skew()
            raise _Reconnect(f"subscribe refused: HTTP {status} code {code}: {msg}")
        result = response.get("result")
        sub_id = result.get("subscriptionId") if isinstance(result, dict) else None
        if isinstance(sub_id, bool) or not isinstance(sub_id, int):
            raise _Reconnect("subscribe answer without a subscriptionId")
        self.subscription_id = sub_id
        self.subscriptions += 1
        ws.settimeout(cfg.ws_ping_interval_s)
        self._status(
            StreamState.SUBSCRIBED,
            f"subscription {sub_id} ({why})",
            gap=self.subscriptions > 1,
        )

    def _await_response(self, ws: websocket.WebSocket, request_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self._config.ws_request_timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Reconnect("no answer to the subscribe request")
            ws.settimeout(left)
            try:
                opcode, frame = ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            self.last_frame_at = time.monotonic()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise _Reconnect("closed by the server while subscribing")
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            text = frame.data.decode("utf-8", "replace")
            try:
                message = parse.decode_json(text, "ws-api frame")
            except MalformedPayload as exc:
                self._malformed(exc, text)
                continue
            if isinstance(message, dict) and message.get("id") == request_id:
                return message
            self._handle(ws, message, text, resubscribe=False)

    # --- frames -------------------------------------------------------------------------------

    def _on_text(self, ws: websocket.WebSocket, text: str) -> None:
        try:
            message = parse.decode_json(text, "ws-api frame")
        except MalformedPayload as exc:
            self._malformed(exc, text)
            return
        self._handle(ws, message, text, resubscribe=True)

    def _handle(
        self, ws: websocket.WebSocket, message: object, text: str, *, resubscribe: bool
    ) -> None:
        if not isinstance(message, dict):
            self._malformed(MalformedPayload("ws-api frame: expected an object"), text)
            return
        if "event" not in message:
            if "id" in message:  # an answer to a request nobody waits for any more
                return
            self._malformed(MalformedPayload("ws-api frame: neither an event nor an answer"), text)
            return
        try:
            event = parse.user_event(message["event"])
        except MalformedPayload as exc:
            self._malformed(exc, text)
            return
        self.events_received += 1
        self._deliver(self._on_event, event)  # type: ignore[arg-type]
        if isinstance(event, StreamTerminated):
            self.subscription_id = None
            self._status(StreamState.CONNECTING, "eventStreamTerminated: resubscribing", gap=True)
            if not resubscribe:
                raise _Reconnect("eventStreamTerminated while subscribing")
            self._subscribe(ws, "after eventStreamTerminated")
