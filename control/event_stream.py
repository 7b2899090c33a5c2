"""The control API's live view, ``GET /v1/events``: Server-Sent Events of the breaker state,
order updates, fills and the account as the broker books them, and the status every second;
a slow client loses its oldest events (never slowing the broker), a stopping server ends
every stream at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from runtime.events import breaker_event

if TYPE_CHECKING:
    from control.server import ControlServer

# what GET /v1/events forwards (``execution``/``account``: as the gateway's user stream)
EVENT_KINDS = frozenset({"order", "fill", "breaker", "execution", "account"})


def handler(server: ControlServer) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """``GET /v1/events`` on ``server`` (its status, its executor, its stop)."""

    async def events(request: web.Request) -> web.StreamResponse:
        return await stream(server, request)

    return events


async def stream(server: ControlServer, request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: the breaker state at once and on every change, order
    updates and fills as the broker books them, the status (as ``GET /v1/status``)
    every ``status_every_s``, a comment at least every ``heartbeat_every_s``. A client
    that falls behind loses its oldest events (a ``dropped`` event says how many so
    far), never slowing the broker; one that goes away is unsubscribed."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    sub = server.system.events.subscribe(wake=lambda: loop.call_soon_threadsafe(wake.set))
    server._streams.add(wake)
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
        await response.write(sse("breaker", breaker_event(server.system.gate.state)))
        next_status = next_beat = loop.time()
        dropped = 0
        while not server.stopping:
            wake.clear()
            for event in sub.drain():
                if event.kind in EVENT_KINDS:
                    await response.write(sse(event.kind, event.data))
            if sub.dropped != dropped:
                dropped = sub.dropped
                await response.write(sse("dropped", {"count": dropped}))
            if loop.time() >= next_status:
                next_status = loop.time() + server.status_every_s
                try:
                    status = await server._call(server._status)
                except Exception as exc:  # the status is best effort; the stream goes on
                    status = {"error": f"status failed: {type(exc).__name__}"}
                await response.write(sse("status", status))
            if loop.time() >= next_beat:
                next_beat = loop.time() + server.heartbeat_every_s
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
        server._streams.discard(wake)
    return response


def sse(kind: str, data: Any) -> bytes:
    """One Server-Sent Event (JSON on one ``data:`` line)."""
    return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n".encode()
