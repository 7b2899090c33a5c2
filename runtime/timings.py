"""Latency histograms the order path and the reconciler record into, and the metrics
exposition reads (``control.metrics``): cumulative bucket counts and a sum, in seconds,
thread-safe (the broker, the wire thread and the reconciler's worker observe; the control
API's thread reads). No Prometheus import here: the exposition turns a snapshot into its
format."""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

# seconds: from a sub-millisecond hand-over to a slow exchange or a long reconciliation
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


@dataclass(frozen=True)
class HistogramSnapshot:
    """Cumulative counts per upper bound (the last is +Inf), the sum and the count."""

    buckets: tuple[tuple[float, int], ...]
    sum: float
    count: int


class Histogram:
    """Observations in seconds, counted into fixed buckets (``le``: at most the bound)."""

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        if list(bounds) != sorted(set(bounds)):
            raise ValueError("bucket bounds must be increasing")
        self.bounds = bounds
        self._counts = [0] * (len(bounds) + 1)  # the last one: above every bound (+Inf)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        seconds = max(0.0, seconds)  # two clocks can disagree by a hair: never negative
        index = bisect.bisect_left(self.bounds, seconds)
        with self._lock:
            self._counts[index] += 1
            self._sum += seconds

    def snapshot(self) -> HistogramSnapshot:
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), counts, strict=True):
            running += count
            cumulative.append((bound, running))
        return HistogramSnapshot(tuple(cumulative), total, running)


@dataclass(frozen=True)
class Timings:
    """The process's latency histograms, one set for the life of the process (handed to
    the actors in ``runtime.actor.Services``, so a restarted actor keeps adding to them)."""

    # the broker took the intent in → the wire begins its send (admission, write-ahead,
    # the wire's queue)
    intent_to_wire: Histogram = field(default_factory=Histogram)
    # the wire begins the send → the exchange's acknowledgment is back
    place_to_ack: Histogram = field(default_factory=Histogram)
    # one reconciliation cycle, start to result (FAILED cycles too)
    reconciliation_cycle: Histogram = field(default_factory=Histogram)
