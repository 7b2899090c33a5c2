"""Evidence from fills and prices for the breaker: every fill the book accounts is judged
once (slippage, latency), an order that is done gives its per-order evidence and its
execution quality once, and today's loss and drawdown are sampled (on prices at most every
``RISK_SAMPLE_S``) with the day's mark and peak journaled for a restart to find."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from domain.book import BookOrder, Execution
from domain.replay import day_mark_entry, day_peak_entry
from domain.risk import RiskReading
from runtime.clock import mono_ms, now_ms
from runtime.messages import MarketPrice

if TYPE_CHECKING:
    from actors.order_broker.broker import OrderBroker

RISK_SAMPLE_S = 1.0  # daily loss and drawdown samples on prices, at most this often


def on_price(broker: OrderBroker, message: MarketPrice) -> None:
    broker.book.set_price(message.ticker.symbol, message.ticker.mid, mono_ms())
    if time.monotonic() - broker.state.risk_sampled >= RISK_SAMPLE_S:
        risk(broker)
    broker.checkpoint_due()


def fill(broker: OrderBroker, execution: Execution) -> None:
    """One execution, from whichever path brought it (a duplicate or a foreign fill is
    accounted at most once, or kept apart)."""
    broker.book.apply_execution(execution)
    collect_evidence(broker)


def collect_evidence(broker: OrderBroker) -> None:
    """Evidence from every fill the book accounted since the last look, whichever way
    it came: applied here, or claimed once its order's exchange id became known (a REST
    trade can overtake the acknowledgment; several can be claimed at once). Every fill
    is judged before any of their orders is judged as done."""
    touched: dict[str, BookOrder] = {}
    for accounted in broker.book.take_accounted():
        execution = accounted.execution
        order = broker.book.find(execution.symbol, execution.client_order_id, execution.order_id)
        assert order is not None  # accounted executions belong to a known order
        broker.signal(broker.state.evidence.fill(broker.book, accounted, order, time.monotonic()))
        risk(broker)
        touched[order.client_order_id] = order
    for order in touched.values():
        settled(broker, order)  # this may have been the last fill of a finished order


def settled(broker: OrderBroker, order: BookOrder) -> None:
    """An order that is done (terminal, every fill it reported accounted) gives its
    per-order evidence once, and its execution quality goes to the audit trail with its
    symbol's latency percentiles as they now stand."""
    collect_evidence(broker)
    if not order.state.is_terminal or not order.fills_booked:
        return
    evidence = broker.state.evidence
    broker.signal(evidence.done(order))
    quality = evidence.quality(order)
    if quality:
        assert not isinstance(quality, bool)
        broker.audit(
            "execution_quality",
            **quality.as_dict(),
            latency=evidence.execution.summary(order.symbol).get(order.symbol, {}),
        )


def risk(broker: OrderBroker) -> None:
    """Today's loss and the drawdown from today's highest equity, as breaker samples."""
    broker.state.risk_sampled = time.monotonic()
    reading = broker.state.risk.sample(broker.book, now_ms())
    journal_reading(broker, reading)
    broker.signal(reading.signals)


def journal_reading(broker: OrderBroker, reading: RiskReading) -> None:
    journal_day(broker, reading.new_day)
    journal_peak(broker, reading.peak)


def journal_day(broker: OrderBroker, day: Any) -> None:
    if day is not None:
        broker.journal.append("day_mark", day_mark_entry(day))


def journal_peak(broker: OrderBroker, day: Any) -> None:
    """The day's peak as it stands now, for a restart to find (replay: latest wins)."""
    if day is not None:
        broker.journal.append("day_peak", day_peak_entry(day))
