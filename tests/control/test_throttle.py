"""``control.throttle.AuthThrottle`` with a hand-driven clock: 5 failed authentications from
one address within 60 s block it for 60 s; other addresses are not touched; the block ends
and the address starts again from zero; memory stays bounded."""

from __future__ import annotations

import pytest

from control.throttle import AuthThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def throttle(clock: Clock, **kw: float) -> AuthThrottle:
    return AuthThrottle(clock=clock, **kw)  # type: ignore[arg-type]


def test_the_fifth_failure_within_a_minute_starts_a_block_of_a_minute(clock: Clock) -> None:
    t = throttle(clock)
    for _ in range(4):
        assert t.failed("10.0.0.1") is False
        assert t.retry_after("10.0.0.1") == 0
        clock.now += 10
    assert t.failed("10.0.0.1") is True  # 5 within 40 s
    assert t.retry_after("10.0.0.1") == 60
    assert t.retry_after_header("10.0.0.1") == "60"
    clock.now += 59.5
    assert t.retry_after("10.0.0.1") == pytest.approx(0.5)
    assert t.retry_after_header("10.0.0.1") == "1"  # rounded up, never 0 while blocked
    clock.now += 0.5
    assert t.retry_after("10.0.0.1") == 0  # the block is over


def test_failures_spread_over_more_than_the_window_never_block(clock: Clock) -> None:
    t = throttle(clock)
    for _ in range(50):
        assert t.failed("10.0.0.1") is False
        clock.now += 15  # 4 in any 60 s
    assert t.retry_after("10.0.0.1") == 0


def test_one_address_blocked_leaves_the_others_alone(clock: Clock) -> None:
    t = throttle(clock)
    for _ in range(5):
        t.failed("10.0.0.1")
    assert t.retry_after("10.0.0.1") > 0
    assert t.retry_after("10.0.0.2") == 0
    assert t.failed("10.0.0.2") is False


def test_failures_while_blocked_neither_restart_nor_extend_the_block(clock: Clock) -> None:
    t = throttle(clock)
    for _ in range(5):
        t.failed("a")
    clock.now += 30
    assert t.failed("a") is False  # not a new start (it is not audited twice)
    assert t.retry_after("a") == 30


def test_after_a_block_the_address_starts_from_zero(clock: Clock) -> None:
    t = throttle(clock)
    for _ in range(5):
        t.failed("a")
    clock.now += 60
    assert t.retry_after("a") == 0
    assert [t.failed("a") for _ in range(5)] == [False, False, False, False, True]


def test_limits_are_configurable(clock: Clock) -> None:
    t = throttle(clock, max_failures=2, window_s=5, block_s=7)
    assert t.failed("a") is False
    clock.now += 5  # the first failure left the window
    assert t.failed("a") is False
    assert t.failed("a") is True
    assert t.retry_after("a") == 7


@pytest.mark.parametrize("bad", [{"max_failures": 0}, {"window_s": 0}, {"block_s": -1}])
def test_nonsense_limits_are_refused(clock: Clock, bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        throttle(clock, **bad)


def test_memory_is_bounded_by_the_number_of_addresses(clock: Clock) -> None:
    t = AuthThrottle(clock=clock, max_addresses=100)
    for i in range(1000):
        t.failed(f"10.0.{i // 256}.{i % 256}")
        for _ in range(5):
            t.failed(f"blocked-{i}")
    assert len(t._failures) <= 100 and len(t._blocked_until) <= 100
    assert t.retry_after("blocked-999") > 0  # the newest are kept
