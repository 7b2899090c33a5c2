"""Every message Vigil's actors exchange: immutable, typed, each with a correlation id,
a creation time, and the name of its sender (filled in by ``Directory.tell``).

``control = True`` marks messages that overtake queued work (see runtime.inbox).
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from domain.admission import Refusal
from domain.breaker import Level
from domain.breaker_rules import EvidenceKind
from domain.evidence import Signal
from domain.strategy_limits import StrategyLimits
from exchange.contract import (
    AccountPosition,
    BalanceUpdate,
    BookTicker,
    ExecutionReport,
    ListStatus,
    OrderListStatus,
    OrderStatus,
    StreamStatus,
    Trade,
)


class _CorrelationIds:
    """16 hex digits: this process's random 32-bit prefix and a counter. No system call
    per message (``uuid4`` reads ``os.urandom``, which gives up the GIL: on a busy actor
    thread every message then waits to take it back), unique within the process and,
    by the prefix, across processes and restarts; a forked child draws its own prefix."""

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self.prefix = os.urandom(4).hex()
        self.counter = itertools.count()  # next() is atomic under the GIL

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFF:08x}"


_correlation_ids = _CorrelationIds()


def new_correlation_id() -> str:
    return _correlation_ids.next()


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """Base of all messages."""

    control: ClassVar[bool] = False
    correlation_id: str = field(default_factory=new_correlation_id)
    created_at: float = field(default_factory=time.time)
    sender: str = ""


# --- control lane -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat(Message):
    """Supervisor → any actor (ask): answer to prove the actor's thread is alive."""

    control: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerChanged(Message):
    """Gate → order broker: the breaker moved (RED stops new orders at once and starts
    cancel-on-RED)."""

    control: ClassVar[bool] = True
    level: Level
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Halt(Message):
    """Operator or supervisor → breaker: trip RED with this reason."""

    control: ClassVar[bool] = True
    reason: str
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InjectFault(Message):
    """Fault injection for tests and drills: ``raise`` in the handler or ``hang`` for
    ``seconds``. Travels in the normal lane, like the work it disrupts."""

    kind: str
    seconds: float = 0.0


# --- order flow ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderIntent(Message):
    """A request to trade, from a strategy, an operator or the demo source."""

    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None = None
    client_order_id: str | None = None
    time_in_force: str | None = None  # "GTC" (LIMIT's default) | "IOC" | "FOK": LIMIT only
    stop_price: Decimal | None = None  # a stop's trigger (STOP_LOSS(_LIMIT), TAKE_PROFIT(_LIMIT))
    trailing_delta: int | None = None  # a trailing stop's distance, BIPS
    source: str = "api"
    # the gateway's key name; "" = the native API, an operator or the demo source
    strategy: str = ""
    strategy_order_id: str | None = None  # the strategy's own id (Binance newClientOrderId)
    strategy_limits: StrategyLimits | None = None  # stacked on top of [policy]


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentDecision(Message):
    """Broker → caller: accepted (with the client order id) or refused (with the gate that
    refused it and the reason)."""

    accepted: bool
    client_order_id: str | None
    reason: str = ""
    refusal: Refusal | None = None
    strategy_order_id: str | None = None  # the strategy's own id (made by Vigil if none given)
    # what is sent when accepted: the quantity floored to the lot, the price moved to the
    # tick, the type (a MARKET order may go as a LIMIT IOC at its protection price)
    type: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceIntent(Message):
    """Cancel-replace as one intent: cancel ``cancel_client_order_id`` (ours, open) and place
    ``order`` instead, in one exchange request. Refused whole or journaled whole (one intent
    entry naming the order it replaces). Answered with an ``IntentDecision`` (the new
    order's)."""

    cancel_client_order_id: str
    order: OrderIntent


