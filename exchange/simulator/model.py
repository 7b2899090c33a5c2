"""The exchange's records as plain data: balances, orders, order lists and trades.

No behaviour beyond a few derived properties; the engine changes them and
:mod:`exchange.simulator.rendering` turns them into Binance's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)
OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED", "PENDING_NEW"})
ORDER_TYPES = (
    "LIMIT",
    "MARKET",
    "LIMIT_MAKER",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
)
#: conditional ("algo") orders: wait for their stop price or trailing delta
STOP_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
#: conditional orders that execute as MARKET orders once triggered
STOP_MARKET_TYPES = ("STOP_LOSS", "TAKE_PROFIT")
#: order types that carry a limit price
PRICED_TYPES = ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
TIME_IN_FORCE = ("GTC", "IOC", "FOK")


@dataclass
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass
class SimOrder:
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    stop_price: Decimal
    orig_quote_qty: Decimal
    time: int
    owner: str = "account"  # "ghost" for orders placed by another client of the account
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    update_time: int = 0
    working_time: int = -1
    locked: Decimal = ZERO  # what this order still holds locked (quote for BUY, base for SELL)
    expiry_reason: str | None = None
    order_list_id: int = -1
    #: trailing stops: the delta in BIPS, when tracking began (-1: not yet), the extreme seen
    trailing_delta: int | None = None
    trailing_time: int = -1
    trail_extreme: Decimal | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_working(self) -> bool:
        return self.working_time != -1

    @property
    def is_pending(self) -> bool:
        """An order list's pending order, not yet on the book (OTO, OTOCO)."""
        return self.status == "PENDING_NEW"

    @property
    def takes_market(self) -> bool:
        """Executes at the market: MARKET, and STOP_LOSS/TAKE_PROFIT once triggered."""
        return self.type == "MARKET" or self.type in STOP_MARKET_TYPES

    @property
    def holds_funds(self) -> bool:
        """Locks its funds while open: every order but MARKET and a BUY stop-market (which,
        having no price, is checked against the free balance when it executes)."""
        return not self.takes_market or (self.type != "MARKET" and self.side == "SELL")

    @property
    def is_trailing(self) -> bool:
        return self.trailing_delta is not None


@dataclass
class SimOrderList:
    """An OCO, OTO or OTOCO: its orders in Binance's order, and where its life stands.

    ``pair`` are the two orders of one-cancels-the-other (the OCO, or an OTOCO's pending
    orders), ``working`` an OTO/OTOCO's working order; ``locked`` is what the pair holds
    locked once for both (their quantity is shared) until one of them executes."""

    order_list_id: int
    kind: str  # "OCO", "OTO" or "OTOCO"
    symbol: str
    list_client_order_id: str
    orders: list[SimOrder]
    transaction_time: int
    pair: list[SimOrder] = field(default_factory=list)
    working: SimOrder | None = None
    locked: Decimal = ZERO
    list_status_type: str = "EXEC_STARTED"
    list_order_status: str = "EXECUTING"

    @property
    def contingency_type(self) -> str:
        """Binance calls an OTOCO an ``OTO`` list too."""
        return "OCO" if self.kind == "OCO" else "OTO"

    @property
    def is_open(self) -> bool:
        return self.list_order_status == "EXECUTING"


@dataclass(frozen=True)
class SimTrade:
    symbol: str
    trade_id: int
    order_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool
    order_list_id: int = -1
