"""One WebSocket kept connected by one daemon thread: backoff with jitter, ping, staleness.

``ReconnectingSocket`` owns the connection and its thread; nobody else touches the socket.
Subclasses implement ``_on_open`` (e.g. subscribe; may raise to force a reconnect) and
``_on_text`` (one text frame). The loop:

* connect (timeout ``ws_connect_timeout_s``); on failure wait ``backoff(attempt)``: exponential
  from ``reconnect_initial_s`` to ``reconnect_max_s``, +/- ``reconnect_jitter``;
* read frames with a ``ws_ping_interval_s`` timeout; after a quiet interval send a ping frame;
  no frame at all (data, ping or pong) for ``ws_stale_after_s``: stale, reconnect;
* reconnect on purpose after ``ws_max_connection_age_s`` (Binance ends connections at 24 h).

``close()`` ends the thread within ``close_timeout_s``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import websocket
from loguru import logger

from exchange.binance.config import AdapterConfig
from exchange.binance.redact import Redactor
from exchange.contract import AuditRecord, AuditSink, MalformedPayload, StreamState, StreamStatus

__all__ = ["ReconnectingSocket", "backoff_delay"]


def backoff_delay(
    attempt: int, initial: float, maximum: float, jitter: float, rng: random.Random
) -> float:
    """Delay before reconnect attempt ``attempt`` (0-based): exponential, capped, jittered."""
    base = min(maximum, initial * (2.0 ** min(attempt, 30)))
    return max(0.0, base * (1 + jitter * (2 * rng.random() - 1)))


class _Reconnect(Exception):
    """Leave the current connection and open a new one."""


class ReconnectingSocket:
    stream: str = "?"

    def __init__(
        self,
        config: AdapterConfig,
        *,
        redact: Redactor,
        on_status: Callable[[StreamStatus], None] | None = None,
        on_malformed: Callable[[MalformedPayload], None] | None = None,
        audit: AuditSink | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._redact = redact
        self._on_status = on_status
        self._on_malformed = on_malformed
        self._audit = audit
        self._rng = rng or random.Random()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._ws: websocket.WebSocket | None = None
        self._ws_lock = threading.Lock()
        self.reconnects = 0
        self.connected = False
        self.last_frame_at: float | None = None
        self.malformed_count = 0
        self.callback_errors = 0
        self._was_open = False

    # --- lifecycle ----------------------------------------------------------------------------

    def _url(self) -> str:
        raise NotImplementedError

    def _on_open(self, ws: websocket.WebSocket) -> None:
        """Called on every new connection; raise to drop it and reconnect."""

    def _on_text(self, ws: websocket.WebSocket, text: str) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.stream} stream already started")
        self._thread = threading.Thread(
            target=self._run, name=f"binance-{self.stream}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        with self._ws_lock:
            ws = self._ws
        if ws is not None:
            try:
                ws.abort()  # type: ignore[no-untyped-call]
            except Exception:  # already gone
                pass
        if self._thread is not None:
            self._thread.join(self._config.close_timeout_s)
        self.connected = False

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def frame_age_s(self) -> float | None:
        at = self.last_frame_at
        return None if at is None else time.monotonic() - at

    # --- the loop -----------------------------------------------------------------------------

    def _status(self, state: StreamState, reason: str, *, gap: bool = False) -> None:
        self._report("stream", f"{state.value}: {reason}")
        logger.bind(component=f"binance.{self.stream}", state=state.value, gap=gap).info(
            "{} stream {}: {}", self.stream, state.value, reason
        )
        if self._on_status is None:
            return
        status = StreamStatus(
            stream=self.stream,  # type: ignore[arg-type]
            state=state,
            reason=reason,
            gap=gap,
            reconnects=self.reconnects,
        )
        try:
            self._on_status(status)
        except Exception as exc:  # the reader must outlive a listener's bug
            self.callback_errors += 1
            logger.error("{} status listener failed: {}", self.stream, self._redact(repr(exc)))

    def _run(self) -> None:
        attempt = 0
        while not self._closed.is_set():
            self._was_open = False
            reason = self._session()
            self.connected = False
            if self._closed.is_set():
                break
            if self._was_open:  # the last connection worked: start the backoff over
                attempt = 0
            self.reconnects += 1
            delay = backoff_delay(
                attempt,
                self._config.reconnect_initial_s,
                self._config.reconnect_max_s,
                self._config.reconnect_jitter,
                self._rng,
            )
            attempt += 1
            self._status(
                StreamState.DISCONNECTED, f"{reason}; reconnecting in {delay:.2f} s", gap=True
            )
            self._closed.wait(delay)
        self._status(StreamState.CLOSED, "closed")

    def _session(self) -> str:
        """One connection; returns why it ended."""
        cfg = self._config
        try:
            ws = websocket.create_connection(self._url(), timeout=cfg.ws_connect_timeout_s)
        except Exception as exc:
            return self._redact(f"connect failed: {type(exc).__name__}: {exc}")
        with self._ws_lock:
            self._ws = ws
        opened_at = time.monotonic()
        self.last_frame_at = opened_at
        try:
            if self._closed.is_set():
                return "closed"
            ws.settimeout(cfg.ws_request_timeout_s)
            self._on_open(ws)
            self.connected = self._was_open = True
            ws.settimeout(cfg.ws_ping_interval_s)
            while not self._closed.is_set():
                if time.monotonic() - opened_at > cfg.ws_max_connection_age_s:
                    return "planned reconnect (connection age limit)"
                self._read_one(ws)
            return "closed"
        except _Reconnect as exc:
            return str(exc)
        except Exception as exc:
            prefix = "" if self.connected else "open failed: "
            return self._redact(f"{prefix}{type(exc).__name__}: {exc}")
        finally:
            with self._ws_lock:
                self._ws = None
            try:
                ws.abort()  # type: ignore[no-untyped-call]
                ws.close(timeout=0.2)
            except Exception:
                pass

    def _read_one(self, ws: websocket.WebSocket) -> None:
        try:
            opcode, frame = ws.recv_data_frame(control_frame=True)
        except websocket.WebSocketTimeoutException:
            quiet = time.monotonic() - (self.last_frame_at or 0.0)
            if quiet > self._config.ws_stale_after_s:
                raise _Reconnect(f"stale: no frame for {quiet:.1f} s") from None
            ws.ping()
            return
        self.last_frame_at = time.monotonic()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise _Reconnect("closed by the server")
        if opcode == websocket.ABNF.OPCODE_TEXT:
            data = frame.data
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
            self._on_text(ws, text)

    def _deliver(self, callback: Callable[[object], None] | None, item: object) -> None:
        if callback is None:
            return
        try:
            callback(item)
        except Exception as exc:  # the reader must outlive a consumer's bug; counted and logged
            self.callback_errors += 1
            logger.error("{} event callback failed: {}", self.stream, self._redact(repr(exc)))

    def _malformed(self, exc: MalformedPayload, text: str) -> None:
        """A frame we cannot read: counted, logged, audited, reported; the reader goes on."""
        self.malformed_count += 1
        sample = self._redact(text[:200])
        logger.bind(
            component=f"binance.{self.stream}", malformed_count=self.malformed_count
        ).warning(
            "{} stream: malformed frame: {} (first bytes: {!r})", self.stream, exc.message, sample
        )
        self._report("malformed", exc.message)
        self._deliver(self._on_malformed, exc)  # type: ignore[arg-type]

    def _report(self, kind: str, message: str) -> None:
        if self._audit is None:
            return
        record = AuditRecord(
            kind=kind,  # type: ignore[arg-type]
            at_ms=int(time.time() * 1000),
            operation=f"{self.stream}_stream",
            message=self._redact(message),
        )
        try:
            self._audit(record)
        except Exception as exc:
            logger.error("audit sink failed: {}", self._redact(repr(exc)))
