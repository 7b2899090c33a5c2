"""Crash points for the kill -9 tests: ``VIGIL_CRASH_AT=name[,name]`` makes the process
SIGKILL itself when it reaches that point. Unset (always, outside those tests), a crash
point costs one dictionary lookup.

``name:N`` crashes on the N-th time the point is reached. Points:
``after_intent_journaled`` (the intent is durable, the order not yet sent),
``after_send`` (the exchange accepted the order, its acknowledgment not yet processed),
``after_list_journaled`` (an order list is durable, not yet sent), ``after_list_send``
(the exchange accepted an order list, its answer not yet processed),
``after_replace_send`` (the exchange answered a cancel-replace, the answer not yet
processed), ``partial_fill`` (a partial fill was just booked), ``during_reconciliation``
(the exchange was read, the comparison not yet made), ``checkpoint_write`` (the journal's
flusher is about to commit a batch holding a checkpoint: none of it is on disk).
"""

from __future__ import annotations

import os
import signal
import threading


def _armed() -> dict[str, int]:
    points: dict[str, int] = {}
    for item in os.environ.get("VIGIL_CRASH_AT", "").split(","):
        if item:
            name, _, nth = item.partition(":")
            points[name] = int(nth or 1)
    return points


_ARMED = _armed()
_SEEN: dict[str, int] = {}
_LOCK = threading.Lock()


def crash_point(name: str) -> None:
    if name not in _ARMED:
        return
    with _LOCK:
        _SEEN[name] = _SEEN.get(name, 0) + 1
        if _SEEN[name] >= _ARMED[name]:
            os.kill(os.getpid(), signal.SIGKILL)
