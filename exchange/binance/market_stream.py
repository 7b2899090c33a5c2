"""bookTicker market streams (best bid/ask), the adapter's source of reference prices."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import websocket

from exchange.binance import parse
from exchange.binance._socket import ReconnectingSocket
from exchange.binance.config import AdapterConfig
from exchange.binance.redact import Redactor
from exchange.contract import AuditSink, BookTicker, MalformedPayload, StreamState, StreamStatus

__all__ = ["MarketDataStream"]


class MarketDataStream(ReconnectingSocket):
    """A combined ``/stream?streams=<sym>@bookTicker/...`` connection; keeps the latest ticker."""

    stream = "market"

    def __init__(
        self,
        config: AdapterConfig,
        symbols: list[str],
        *,
        redact: Redactor,
        on_ticker: Callable[[BookTicker], None] | None = None,
        on_status: Callable[[StreamStatus], None] | None = None,
        on_malformed: Callable[[MalformedPayload], None] | None = None,
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
        if not symbols:
            raise ValueError("at least one symbol")
        self.symbols = [s.upper() for s in symbols]
        self._on_ticker = on_ticker
        self._latest: dict[str, tuple[BookTicker, float]] = {}
        self._latest_lock = threading.Lock()
        self._opened = 0

    def __repr__(self) -> str:
        return f"MarketDataStream({self.symbols})"

    def _url(self) -> str:
        names = "/".join(f"{s.lower()}@bookTicker" for s in self.symbols)
        return f"{self._config.stream_url.rstrip('/')}/stream?streams={names}"

    def _on_open(self, ws: websocket.WebSocket) -> None:
        self._opened += 1
        self._status(StreamState.SUBSCRIBED, "connected", gap=self._opened > 1)

    def _on_text(self, ws: websocket.WebSocket, text: str) -> None:
        try:
            message = parse.decode_json(text, "market frame")
            if isinstance(message, dict) and "result" in message and "id" in message:
                return  # answer to a control request
            data = message.get("data") if isinstance(message, dict) else None
            ticker = parse.book_ticker(data if data is not None else message)
        except MalformedPayload as exc:
            self._malformed(exc, text)
            return
        with self._latest_lock:
            self._latest[ticker.symbol] = (ticker, time.monotonic())
        self._deliver(self._on_ticker, ticker)  # type: ignore[arg-type]

    def latest(self, symbol: str, max_age_s: float | None = None) -> BookTicker | None:
        """The newest ticker of ``symbol``, or None if none (or none fresher than max_age_s)."""
        with self._latest_lock:
            found = self._latest.get(symbol.upper())
        if found is None:
            return None
        ticker, at = found
        if max_age_s is not None and time.monotonic() - at > max_age_s:
            return None
        return ticker