@dataclass(frozen=True, slots=True, kw_only=True)
class ListLeg:
    """One order of an ``OrderListIntent`` (not a message: a part of one)."""

    type: str
    side: str
    quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    trailing_delta: int | None = None  # BIPS
    time_in_force: str | None = None
    client_order_id: str | None = None
    strategy_order_id: str | None = None  # the strategy's own id for it (gateway)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderListIntent(Message):
    """A request to place an order list: ``list_type`` OCO (legs ``above``, ``below``), OTO
    (``working``, ``pending``) or OTOCO (``working``, ``above``, ``below``); ``legs`` are
    (role, leg) pairs. It takes the same path as an order, whole."""

    symbol: str
    list_type: str
    legs: tuple[tuple[str, ListLeg], ...]
    list_client_order_id: str | None = None
    source: str = "api"
    # the gateway's key name, with its own ids for the list (the legs' are on each ListLeg)
    # and its limits; a strategy's list and legs always go out under ids Vigil makes
    strategy: str = ""
    strategy_list_id: str | None = None
    strategy_limits: StrategyLimits | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListDecision(Message):
    """Broker → caller: the list was accepted whole (journaled, handed to the wire) with its
    legs' client order ids by role, or refused whole with the reason."""

    accepted: bool
    list_client_order_id: str | None
    legs: tuple[tuple[str, str], ...] = ()  # (role, client order id)
    reason: str = ""
    refusal: Refusal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListEvent(Message):
    """Listener → broker: a listStatus event."""

    status: ListStatus
    via: str = "ws"


@dataclass(frozen=True, slots=True, kw_only=True)
class ListExpiryCheck(Message):
    """Timer → broker: look for OCO legs whose expected expiry is overdue (and confirm them
    by REST)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrder(Message):
    """Caller → broker (ask): cancel one order, found by Vigil's (exchange) client order
    id, by the strategy's own id (scoped to ``strategy``) or by the exchange's orderId.
    Answered with a ``CancelDecision``."""

    symbol: str
    client_order_id: str | None = None
    strategy: str = ""
    strategy_order_id: str | None = None
    order_id: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelDecision(Message):
    """Broker → caller: the cancel was journaled and handed to the wire (accepted), or
    refused with the reason; ``found`` is False when there is no such order."""

    accepted: bool
    client_order_id: str | None  # Vigil's id of the order (None if not found)
    reason: str = ""
    found: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class OrdersQuery(Message):
    """Caller → broker (ask): the book's orders as plain dicts (``tuple[dict, ...]``, newest
    last); each filter left None matches everything. ``strategy_order_id`` is looked up
    within ``strategy`` (None counts as "") and finds the most recent such order."""

    strategy: str | None = None  # None: every order; "": native orders only
    symbol: str | None = None
    client_order_id: str | None = None
    strategy_order_id: str | None = None
    order_id: int | None = None
    open_only: bool = False
    with_fills: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ListsQuery(Message):
    """Caller → broker (ask): the book's order lists as plain dicts (``tuple[dict, ...]``,
    oldest first), each with its legs' ``OrdersQuery`` dicts under ``"orders"``;
    ``strategy_list_id`` is looked up within ``strategy``."""

    strategy: str | None = None  # None: every list; "": native lists only
    list_client_order_id: str | None = None
    strategy_list_id: str | None = None
    order_list_id: int | None = None
    open_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelAll(Message):
    """Cancel every open order Vigil knows of (operator command, RED, shutdown)."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEvent(Message):
    """Listener or poller → broker: an executionReport (or a REST snapshot turned into one)."""

    report: ExecutionReport
    via: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSnapshot(Message):
    """Poller → broker: the exchange's current view of one order."""

    status: OrderStatus
    via: str = "rest"


