"""The same log line again within the interval is counted, not written."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from runtime.log_throttle import LogThrottle


def record(message: str, level: str = "WARNING") -> dict[str, Any]:
    return {"level": SimpleNamespace(name=level), "message": message}


def test_a_repeated_line_is_written_once_then_with_its_count_after_the_interval() -> None:
    now = [0.0]
    throttle = LogThrottle(every_s=10, clock=lambda: now[0])
    assert throttle(record("rest GET /api/v3/ping failed: 503"))
    for step in range(1, 50):  # five a second for ten seconds
        now[0] = step * 0.2
        assert not throttle(record("rest GET /api/v3/ping failed: 503"))
    now[0] = 10.0
    later = record("rest GET /api/v3/ping failed: 503")
    assert throttle(later)
    assert later["message"].endswith("(and 49 more like it in the last 10 s)")


def test_different_lines_and_levels_are_not_held_back() -> None:
    throttle = LogThrottle(every_s=10, clock=lambda: 0.0)
    assert throttle(record("a")) and throttle(record("b")) and throttle(record("a", "ERROR"))
