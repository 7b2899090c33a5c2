"""The contract's values: what Vigil and a venue exchange, in venue-neutral frozen pydantic
models (requests, acknowledgments, order statuses, balances, trades, stream events, audit
and rate-limit records) and their enums.

Every amount is a finite ``Decimal`` (``Amount``: floats, bools and NaN are refused).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from domain.money import MoneyError, to_decimal
from exchange.contract._lists import ListStatus

#: Binance's rule for client order ids (newClientOrderId / origClientOrderId)
CLIENT_ORDER_ID_PATTERN = r"^[.A-Z:/a-z0-9_-]{1,36}$"
_CLIENT_ORDER_ID = re.compile(CLIENT_ORDER_ID_PATTERN)


def is_valid_client_order_id(value: str) -> bool:
    """True if ``value`` is a client order id Binance accepts."""
    return bool(_CLIENT_ORDER_ID.fullmatch(value))


def _amount(value: object) -> Decimal:
    try:
        return to_decimal(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


#: an exact, finite Decimal; str/int/Decimal accepted, float/bool/NaN refused
Amount = Annotated[Decimal, BeforeValidator(_amount)]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    LIMIT_MAKER = "LIMIT_MAKER"
    STOP_LOSS = "STOP_LOSS"
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderState(StrEnum):
    NEW = "NEW"
    PENDING_NEW = "PENDING_NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    PENDING_CANCEL = "PENDING_CANCEL"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"

    @property
    def is_open(self) -> bool:
        return self in _OPEN_STATES


_OPEN_STATES = frozenset(
    {OrderState.NEW, OrderState.PENDING_NEW, OrderState.PARTIALLY_FILLED, OrderState.PENDING_CANCEL}
)
_PRICED = frozenset(
    {
        OrderType.LIMIT,
        OrderType.LIMIT_MAKER,
        OrderType.STOP_LOSS_LIMIT,
        OrderType.TAKE_PROFIT_LIMIT,
    }
)
_STOPS = frozenset(
    {
        OrderType.STOP_LOSS,
        OrderType.STOP_LOSS_LIMIT,
        OrderType.TAKE_PROFIT,
        OrderType.TAKE_PROFIT_LIMIT,
    }
)
_NEEDS_TIF = frozenset({OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})


# --- requests and answers -------------------------------------------------------------------------


class OrderRequest(BaseModel):
    """A new order as the venue should receive it. The client order id is mandatory.

    Shape rules (not sizing): exactly one of ``quantity`` / ``quote_order_qty`` (the latter only
    for MARKET); a price for priced types and none otherwise; a stop price exactly for stop types;
    LIMIT-like types default to GTC, the others carry no time in force.
    """

    model_config = _FROZEN

    symbol: str = Field(min_length=1, pattern=r"^[A-Z0-9_-]{1,20}$")
    side: Side
    type: OrderType
    client_order_id: str = Field(pattern=CLIENT_ORDER_ID_PATTERN)
    quantity: Amount | None = None
    quote_order_qty: Amount | None = None
    price: Amount | None = None
    stop_price: Amount | None = None
    # a trailing stop's distance in BIPS (Binance's trailingDelta); with or without a stop_price
    trailing_delta: int | None = Field(default=None, ge=1)
    time_in_force: TimeInForce | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if (self.quantity is None) == (self.quote_order_qty is None):
            raise ValueError("exactly one of quantity and quote_order_qty is required")
        if self.quote_order_qty is not None and self.type is not OrderType.MARKET:
            raise ValueError("quote_order_qty is only valid for MARKET orders")
        if (self.price is not None) != (self.type in _PRICED):
            raise ValueError(f"{self.type} {'needs' if self.type in _PRICED else 'takes no'} price")
        triggered = self.stop_price is not None or self.trailing_delta is not None
        if triggered != (self.type in _STOPS):
            word = "needs" if self.type in _STOPS else "takes no"
            raise ValueError(f"{self.type} {word} stop_price or trailing_delta")
        if self.type in _NEEDS_TIF and self.time_in_force is None:
            object.__setattr__(self, "time_in_force", TimeInForce.GTC)
        if self.type not in _NEEDS_TIF and self.time_in_force is not None:
            raise ValueError(f"{self.type} takes no time_in_force")
        for name in ("quantity", "quote_order_qty", "price", "stop_price"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive")
        return self


class Fill(BaseModel):
    """One fill reported with a new-order answer."""

    model_config = _FROZEN

    trade_id: int
    price: Amount
    qty: Amount
    commission: Amount
    commission_asset: str | None


class OrderAck(BaseModel):
    """The venue accepted a new order (state and fills when the venue reported them)."""

    model_config = _FROZEN

    symbol: str
    order_id: int
    client_order_id: str
    transact_time_ms: int
    state: OrderState | None = None
    executed_qty: Amount | None = None
    cumulative_quote_qty: Amount | None = None
    fills: tuple[Fill, ...] = ()


class CancelAck(BaseModel):
    """The venue cancelled an order; ``client_order_id`` is the cancel's own id."""

    model_config = _FROZEN

    symbol: str
    order_id: int
    orig_client_order_id: str
    client_order_id: str
    state: OrderState
    executed_qty: Amount


