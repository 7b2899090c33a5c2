"""Trading permission as pure state: GREEN / YELLOW / RED and the RED latch.

RED is latched: nothing but an operator reset, with a reason and a fresh HEALTHY
reconciliation, leaves it. YELLOW may clear by itself when its cause is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Level(StrEnum):
    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"


class ResetRefused(Exception):
    """An operator reset that the rules do not allow (not RED, no reason, no fresh HEALTHY)."""


@dataclass(frozen=True, slots=True)
class BreakerState:
    level: Level = Level.GREEN
    reason: str = ""
    source: str = ""
    since_ms: int = 0

    @property
    def is_red(self) -> bool:
        return self.level is Level.RED


def trip_red(state: BreakerState, reason: str, source: str, now_ms: int) -> BreakerState:
    """RED with this reason; an already RED state keeps its first reason (the root cause)."""
    if state.is_red:
        return state
    return BreakerState(Level.RED, reason, source, now_ms)


def set_yellow(state: BreakerState, reason: str, source: str, now_ms: int) -> BreakerState:
    if state.level is not Level.GREEN:
        return state
    return BreakerState(Level.YELLOW, reason, source, now_ms)


def clear_yellow(state: BreakerState, now_ms: int) -> BreakerState:
    if state.level is not Level.YELLOW:
        return state
    return BreakerState(Level.GREEN, "", "", now_ms)


def reset_red(
    state: BreakerState,
    *,
    reason: str,
    operator: str,
    healthy_reconciliation_ms: int | None,
    now_ms: int,
    max_age_ms: int,
) -> BreakerState:
    """The only way out of RED: an operator, a reason, and a HEALTHY reconciliation that
    finished after RED was tripped and no longer ago than ``max_age_ms``."""
    if not state.is_red:
        raise ResetRefused(f"breaker is {state.level}, not RED")
    if not reason.strip():
        raise ResetRefused("a reset needs a reason")
    if healthy_reconciliation_ms is None:
        raise ResetRefused("no HEALTHY reconciliation yet")
    if healthy_reconciliation_ms <= state.since_ms:
        raise ResetRefused("no HEALTHY reconciliation since RED was tripped")
    if now_ms - healthy_reconciliation_ms > max_age_ms:
        raise ResetRefused("the last HEALTHY reconciliation is too old")
    return replace(
        state, level=Level.GREEN, reason=f"reset by {operator}: {reason}", since_ms=now_ms
    )
