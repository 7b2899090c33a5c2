"""YELLOW: its causes and their cool-down (``YellowCoolDown``), what trading it still
allows (``YellowLimits``, ``yellow_refusal``), and the board the breaker publishes for
the order path and the status (``BreakerBoard``).

YELLOW clears when no YELLOW cause has been seen for ``cool_down_s``; RED is latched
elsewhere (the gate) and nothing here clears it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace


@dataclass
class YellowCoolDown:
    """YELLOW's causes and when each was last seen; YELLOW may clear once none has been
    seen for ``cool_down_s``. RED is not this class's business: nothing here clears it."""

    cool_down_s: float
    last_seen: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def note(self, cause: str, reason: str, now_ms: int) -> None:
        self.last_seen[cause] = now_ms
        self.reasons[cause] = reason

    def active(self, now_ms: int) -> dict[str, str]:
        """Causes seen within the cool-down (the others are forgotten)."""
        limit = int(self.cool_down_s * 1000)
        for cause in [c for c, at in self.last_seen.items() if now_ms - at >= limit]:
            del self.last_seen[cause]
            self.reasons.pop(cause, None)
        return dict(self.reasons)

    def may_clear(self, now_ms: int) -> bool:
        return not self.active(now_ms)


# --- what YELLOW allows ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class YellowLimits:
    """Trading under YELLOW: a lower order rate, only orders that reduce exposure (if
    ``reduce_only``), and no new orders at all while a cause in ``pause_on`` is active."""

    max_orders_per_minute: int = 6
    reduce_only: bool = True
    pause_on: frozenset[str] = frozenset({"market_data", "operator_heartbeat"})


def yellow_refusal(
    limits: YellowLimits,
    causes: Iterable[str],
    *,
    reduces_exposure: bool,
    orders_last_minute: int,
) -> str | None:
    """Why YELLOW refuses this order, or None when it may go. Call only while YELLOW.

    ``orders_last_minute`` counts the orders already sent in the last 60 s (not this one).
    """
    active = sorted(causes)
    paused = [c for c in active if c in limits.pause_on]
    if paused:
        return f"YELLOW: trading paused ({', '.join(paused)})"
    if limits.reduce_only and not reduces_exposure:
        return "YELLOW: only orders that reduce exposure"
    if orders_last_minute >= limits.max_orders_per_minute:
        return (
            f"YELLOW: {orders_last_minute} orders in the last minute, "
            f"limit {limits.max_orders_per_minute}"
        )
    return None


@dataclass(frozen=True, slots=True)
class BreakerBoard:
    """What the breaker publishes for the order path and the status: the active YELLOW
    causes and the rules firing now. Replaced whole (never mutated) on every change."""

    causes: tuple[str, ...] = ()
    firing: tuple[str, ...] = ()
    limits: YellowLimits = YellowLimits()

    def with_causes(self, causes: Iterable[str], firing: Iterable[str]) -> BreakerBoard:
        return replace(self, causes=tuple(sorted(causes)), firing=tuple(sorted(firing)))
