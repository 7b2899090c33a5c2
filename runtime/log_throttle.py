"""Repeated identical log lines, throttled: the first is written, the same line again
within ``every_s`` is only counted, and the count is written once the interval has passed
("… (and 37 more like it in the last 10 s)"), so an outage does not print five lines a
second while the first of them still says what happened."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class LogThrottle:
    """A loguru ``filter``: call it with the record; True lets the line through. Lines are
    the same when their level and message are."""

    def __init__(
        self, every_s: float = 10.0, clock: Callable[[], float] = time.monotonic, size: int = 512
    ) -> None:
        self.every_s = every_s
        self._clock = clock
        self._size = size
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # → (written at, held back)

    def __call__(self, record: Any) -> bool:
        key = (record["level"].name, record["message"])
        now = self._clock()
        with self._lock:
            written, held = self._seen.get(key, (None, 0))
            if written is not None and now - written < self.every_s:
                self._seen[key] = (written, held + 1)
                return False
            if len(self._seen) >= self._size:  # bounded: forget the oldest lines
                oldest = min(self._seen, key=lambda k: self._seen[k][0])
                del self._seen[oldest]
            self._seen[key] = (now, 0)
        if held:
            record["message"] += f" (and {held} more like it in the last {now - written:.0f} s)"  # type: ignore[operator]
        return True
