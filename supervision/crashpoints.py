"""Crash points for the kill -9 tests: ``VIGIL_CRASH_AT=name[,name]`` makes the process
SIGKILL itself when it reaches that point. Unset (always, outside those tests), a crash
point costs one dictionary lookup.

Points: ``after_intent_journaled`` (the intent is durable, the order not yet sent),
``after_send`` (the exchange accepted the order, its acknowledgment not yet processed),
``partial_fill`` (a partial fill was just booked), ``during_reconciliation`` (the exchange
was read, the comparison not yet made).
"""

from __future__ import annotations

import os
import signal

_ARMED = frozenset(p for p in os.environ.get("VIGIL_CRASH_AT", "").split(",") if p)


def crash_point(name: str) -> None:
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
