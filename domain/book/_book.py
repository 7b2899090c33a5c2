"""The book: Vigil's own record of orders, executions, balances and positions — its state,
and the orders' lifecycle (intents, the venue's order updates, local transitions), with
compaction and the portfolio's views. It composes the ledger's records, the live orders'
commitments and the portfolio, with its order lists (``_book_lists``) and its fill
accounting (``_accounting``) as parts of the same object.

Pure and single-threaded (the order broker owns one). Updates may arrive from the
WebSocket listener and the REST poller, duplicated, late or out of order:

* executions are deduplicated by ``(symbol, trade_id)``; a fill changes balances once;
* an order's cumulative quantity never goes down and a terminal state is never left;
  an impossible transition is counted and recorded in ``anomalies``, never raised;
* balances are the opening snapshot plus fills, commissions and external changes
  (balanceUpdate), so a silent change on the exchange shows up as a difference.

Money is Decimal throughout.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from domain.book._accounting import Accounting
from domain.book._book_lists import BookLists
from domain.book._commitments import Commitments
from domain.book._compaction import Compacted, compactable
from domain.book._ledger import (
    VENUE_STATES,
    ZERO,
    Accounted,
    BookOrder,
    Execution,
    Market,
    OrderState,
)
from domain.book._lists import BookOrderList
from domain.book._portfolio import (
    DAY_MS,
    DayMark,
    Position,
    equity,
    position_breaks,
    total_pnl,
)


@dataclass
class Book(BookLists, Accounting):
    """One account's record: the ledger (``orders``, ``executions``, ``totals``), the live
    orders' ``commitments`` and the portfolio (``positions`` at the reference ``prices``,
    the ``day``'s mark). Every change goes through its methods, which keep these in step
    and tell ``on_change`` (the journal)."""

    markets: dict[str, Market]
    orders: dict[str, BookOrder] = field(default_factory=dict)
    by_order_id: dict[tuple[str, int], str] = field(default_factory=dict)
    executions: dict[tuple[str, int], Execution] = field(default_factory=dict)
    foreign_executions: dict[tuple[str, int], Execution] = field(default_factory=dict)
    totals: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    positions: dict[str, Position] = field(default_factory=dict)
    prices: dict[str, Decimal] = field(default_factory=dict)
    # when each price was last seen, on the owner's clock (the broker: monotonic ms)
    price_ms: dict[str, int] = field(default_factory=dict)
    anomalies: list[str] = field(default_factory=list)
    unreported: list[str] = field(default_factory=list)  # anomalies since ``take_anomalies``
    duplicates: int = 0
    opened: bool = False
    # the orders still open, and the ids of closed ones in the order they closed: every
    # per-intent and per-cycle loop runs over ``live``, never over the whole history
    live: dict[str, BookOrder] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)
    trade_ids: dict[str, list[int]] = field(default_factory=dict)  # per symbol, sorted
    created: list[int] = field(default_factory=list)  # intents' creation times, sorted
    # (strategy, the strategy's own order id) → Vigil's id of the most recent such order
    by_strategy_id: dict[tuple[str, str], str] = field(default_factory=dict)
    commitments: Commitments = field(default_factory=Commitments)
    # order lists by listClientOrderId, by (symbol, orderListId), and each leg's list
    order_lists: dict[str, BookOrderList] = field(default_factory=dict)
    list_by_id: dict[tuple[str, int], str] = field(default_factory=dict)
    list_of_leg: dict[str, str] = field(default_factory=dict)
    day: DayMark | None = None
    # what is kept of the closed orders compacted away (``compact``): ids, fill counts
    compacted: Compacted = field(default_factory=Compacted)
    # the fills accounted since the owner last took them (``take_accounted``); None: not
    # collected (a replay)
    accounted: list[Accounted] | None = field(default=None, compare=False, repr=False)
    # observer for the write-ahead journal: ("order", BookOrder), ("fill", Execution),
    # ("external", (asset, delta)), ("order_list", BookOrderList); intents and openings are
    # journaled by their callers
    on_change: Callable[[str, Any], None] | None = field(default=None, compare=False, repr=False)

    def _emit(self, kind: str, payload: Any) -> None:
        if self.on_change is not None:
            self.on_change(kind, payload)

    # ------------------------------------------------------------------ opening

    def open(self, balances: dict[str, Decimal]) -> None:
        """The opening state: the exchange's balances (free + locked) at start-up."""
        self.totals = defaultdict(Decimal, balances)
        self.opened = True

    # ------------------------------------------------------------------ orders

    def knows_id(self, client_order_id: str) -> bool:
        """Whether ``client_order_id`` was ever used by an order of this book (compacted
        ones included): an id is never used twice."""
        return client_order_id in self.orders or client_order_id in self.compacted.ids

    def add_intent(self, order: BookOrder) -> None:
        if self.knows_id(order.client_order_id):
            raise ValueError(f"client order id {order.client_order_id} already in the book")
        self.orders[order.client_order_id] = order
        if order.strategy_order_id is not None:
            self.by_strategy_id[(order.strategy, order.strategy_order_id)] = order.client_order_id
        self._track(order)
        if self.created and order.created_ms < self.created[-1]:
            bisect.insort(self.created, order.created_ms)
        else:
            self.created.append(order.created_ms)

    def intents_since(self, since_ms: int) -> int:
        """How many orders were created at or after ``since_ms``."""
        return len(self.created) - bisect.bisect_left(self.created, since_ms)

    def _track(self, order: BookOrder) -> None:
        """Called after every change to an order: keeps ``live``/``closed`` and the running
        commitments in step with it."""
        if order.state.is_terminal:
            if self.live.pop(order.client_order_id, None) is not None:
                self.closed.append(order.client_order_id)
        else:
            self.live[order.client_order_id] = order
        self.commitments.count(order, self.markets[order.symbol])
        if order.order_list is not None:
            self._shadow_pair(order)

    def rebuild_live(self) -> None:
        """After orders were changed directly (journal replay)."""
        self.live = {cid: o for cid, o in self.orders.items() if not o.state.is_terminal}
        self.closed = [cid for cid, o in self.orders.items() if o.state.is_terminal]
        self.commitments = Commitments()
        for order in self.live.values():
            self.commitments.count(order, self.markets[order.symbol])
        for order_list in self.order_lists.values():
            pair = order_list.pair
            if pair is not None and pair[0] in self.orders:
                self._shadow_pair(self.orders[pair[0]])

    def find(
        self, symbol: str, client_order_id: str | None, order_id: int | None
    ) -> BookOrder | None:
        if client_order_id is not None and client_order_id in self.orders:
            return self.orders[client_order_id]
        if order_id is not None:
            cid = self.by_order_id.get((symbol, order_id))
            if cid is not None:
                return self.orders.get(cid)
        return None

    def find_strategy(self, strategy: str, strategy_order_id: str) -> BookOrder | None:
        """The most recent order ``strategy`` placed with its own id ``strategy_order_id``."""
        cid = self.by_strategy_id.get((strategy, strategy_order_id))
        return None if cid is None else self.orders.get(cid)

    def strategy_open_orders(self, strategy: str) -> int:
        """How many of ``strategy``'s orders are open (in flight or resting)."""
        return sum(1 for o in self.live.values() if o.strategy == strategy)

    def mark(self, client_order_id: str, state: OrderState, now_ms: int) -> None:
        """Local transitions (sent → UNKNOWN, refused → REJECTED, confirmed absent)."""
        order = self.orders[client_order_id]
        if order.state.is_terminal:
            self._anomaly(f"{client_order_id}: {order.state} → {state} ignored (terminal)")
            return
        order.state = state
        order.updated_ms = now_ms
        self._track(order)
        self._emit("order", order)

    def apply_order_update(
        self,
        *,
        symbol: str,
        client_order_id: str | None,
        order_id: int,
        venue_state: str,
        cumulative_qty: Decimal,
        cumulative_quote: Decimal,
        now_ms: int,
    ) -> BookOrder | None:
        """An executionReport or a REST order snapshot. Returns the order, or None when the
        book does not know it (a foreign order: the reconciler's business)."""
        order = self.find(symbol, client_order_id, order_id)
        if order is None:
            return None
        learned_id = order.order_id is None
        if learned_id:
            order.order_id = order_id
            self.by_order_id[(symbol, order_id)] = order.client_order_id
            self.claim_foreign(order)
        state = VENUE_STATES.get(venue_state)
        if state is None:
            self._anomaly(f"{order.client_order_id}: unknown venue state {venue_state!r}")
            return order
        if cumulative_qty < order.executed_qty:
            self.duplicates += 1  # late or replayed: older than what we know
            return order
        if order.state.is_terminal and (
            state != order.state or cumulative_qty != order.executed_qty
        ):
            if cumulative_qty > order.executed_qty:
                self._anomaly(f"{order.client_order_id}: fill after terminal {order.state}")
            else:
                self.duplicates += 1
            return order
        if cumulative_qty > order.quantity and order.type != "MARKET":
            # impossible: not applied (the book keeps what it knew; the broker halts)
            self._anomaly(f"{order.client_order_id}: executed {cumulative_qty} > {order.quantity}")
            return order
        before = (order.state, order.executed_qty, order.order_id)
        order.executed_qty = cumulative_qty
        order.cumulative_quote = max(order.cumulative_quote, cumulative_quote)
        if not (state is OrderState.NEW and order.state is OrderState.PARTIALLY_FILLED):
            order.state = state
        self._track(order)
        order.updated_ms = now_ms
        if (order.state, order.executed_qty, order.order_id) != before or learned_id:
            self._emit("order", order)
        if order.order_list is not None:
            self._leg_changed(order, now_ms)
        return order

    def mark_triggered(self, order: BookOrder, now_ms: int) -> None:
        """A stop's trigger (executionReport NEW with ``w`` true): an ordinary order from
        now on, and for an OCO leg, the other leg's expiry is due."""
        if order.triggered or not order.is_stop or order.state.is_terminal:
            return
        order.triggered = True
        order.updated_ms = now_ms
        self._track(order)
        self._emit("order", order)
        if order.order_list is not None:
            self._leg_changed(order, now_ms)

    # ------------------------------------------------------------------ compaction

    def compact(self, client_order_ids: Iterable[str], forget_before_ms: int = 0) -> int:
        """Compact these closed orders (``domain.book._compaction``): each leaves the
        ledger with its executions; its client order id, its trade ids and its fill counts
        stay. An order that is not closed for good is left whole. Intents' creation times
        and per-day fill counts before ``forget_before_ms`` are forgotten (no limit or
        summary looks further back than yesterday). Returns how many were compacted."""
        batch = [
            cid
            for cid in dict.fromkeys(client_order_ids)  # each once, in the order given
            if cid in self.orders and compactable(self.orders[cid])
        ]
        if batch:
            members = set(batch)
            fills = []
            for key, ex in list(self.executions.items()):
                owner = (
                    ex.client_order_id
                    if ex.client_order_id in self.orders
                    else self.by_order_id.get((ex.symbol, ex.order_id))
                )
                if owner in members:
                    del self.executions[key]
                    fills.append(ex)
            for cid in batch:
                order = self.orders.pop(cid)
                key = (order.symbol, order.order_id or 0)
                if order.order_id is not None and self.by_order_id.get(key) == cid:
                    del self.by_order_id[key]
                if order.strategy_order_id is not None:
                    mine = (order.strategy, order.strategy_order_id)
                    if self.by_strategy_id.get(mine) == cid:
                        del self.by_strategy_id[mine]
                self.live.pop(cid, None)  # (a replay keeps closed ones there until its end)
                self.commitments.discount(cid)
            self.compacted.add(batch, fills)
            self.closed = [cid for cid in self.closed if cid not in members]
        if forget_before_ms:
            del self.created[: bisect.bisect_left(self.created, forget_before_ms)]
            self.compacted.forget_days_before(forget_before_ms)
        return len(batch)

    def late_report(self, client_order_id: str | None) -> bool:
        """A report of an order compacted away (closed for good, every fill booked): a
        late or replayed one, counted as a duplicate (its fills are refused by trade id)."""
        if client_order_id is None or client_order_id not in self.compacted.ids:
            return False
        self.duplicates += 1
        return True

    # ------------------------------------------------------------------ balances

    def locked(self) -> dict[str, Decimal]:
        """What our open orders lock on the exchange, per asset."""
        out: dict[str, Decimal] = defaultdict(Decimal)
        for order in self.live.values():
            reserved = order.reserved
            if reserved is None:
                continue
            market = self.markets[order.symbol]
            out[market.quote if reserved[0] == "quote" else market.base] += reserved[1]
        return out

    # ------------------------------------------------------------------ portfolio

    def set_price(self, symbol: str, mid: Decimal, at_ms: int) -> None:
        """The market's reference price for ``symbol``, seen at ``at_ms``."""
        self.prices[symbol] = mid
        self.price_ms[symbol] = at_ms

    def total_pnl(self) -> Decimal:
        """Realized + unrealized P&L over every position, at the reference prices."""
        return total_pnl(self.positions, self.prices)

    def day_marked(self, now_ms: int) -> bool:
        """Whether the UTC day of ``now_ms`` has its mark (its baseline P&L)."""
        return self.day is not None and self.day.start_ms == now_ms - now_ms % DAY_MS

    def daily_pnl(self, now_ms: int) -> Decimal:
        """P&L since the day's mark; a day not marked yet has none."""
        if self.day is None or not self.day_marked(now_ms):
            return ZERO
        return self.total_pnl() - self.day.pnl_base

    def equity(self, quote: str) -> tuple[Decimal, list[str]]:
        """The balances valued in ``quote`` at the reference prices (``{asset}{quote}``),
        and the assets held that have no price (left out: dust, a fee asset whose symbol is
        not traded). Prices only ever arrive, so an asset left out can only join later, as
        a rise, never read as a drawdown."""
        return equity(self.totals, self.prices, quote)

    def unpriced_positions(self) -> list[str]:
        """Symbols where we hold a position but have no reference price yet."""
        return sorted(s for s, p in self.positions.items() if p.quantity and s not in self.prices)

    def position_breaks(self, symbol: str) -> str | None:
        """The spot position invariant: our position in a symbol is never negative and
        never more than the base asset the account holds; no balance is negative."""
        return position_breaks(self.markets[symbol], self.positions, self.totals)

    def open_orders(self) -> list[BookOrder]:
        return list(self.live.values())

    def take_anomalies(self) -> list[str]:
        """The impossible reports recorded since the last call (each says what and why)."""
        taken, self.unreported = self.unreported, []
        return taken

    def _anomaly(self, text: str) -> None:
        self.unreported.append(text)
        self.anomalies.append(text)
        if len(self.anomalies) > 1000:
            del self.anomalies[:500]

    def resync(self, balances: dict[str, Decimal]) -> dict[str, tuple[Decimal, Decimal]]:
        """Replace the balances with the exchange's (operator-confirmed, while RED); returns
        the differences as asset → (book, exchange)."""
        diff = {
            a: (self.totals.get(a, ZERO), balances.get(a, ZERO))
            for a in set(self.totals) | set(balances)
            if self.totals.get(a, ZERO) != balances.get(a, ZERO)
        }
        self.totals = defaultdict(Decimal, balances)
        return diff
