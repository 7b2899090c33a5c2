"""The offset between our clock and the exchange's, for signed request timestamps."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["ServerClock"]


class ServerClock:
    """``now_ms()`` is local wall time corrected by the last measured server offset.

    ``measure(fetch)`` calls ``fetch()`` (the server's time in ms) and takes the offset against
    the midpoint of the round trip. Thread-safe.
    """

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self._offset_ms = 0
        self._measured = False

    @property
    def offset_ms(self) -> int:
        with self._lock:
            return self._offset_ms

    @property
    def measured(self) -> bool:
        with self._lock:
            return self._measured

    def measure(self, fetch: Callable[[], int]) -> int:
        before = self._wall()
        server_ms = fetch()
        after = self._wall()
        offset = int(server_ms - (before + after) * 500)
        with self._lock:
            self._offset_ms, self._measured = offset, True
        return offset

    def now_ms(self) -> int:
        return int(self._wall() * 1000) + self.offset_ms
