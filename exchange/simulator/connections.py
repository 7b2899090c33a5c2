"""Connection plumbing shared by the endpoints: JSON responses, serving a WebSocket
(queued messages sent in order, each frame received answered), and cutting a connection
abruptly as faults need it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

JSON_HEADERS = {"Content-Type": "application/json;charset=UTF-8"}


def dumps(body: Any) -> str:
    """Compact JSON; never NaN or Infinity (they are not JSON)."""
    return json.dumps(body, separators=(",", ":"), allow_nan=False)


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=dumps(body), status=status, headers={**JSON_HEADERS, **(headers or {})}
    )


async def pump(ws: web.WebSocketResponse, queue: asyncio.Queue[dict[str, Any]]) -> None:
    """Send queued messages in order; stops when the socket goes away."""
    while True:
        item = await queue.get()
        try:
            await ws.send_str(dumps(item))
        except (ConnectionError, RuntimeError):
            return


async def converse(
    ws: web.WebSocketResponse,
    queue: asyncio.Queue[dict[str, Any]],
    answer: Callable[[str], dict[str, Any]],
    on_close: Callable[[], object],
) -> web.WebSocketResponse:
    """Serve one WebSocket: queued messages go out in order (``pump``) while each text
    frame received is answered by ``answer``; ``on_close`` runs when it ends."""
    sender = asyncio.create_task(pump(ws, queue))
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            await ws.send_str(dumps(answer(msg.data)))
    finally:
        on_close()
        sender.cancel()
    return ws


def running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def drop_connection(http: web.Request) -> None:
    """Cut an HTTP connection with no response at all."""
    transport = http.transport
    if transport is not None:
        transport.abort()


def abort_ws(ws: web.WebSocketResponse) -> None:
    """Cut a WebSocket's TCP connection with no close frame."""
    writer = getattr(ws, "_writer", None)
    transport = getattr(writer, "transport", None) if writer is not None else None
    if transport is None:
        req = getattr(ws, "_req", None)
        transport = getattr(req, "transport", None)
    if transport is not None:
        transport.abort()
