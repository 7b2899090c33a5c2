"""An aiohttp application served on a thread of its own, with its own event loop, beside the
actors: the control API and the strategy gateway each run one.

``start()`` returns once the socket listens (port 0 becomes the port the OS chose) or fails
within 10 s; ``stop()`` ends the loop and joins the thread within a bound, running the
owner's ``before_cleanup`` (end event streams, close WebSockets) before aiohttp's own.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


class AppThread:
    """``app`` served at ``host:port`` on the thread ``name``; ``what`` names it in errors."""

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        name: str,
        what: str,
        ssl_context: ssl.SSLContext | None = None,
        before_cleanup: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.app = app
        self.host, self.port = host, port
        self._name, self._what = name, what
        self._ssl = ssl_context
        self._before_cleanup = before_cleanup
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"AppThread({self._name!r}, {self.host}:{self.port})"

    def start(self) -> int:
        """Serve; the port it listens on (RuntimeError if it did not start in time)."""
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve()), name=self._name, daemon=True
        )
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"the {self._what} did not start")
        return self.port

    async def _serve(self) -> None:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=self._ssl)
        await site.start()
        self.port = int(runner.addresses[0][1])
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            if self._before_cleanup is not None:
                await self._before_cleanup()
            await runner.cleanup()

    @property
    def stopping(self) -> bool:
        """Not serving (yet, or any more): long-lived handlers end when this turns True."""
        return self._stopped is None or self._stopped.is_set()

    def stop(self) -> None:
        """End the loop (the listening socket closed, open requests given aiohttp's own
        shutdown timeout) and join the thread, waiting ``STOP_TIMEOUT_S`` at most."""
        if self._loop is not None and self._stopped is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
