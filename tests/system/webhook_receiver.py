"""A real webhook receiver for tests: aiohttp on 127.0.0.1 in its own thread.

It records every request (``requests``) and every accepted message (``received``), answers
with the statuses in ``plan`` first (then 200), and holds every request while ``hang`` is
set (released at ``stop``)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Hit:
    path: str
    body: Any
    status: int
    at: float  # time.monotonic()


class WebhookReceiver:
    def __init__(self) -> None:
        self.requests: list[Hit] = []
        self.received: list[Hit] = []
        self.plan: list[int] = []
        self.hang = False
        self.arrived = 0  # requests that reached the handler (held ones too)
        self.url = ""
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._released: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, name="webhook-receiver", daemon=True)

    def start(self) -> WebhookReceiver:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the webhook receiver did not start")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.run_forever()

    async def _serve(self) -> None:
        self._released = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        assert self._released is not None
        with self._lock:
            self.arrived += 1
        if self.hang:
            await self._released.wait()
        with self._lock:
            status = self.plan.pop(0) if self.plan else 200
            hit = Hit(request.path, body, status, time.monotonic())
            self.requests.append(hit)
            if status == 200:
                self.received.append(hit)
        return web.json_response({"ok": status == 200}, status=status)

    def release(self) -> None:
        """Answer every request held so far (``hang`` decides about the next ones)."""

        async def swap() -> None:
            assert self._released is not None
            self._released.set()
            self._released = asyncio.Event()

        asyncio.run_coroutine_threadsafe(swap(), self._loop).result(5)

    @property
    def held(self) -> int:
        with self._lock:
            return self.arrived - len(self.requests)

    def bodies(self, path: str | None = None) -> list[Any]:
        with self._lock:
            return [h.body for h in self.received if path is None or h.path == path]

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._released is not None and self._runner is not None
            self._released.set()
            await self._runner.cleanup()

        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
