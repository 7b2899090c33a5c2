"""The ledger's records: an order and the states it moves through, a fill (execution) and
what accounting it did, and the market a symbol trades in.

An order's cumulative quantity never goes down and a terminal state is never left (the
book applies updates under these rules); the venue's states map to ours by
``VENUE_STATES``. Money is Decimal throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)


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
STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})

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
    strategy: str = ""  # the gateway key that placed it ("": native API, operator, demo)
    strategy_order_id: str | None = None  # the strategy's own id for it
    time_in_force: str | None = None  # as sent (LIMIT: GTC, IOC or FOK)
    stop_price: Decimal | None = None  # a stop's trigger price, as sent
    trailing_delta: int | None = None  # a trailing stop's distance, BIPS
    order_list: str | None = None  # the listClientOrderId of the order list it is a leg of
    # a stop that has triggered is an ordinary (market or limit) order from then on
    triggered: bool = False
    booked_qty: Decimal = ZERO  # the quantity of this order's fills the book has accounted
    booked_quote: Decimal = ZERO  # and their value (price * qty), quote
    # the broker's per-order evidence (a partial fill, a close) was given: not state
    partial_reported: bool = field(default=False, compare=False)
    evidence_done: bool = field(default=False, compare=False)
    # the other order of its OCO pair holds the funds both share: this one reserves nothing
    # (derived from the pair's state by the book)
    shadowed: bool = field(default=False, compare=False)

    @property
    def is_stop(self) -> bool:
        return self.type in STOP_TYPES

    @property
    def executing(self) -> bool:
        """It has started to execute: a fill, or a stop's trigger."""
        return self.executed_qty > 0 or self.triggered or self.state is OrderState.FILLED

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
        if self.state not in OPEN_ON_EXCHANGE or self.type == "MARKET" or self.shadowed:
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
