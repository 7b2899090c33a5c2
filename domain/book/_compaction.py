"""Compaction of closed history: what the book still keeps of an order it has compacted
(closed, every fill booked, older than the ``journal.keep_closed`` most recent closed
orders), and which orders are due.

A compacted order leaves the ledger; what safety still needs of it stays:

* its client order id (``ids``), for ever: a caller-supplied id is an idempotency key,
  and Binance itself accepts a ``newClientOrderId`` again once the order that had it is
  filled, so only the book can refuse a reused one (the ``vgl-<tag>-`` prefix makes ids
  Vigil generates unique, not the ones a caller chooses);
* its trade ids stay in the book's ``trade_ids`` (a late duplicate fill is refused by its
  ``(symbol, trade id)``, and reconciliation still finds every trade above its marks);
* how many fills it had, per (symbol, side) and per UTC day (the status and the day's
  summary count them).

Balances, positions, P&L and the day's marks are not touched: they are running totals
already. Which orders are compacted is journaled (a ``compact`` entry, applied by the
broker and by a replay alike), so a restored book equals a replayed one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from domain.book._ledger import BookOrder


@dataclass
class Compacted:
    """What the book keeps of its compacted orders."""

    ids: set[str] = field(default_factory=set)  # their client order ids
    fills: dict[tuple[str, str], int] = field(default_factory=dict)  # (symbol, side) → count
    fills_by_day: dict[int, int] = field(default_factory=dict)  # UTC day start ms → count

    def count_fill(self, symbol: str, side: str, day_start_ms: int) -> None:
        key = (symbol, side)
        self.fills[key] = self.fills.get(key, 0) + 1
        self.fills_by_day[day_start_ms] = self.fills_by_day.get(day_start_ms, 0) + 1

    def forget_days_before(self, day_start_ms: int) -> None:
        for day in [d for d in self.fills_by_day if d < day_start_ms]:
            del self.fills_by_day[day]


def compactable(order: BookOrder) -> bool:
    """Closed for good: terminal, and every fill the exchange reported booked."""
    return order.state.is_terminal and order.fills_booked


def due(closed: Iterable[str], orders: Mapping[str, BookOrder], keep_closed: int) -> list[str]:
    """The closed orders to compact, oldest first: every compactable one but the
    ``keep_closed`` most recently closed (``closed`` lists them in the order they closed)."""
    ids = list(closed)
    older = ids[: max(len(ids) - keep_closed, 0)]
    return [cid for cid in older if cid in orders and compactable(orders[cid])]