class OrderStatus(BaseModel):
    """An order as the venue knows it now."""

    model_config = _FROZEN

    symbol: str
    order_id: int
    client_order_id: str
    side: Side
    type: OrderType
    state: OrderState
    price: Amount
    orig_qty: Amount
    executed_qty: Amount
    cumulative_quote_qty: Amount
    stop_price: Amount | None = None
    time_in_force: TimeInForce | None = None
    time_ms: int | None = None
    update_time_ms: int | None = None
    order_list_id: int | None = None  # the order list it belongs to (Binance's -1: None)
    trailing_delta: int | None = None


class Balance(BaseModel):
    model_config = _FROZEN

    asset: str
    free: Amount
    locked: Amount

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


class Position(BaseModel):
    """Spot: the base-asset holding (free + locked) of one configured symbol."""

    model_config = _FROZEN

    symbol: str
    asset: str
    quantity: Amount


class Trade(BaseModel):
    """One of our executions."""

    model_config = _FROZEN

    symbol: str
    trade_id: int
    order_id: int
    price: Amount
    qty: Amount
    quote_qty: Amount
    commission: Amount
    commission_asset: str
    time_ms: int
    is_buyer: bool
    is_maker: bool


class HealthStatus(BaseModel):
    """The result of ``ping()``; never raises, ``reachable=False`` says why in ``error``."""

    model_config = _FROZEN

    reachable: bool
    latency_ms: float | None = None
    clock_offset_ms: int | None = None
    used_weight_1m: int | None = None
    banned_for_s: float = 0.0
    user_stream_connected: bool = False
    user_stream_last_frame_age_s: float | None = None
    error: str | None = None
    # the gate a 429/418 closed kept the ping from the wire (for the venue's Retry-After):
    # nothing was learned about the venue's reachability (our pre-emptive throttle is not this)
    held_back: bool = False


