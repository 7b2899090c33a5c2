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

from domain.book._ledger import BookOrder, Execution
from domain.book._portfolio import DAY_MS


@dataclass
class Compacted:
    """What the book keeps of its compacted orders. Their ids and trade ids are also kept
    as the text a checkpoint writes, one chunk per compaction (ids never hold a comma:
    Binance allows ``^[.A-Z:/a-z0-9_-]{1,36}$``), so writing a checkpoint costs a copy of
    that text, not an encoding of every id again."""

    ids: set[str] = field(default_factory=set)  # their client order ids
    id_chunks: list[str] = field(default_factory=list, compare=False)  # the same, as text
    # their trade ids per symbol, as text chunks ("1,2,3"; every one is also in the book's
    # ``trade_ids``, which holds every accounted trade, for lookups)
    trade_chunks: dict[str, list[str]] = field(default_factory=dict)
    fills: dict[tuple[str, str], int] = field(default_factory=dict)  # (symbol, side) → count
    fills_by_day: dict[int, int] = field(default_factory=dict)  # UTC day start ms → count

    def add(self, client_order_ids: list[str], executions: list[Execution]) -> None:
        """One compaction: these orders, with these fills of theirs."""
        if client_order_ids:
            self.ids.update(client_order_ids)
            self.id_chunks.append(",".join(client_order_ids))
        trades: dict[str, list[str]] = {}
        for ex in executions:
            trades.setdefault(ex.symbol, []).append(str(ex.trade_id))
            key = (ex.symbol, ex.side)
            self.fills[key] = self.fills.get(key, 0) + 1
            day = ex.time_ms - ex.time_ms % DAY_MS
            self.fills_by_day[day] = self.fills_by_day.get(day, 0) + 1
        for symbol, ids in trades.items():
            self.trade_chunks.setdefault(symbol, []).append(",".join(ids))

    def trade_ids(self) -> dict[str, list[int]]:
        """The compacted orders' trade ids per symbol (from their text)."""
        return {
            symbol: [int(t) for chunk in chunks for t in chunk.split(",") if t]
            for symbol, chunks in self.trade_chunks.items()
        }

    def forget_days_before(self, day_start_ms: int) -> None:
        for day in [d for d in self.fills_by_day if d < day_start_ms]:
            del self.fills_by_day[day]

    @classmethod
    def from_text(
        cls,
        id_chunks: list[str],
        trade_chunks: dict[str, list[str]],
        fills: dict[tuple[str, str], int],
        fills_by_day: dict[int, int],
    ) -> Compacted:
        ids = {cid for chunk in id_chunks for cid in chunk.split(",") if cid}
        return cls(ids, list(id_chunks), trade_chunks, fills, fills_by_day)


def compactable(order: BookOrder) -> bool:
    """Closed for good: terminal, and every fill the exchange reported booked."""
    return order.state.is_terminal and order.fills_booked


def due(closed: Iterable[str], orders: Mapping[str, BookOrder], keep_closed: int) -> list[str]:
    """The closed orders to compact, oldest first: every compactable one but the
    ``keep_closed`` most recently closed (``closed`` lists them in the order they closed)."""
    ids = list(closed)
    older = ids[: max(len(ids) - keep_closed, 0)]
    return [cid for cid in older if cid in orders and compactable(orders[cid])]
