"""Trading permission as pure state: GREEN / YELLOW / RED, the RED latch and the reset rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from domain.breaker import (
    BreakerState,
    Level,
    ResetRefused,
    clear_yellow,
    reset_red,
    set_yellow,
    trip_red,
)

GREEN = BreakerState()
YELLOW = BreakerState(Level.YELLOW, "stream stale", "ws_listener", 100)
RED = BreakerState(Level.RED, "unknown order", "reconciler", 1_000)
MAX_AGE = 30_000


def reset(
    state: BreakerState = RED,
    *,
    reason: str = "ghost order was a manual test, cancelled",
    operator: str = "alice",
    healthy_ms: int | None = 2_000,
    now_ms: int = 5_000,
    max_age_ms: int = MAX_AGE,
) -> BreakerState:
    return reset_red(
        state,
        reason=reason,
        operator=operator,
        healthy_reconciliation_ms=healthy_ms,
        now_ms=now_ms,
        max_age_ms=max_age_ms,
    )


# --- the initial state ---------------------------------------------------------------------------


def test_the_initial_state_is_green_without_a_reason() -> None:
    assert GREEN == BreakerState(Level.GREEN, "", "", 0)
    assert not GREEN.is_red


def test_is_red_only_for_red() -> None:
    assert [s.is_red for s in (GREEN, YELLOW, RED)] == [False, False, True]


# --- transitions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("start", [GREEN, YELLOW], ids=["from-green", "from-yellow"])
def test_trip_red_sets_red_with_reason_source_and_time(start: BreakerState) -> None:
    state = trip_red(start, "actor crashed", "supervisor", 4_000)
    assert state == BreakerState(Level.RED, "actor crashed", "supervisor", 4_000)


def test_trip_red_on_red_keeps_the_first_reason() -> None:
    assert trip_red(RED, "a later symptom", "breaker", 9_000) is RED


def test_set_yellow_from_green() -> None:
    state = set_yellow(GREEN, "stream stale", "ws_listener", 100)
    assert state == BreakerState(Level.YELLOW, "stream stale", "ws_listener", 100)


def test_set_yellow_on_yellow_keeps_the_first_reason() -> None:
    assert set_yellow(YELLOW, "rate limit", "adapter", 200) is YELLOW


def test_set_yellow_never_downgrades_red() -> None:
    assert set_yellow(RED, "rate limit", "adapter", 2_000) is RED


def test_clear_yellow_returns_to_green() -> None:
    assert clear_yellow(YELLOW, 300) == BreakerState(Level.GREEN, "", "", 300)


@pytest.mark.parametrize("start", [GREEN, RED], ids=["green", "red"])
def test_clear_yellow_changes_nothing_but_yellow(start: BreakerState) -> None:
    assert clear_yellow(start, 300) is start


@pytest.mark.parametrize(
    ("start", "step", "expected"),
    [
        (GREEN, lambda s: trip_red(s, "r", "x", 1), Level.RED),
        (GREEN, lambda s: set_yellow(s, "r", "x", 1), Level.YELLOW),
        (GREEN, lambda s: clear_yellow(s, 1), Level.GREEN),
        (YELLOW, lambda s: trip_red(s, "r", "x", 1), Level.RED),
        (YELLOW, lambda s: set_yellow(s, "r", "x", 1), Level.YELLOW),
        (YELLOW, lambda s: clear_yellow(s, 1), Level.GREEN),
        (RED, lambda s: trip_red(s, "r", "x", 1), Level.RED),
        (RED, lambda s: set_yellow(s, "r", "x", 1), Level.RED),
        (RED, lambda s: clear_yellow(s, 1), Level.RED),
    ],
    ids=[
        "green-trip",
        "green-yellow",
        "green-clear",
        "yellow-trip",
        "yellow-yellow",
        "yellow-clear",
        "red-trip",
        "red-yellow",
        "red-clear",
    ],
)
def test_transition_table(
    start: BreakerState, step: Callable[[BreakerState], BreakerState], expected: Level
) -> None:
    assert step(start).level is expected


def test_red_is_latched_through_any_sequence_of_automatic_transitions() -> None:
    state = RED
    for step in range(10):
        state = clear_yellow(set_yellow(trip_red(state, f"r{step}", "x", step), "y", "x", step), 0)
    assert state is RED


def test_transitions_do_not_mutate_their_input() -> None:
    trip_red(GREEN, "r", "x", 1)
    set_yellow(GREEN, "r", "x", 1)
    clear_yellow(YELLOW, 1)
    assert GREEN == BreakerState()
    assert YELLOW == BreakerState(Level.YELLOW, "stream stale", "ws_listener", 100)


# --- reset ---------------------------------------------------------------------------------------


def test_reset_with_a_reason_and_a_fresh_healthy_reconciliation_returns_green() -> None:
    state = reset()
    assert state.level is Level.GREEN
    assert not state.is_red
    assert state.reason == "reset by alice: ghost order was a manual test, cancelled"
    assert state.since_ms == 5_000


@pytest.mark.parametrize(
    ("healthy_ms", "now_ms"),
    [
        pytest.param(1_001, 1_001, id="right-after-the-trip"),
        pytest.param(4_999, 5_000, id="just-before-now"),
        pytest.param(5_000, 5_000, id="at-now"),
        pytest.param(5_000, 5_000 + MAX_AGE, id="exactly-max-age-old"),
    ],
)
def test_reset_accepts_a_healthy_reconciliation_after_the_trip_within_max_age(
    healthy_ms: int, now_ms: int
) -> None:
    assert reset(healthy_ms=healthy_ms, now_ms=now_ms).level is Level.GREEN


@pytest.mark.parametrize(
    ("state", "kwargs", "message"),
    [
        pytest.param(GREEN, {}, "breaker is GREEN, not RED", id="green"),
        pytest.param(YELLOW, {}, "breaker is YELLOW, not RED", id="yellow"),
        pytest.param(RED, {"reason": ""}, "a reset needs a reason", id="empty-reason"),
        pytest.param(RED, {"reason": " \t\n"}, "a reset needs a reason", id="blank-reason"),
        pytest.param(
            RED, {"healthy_ms": None}, "no HEALTHY reconciliation yet", id="no-reconciliation"
        ),
        pytest.param(
            RED,
            {"healthy_ms": 999},
            "no HEALTHY reconciliation since RED was tripped",
            id="reconciliation-before-the-trip",
        ),
        pytest.param(
            RED,
            {"healthy_ms": 2_000, "now_ms": 2_000 + MAX_AGE + 1},
            "the last HEALTHY reconciliation is too old",
            id="reconciliation-too-old",
        ),
        pytest.param(
            RED,
            {"healthy_ms": 2_000, "now_ms": 2_001, "max_age_ms": 0},
            "the last HEALTHY reconciliation is too old",
            id="max-age-zero",
        ),
    ],
)
def test_reset_is_refused(state: BreakerState, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ResetRefused, match=f"^{message}$"):
        reset(state, **kwargs)  # type: ignore[arg-type]


def test_a_refused_reset_leaves_red_as_it_was() -> None:
    with pytest.raises(ResetRefused):
        reset(healthy_ms=None)
    assert RED == BreakerState(Level.RED, "unknown order", "reconciler", 1_000)


def test_the_reason_check_comes_before_the_reconciliation_check() -> None:
    with pytest.raises(ResetRefused, match="reason"):
        reset(reason="", healthy_ms=None)


def test_after_a_reset_a_new_trip_is_red_again_with_its_own_reason() -> None:
    state = trip_red(reset(), "balance drift", "reconciler", 6_000)
    assert state == BreakerState(Level.RED, "balance drift", "reconciler", 6_000)


def test_a_reconciliation_from_before_a_second_trip_does_not_reset_it() -> None:
    red_again = trip_red(reset(), "balance drift", "reconciler", 6_000)
    with pytest.raises(ResetRefused, match="since RED was tripped"):
        reset(red_again, healthy_ms=2_000, now_ms=7_000)


def test_a_reconciliation_in_the_same_millisecond_as_the_trip_is_not_after_it() -> None:
    with pytest.raises(ResetRefused):
        reset(healthy_ms=RED.since_ms, now_ms=RED.since_ms + 10)
