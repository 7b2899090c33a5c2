"""What the exchange says about our orders, applied to the book: the wire's send outcomes
(acknowledged, rejected, unknown), execution reports, REST order snapshots, an absence the
exchange confirms, REST trades and account events — and the check that no report broke the
book's invariants (an impossible report: CRITICAL evidence, RED and an incident).

Unknown outcomes (timeout after send, lost response, 5xx, -1007, a duplicate client id)
are never re-sent: the order is UNKNOWN until the poller finds it by client order id or
the exchange confirms it does not exist after ``unknown_window_s``.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING

from actors.order_broker import executions, fill_evidence, lists, queries
from actors.order_broker.feed import account_event
from domain.book import BookOrder, OrderState
from domain.breaker_rules import EvidenceKind
from domain.evidence import position
from domain.instance import other_instance
from exchange.contract import AccountPosition, BalanceUpdate, OrderAck, OrderStatus
from runtime.clock import mono_ms, now_ms
from runtime.crashpoints import crash_point
from runtime.incidents import write_incident
from runtime.messages import (
    AccountEvent,
    OrderAbsent,
    OrderEvent,
    OrderSnapshot,
    SendOutcome,
    SendResult,
    TradesSeen,
)

if TYPE_CHECKING:
    from actors.order_broker.broker import OrderBroker


def on_send_outcome(broker: OrderBroker, message: SendOutcome) -> None:
    if message.order_list:
        lists.on_list_outcome(broker, message)
        return
    cid = message.client_order_id
    order = broker.book.orders.get(cid)
    if order is None:
        return
    counters = broker.state.counters
    counters["answered"] += 1
    broker.audit(
        "send_outcome",
        client_order_id=cid,
        outcome=message.outcome.value,
        detail=message.detail,
        code=message.code,
    )
    outcome = message.outcome
    evidence = broker.state.evidence
    acked = outcome is SendResult.ACKED
    latency = evidence.execution.answered(cid, message.answered_at or time.monotonic(), acked=acked)
    if acked:
        counters["sent"] += 1
        broker.signal(evidence.ack_latency(order.symbol, latency))
        apply_ack(broker, order, message.ack)
        check_reports(broker)
    elif outcome in (SendResult.REJECTED, SendResult.NOT_SENT, SendResult.REFUSED):
        if order.state is not OrderState.REJECTED:  # (the exchange's own report may be in
            # first: a cancel-replace's rejected new order comes as executionReport REJECTED)
            broker.feed.reject_reasons[cid] = message.detail or outcome.value
            broker.book.mark(cid, OrderState.REJECTED, now_ms())
            broker.feed.reject_reasons.pop(cid, None)  # (used, or the order was already closed)
        if outcome is SendResult.REJECTED:  # evidence for the reject-spike rule
            broker.evidence(EvidenceKind.ORDER_REJECTED, f"{cid}: {message.code} {message.detail}")
    else:
        counters["sent"] += 1
        if not order.state.is_terminal and order.order_id is None:
            broker.book.mark(cid, OrderState.UNKNOWN, now_ms())
            broker.state.unknown_since.setdefault(cid, mono_ms())
        # else the exchange already told us about the order (its event overtook the
        # failed answer): the outcome is known, nothing to resolve
        broker.evidence(EvidenceKind.UNKNOWN_OUTCOME, f"{cid}: {message.detail}")
        broker.report_unknown()
    fill_evidence.settled(broker, order)
    broker.keep_cancelling()  # an order acknowledged after the trip


def apply_ack(broker: OrderBroker, order: BookOrder, ack: OrderAck) -> None:
    if broker.state.unknown_since.pop(order.client_order_id, None) is not None:
        broker.report_unknown()  # (replayed as UNKNOWN after a restart: the answer came)
    state = ack.state.value if ack.state is not None else "NEW"
    broker.book.apply_order_update(
        symbol=ack.symbol,
        client_order_id=order.client_order_id,
        order_id=ack.order_id,
        venue_state=state,
        cumulative_qty=ack.executed_qty or Decimal(0),
        cumulative_quote=ack.cumulative_quote_qty or Decimal(0),
        now_ms=now_ms(),
    )
    for execution in executions.from_ack(ack, order):
        fill_evidence.fill(broker, execution)


# ------------------------------------------------------------------ updates


def on_order_event(broker: OrderBroker, message: OrderEvent) -> None:
    r = message.report
    order = broker.book.apply_order_update(
        symbol=r.symbol,
        client_order_id=r.order_client_id,
        order_id=r.order_id,
        venue_state=r.state.value,
        cumulative_qty=r.cumulative_qty,
        cumulative_quote=r.cumulative_quote_qty,
        now_ms=now_ms(),
    )
    known(broker, order)
    execution = executions.from_report(r, message.via)
    if execution is not None:
        fill_evidence.fill(broker, execution)
    lists.after_report(broker, order, r)
    check_reports(broker)
    if order is not None and order.state is OrderState.PARTIALLY_FILLED:
        crash_point("partial_fill")
    if order is not None:
        fill_evidence.settled(broker, order)
    elif broker.book.late_report(r.order_client_id):
        pass  # an order compacted away (closed for good): a late duplicate
    elif (other := other_instance(r.order_client_id, broker.ctx.services.instance)) is not None:
        broker.evidence(
            EvidenceKind.ANOTHER_INSTANCE,
            f"another Vigil (instance {other}) trades this exchange account: "
            f"{r.symbol} #{r.order_id} ({r.order_client_id})",
        )
    else:
        broker.evidence(
            EvidenceKind.UNKNOWN_ORDER,
            f"execution report for an order the book never placed: "
            f"{r.symbol} #{r.order_id} ({r.order_client_id})",
        )


def check_reports(broker: OrderBroker) -> None:
    """A report that breaks an invariant of the book (filled more than ordered, a fill
    for an order already closed beyond what it had, a state the venue does not have, a
    negative balance from the exchange) means Vigil no longer knows where the money is:
    CRITICAL evidence, RED, and an incident naming the order and both values."""
    for anomaly in broker.book.take_anomalies():
        at = now_ms()
        services = broker.ctx.services
        write_incident(
            services.data_dir,
            services.store,
            kind="impossible_report",
            at_ms=at,
            reason=f"impossible report: {anomaly}",
            state={"anomaly": anomaly, "book": queries.status(broker.memory, at, red=True)},
            report={"kind": "impossible_report", "anomaly": anomaly},
            lines=[f"An exchange report broke the book's invariants: {anomaly}"],
            orders=[anomaly.split(":", 1)[0]],
        )
        broker.evidence(EvidenceKind.IMPOSSIBLE_REPORT, anomaly)


def known(broker: OrderBroker, order: BookOrder | None) -> bool:
    """The exchange told us of the order: it is no longer unknown."""
    if order is None or order.client_order_id not in broker.state.unknown_since:
        return False
    del broker.state.unknown_since[order.client_order_id]
    broker.report_unknown()
    return True


def on_order_snapshot(broker: OrderBroker, message: OrderSnapshot) -> None:
    s = message.status
    order = apply_status(broker, s)
    if order is not None and order.order_list is not None:
        lists.watch_expiries(broker)
    check_reports(broker)
    if known(broker, order):
        assert order is not None
        cid = order.client_order_id
        broker.audit("unknown_resolved", client_order_id=cid, state=s.state.value)
    if order is not None:
        fill_evidence.settled(broker, order)


def on_order_absent(broker: OrderBroker, message: OrderAbsent) -> None:
    order = broker.book.orders.get(message.client_order_id)
    if order is None or order.state is not OrderState.UNKNOWN:
        return
    since = broker.state.unknown_since.setdefault(order.client_order_id, mono_ms())
    if mono_ms() - since >= broker.settings.broker.unknown_window_s * 1000:
        broker.feed.reject_reasons[order.client_order_id] = "the exchange has no such order"
        broker.book.mark(order.client_order_id, OrderState.REJECTED, now_ms())
        broker.feed.reject_reasons.pop(order.client_order_id, None)
        broker.state.unknown_since.pop(order.client_order_id, None)
        fill_evidence.settled(broker, order)
        broker.audit(
            "unknown_resolved",
            client_order_id=order.client_order_id,
            state="ABSENT",
            detail="the exchange confirms no such order",
        )
        broker.report_unknown()


def on_trades(broker: OrderBroker, message: TradesSeen) -> None:
    for t in message.trades:
        order = broker.book.find(t.symbol, None, t.order_id)
        fill_evidence.fill(
            broker, executions.from_trade(t, order.client_order_id if order else None)
        )


def on_account(broker: OrderBroker, message: AccountEvent) -> None:
    event = message.event
    if isinstance(event, BalanceUpdate):
        key = (event.asset, event.delta, event.clear_time_ms, event.event_time_ms)
        if not broker.state.balance_updates.first_time(key):  # delivered twice: once only
            broker.audit("balance_update_duplicate", asset=event.asset, delta=str(event.delta))
            return
    if broker.ctx.services.events.subscribers > 0:
        broker.ctx.services.events.publish("account", account_event(event))
    if isinstance(event, AccountPosition):
        for b in event.balances:  # the exchange's own balances: never negative
            if b.free < 0 or b.locked < 0:
                broker.book.unreported.append(
                    f"{b.asset}: the exchange reports free {b.free}, locked {b.locked}"
                )
        check_reports(broker)
    if isinstance(event, BalanceUpdate):
        broker.book.apply_external(event.asset, event.delta)
        broker.audit("balance_update", asset=event.asset, delta=str(event.delta))
        fill_evidence.journal_peak(
            broker, broker.state.risk.shift_peak(broker.book, event.asset, event.delta)
        )
        for symbol, market in broker.book.markets.items():
            if event.asset in (market.base, market.quote):
                broker.signal(position(broker.book, symbol))


def apply_status(broker: OrderBroker, status: OrderStatus) -> BookOrder | None:
    """Apply the exchange's view of one order to the book."""
    return broker.book.apply_order_update(
        symbol=status.symbol,
        client_order_id=status.client_order_id,
        order_id=status.order_id,
        venue_state=status.state.value,
        cumulative_qty=status.executed_qty,
        cumulative_quote=status.cumulative_quote_qty,
        now_ms=now_ms(),
    )
