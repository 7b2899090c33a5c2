"""The timers: reconciliation and REST polls at their intervals, and who watches the
watchers — the timer thread checks the supervisor's monitor, and the main thread
(``run.py``, through ``VigilSystem.watch``) checks both; a dead one is RED and is started
again."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from config.settings import VigilSettings
from runtime.clock import now_ms
from runtime.directory import Directory
from runtime.gate import TradingGate
from runtime.messages import PollNow, ReconcileNow
from storage import Store, StoreError
from supervision.supervisor import Supervisor

TICK_S = 0.05
ALIVE_EVERY_S = 5.0  # the run record's last sign of life (an unclean stop happened after it)


class Timers:
    def __init__(
        self,
        settings: VigilSettings,
        directory: Directory,
        supervisor: Supervisor,
        gate: TradingGate,
        streams: Mapping[str, str],
        store: Store,
    ) -> None:
        self._store = store
        self._settings = settings
        self._directory = directory
        self._supervisor = supervisor
        self._gate = gate
        self._streams = streams
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.watching = False  # set once the system accepts work; a stop clears it

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vigil-timers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.watching = False
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        r = self._settings.reconciliation.interval_s
        p = self._settings.poller
        next_recon = time.monotonic() + r
        next_poll = time.monotonic()
        next_alive = time.monotonic() + ALIVE_EVERY_S
        while not self._stop.wait(TICK_S):
            now = time.monotonic()
            if now >= next_alive:
                next_alive = now + ALIVE_EVERY_S
                try:
                    self._store.mark_alive(now_ms())
                except StoreError:
                    pass  # the store's own failure is reported where it is written for RED
            if now >= next_recon:
                self._directory.tell("reconciler", ReconcileNow(), sender="timer")
                next_recon = now + r
            if now >= next_poll:
                self._directory.tell("rest_poller", PollNow(), sender="timer")
                stream_up = self._streams.get("user") == "subscribed"
                next_poll = now + (p.interval_s if stream_up else p.fast_interval_s)
            self.watch_monitor()

    def watch_monitor(self) -> None:
        if not self._supervisor.monitor_alive and self.watching:
            self._gate.trip_red("the supervisor's monitor died", "main")
            self._supervisor.restart_monitor()

    def watch(self) -> None:
        """The main thread's look: the supervisor's monitor and the timer thread."""
        if not self.watching or self._stop.is_set():
            return
        self.watch_monitor()
        if self._thread is not None and not self._thread.is_alive():
            self._gate.trip_red("the timer thread died", "main")
            self.start()
