"""The simulated exchange on its own event-loop thread, for ``run.py sim`` and tests.

:class:`SimulatedExchange` starts the server on a free (or given) port and stops it
promptly: a stop sets the server's stop flag (long ticks end at their next step), closes
WebSockets without waiting long for peers, and gives in-flight requests (a held
``timeout_after_accept`` response, say) at most :data:`SHUTDOWN_TIMEOUT_S` to finish.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

from exchange.simulator.config import SimulatorConfig
from exchange.simulator.engine import Engine
from exchange.simulator.faults import FaultBook
from exchange.simulator.server import SimServer

#: the longest in-flight requests may hold a stop up
SHUTDOWN_TIMEOUT_S = 0.25


class SimulatedExchange:
    """The simulator on its own event-loop thread. Use as a context manager or start/stop."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.server = SimServer(self.config)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.port = 0

    @property
    def engine(self) -> Engine:
        return self.server.engine

    @property
    def faults(self) -> FaultBook:
        return self.server.faults

    @property
    def rest_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_api_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/ws-api/v3"

    @property
    def streams_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}"

    def info(self) -> dict[str, str]:
        """The JSON line ``run.py sim`` prints: URLs and the demo account's local credentials."""
        return {
            "rest": self.rest_url,
            "ws_api": self.ws_api_url,
            "streams": self.streams_url,
            "api_key": self.config.api_key,
            "api_secret": self.config.api_secret.get_secret_value(),
        }

    def start(self, timeout: float = 10.0) -> SimulatedExchange:
        self._thread = threading.Thread(target=self._run, name="sim-exchange", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("simulated exchange did not start in time")
        if self._error is not None:
            raise RuntimeError(f"simulated exchange failed to start: {self._error}")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        runner = web.AppRunner(
            self.server.app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, reuse_address=True)
        await site.start()
        self.port = int(runner.addresses[0][1])
        self._stopped = asyncio.Event()
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            await runner.cleanup()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait (up to ``timeout`` s) for the loop thread to end."""
        self.server.stopping.set()  # read by long loops even while they hold the event loop
        loop = self.server.loop
        if loop is not None and self._stopped is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._stopped.set)
            except RuntimeError:  # the loop closed meanwhile
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    def call(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run ``fn`` on the simulator's loop thread and return its result."""
        loop = self.server.loop
        assert loop is not None

        async def run() -> Any:
            result = fn()
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def __enter__(self) -> SimulatedExchange:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
