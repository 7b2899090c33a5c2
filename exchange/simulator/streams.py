"""Market streams: ``/ws/<stream>``, ``/ws`` and ``/stream?streams=a/b`` with bookTicker.

Raw streams send the payload; combined streams wrap it as ``{"stream", "data"}``. Clients
may SUBSCRIBE, UNSUBSCRIBE and LIST_SUBSCRIPTIONS on the open socket.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from exchange.simulator.connections import abort_ws, converse
from exchange.simulator.engine import Engine
from exchange.simulator.rendering import book_ticker


@dataclass
class MarketSession:
    combined: bool
    streams: set[str] = field(default_factory=set)
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)


class MarketStreams:
    """The market stream connections and what each subscribed to."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sockets: dict[web.WebSocketResponse, MarketSession] = {}

    async def handle(self, http: web.Request) -> web.StreamResponse:
        combined = http.path == "/stream"
        raw = http.query.get("streams", "") if combined else http.match_info.get("streams", "")
        ws = web.WebSocketResponse(heartbeat=20.0, autoping=True)
        await ws.prepare(http)
        session = MarketSession(combined=combined)
        session.streams.update(s for s in raw.split("/") if s)
        self.sockets[ws] = session
        for symbol in self.engine.markets:
            self._push(session, symbol)
        return await converse(
            ws,
            session.queue,
            lambda text: self._control(session, text),
            lambda: self.sockets.pop(ws, None),
        )

    @staticmethod
    def _control(session: MarketSession, text: str) -> dict[str, Any]:
        try:
            message = json.loads(text)
            method, request_id = message["method"], message.get("id")
        except (ValueError, KeyError, TypeError):
            return {"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}
        params = message.get("params") or []
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return {"error": {"code": 3, "msg": "Invalid request: params"}, "id": request_id}
        if method == "SUBSCRIBE":
            session.streams.update(params)
            return {"result": None, "id": request_id}
        if method == "UNSUBSCRIBE":
            session.streams.difference_update(params)
            return {"result": None, "id": request_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(session.streams), "id": request_id}
        return {
            "error": {"code": 2, "msg": f"Invalid request: unknown method {method}"},
            "id": request_id,
        }

    def push_book_tickers(self, symbols: list[str] | None = None) -> None:
        for session in list(self.sockets.values()):
            for symbol in symbols or self.engine.markets:
                self._push(session, symbol)

    def _push(self, session: MarketSession, symbol: str) -> None:
        stream = f"{symbol.lower()}@bookTicker"
        if stream not in session.streams:
            return
        with self.engine.lock:
            data = book_ticker(self.engine.markets[symbol])
        session.queue.put_nowait({"stream": stream, "data": data} if session.combined else data)

    async def disconnect(self, mode: str) -> None:
        """ws_disconnect fault: cut every market stream connection (abort or close)."""
        for ws in list(self.sockets):
            if mode == "close":
                await ws.close(code=1001, message=b"going away")
            else:
                abort_ws(ws)
