"""The internal book: Vigil's own record of orders, executions, balances and positions.

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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, Inexact, InvalidOperation
from enum import StrEnum
from typing import Any

ZERO = Decimal(0)
# running totals are added to and taken from as orders change: exact, never rounded (a
# rounded sum would leave a residue when the same amount is taken off again)
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, Inexact])


class OrderState(StrEnum):
    PENDING_NEW = "PENDING_NEW"  # journaled, maybe on the wire, no answer yet
    UNKNOWN = "UNKNOWN"  # sent, outcome unknown (timeout, lost response, 5xx, -1007)
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def in_flight(self) -> bool:
        return self in (OrderState.PENDING_NEW, OrderState.UNKNOWN)


TERMINAL = frozenset(
    {OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED, OrderState.EXPIRED}
)
OPEN_ON_EXCHANGE = frozenset({OrderState.NEW, OrderState.PARTIALLY_FILLED})

# which venue states map to ours (Binance has a few more)
VENUE_STATES = {
    "NEW": OrderState.NEW,
    "PENDING_NEW": OrderState.NEW,
    "PARTIALLY_FILLED": OrderState.PARTIALLY_FILLED,
    "FILLED": OrderState.FILLED,
    "CANCELED": OrderState.CANCELED,
    "PENDING_CANCEL": OrderState.PARTIALLY_FILLED,
    "REJECTED": OrderState.REJECTED,
    "EXPIRED": OrderState.EXPIRED,
    "EXPIRED_IN_MATCH": OrderState.EXPIRED,
}


@dataclass(frozen=True, slots=True)
class Market:
    """What the book needs to know of a symbol."""

    symbol: str
    base: str
    quote: str


@dataclass
class BookOrder:
    client_order_id: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None
    state: OrderState = OrderState.PENDING_NEW
    order_id: int | None = None
    executed_qty: Decimal = ZERO
    cumulative_quote: Decimal = ZERO
    created_ms: int = 0
    updated_ms: int = 0
    source: str = ""
    booked_qty: Decimal = ZERO  # the quantity of this order's fills the book has accounted
    # the broker's per-order evidence (a partial fill, a close) was given: not state
    partial_reported: bool = field(default=False, compare=False)
    evidence_done: bool = field(default=False, compare=False)

    @property
    def fills_booked(self) -> bool:
        """Every fill the exchange reports for this order has been accounted."""
        return self.booked_qty >= self.executed_qty

    @property
    def is_open(self) -> bool:
        return not self.state.is_terminal

    @property
    def reserved(self) -> tuple[str, Decimal] | None:
        """(side of the reservation, amount) this order locks on the exchange while open."""
        if self.state not in OPEN_ON_EXCHANGE or self.type == "MARKET":
            return None
        remaining = self.quantity - self.executed_qty
        if self.side == "BUY":
            return ("quote", (self.price or ZERO) * remaining)
        return ("base", remaining)


@dataclass(frozen=True, slots=True)
class Execution:
    symbol: str
    trade_id: int
    order_id: int
    client_order_id: str | None
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str | None
    time_ms: int
    is_maker: bool
    via: str
    # the fee's value in the quote asset, fixed when the fill is accounted (a fee paid in a
    # third asset is valued at that moment's price) and journaled, so a replay is exact
    fee_quote: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Accounted:
    """A fill the book has just accounted, with what it did to the position: ``realized``
    is the change in realized P&L (quote, fee included), ``closed_qty`` the base it took
    out of a position we held (0 for a BUY, or a SELL of coins the book never bought)."""

    execution: Execution
    realized: Decimal
    closed_qty: Decimal


@dataclass
class Position:
    """Spot: base holdings from our fills, at average cost (in the quote asset)."""

    symbol: str
    quantity: Decimal = ZERO
    cost: Decimal = ZERO  # total quote paid for ``quantity``
    realized_pnl: Decimal = ZERO
    fees_quote: Decimal = ZERO

    @property
    def average_entry(self) -> Decimal | None:
        return None if self.quantity <= 0 else self.cost / self.quantity

    def unrealized(self, mark: Decimal | None) -> Decimal:
        if mark is None or self.quantity <= 0:
            return ZERO
        return mark * self.quantity - self.cost


DAY_MS = 86_400_000


@dataclass
class DayMark:
    """The trading day's baseline (UTC days): the total P&L (realized + unrealized) when
    the day was first seen, against which today's loss is measured, and the highest
    equity seen since, against which the drawdown is."""

    start_ms: int
    pnl_base: Decimal
    peak_equity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Share:
    """What one live order may still take from the account, as counted in the book's
    running totals: ``amount`` of ``asset`` (a BUY's quote at its limit price, a SELL's
    base) and, when it has a price, its remaining ``notional`` in the quote asset. An
    unpriced order (MARKET BUY) is valued at the reference price when asked."""

    asset: str
    amount: Decimal
    key: tuple[str, str]  # (symbol, side)
    notional: Decimal | None


@dataclass
class Commitments:
    """The running totals over live orders (any state short of terminal, so an intent not
    yet acknowledged counts too): committed amount per asset, remaining notional per
    (symbol, side), and the unpriced orders, valued when asked."""

    committed: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    notional: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    shares: dict[str, Share] = field(default_factory=dict)
    unpriced: dict[str, BookOrder] = field(default_factory=dict)
    selling: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # base
    per_symbol: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # live orders

    def count(self, order: BookOrder, market: Market) -> None:
        self.discount(order.client_order_id)
        if order.state.is_terminal:
            return
        self.per_symbol[order.symbol] += 1
        remaining = max(order.quantity - order.executed_qty, ZERO)
        key = (order.symbol, order.side)
        if order.price is None:
            self.unpriced[order.client_order_id] = order
            if order.side == "BUY":
                return  # its quote is unknown until valued at a reference price
            share = Share(market.base, remaining, key, None)
        elif order.side == "BUY":
            notional = order.price * remaining
            share = Share(market.quote, notional, key, notional)
        else:
            share = Share(market.base, remaining, key, order.price * remaining)
        self.shares[order.client_order_id] = share
        self.committed[share.asset] = EXACT.add(self.committed[share.asset], share.amount)
        if order.side == "SELL":
            self.selling[order.symbol] = EXACT.add(self.selling[order.symbol], share.amount)
        if share.notional is not None:
            self.notional[key] = EXACT.add(self.notional[key], share.notional)

    def discount(self, client_order_id: str) -> None:
        # every counted order has a share, or is unpriced (a MARKET BUY), or both
        unpriced = self.unpriced.pop(client_order_id, None)
        share = self.shares.pop(client_order_id, None)
        if share is None:
            if unpriced is not None:
                self.per_symbol[unpriced.symbol] -= 1
            return
        symbol, side = share.key
        self.per_symbol[symbol] -= 1
        self.committed[share.asset] = EXACT.subtract(self.committed[share.asset], share.amount)
        if side == "SELL":
            self.selling[symbol] = EXACT.subtract(self.selling[symbol], share.amount)
        if share.notional is not None:
            self.notional[share.key] = EXACT.subtract(self.notional[share.key], share.notional)


@dataclass
class Book:
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
    duplicates: int = 0
    opened: bool = False
    # the orders still open, and the ids of closed ones in the order they closed: every
    # per-intent and per-cycle loop runs over ``live``, never over the whole history
    live: dict[str, BookOrder] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)
    trade_ids: dict[str, list[int]] = field(default_factory=dict)  # per symbol, sorted
    created: list[int] = field(default_factory=list)  # intents' creation times, sorted
    commitments: Commitments = field(default_factory=Commitments)
    day: DayMark | None = None
    # the fills accounted since the owner last took them (``take_accounted``); None: not
    # collected (a replay)
    accounted: list[Accounted] | None = field(default=None, compare=False, repr=False)
    # observer for the write-ahead journal: ("order", BookOrder), ("fill", Execution),
    # ("external", (asset, delta)); intents and openings are journaled by their callers
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

    def add_intent(self, order: BookOrder) -> None:
        if order.client_order_id in self.orders:
            raise ValueError(f"client order id {order.client_order_id} already in the book")
        self.orders[order.client_order_id] = order
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

    def rebuild_live(self) -> None:
        """After orders were changed directly (journal replay)."""
        self.live = {cid: o for cid, o in self.orders.items() if not o.state.is_terminal}
        self.closed = [cid for cid, o in self.orders.items() if o.state.is_terminal]
        self.commitments = Commitments()
        for order in self.live.values():
            self.commitments.count(order, self.markets[order.symbol])

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
            self._anomaly(f"{order.client_order_id}: executed {cumulative_qty} > {order.quantity}")
        before = (order.state, order.executed_qty, order.order_id)
        order.executed_qty = cumulative_qty
        order.cumulative_quote = max(order.cumulative_quote, cumulative_quote)
        if not (state is OrderState.NEW and order.state is OrderState.PARTIALLY_FILLED):
            order.state = state
        self._track(order)
        order.updated_ms = now_ms
        if (order.state, order.executed_qty, order.order_id) != before or learned_id:
            self._emit("order", order)
        return order

    # ------------------------------------------------------------------ executions

    def apply_execution(self, execution: Execution) -> bool:
        """Account one fill, once. Returns False for a duplicate; a fill of an order the book
        does not know is kept apart (``foreign_executions``) and changes no balance."""
        key = (execution.symbol, execution.trade_id)
        if key in self.executions or key in self.foreign_executions:
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

    def _account(self, execution: Execution, order: BookOrder) -> None:
        market = self.markets[execution.symbol]
        fee_quote = execution.fee_quote
        if fee_quote is None:
            fee_quote = self._fee_in_quote(market, execution)
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
        realized, closed = self._position(market, execution, notional, fee_quote)
        order.booked_qty += execution.qty
        if self.accounted is not None:
            self.accounted.append(Accounted(execution, realized, closed))
        self._emit("fill", execution)

    def _position(
        self, market: Market, ex: Execution, notional: Decimal, fee_quote: Decimal
    ) -> tuple[Decimal, Decimal]:
        """Apply a fill to the position: (change in realized P&L, base closed)."""
        pos = self.positions.setdefault(market.symbol, Position(market.symbol))
        pos.fees_quote += fee_quote
        if ex.side == "BUY":
            received = ex.qty - (ex.commission if ex.commission_asset == market.base else ZERO)
            pos.quantity += received
            pos.cost += notional + (fee_quote if ex.commission_asset != market.base else ZERO)
            return ZERO, ZERO
        if pos.quantity > 0:
            sold = min(ex.qty, pos.quantity)
            basis = pos.cost * sold / pos.quantity
            realized = ex.price * sold - basis - fee_quote
            pos.realized_pnl += realized
            pos.cost -= basis
            pos.quantity -= sold
            return realized, sold
        pos.realized_pnl -= fee_quote
        return -fee_quote, ZERO

    def _fee_in_quote(self, market: Market, ex: Execution) -> Decimal:
        if not ex.commission or ex.commission_asset is None:
            return ZERO
        if ex.commission_asset == market.quote:
            return ex.commission
        if ex.commission_asset == market.base:
            return ex.commission * ex.price
        # paid in a third asset (e.g. BNB): convert at its reference price in the quote
        rate = self.prices.get(f"{ex.commission_asset}{market.quote}")
        return ex.commission * rate if rate is not None else ZERO

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

    # ------------------------------------------------------------------ risk

    def set_price(self, symbol: str, mid: Decimal, at_ms: int) -> None:
        """The market's reference price for ``symbol``, seen at ``at_ms``."""
        self.prices[symbol] = mid
        self.price_ms[symbol] = at_ms

    def total_pnl(self) -> Decimal:
        """Realized + unrealized P&L over every position, at the reference prices."""
        return sum(
            (p.realized_pnl + p.unrealized(self.prices.get(s)) for s, p in self.positions.items()),
            ZERO,
        )

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
        total = ZERO
        unvalued = []
        for asset, amount in sorted(self.totals.items()):
            if not amount:
                continue
            if asset == quote:
                total += amount
                continue
            price = self.prices.get(f"{asset}{quote}")
            if price is None:
                unvalued.append(asset)
                continue
            total += amount * price
        return total, unvalued

    def unpriced_positions(self) -> list[str]:
        """Symbols where we hold a position but have no reference price yet."""
        return sorted(s for s, p in self.positions.items() if p.quantity and s not in self.prices)

    def position_breaks(self, symbol: str) -> str | None:
        """The spot position invariant: our position in a symbol is never negative and
        never more than the base asset the account holds; no balance is negative."""
        market = self.markets[symbol]
        pos = self.positions.get(symbol)
        held = self.totals.get(market.base, ZERO)
        if pos is not None and pos.quantity < 0:
            return f"{symbol} position {pos.quantity} is negative"
        if pos is not None and pos.quantity > held:
            return f"{symbol} position {pos.quantity} is more than the {held} {market.base} held"
        for asset in (market.base, market.quote):
            if self.totals.get(asset, ZERO) < 0:
                return f"{asset} balance {self.totals[asset]} is negative"
        return None

    def open_orders(self) -> list[BookOrder]:
        return list(self.live.values())

    def _anomaly(self, text: str) -> None:
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