class ApiRestrictions(BaseModel):
    """What the exchange key may do (Binance's ``GET /sapi/v1/account/apiRestrictions``).

    Field names are Binance's in snake_case; a permission Binance does not report is False.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    ip_restrict: bool
    create_time: int | None = None
    enable_reading: bool = False
    enable_spot_and_margin_trading: bool = False
    enable_withdrawals: bool = False
    enable_internal_transfer: bool = False
    permits_universal_transfer: bool = False
    enable_margin: bool = False
    enable_portfolio_margin_trading: bool = False
    enable_futures: bool = False
    enable_vanilla_options: bool = False
    enable_fix_api_trade: bool = False
    enable_fix_read_only: bool = False
    trading_authority_expiration_time: int | None = None

    def granted(self, names: tuple[str, ...]) -> list[str]:
        """Those of ``names`` (Binance's camelCase names) this key has, in that order."""
        return [name for name in names if getattr(self, _snake(name), False) is True]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


# --- stream events --------------------------------------------------------------------------------


class ExecutionReport(BaseModel):
    """An order update. ``client_order_id`` is Binance's ``c`` (on a cancel: the cancel's own id);
    ``orig_client_order_id`` is ``C`` (the cancelled order's id), None when empty."""

    model_config = _FROZEN

    kind: Literal["executionReport"] = "executionReport"
    event_time_ms: int
    symbol: str
    client_order_id: str
    orig_client_order_id: str | None
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce | None
    quantity: Amount
    price: Amount
    stop_price: Amount
    execution_type: str
    state: OrderState
    reject_reason: str
    order_id: int
    last_qty: Amount
    cumulative_qty: Amount
    last_price: Amount
    commission: Amount
    commission_asset: str | None
    transaction_time_ms: int
    trade_id: int | None
    execution_id: int
    is_maker: bool
    order_time_ms: int
    cumulative_quote_qty: Amount
    last_quote_qty: Amount
    order_list_id: int | None = None  # ``g``: the order list it belongs to (-1: None)
    trailing_delta: int | None = None  # ``d``, only on trailing stops
    is_working: bool | None = None  # ``w``: on the book (a stop: True once triggered)

    @property
    def order_client_id(self) -> str:
        """The id of the order this report is about (``C`` on a cancel, else ``c``)."""
        return self.orig_client_order_id or self.client_order_id


class AccountPosition(BaseModel):
    """outboundAccountPosition: the new balances of the assets that changed."""

    model_config = _FROZEN

    kind: Literal["outboundAccountPosition"] = "outboundAccountPosition"
    event_time_ms: int
    update_time_ms: int
    balances: tuple[Balance, ...]


class BalanceUpdate(BaseModel):
    """balanceUpdate: a deposit, withdrawal or transfer changed ``asset`` by ``delta``."""

    model_config = _FROZEN

    kind: Literal["balanceUpdate"] = "balanceUpdate"
    event_time_ms: int
    asset: str
    delta: Amount
    clear_time_ms: int


class StreamTerminated(BaseModel):
    """eventStreamTerminated: the subscription ended; the adapter resubscribes by itself."""

    model_config = _FROZEN

    kind: Literal["eventStreamTerminated"] = "eventStreamTerminated"
    event_time_ms: int


class UnhandledEvent(BaseModel):
    """A well-formed user data event of a type this adapter does not translate."""

    model_config = _FROZEN

    kind: Literal["unhandled"] = "unhandled"
    event_type: str
    event_time_ms: int | None
    payload: dict[str, Any]


UserEvent = (
    ExecutionReport
    | ListStatus
    | AccountPosition
    | BalanceUpdate
    | StreamTerminated
    | UnhandledEvent
)


class OrderBookDepth(BaseModel):
    """The best levels of one symbol's order book, best first: (price, quantity)."""

    model_config = _FROZEN

    symbol: str
    update_id: int
    bids: tuple[tuple[Amount, Amount], ...]
    asks: tuple[tuple[Amount, Amount], ...]


class BookTicker(BaseModel):
    """Best bid/ask of one symbol."""

    model_config = _FROZEN

    symbol: str
    update_id: int
    bid_price: Amount
    bid_qty: Amount
    ask_price: Amount
    ask_qty: Amount

    @property
    def mid(self) -> Decimal:
        return (self.bid_price + self.ask_price) / 2


class StreamState(StrEnum):
    CONNECTING = "connecting"
    SUBSCRIBED = "subscribed"
    DISCONNECTED = "disconnected"
    CLOSED = "closed"


class StreamStatus(BaseModel):
    """A stream's health changed. ``gap=True``: events may have been missed since the last
    ``SUBSCRIBED`` (the reader of the stream should catch up by REST)."""

    model_config = _FROZEN

    stream: Literal["user", "market"]
    state: StreamState
    reason: str
    gap: bool = False
    reconnects: int = 0


# --- reporting ------------------------------------------------------------------------------------


class AuditRecord(BaseModel):
    """One request, response, error or stream incident, secrets scrubbed."""

    model_config = _FROZEN

    kind: Literal["request", "response", "error", "stream", "rate_limit", "malformed"]
    at_ms: int
    operation: str
    method: str | None = None
    path: str | None = None
    params: dict[str, str] = Field(default_factory=dict)
    status: int | None = None
    code: int | None = None
    message: str | None = None
    weight: int | None = None
    latency_ms: float | None = None
    outcome: str | None = None


AuditSink = Callable[[AuditRecord], None]


class RateLimitEvent(BaseModel):
    """The adapter throttled itself, or the venue refused or banned us."""

    model_config = _FROZEN

    kind: Literal["throttled", "http_429", "http_418", "order_rate", "gate_closed"]
    retry_after_s: float | None
    used_weight_1m: int | None
    weight_limit_1m: int | None
    order_count_10s: int | None = None
    message: str = ""