@dataclass(frozen=True, slots=True, kw_only=True)
class TradesSeen(Message):
    """Poller → broker: trades found by REST since the watermark."""

    symbol: str
    trades: tuple[Trade, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountEvent(Message):
    """Listener → broker: outboundAccountPosition or balanceUpdate."""

    event: AccountPosition | BalanceUpdate


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketPrice(Message):
    """Listener → broker: best bid/ask (reference prices)."""

    ticker: BookTicker


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamHealth(Message):
    """Listener → breaker: the user or market stream changed state."""

    status: StreamStatus


# --- reconciliation, breaker, audit ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileNow(Message):
    """Timer or operator → reconciler: run a cycle now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSnapshotRequest(Message):
    """Reconciler → broker (ask): the internal book as plain data; executions only above
    ``trade_marks`` (per symbol: below them every trade is already confirmed)."""

    trade_marks: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconciliationDone(Message):
    """Reconciler → breaker: a cycle's result (HEALTHY, WARNING, CRITICAL or FAILED)."""

    result: str
    findings: tuple[dict[str, Any], ...] = ()
    at_ms: int = 0
    # FAILED only because our own rate-limit gate held the reads back (after a 429/418):
    # a cycle that could not complete, but not one more API error
    held_back: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerInput(Message):
    """Any subsystem → breaker: one event of evidence; the breaker's rules
    (``[breaker.triggers]``) decide what it means."""

    kind: EvidenceKind
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetRequest(Message):
    """Operator → breaker (ask): clear RED, with a reason."""

    reason: str
    operator: str = "operator"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent(Message):
    """Anyone → audit logger: one record of the audit trail."""

    kind: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Flush(Message):
    """→ audit logger (ask): make everything written so far durable."""


# --- plumbing between the adapter's threads, the timers and the actors ----------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamFrame(Message):
    """Adapter stream thread → ws_listener: one typed event (user data, ticker or status)."""

    event: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class PollNow(Message):
    """Timer → rest_poller: run one poll."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InFlightRequest(Message):
    """Poller → broker (ask): orders whose outcome or state needs a REST look."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListsToResolve(Message):
    """Poller → broker (ask): our order lists whose placement answer was lost (sent, no
    orderListId learned): ``(symbol, listClientOrderId)`` pairs to query by REST."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListSnapshot(Message):
    """Poller → broker: one of our order lists as ``GET /api/v3/orderList`` shows it."""

    status: OrderListStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAbsent(Message):
    """Poller → broker: the exchange says it has no order with this client id (-2013)."""

    symbol: str
    client_order_id: str


class SendResult(StrEnum):
    """What became of one order send."""

    ACKED = "acked"  # the exchange acknowledged it
    REJECTED = "rejected"  # the exchange refused it: no order
    NOT_SENT = "not_sent"  # it provably never reached the exchange (a connect error)
    UNKNOWN = "unknown"  # it may have reached the exchange: resolve by query, never re-send
    REFUSED = "refused"  # the wire did not send it (the gate closed, or a stale instance)


@dataclass(frozen=True, slots=True, kw_only=True)
class SendOutcome(Message):
    """Wire thread → broker: what happened to one order send."""

    client_order_id: str
    outcome: SendResult
    detail: str = ""
    ack: Any = None
    code: int | None = None
    answered_at: float | None = None  # monotonic seconds: the wire had its answer (or failure)
    order_list: bool = False  # an order list's send (``client_order_id``: its list id)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResyncRequest(Message):
    """Operator → broker (ask): rebuild the book from the exchange (only while RED)."""

    confirmed: bool
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRequest(Message):
    """Control API → an actor (ask): its part of ``GET /v1/status``."""


# --- breaker evidence and time ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerSample(Message):
    """Any subsystem → breaker: a measured number (``kind`` names it, e.g. ``slippage_bps``,
    ``unknown_orders``, ``order_latency_p95_ms``, ``memory_mb``) for the breaker's rules."""

    kind: EvidenceKind
    value: Decimal
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerEvidence(Message):
    """Any subsystem → breaker: several pieces of evidence gathered by one handling (a
    fill's slippage with the risk samples it moved, …), in order; each is judged as its
    own ``BreakerInput`` (``value`` None) or ``BreakerSample`` would be — one message
    instead of one per piece."""

    signals: tuple[Signal, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerTick(Message):
    """The breaker's own timer → breaker: run the time-based rules (windows, silences,
    YELLOW's cool-down) now."""


# --- emergency flatten (assembly.flatten → order broker, asks) ----------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FlattenCancel(Message):
    """Flatten → broker (ask): cancel every order of ours the exchange confirms open (each
    audited before the wire, again with back-off); answers the orders of ours still open."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FlattenView(Message):
    """Flatten → broker (ask): Vigil's positions and reference prices per configured symbol,
    the orders of ours still open, and the states of ``client_order_ids``."""

    client_order_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FlattenSell(Message):
    """Flatten → broker (ask): one MARKET SELL of ``quantity`` on the flatten path — the only
    order that may reach the wire while RED (write-ahead and filters as any other)."""

    symbol: str
    quantity: Decimal
    reason: str
