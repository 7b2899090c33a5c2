"""The live view's publish/subscribe bus (``runtime/events.py``): every subscriber gets every
event in order; a slow one loses its oldest (counted), never blocking a publisher; a wake-up
that fails does not reach the publisher; an unsubscribed one gets nothing more."""

from __future__ import annotations

import threading
import time

from domain.breaker import BreakerState, Level
from runtime.events import EventBus, breaker_event


def test_every_subscriber_gets_every_event_in_order() -> None:
    bus = EventBus()
    a, b = bus.subscribe(), bus.subscribe()
    for i in range(5):
        bus.publish("order", {"n": i})
    for sub in (a, b):
        assert [(e.kind, e.data["n"]) for e in sub.drain()] == [("order", i) for i in range(5)]
        assert sub.drain() == []
        assert sub.dropped == 0


def test_a_slow_subscriber_loses_its_oldest_and_never_blocks_the_publisher() -> None:
    bus = EventBus(maxsize=10)
    slow = bus.subscribe()  # never reads
    fast = bus.subscribe(maxsize=100_000)
    started = time.monotonic()
    for i in range(50_000):
        bus.publish("fill", {"n": i})
    assert time.monotonic() - started < 5  # bounded work per publish, no waiting
    assert [e.data["n"] for e in slow.drain()] == list(range(49_990, 50_000))
    assert slow.dropped == 49_990
    assert len(fast.drain()) == 50_000 and fast.dropped == 0


def test_a_publisher_is_not_held_by_a_subscriber_waiting_for_events() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(sub.get(timeout=5)))
    waiter.start()
    bus.publish("breaker", {"level": "RED"})
    waiter.join(5)
    assert len(got) == 1 and got[0] is not None
    assert sub.get(timeout=0.01) is None  # nothing more: a timeout, not a hang


def test_the_wake_up_is_called_per_event_and_its_failure_stays_with_the_subscriber() -> None:
    bus = EventBus()
    calls: list[int] = []

    def wake() -> None:
        calls.append(1)
        raise RuntimeError("Event loop is closed")

    sub = bus.subscribe(wake=wake)
    bus.publish("order", {})
    bus.publish("order", {})
    assert len(calls) == 2
    assert len(sub.drain()) == 2


def test_an_unsubscribed_subscriber_gets_nothing_more() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    other = bus.subscribe()
    assert bus.subscribers == 2
    sub.close()
    assert bus.subscribers == 1
    bus.publish("order", {})
    assert sub.drain() == []
    assert len(other.drain()) == 1
    with bus.subscribe() as scoped:
        assert bus.subscribers == 2
        assert scoped is not None
    assert bus.subscribers == 1


def test_a_breaker_state_as_the_stream_sends_it() -> None:
    state = BreakerState(Level.RED, "operator halt: x", "operator", 1234)
    assert breaker_event(state) == {
        "level": "RED",
        "reason": "operator halt: x",
        "source": "operator",
        "since_ms": 1234,
    }
