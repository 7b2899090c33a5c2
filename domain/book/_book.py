"""The book: Vigil's own record of orders, executions, balances and positions, composed of
the ledger's records, the live orders' commitments and the portfolio.

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
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

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
from domain.book._lists import BookOrderList, overdue_expiries, pair_shadows
from domain.book._portfolio import (
    DAY_MS,
    DayMark,
    Position,
    equity,
    fee_in_quote,
    position_breaks,
    total_pnl,
)


@dataclass
class Book:
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

    # ------------------------------------------------------------------ order lists

    def add_list_intent(self, order_list: BookOrderList, legs: list[BookOrder]) -> None:
        """An accepted order list and its legs (each an intent like any order)."""
        key = order_list.list_client_order_id
        if key in self.order_lists:
            raise ValueError(f"order list {key} already in the book")
        if sorted(o.client_order_id for o in legs) != sorted(order_list.leg_ids):
            raise ValueError(f"order list {key}: legs do not match its roles")
        self.order_lists[key] = order_list
        for leg in legs:
            leg.order_list = key
            self.list_of_leg[leg.client_order_id] = key
            self.add_intent(leg)

    def list_of(self, client_order_id: str) -> BookOrderList | None:
        key = self.list_of_leg.get(client_order_id)
        return None if key is None else self.order_lists.get(key)

    def find_list(
        self, symbol: str, list_client_order_id: str | None, order_list_id: int | None
    ) -> BookOrderList | None:
        if list_client_order_id is not None and list_client_order_id in self.order_lists:
            return self.order_lists[list_client_order_id]
        if order_list_id is not None:
            key = self.list_by_id.get((symbol, order_list_id))
            if key is not None:
                return self.order_lists.get(key)
        return None

    def apply_list_status(
        self,
        *,
        symbol: str,
        order_list_id: int,
        list_client_order_id: str,
        contingency_type: str,
        list_status_type: str,
        list_order_status: str,
        legs: list[tuple[str, int]],
        now_ms: int,
    ) -> BookOrderList | None:
        """A listStatus event or a REST order-list answer. Returns the list, or None when
        the book does not know it (a foreign list: the reconciler's business). The legs'
        exchange ids are learned here too (``legs``: (client order id, order id))."""
        order_list = self.find_list(symbol, list_client_order_id, order_list_id)
        if order_list is None:
            return None
        before = (
            order_list.order_list_id,
            order_list.list_status_type,
            order_list.list_order_status,
        )
        if order_list.order_list_id is None:
            order_list.order_list_id = order_list_id
            self.list_by_id[(symbol, order_list_id)] = order_list.list_client_order_id
        order_list.contingency_type = contingency_type
        if not order_list.done:  # a finished list stays finished
            order_list.list_status_type = list_status_type
            order_list.list_order_status = list_order_status
        for cid, order_id in legs:
            leg = self.orders.get(cid)
            if leg is not None and leg.order_list == order_list.list_client_order_id:
                if leg.order_id is None:
                    leg.order_id = order_id
                    self.by_order_id[(symbol, order_id)] = cid
                    self.claim_foreign(leg)
                    self._emit("order", leg)
        after = (
            order_list.order_list_id,
            order_list.list_status_type,
            order_list.list_order_status,
        )
        if after != before:
            order_list.updated_ms = now_ms
            self._emit("order_list", order_list)
        return order_list

    def refuse_list(self, list_client_order_id: str, now_ms: int) -> None:
        """The exchange refused the list (or it never left): the list is REJECT, and each
        leg the venue never acknowledged is REJECTED."""
        order_list = self.order_lists[list_client_order_id]
        for cid in order_list.leg_ids:
            if self.orders[cid].order_id is None:
                self.mark(cid, OrderState.REJECTED, now_ms)
        if not order_list.done:
            order_list.list_status_type = "RESPONSE"
            order_list.list_order_status = "REJECT"
            order_list.updated_ms = now_ms
            self._emit("order_list", order_list)

    def _leg_changed(self, order: BookOrder, now_ms: int) -> None:
        """One leg changed: the expiry its OCO partner is due (or no longer due)."""
        order_list = self.list_of(order.client_order_id)
        if order_list is None:
            return
        changed = False
        expected = order_list.expiry_expected
        if order.state.is_terminal and order.client_order_id in expected:
            del expected[order.client_order_id]
            changed = True
        partner_id = order_list.partner(order.client_order_id)
        partner = None if partner_id is None else self.orders.get(partner_id)
        if (
            partner is not None
            and order.executing
            and not partner.state.is_terminal
            and partner.client_order_id not in order_list.expiry_expected
        ):
            order_list.expiry_expected[partner.client_order_id] = now_ms
            changed = True
        if changed:
            self._emit("order_list", order_list)

    def overdue_expiries(self, now_ms: int, grace_ms: int) -> list[BookOrder]:
        """Legs whose expiry has been due for ``grace_ms`` and is still not reported: to be
        confirmed by REST."""
        return overdue_expiries(self.order_lists, self.orders, now_ms, grace_ms)

    def open_order_lists(self) -> list[BookOrderList]:
        return [ol for ol in self.order_lists.values() if not ol.done or self.list_is_open(ol)]

    def list_is_open(self, order_list: BookOrderList) -> bool:
        """Whether any of the list's orders is still open (a compacted one is not)."""
        return any(
            (leg := self.orders.get(cid)) is not None and leg.is_open for cid in order_list.leg_ids
        )

    def _shadow_pair(self, order: BookOrder) -> None:
        """Keep the pair's funds counted once (``pair_shadows``)."""
        order_list = self.list_of(order.client_order_id)
        if order_list is None:
            return
        for cid, shadowed in pair_shadows(order_list, self.orders).items():
            leg = self.orders[cid]
            if leg.shadowed != shadowed:
                leg.shadowed = shadowed
                if not leg.state.is_terminal:
                    self.commitments.count(leg, self.markets[leg.symbol])

    # ------------------------------------------------------------------ executions

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

    # ------------------------------------------------------------------ balances

    def apply_external(self, asset: str, delta: Decimal) -> None:
        """A deposit, withdrawal or transfer the exchange told us about (balanceUpdate)."""
        self.totals[asset] += delta
        self._emit("external", (asset, delta))

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
