"""A small publish/subscribe bus for what a person watches live (``GET /v1/events``): order
updates and fills as the broker books them, breaker changes as the gate makes them.

Thread-safe. A publisher never blocks and never fails: each subscriber has a bounded queue,
and a subscriber that falls behind loses its oldest events (counted in ``dropped``), never
slowing the broker or the gate. A subscriber may give a ``wake`` callback (e.g. an asyncio
loop's ``call_soon_threadsafe``), called after each event is queued, outside every lock.
Nothing here is durable: the journal and the audit trail are the record; this is a view.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from loguru import logger

from domain.breaker import BreakerState

DEFAULT_QUEUE = 1000  # events a subscriber may be behind before it loses the oldest


@dataclass(frozen=True, slots=True)
class UiEvent:
    kind: str  # "order", "fill", "breaker", ...
    data: Mapping[str, Any]


class Subscription:
    """One subscriber's bounded queue; ``close()`` (or ``EventBus.unsubscribe``) ends it."""

    def __init__(
        self, bus: EventBus, maxsize: int, wake: Callable[[], object] | None = None
    ) -> None:
        self._bus = bus
        self._queue: deque[UiEvent] = deque(maxlen=maxsize)
        self._cond = threading.Condition(threading.Lock())
        self._wake = wake
        self.dropped = 0  # events lost because this subscriber was behind
        self.closed = False

    def put(self, event: UiEvent) -> None:
        """Queue ``event``, dropping the oldest when full; never blocks, never raises."""
        with self._cond:
            if self.closed:
                return
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1  # the deque drops the oldest itself
            self._queue.append(event)
            self._cond.notify()
        if self._wake is not None:
            try:
                self._wake()
            except Exception as exc:  # a closed event loop: the subscriber is going away
                logger.debug("event subscriber wake failed: {}", exc)

    def drain(self) -> list[UiEvent]:
        """Everything queued, oldest first, without waiting."""
        with self._cond:
            out = list(self._queue)
            self._queue.clear()
            return out

    def get(self, timeout: float) -> UiEvent | None:
        """The oldest queued event, waiting up to ``timeout`` seconds (None: none came)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._queue or self.closed, timeout):
                return None
            return self._queue.popleft() if self._queue else None

    def close(self) -> None:
        self._bus.unsubscribe(self)
        with self._cond:
            self.closed = True
            self._queue.clear()
            self._cond.notify_all()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class EventBus:
    def __init__(self, maxsize: int = DEFAULT_QUEUE) -> None:
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._subscribers: tuple[Subscription, ...] = ()  # replaced whole: read without lock

    def __repr__(self) -> str:
        return f"EventBus(subscribers={len(self._subscribers)})"

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(
        self, wake: Callable[[], object] | None = None, maxsize: int | None = None
    ) -> Subscription:
        sub = Subscription(self, maxsize or self.maxsize, wake)
        with self._lock:
            self._subscribers = (*self._subscribers, sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not sub)

    def publish(self, kind: str, data: Mapping[str, Any]) -> None:
        """Hand ``data`` (plain JSON-able values; amounts as strings) to every subscriber.
        Costs next to nothing with none; never blocks on a slow one."""
        subscribers = self._subscribers
        if not subscribers:
            return
        event = UiEvent(kind, data)
        for sub in subscribers:
            sub.put(event)


def breaker_event(state: BreakerState) -> dict[str, Any]:
    """A breaker state as the live view sends it."""
    return {
        "level": state.level.value,
        "reason": state.reason,
        "source": state.source,
        "since_ms": state.since_ms,
    }
