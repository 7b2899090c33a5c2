"""Armed faults of the simulated exchange (``POST /_sim/faults``).

A fault is a kind, its parameters, and a budget: a number of triggers (``count``), a
lifetime (``duration`` seconds), or both; whichever runs out first disarms it. Faults
that act once at arming time (ghost_order, balance_drift, ws_disconnect,
stream_terminated) are carried out by the server and never stay armed.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: every fault kind and what it does; the README documents the same table
FAULT_KINDS: dict[str, str] = {
    "timeout_after_accept": "new order accepted, response held `delay` s (default 30)",
    "lost_response": "new order accepted, then the connection is dropped with no response",
    "unknown_status": "new order maybe placed (`placed`, default true), then HTTP `status` "
    "(default 503) with `code` (default -1007)",
    "reject_orders": "new orders rejected with `code` (default -2010) and `msg`",
    "slippage": "taker fills `bps` basis points worse than the book (default 100)",
    "duplicate_events": "user data events delivered twice",
    "drop_events": "user data events never delivered",
    "delay_events": "user data events delivered `delay_ms` later (default 2000)",
    "malformed_events": "user data events carrying `field` (default `z`, an executionReport's "
    "cumulative filled quantity) delivered with it set to `value` (default `garbage`); "
    "events without the field pass untouched and spend nothing",
    "outage": "every REST call (and the WS API with scope=all) answers 503, or with "
    "mode=refuse has its connection dropped",
    "rate_limit_storm": "the next `count_429` requests (default 3) get 429 with Retry-After "
    "`retry_after` (default 1), then a 418 ban for `ban_seconds` (default 10)",
    "clock_skew": "the server clock moves by `offset_ms` (default 10000): -1021 until the "
    "client re-syncs with /api/v3/time",
    "ghost_order": "an order placed on the account by another client (symbol, side, "
    "quantity, price; defaults rest far from the market)",
    "balance_drift": "a silent balance change of `delta` on `asset` with no event",
    "ws_disconnect": "WebSocket connections cut (target user|market|all, default all)",
    "stream_terminated": "eventStreamTerminated sent and user data subscriptions ended",
}

ONE_SHOT = frozenset({"ghost_order", "balance_drift", "ws_disconnect", "stream_terminated"})


class FaultError(ValueError):
    """A fault request the simulator cannot arm (unknown kind, bad parameter)."""


@dataclass
class Fault:
    fault_id: int
    kind: str
    params: dict[str, Any]
    count: int | None
    expires_at: float | None
    armed_at: float = field(default_factory=time.monotonic)
    triggered: int = 0

    def live(self, now: float) -> bool:
        if self.count is not None and self.triggered >= self.count:
            return False
        return self.expires_at is None or now < self.expires_at

    def as_json(self) -> dict[str, Any]:
        remaining = (
            None if self.expires_at is None else max(0.0, self.expires_at - time.monotonic())
        )
        return {
            "id": self.fault_id,
            "kind": self.kind,
            "params": self.params,
            "count": self.count,
            "triggered": self.triggered,
            "seconds_left": remaining,
        }


class FaultBook:
    """The armed faults. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self.history: list[dict[str, Any]] = []

    def arm(
        self,
        kind: str,
        params: dict[str, Any] | None = None,
        count: int | None = None,
        duration: float | None = None,
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise FaultError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise FaultError("count must be a positive integer")
        if duration is not None and (not isinstance(duration, int | float) or duration <= 0):
            raise FaultError("duration must be a positive number of seconds")
        if params is not None and not isinstance(params, dict):
            raise FaultError("params must be an object")
        if count is None and duration is None and kind not in ("clock_skew", "outage"):
            count = 1
        if kind == "outage" and duration is None and count is None:
            duration = 5.0
        fault = Fault(
            fault_id=next(self._ids),
            kind=kind,
            params=dict(params or {}),
            count=count,
            expires_at=None if duration is None else time.monotonic() + duration,
        )
        with self._lock:
            if kind not in ONE_SHOT:
                self._faults.append(fault)
            self.history.append({"id": fault.fault_id, "kind": kind, "params": fault.params})
        return fault

    def take(self, kind: str) -> Fault | None:
        """The live fault of ``kind``, spending one of its triggers; None if none is armed."""
        return self.take_if(kind, lambda fault: True)

    def take_if(self, kind: str, accept: Callable[[Fault], bool]) -> Fault | None:
        """The first live fault of ``kind`` that ``accept``s, spending one of its triggers."""
        now = time.monotonic()
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and fault.live(now) and accept(fault):
                    fault.triggered += 1
                    return fault
            self._faults = [f for f in self._faults if f.live(now)]
        return None

    def peek(self, kind: str) -> Fault | None:
        """The live fault of ``kind`` without spending a trigger."""
        now = time.monotonic()
        with self._lock:
            return next((f for f in self._faults if f.kind == kind and f.live(now)), None)

    def clear(self, kind: str | None = None) -> int:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if kind is not None and f.kind != kind]
            return before - len(self._faults)

    def armed(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            return [f.as_json() for f in self._faults if f.live(now)]
