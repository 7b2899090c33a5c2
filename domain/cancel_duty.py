"""Cancel-on-RED as a standing duty: while RED, every order of ours that the exchange has
confirmed open (NEW or PARTIALLY_FILLED) is to be cancelled — and cancelled again, with
back-off, until the exchange reports it gone (CANCELED, FILLED, EXPIRED...) — whenever it
was acknowledged, whatever happened to an earlier attempt.

An order whose state is not confirmed (in flight, UNKNOWN) is never a target: it is
resolved by query first. Pure: the caller passes the time (monotonic ms) and sends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from domain.book import BookOrder, OrderState

CONFIRMED_OPEN = frozenset({OrderState.NEW, OrderState.PARTIALLY_FILLED})


@dataclass
class CancelDuty:
    """Which orders to cancel now: each target's first attempt at once, then again after
    ``first_retry_ms``, doubling up to ``max_retry_ms`` between attempts."""

    first_retry_ms: int = 2_000
    max_retry_ms: int = 15_000
    attempts: dict[str, tuple[int, int]] = field(default_factory=dict)  # cid → (n, next at)

    def due(self, orders: Iterable[BookOrder], now_ms: int) -> list[tuple[BookOrder, int]]:
        """The orders to cancel now, each with its attempt number (1 for the first)."""
        targets = {o.client_order_id: o for o in orders if o.state in CONFIRMED_OPEN}
        for cid in [c for c in self.attempts if c not in targets]:
            del self.attempts[cid]  # gone from the exchange: the duty is done
        due = []
        for cid, order in targets.items():
            made, next_at = self.attempts.get(cid, (0, now_ms))
            if now_ms < next_at:
                continue
            wait = min(self.first_retry_ms * 2**made, self.max_retry_ms)
            self.attempts[cid] = (made + 1, now_ms + wait)
            due.append((order, made + 1))
        return due

    def clear(self) -> None:
        """RED was reset: no duty."""
        self.attempts.clear()
