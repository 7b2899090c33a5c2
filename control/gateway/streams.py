"""Market streams relayed: ``/ws/<stream>``, ``/ws`` and ``/stream?streams=a/b`` open the
same path on the exchange's stream server and pass every frame both ways (a client's
``SUBSCRIBE``/``UNSUBSCRIBE`` included) until either side closes."""

from __future__ import annotations

import asyncio
import contextlib
import re

import aiohttp
from aiohttp import WSMsgType, web
from loguru import logger

from control.gateway.errors import error_response
from exchange.protocol.errors import ApiError

# /ws, /ws/<stream>[/<stream>...] or /stream: Binance's stream names (letters, digits,
# @ _ ! - and a kline's time zone's + :) — nothing that could leave the stream paths
STREAM_PATH = re.compile(r"/ws(/[A-Za-z0-9@_!:+/-]*)?|/stream")


class StreamRelay:
    def __init__(self, streams_url: str) -> None:
        self.streams_url = streams_url.rstrip("/")
        self.open = 0  # relayed connections now
        self.sockets: set[web.WebSocketResponse] = set()  # (closed at stop)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/ws/{streams:.*}", self.handle)
        app.router.add_get("/ws", self.handle)
        app.router.add_get("/stream", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path, _, _ = request.raw_path.partition("?")
        if not STREAM_PATH.fullmatch(path):  # no "..", no escapes: only stream names
            return error_response(ApiError(-1100, "Illegal characters found in the stream path."))
        target = self.streams_url + request.raw_path
        session = aiohttp.ClientSession()
        try:
            upstream = await session.ws_connect(target, heartbeat=20.0)
        except (aiohttp.ClientError, OSError) as exc:
            await session.close()
            logger.warning("gateway: market stream {} unreachable: {}", request.raw_path, exc)
            return error_response(
                ApiError(-1001, "Internal error; unable to process your request.", 503)
            )
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        self.open += 1
        self.sockets.add(ws)
        down = asyncio.create_task(self._pipe(upstream, ws))
        up = asyncio.create_task(self._pipe(ws, upstream))
        try:
            await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.open -= 1
            self.sockets.discard(ws)
            for task in (down, up):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await upstream.close()
            await ws.close()
            await session.close()
        return ws

    @staticmethod
    async def _pipe(
        source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
        sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    ) -> None:
        async for msg in source:
            if msg.type == WSMsgType.TEXT:
                await sink.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await sink.send_bytes(msg.data)
            else:
                break
