"""The two clocks, in milliseconds: wall time (``now_ms``) for what is recorded and shown
(order times, the durable latch, audit and status), and the monotonic clock (``mono_ms``)
for every duration a safety decision rests on (silences, windows, how old evidence is,
how long an order has been unknown): a step of the wall clock (NTP, an operator) must
neither trip nor hide anything."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)


def mono_ms() -> int:
    return time.monotonic_ns() // 1_000_000
