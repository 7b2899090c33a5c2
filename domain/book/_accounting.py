"""Accounting: each fill changes balances and positions once, whichever path brought it.

Executions are deduplicated by ``(symbol, trade_id)`` (compacted ones included); a fill of
an order the book does not know yet is kept apart and claimed once the order's exchange id
is known; each fill accounted is handed over once (``take_accounted``) for the owner's
evidence; fill counts, and balance changes the exchange tells (balanceUpdate).

``Accounting`` is a part of ``Book`` (``domain.book._book``), which holds the state it
works on; the records are ``domain.book._ledger``, the positions ``domain.book._portfolio``.
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from domain.book._compaction import Compacted
from domain.book._ledger import Accounted, BookOrder, Execution, Market
from domain.book._portfolio import Position, fee_in_quote


class Accounting:
    """The fill accounting of ``Book`` (the state below is the book's)."""

    markets: dict[str, Market]
    executions: dict[tuple[str, int], Execution]
    foreign_executions: dict[tuple[str, int], Execution]
    totals: dict[str, Decimal]
    positions: dict[str, Position]
    prices: dict[str, Decimal]
    duplicates: int
    trade_ids: dict[str, list[int]]
    compacted: Compacted
    accounted: list[Accounted] | None

    if TYPE_CHECKING:  # the book's own

        def _emit(self, kind: str, payload: Any) -> None: ...
        def find(
            self, symbol: str, client_order_id: str | None, order_id: int | None
        ) -> BookOrder | None: ...

    def apply_execution(self, execution: Execution) -> bool:
        """Account one fill, once. Returns False for a duplicate; a fill of an order the book
        does not know is kept apart (``foreign_executions``) and changes no balance."""
        key = (execution.symbol, execution.trade_id)
        if key in self.executions or key in self.foreign_executions or self._compacted_trade(key):
            self.duplicates += 1
            return False
        order = self.find(execution.symbol, execution.client_order_id, execution.order_id)
        if order is None:
            self.foreign_executions[key] = execution
            return True
        self._account(execution, order)
        return True

    def take_accounted(self) -> list[Accounted]:
        """The fills accounted since the last call, by whichever path (a fill applied, or
        fills claimed once an order's exchange id became known); collecting starts here."""
        taken = self.accounted or []
        self.accounted = []
        return taken

    def claim_foreign(self, order: BookOrder) -> None:
        """Fills seen before the order's exchange id was known (a REST trade can overtake the
        acknowledgment) were kept apart; now that the id is known they are ours."""
        claimed = [
            key
            for key, ex in self.foreign_executions.items()
            if ex.symbol == order.symbol and ex.order_id == order.order_id
        ]
        for key in claimed:
            execution = self.foreign_executions.pop(key)
            self._account(execution, order)

    def trades_above(self, marks: dict[str, int]) -> frozenset[tuple[str, int]]:
        """The (symbol, trade id) of accounted executions above each symbol's mark."""
        return frozenset(
            (symbol, trade_id)
            for symbol, ids in self.trade_ids.items()
            for trade_id in ids[bisect.bisect_right(ids, marks.get(symbol, 0)) :]
        )

    def _compacted_trade(self, key: tuple[str, int]) -> bool:
        """An accounted trade whose record was compacted away (its id is still in
        ``trade_ids``, which holds every accounted trade)."""
        ids = self.trade_ids.get(key[0])
        if not ids or key[1] > ids[-1]:
            return False
        i = bisect.bisect_left(ids, key[1])
        return i < len(ids) and ids[i] == key[1]

    def _account(self, execution: Execution, order: BookOrder) -> None:
        market = self.markets[execution.symbol]
        fee_quote = execution.fee_quote
        if fee_quote is None:
            fee_quote = fee_in_quote(market, execution, self.prices)
            execution = replace(execution, fee_quote=fee_quote)
        self.executions[(execution.symbol, execution.trade_id)] = execution
        ids = self.trade_ids.setdefault(execution.symbol, [])
        if ids and execution.trade_id < ids[-1]:
            bisect.insort(ids, execution.trade_id)
        else:
            ids.append(execution.trade_id)
        notional = execution.price * execution.qty
        sign = Decimal(1) if execution.side == "BUY" else Decimal(-1)
        self.totals[market.base] += sign * execution.qty
        self.totals[market.quote] -= sign * notional
        if execution.commission_asset:
            self.totals[execution.commission_asset] -= execution.commission
        pos = self.positions.setdefault(market.symbol, Position(market.symbol))
        realized, closed = pos.apply_fill(market, execution, notional, fee_quote)
        order.booked_qty += execution.qty
        order.booked_quote += notional
        if self.accounted is not None:
            self.accounted.append(Accounted(execution, realized, closed))
        self._emit("fill", execution)

    def fill_counts(self) -> dict[tuple[str, str], int]:
        """Fills accounted per (symbol, side), compacted ones included."""
        counts = dict(self.compacted.fills)
        for ex in self.executions.values():
            key = (ex.symbol, ex.side)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def fills_since(self, day_start_ms: int) -> int:
        """Fills accounted with a time at or after ``day_start_ms`` (a UTC day's start),
        compacted ones included."""
        # copies first: another thread may ask (the day's summary) while the owner books
        kept = sum(1 for e in list(self.executions.values()) if e.time_ms >= day_start_ms)
        days = list(self.compacted.fills_by_day.items())
        return kept + sum(n for day, n in days if day >= day_start_ms)

    def apply_external(self, asset: str, delta: Decimal) -> None:
        """A deposit, withdrawal or transfer the exchange told us about (balanceUpdate)."""
        self.totals[asset] += delta
        self._emit("external", (asset, delta))
