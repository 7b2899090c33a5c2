"""Order evidence: what the fills and the end of each order of ours tell the breaker.

Per fill: its slippage against the order's arrival mid, a LIMIT order seen partly filled
(once per order) and the position invariant. Per order, once it is done (terminal, every
fill it reported accounted): ended partly filled, and the close it made — one winning or
losing trade per SELL order however many pieces it filled in (a sale of coins never bought
closes nothing) — and its execution-quality record. Pure: the caller stamps the times and
sends what comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from domain.book import Accounted, Book, BookOrder, OrderState
from domain.breaker_rules import EvidenceKind
from domain.execution import ExecutionQuality, ExecutionTracker
from domain.money import plain

MIN_LATENCY_SAMPLES = 20  # a symbol's place→ack p95 is evidence from this many acks on


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of evidence for the breaker: an event (``value`` None) or a sample."""

    kind: EvidenceKind
    detail: str
    value: Decimal | None = None


@dataclass
class OrderEvidence:
    """The evidence state of the orders this broker is judging: their execution tracking
    and, per SELL order being filled, the (realized P&L, base closed) so far."""

    execution: ExecutionTracker = field(default_factory=ExecutionTracker)
    closing: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)

    def forget(self, cid: str) -> None:
        """An order whose fills may never all be booked (adopted, resynced): no per-order
        evidence and no tracking."""
        self.closing.pop(cid, None)
        self.execution.orders.pop(cid, None)

    def ack_latency(self, symbol: str, latency_ms: float | None) -> list[Signal]:
        """After an acknowledgment: the symbol's place→ack p95, once it rests on enough
        acks (the rule takes the highest in its window, so a fast symbol does not hide a
        slow one, and a symbol that stops trading ages out)."""
        if latency_ms is None:
            return []
        p95 = self.execution.p95_ack_ms(symbol, MIN_LATENCY_SAMPLES)
        if p95 is None:
            return []
        value = Decimal(str(round(p95, 3)))
        return [Signal(EvidenceKind.ORDER_LATENCY_P95_MS, f"{symbol} place→ack p95", value)]

    def fill(self, book: Book, accounted: Accounted, order: BookOrder, at: float) -> list[Signal]:
        """A new fill of ours (``at``: monotonic seconds): its slippage, a LIMIT order seen
        partly filled, what it closed, and the position invariant."""
        execution = accounted.execution
        cid = order.client_order_id
        signals: list[Signal] = []
        bps = self.execution.fill(cid, execution.price, execution.qty, at)
        if bps is not None:
            detail = (
                f"{cid} {execution.side} {execution.qty} {execution.symbol} at "
                f"{execution.price}, arrival mid {self.execution.orders[cid].reference}"
            )
            signals.append(Signal(EvidenceKind.SLIPPAGE_BPS, detail, bps))
        if order.type == "LIMIT" and order.state is OrderState.PARTIALLY_FILLED:
            signals += partial(order)
        if accounted.closed_qty > 0 and not order.evidence_done:
            realized, closed = self.closing.get(cid, (Decimal(0), Decimal(0)))
            self.closing[cid] = (realized + accounted.realized, closed + accounted.closed_qty)
        signals += position(book, execution.symbol)
        return signals

    def done(self, order: BookOrder) -> list[Signal]:
        """The per-order evidence of an order that is done, given once (``evidence_done``)."""
        if order.evidence_done:
            return []
        signals: list[Signal] = []
        if 0 < order.executed_qty < order.quantity:  # ended partly filled
            signals += partial(order)
        order.evidence_done = True
        closing = self.closing.pop(order.client_order_id, None)
        if closing is not None and closing[1] > 0 and closing[0]:
            realized, closed = closing
            kind = EvidenceKind.LOSING_TRADE if realized < 0 else EvidenceKind.WINNING_TRADE
            detail = f"{order.client_order_id}: closed {plain(closed)}, realized {plain(realized)}"
            signals.append(Signal(kind, detail))
        return signals

    def quality(self, order: BookOrder) -> ExecutionQuality | bool | None:
        """The execution-quality record of a done order once no latency of it is still to
        come; False while its send is unanswered (ask again later)."""
        if not self.execution.settled(order.client_order_id):
            return False
        return self.execution.finished(order.client_order_id)


def partial(order: BookOrder) -> list[Signal]:
    """An order partly filled, reported once per order."""
    if order.partial_reported or order.evidence_done:
        return []
    order.partial_reported = True
    detail = f"{order.client_order_id}: {order.executed_qty} of {order.quantity}"
    return [Signal(EvidenceKind.PARTIAL_FILL, detail)]


def position(book: Book, symbol: str) -> list[Signal]:
    """The spot position invariant of ``symbol``, when broken."""
    broken = book.position_breaks(symbol)
    return [] if broken is None else [Signal(EvidenceKind.POSITION_INVARIANT, broken)]


def unknown_orders(unknown: dict[str, int]) -> Signal:
    """The gauge of orders in unknown state, with the first few named."""
    return Signal(
        EvidenceKind.UNKNOWN_ORDERS, ", ".join(sorted(unknown)[:5]), Decimal(len(unknown))
    )
