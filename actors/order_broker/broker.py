"""The order broker's handlers: each decodes a message, calls the domain, journals and tells.

``OrderIntent → admission (duplicate, policy, breaker gate, YELLOW) → journal (write-ahead)
→ wire → exchange``; acknowledgments, execution reports, REST snapshots and trades update
the book, and every fill the book accounts becomes evidence for the breaker.

Unknown outcomes (timeout after send, lost response, 5xx, -1007, a duplicate client id)
are never re-sent: the order is UNKNOWN until the poller finds it by client order id or
the exchange confirms it does not exist after ``unknown_window_s``; one that stays unknown
longer is a RED input.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from loguru import logger

from actors.order_broker import (
    cancels,
    checkpoints,
    executions,
    flatten,
    intake,
    list_recovery,
    lists,
    queries,
    resync,
    stale,
)
from actors.order_broker.feed import ExecutionFeed, account_event
from actors.order_broker.memory import BrokerMemory, OwnedJournal
from actors.order_broker.wire import Wire
from domain.book import Book, BookOrder, Execution, OrderState
from domain.breaker_rules import EvidenceKind
from domain.cancel_duty import one_per_list, open_list_key
from domain.evidence import Signal, position, unknown_orders
from domain.instance import other_instance
from domain.replay import change_entry, day_mark_entry, day_peak_entry
from domain.risk import RiskReading
from exchange.contract import (
    AccountPosition,
    BalanceUpdate,
    OrderAck,
    OrderStatus,
)
from runtime.actor import VigilActor
from runtime.clock import mono_ms, now_ms
from runtime.crashpoints import crash_point
from runtime.incidents import write_incident
from runtime.messages import (
    AccountEvent,
    BookSnapshotRequest,
    BreakerChanged,
    BreakerEvidence,
    CancelAll,
    CancelDecision,
    CancelOrder,
    FlattenCancel,
    FlattenSell,
    FlattenView,
    InFlightRequest,
    IntentDecision,
    ListDecision,
    ListEvent,
    ListExpiryCheck,
    ListSnapshot,
    ListsQuery,
    ListsToResolve,
    MarketPrice,
    OrderAbsent,
    OrderEvent,
    OrderIntent,
    OrderListIntent,
    OrderSnapshot,
    OrdersQuery,
    ReplaceIntent,
    ResyncRequest,
    SendOutcome,
    SendResult,
    StatusRequest,
    TradesSeen,
)
from storage import StoreError

NOT_OURS = cancels.ADOPTED  # adopted orders' sources
RISK_SAMPLE_S = 1.0  # daily loss and drawdown samples on prices, at most this often
EVIDENCE_BATCH = 100  # samples for the breaker wait for a busy broker at most this many


class OrderBroker(VigilActor):
    name = "order_broker"
    memory: BrokerMemory
    handlers = {
        OrderIntent: "on_intent",
        OrderListIntent: "on_list_intent",
        ReplaceIntent: "on_replace_intent",
        ListEvent: "on_list_event",
        ListExpiryCheck: "on_list_expiry_check",
        SendOutcome: "on_send_outcome",
        OrderEvent: "on_order_event",
        OrderSnapshot: "on_order_snapshot",
        OrderAbsent: "on_order_absent",
        TradesSeen: "on_trades",
        AccountEvent: "on_account",
        MarketPrice: "on_price",
        BookSnapshotRequest: "on_snapshot_request",
        InFlightRequest: "on_in_flight_request",
        ListsToResolve: "on_lists_to_resolve",
        ListSnapshot: "on_list_snapshot",
        CancelAll: "on_cancel_all",
        CancelOrder: "on_cancel",
        OrdersQuery: "on_orders_query",
        ListsQuery: "on_lists_query",
        BreakerChanged: "on_breaker_changed",
        ResyncRequest: "on_resync",
        StatusRequest: "status",
        FlattenCancel: "on_flatten_cancel",
        FlattenView: "on_flatten_view",
        FlattenSell: "on_flatten_sell",
    }

    def started(self) -> None:
        self.evidence_out: list[Signal] = []  # for the breaker, sent after each message
        self.gathering = False  # handling a message: evidence waits for its end
        self.evidence_urgent = False  # an event is among evidence_out: send at the end
        services = self.ctx.services
        self.settings = services.settings
        self.adapter = services.adapter
        # a restart starts from durable state, not from the failed instance's memory; from
        # here on this instance owns the book, and one that was replaced (hung, then woken)
        # can neither write the journal nor send an order
        self.journal = OwnedJournal(services.journal, self.memory, self.generation)
        try:
            self.memory.take(self.generation, services.journal, services.markets)
        except StoreError as exc:
            # keep the book in memory (the best there is) and stay RED: a journal that
            # cannot be read now is set aside by the next process start
            reason = f"journal unreadable on a broker restart ({exc}): restart the process"
            services.store.add_incident(now_ms(), "journal_unreadable", reason, {})
            self.ctx.gate.trip_red(reason, "recovery")
        self.book: Book = self.memory.book
        self.state = self.memory.state
        self.feed = ExecutionFeed(self.book.open_orders())
        self.expiry_timer_armed = False  # an order-list expiry check is scheduled
        self.book.on_change = self._journal_change
        self.limits = self.settings.policy.limits(self.settings.exchange.symbols)
        self.max_market_bps = self.settings.policy.max_market_slippage_bps
        self.wire = Wire(
            self.adapter,
            self.ctx.gate,
            self.ctx.directory,
            self.memory,
            self.generation,
            services.timings,
            lanes=self.settings.exchange.wire_lanes,
        )
        self.trail = services.trail
        services.journal.archive = self.settings.journal.archive
        services.journal.on_checkpoint_write = checkpoints.crash_while_written
        self.checkpointed = 0  # the journal length at this instance's last checkpoint
        self.last_stall_s = 0.0  # how long writing the last checkpoint kept the broker busy
        self.stale = stale.StaleSweep()  # policy.max_order_age_s
        self.flattening = flatten.FlattenState()  # an emergency flatten's cancel retries
        for order in self.book.open_orders():  # recovered in-flight intents: resolve by query
            if order.state is OrderState.UNKNOWN:
                self.state.unknown_since.setdefault(order.client_order_id, mono_ms())
        self.book.take_accounted()  # evidence is collected from here on (not the replay's)
        for order in self.book.orders.values():  # finished before: their evidence was given
            order.evidence_done = (
                order.state.is_terminal and order.fills_booked
            ) or order.source in NOT_OURS
            order.partial_reported = order.type == "LIMIT" and 0 < order.executed_qty
        self.report_unknown()  # the breaker's gauge says what this book says
        self.keep_cancelling()  # RED latched before this instance (a restart) keeps its duty

    def stopping(self) -> None:
        if getattr(self, "evidence_out", None):
            self.send_evidence()  # (held for a busy inbox: the stop was in it)
        wire = getattr(self, "wire", None)
        if wire is not None:
            wire.close()

    def _journal_change(self, kind: str, payload: Any) -> None:
        entry = change_entry(kind, payload)
        if entry is not None:
            self.journal.append(*entry)
            self.ctx.services.events.publish(*entry)  # the live view; never blocks
        try:
            self._publish_execution(kind, payload)
        except Exception:  # the feed is a view: a fault in it must not stop the book
            logger.exception("execution event not published for a book {} change", kind)

    def _publish_execution(self, kind: str, payload: Any) -> None:
        """The ``execution`` events of one change the book applied (see ``feed``)."""
        events = self.ctx.services.events
        wanted = events.subscribers > 0  # nobody listens: no event is built
        if kind == "order":
            for event in self.feed.order_changed(payload, now_ms(), wanted=wanted):
                events.publish("execution", event)
        elif kind == "fill":
            order = self.book.find(payload.symbol, payload.client_order_id, payload.order_id)
            if order is None:
                return
            if not wanted:
                self.feed.forget(order.client_order_id)
                return
            for event in self.feed.filled(order, payload, now_ms()):
                events.publish("execution", event)

    # ------------------------------------------------------------------ telling

    def evidence(self, kind: EvidenceKind, detail: str) -> None:
        """One event for the breaker's rules (which say what it means)."""
        self.signal([Signal(kind, detail)])

    def signal(self, signals: list[Signal]) -> None:
        """Events and samples for the breaker's rules: gathered while messages are handled
        and told, in order, as one ``BreakerEvidence`` (a fill's slippage and the risk
        samples it moved are one message, not three); at once outside a handler.

        After a handler they go at once when an event is among them (a rejection, an
        impossible report: the rules that count events act without delay), or nothing
        else waits in the inbox, or ``EVIDENCE_BATCH`` samples are gathered; else they
        wait for the next handler's end — under a flood of fills, one message carries
        the samples of many, at most ``EVIDENCE_BATCH`` late."""
        self.evidence_out.extend(signals)
        self.evidence_urgent = self.evidence_urgent or any(s.value is None for s in signals)
        if not self.gathering:
            self.send_evidence()

    def send_evidence(self) -> None:
        if self.evidence_out:
            signals, self.evidence_out = tuple(self.evidence_out), []
            self.evidence_urgent = False
            self.tell("breaker", BreakerEvidence(signals=signals, sender=self.name))

    def _dispatch(self, message: Any) -> Any:
        self.gathering = True
        crashed = True
        try:
            result = super()._dispatch(message)
            crashed = False
            return result
        finally:  # (a handler that crashed: what it found still goes, at once)
            self.gathering = False
            out = self.evidence_out
            if out and (
                crashed
                or self.evidence_urgent
                or len(out) >= EVIDENCE_BATCH
                or self.inbox_ref.empty()
            ):
                self.send_evidence()

    def report_unknown(self) -> None:
        self.signal([unknown_orders(self.state.unknown_since)])

    def ensure_opened(self) -> bool:
        return resync.ensure_opened(self)

    # ------------------------------------------------------------------ intents

    def on_intent(self, intent: OrderIntent) -> IntentDecision:
        return intake.on_intent(self, intent)

    def on_replace_intent(self, message: ReplaceIntent) -> IntentDecision:
        return intake.on_intent(self, message.order, replacing=message.cancel_client_order_id)

    def on_list_intent(self, intent: OrderListIntent) -> ListDecision:
        return lists.on_list_intent(self, intent)

    def on_list_event(self, message: ListEvent) -> None:
        lists.on_list_event(self, message)

    def on_list_expiry_check(self, message: ListExpiryCheck) -> None:
        lists.on_expiry_check(self, message)

    # ------------------------------------------------------------------ send outcomes

    def on_send_outcome(self, message: SendOutcome) -> None:
        if message.order_list:
            lists.on_list_outcome(self, message)
            return
        cid = message.client_order_id
        order = self.book.orders.get(cid)
        if order is None:
            return
        counters = self.state.counters
        counters["answered"] += 1
        self.audit(
            "send_outcome",
            client_order_id=cid,
            outcome=message.outcome.value,
            detail=message.detail,
            code=message.code,
        )
        outcome = message.outcome
        evidence = self.state.evidence
        acked = outcome is SendResult.ACKED
        latency = evidence.execution.answered(
            cid, message.answered_at or time.monotonic(), acked=acked
        )
        if acked:
            counters["sent"] += 1
            self.signal(evidence.ack_latency(order.symbol, latency))
            self._apply_ack(order, message.ack)
            self.check_reports()
        elif outcome in (SendResult.REJECTED, SendResult.NOT_SENT, SendResult.REFUSED):
            self.feed.reject_reasons[cid] = message.detail or outcome.value
            self.book.mark(cid, OrderState.REJECTED, now_ms())
            self.feed.reject_reasons.pop(cid, None)  # (used, or the order was already closed)
            if outcome is SendResult.REJECTED:  # evidence for the reject-spike rule
                self.evidence(
                    EvidenceKind.ORDER_REJECTED, f"{cid}: {message.code} {message.detail}"
                )
        else:
            counters["sent"] += 1
            if not order.state.is_terminal and order.order_id is None:
                self.book.mark(cid, OrderState.UNKNOWN, now_ms())
                self.state.unknown_since.setdefault(cid, mono_ms())
            # else the exchange already told us about the order (its event overtook the
            # failed answer): the outcome is known, nothing to resolve
            self.evidence(EvidenceKind.UNKNOWN_OUTCOME, f"{cid}: {message.detail}")
            self.report_unknown()
        self._settled(order)
        self.keep_cancelling()  # an order acknowledged after the trip

    def _apply_ack(self, order: BookOrder, ack: OrderAck) -> None:
        if self.state.unknown_since.pop(order.client_order_id, None) is not None:
            self.report_unknown()  # (replayed as UNKNOWN after a restart: the answer came)
        state = ack.state.value if ack.state is not None else "NEW"
        self.book.apply_order_update(
            symbol=ack.symbol,
            client_order_id=order.client_order_id,
            order_id=ack.order_id,
            venue_state=state,
            cumulative_qty=ack.executed_qty or Decimal(0),
            cumulative_quote=ack.cumulative_quote_qty or Decimal(0),
            now_ms=now_ms(),
        )
        for execution in executions.from_ack(ack, order):
            self._fill(execution)

    # ------------------------------------------------------------------ updates

    def on_order_event(self, message: OrderEvent) -> None:
        r = message.report
        order = self.book.apply_order_update(
            symbol=r.symbol,
            client_order_id=r.order_client_id,
            order_id=r.order_id,
            venue_state=r.state.value,
            cumulative_qty=r.cumulative_qty,
            cumulative_quote=r.cumulative_quote_qty,
            now_ms=now_ms(),
        )
        self._known(order)
        execution = executions.from_report(r, message.via)
        if execution is not None:
            self._fill(execution)
        lists.after_report(self, order, r)
        self.check_reports()
        if order is not None and order.state is OrderState.PARTIALLY_FILLED:
            crash_point("partial_fill")
        if order is not None:
            self._settled(order)
        elif self.book.late_report(r.order_client_id):
            pass  # an order compacted away (closed for good): a late duplicate
        elif (other := other_instance(r.order_client_id, self.ctx.services.instance)) is not None:
            self.evidence(
                EvidenceKind.ANOTHER_INSTANCE,
                f"another Vigil (instance {other}) trades this exchange account: "
                f"{r.symbol} #{r.order_id} ({r.order_client_id})",
            )
        else:
            self.evidence(
                EvidenceKind.UNKNOWN_ORDER,
                f"execution report for an order the book never placed: "
                f"{r.symbol} #{r.order_id} ({r.order_client_id})",
            )

    def check_reports(self) -> None:
        """A report that breaks an invariant of the book (filled more than ordered, a fill
        for an order already closed beyond what it had, a state the venue does not have, a
        negative balance from the exchange) means Vigil no longer knows where the money is:
        CRITICAL evidence, RED, and an incident naming the order and both values."""
        for anomaly in self.book.take_anomalies():
            at = now_ms()
            services = self.ctx.services
            write_incident(
                services.data_dir,
                services.store,
                kind="impossible_report",
                at_ms=at,
                reason=f"impossible report: {anomaly}",
                state={"anomaly": anomaly, "book": queries.status(self.memory, at, red=True)},
                report={"kind": "impossible_report", "anomaly": anomaly},
                lines=[f"An exchange report broke the book's invariants: {anomaly}"],
                orders=[anomaly.split(":", 1)[0]],
            )
            self.evidence(EvidenceKind.IMPOSSIBLE_REPORT, anomaly)

    def _known(self, order: BookOrder | None) -> bool:
        """The exchange told us of the order: it is no longer unknown."""
        if order is None or order.client_order_id not in self.state.unknown_since:
            return False
        del self.state.unknown_since[order.client_order_id]
        self.report_unknown()
        return True

    def on_order_snapshot(self, message: OrderSnapshot) -> None:
        s = message.status
        order = self.apply_status(s)
        if order is not None and order.order_list is not None:
            lists.watch_expiries(self)
        self.check_reports()
        if self._known(order):
            assert order is not None
            cid = order.client_order_id
            self.audit("unknown_resolved", client_order_id=cid, state=s.state.value)
        if order is not None:
            self._settled(order)

    def on_order_absent(self, message: OrderAbsent) -> None:
        order = self.book.orders.get(message.client_order_id)
        if order is None or order.state is not OrderState.UNKNOWN:
            return
        since = self.state.unknown_since.setdefault(order.client_order_id, mono_ms())
        if mono_ms() - since >= self.settings.broker.unknown_window_s * 1000:
            self.feed.reject_reasons[order.client_order_id] = "the exchange has no such order"
            self.book.mark(order.client_order_id, OrderState.REJECTED, now_ms())
            self.feed.reject_reasons.pop(order.client_order_id, None)
            self.state.unknown_since.pop(order.client_order_id, None)
            self._settled(order)
            self.audit(
                "unknown_resolved",
                client_order_id=order.client_order_id,
                state="ABSENT",
                detail="the exchange confirms no such order",
            )
            self.report_unknown()

    def on_trades(self, message: TradesSeen) -> None:
        for t in message.trades:
            order = self.book.find(t.symbol, None, t.order_id)
            self._fill(executions.from_trade(t, order.client_order_id if order else None))

    def on_account(self, message: AccountEvent) -> None:
        event = message.event
        if self.ctx.services.events.subscribers > 0:
            self.ctx.services.events.publish("account", account_event(event))
        if isinstance(event, AccountPosition):
            for b in event.balances:  # the exchange's own balances: never negative
                if b.free < 0 or b.locked < 0:
                    self.book.unreported.append(
                        f"{b.asset}: the exchange reports free {b.free}, locked {b.locked}"
                    )
            self.check_reports()
        if isinstance(event, BalanceUpdate):
            self.book.apply_external(event.asset, event.delta)
            self.audit("balance_update", asset=event.asset, delta=str(event.delta))
            self._journal_peak(self.state.risk.shift_peak(self.book, event.asset, event.delta))
            for symbol, market in self.book.markets.items():
                if event.asset in (market.base, market.quote):
                    self.signal(position(self.book, symbol))

    def on_price(self, message: MarketPrice) -> None:
        self.book.set_price(message.ticker.symbol, message.ticker.mid, mono_ms())
        if time.monotonic() - self.state.risk_sampled >= RISK_SAMPLE_S:
            self._risk()
        self.checkpoint_due()

    def checkpoint_due(self) -> bool:
        """A checkpoint of the compacted book every ``journal.checkpoint_every`` entries."""
        return checkpoints.checkpoint_due(self)

    def apply_status(self, status: OrderStatus) -> BookOrder | None:
        """Apply the exchange's view of one order to the book."""
        return self.book.apply_order_update(
            symbol=status.symbol,
            client_order_id=status.client_order_id,
            order_id=status.order_id,
            venue_state=status.state.value,
            cumulative_qty=status.executed_qty,
            cumulative_quote=status.cumulative_quote_qty,
            now_ms=now_ms(),
        )

    # ------------------------------------------------------------------ evidence

    def _fill(self, execution: Execution) -> None:
        """One execution, from whichever path brought it (a duplicate or a foreign fill is
        accounted at most once, or kept apart)."""
        self.book.apply_execution(execution)
        self.collect_evidence()

    def collect_evidence(self) -> None:
        """Evidence from every fill the book accounted since the last look, whichever way
        it came: applied here, or claimed once its order's exchange id became known (a REST
        trade can overtake the acknowledgment; several can be claimed at once). Every fill
        is judged before any of their orders is judged as done."""
        touched: dict[str, BookOrder] = {}
        for accounted in self.book.take_accounted():
            execution = accounted.execution
            order = self.book.find(execution.symbol, execution.client_order_id, execution.order_id)
            assert order is not None  # accounted executions belong to a known order
            self.signal(self.state.evidence.fill(self.book, accounted, order, time.monotonic()))
            self._risk()
            touched[order.client_order_id] = order
        for order in touched.values():
            self._settled(order)  # this may have been the last fill of a finished order

    def _settled(self, order: BookOrder) -> None:
        """An order that is done (terminal, every fill it reported accounted) gives its
        per-order evidence once, and its execution quality goes to the audit trail with its
        symbol's latency percentiles as they now stand."""
        self.collect_evidence()
        if not order.state.is_terminal or not order.fills_booked:
            return
        evidence = self.state.evidence
        self.signal(evidence.done(order))
        quality = evidence.quality(order)
        if quality:
            assert not isinstance(quality, bool)
            self.audit(
                "execution_quality",
                **quality.as_dict(),
                latency=evidence.execution.summary(order.symbol).get(order.symbol, {}),
            )

    def _risk(self) -> None:
        """Today's loss and the drawdown from today's highest equity, as breaker samples."""
        self.state.risk_sampled = time.monotonic()
        reading = self.state.risk.sample(self.book, now_ms())
        self._journal_reading(reading)
        self.signal(reading.signals)

    def _journal_reading(self, reading: RiskReading) -> None:
        self.journal_day(reading.new_day)
        self._journal_peak(reading.peak)

    def journal_day(self, day: Any) -> None:
        if day is not None:
            self.journal.append("day_mark", day_mark_entry(day))

    def _journal_peak(self, day: Any) -> None:
        """The day's peak as it stands now, for a restart to find (replay: latest wins)."""
        if day is not None:
            self.journal.append("day_peak", day_peak_entry(day))

    # ------------------------------------------------------------------ queries

    def on_snapshot_request(self, message: BookSnapshotRequest) -> dict[str, Any]:
        """The book as plain, immutable data, for the reconciler (opened first)."""
        self.ensure_opened()
        self._risk()  # also here: prices may have moved since the last (throttled) sample
        self.checkpoint_due()
        return queries.snapshot(self.memory, message.trade_marks)

    def on_in_flight_request(
        self, message: InFlightRequest
    ) -> list[tuple[str, str, str, int | None]]:
        window_ms = 2 * self.settings.broker.unknown_window_s * 1000
        for cid, since in self.state.unknown_since.items():
            if mono_ms() - since > window_ms:
                self.evidence(EvidenceKind.UNKNOWN_STUCK, f"order {cid} outcome still unknown")
        self.keep_cancelling()
        stale.sweep(self)  # stale-order cleanup, on the poller's beat
        return [
            (o.symbol, o.client_order_id, o.state.value, o.order_id)
            for o in self.book.open_orders()
        ]

    def on_lists_to_resolve(self, message: ListsToResolve) -> list[tuple[str, str]]:
        return list_recovery.to_resolve(self, message)

    def on_list_snapshot(self, message: ListSnapshot) -> None:
        list_recovery.on_snapshot(self, message)

    def status(self, message: StatusRequest) -> dict[str, Any]:
        return queries.status(self.memory, now_ms(), red=self.ctx.gate.state.is_red)

    # ------------------------------------------------------------------ halts

    def on_cancel(self, message: CancelOrder) -> CancelDecision:
        return cancels.on_cancel(self, message)

    def on_orders_query(self, message: OrdersQuery) -> tuple[dict[str, Any], ...]:
        return queries.orders(self.book, message)

    def on_lists_query(self, message: ListsQuery) -> tuple[dict[str, Any], ...]:
        return queries.order_lists(self.book, message)

    def on_cancel_all(self, message: CancelAll) -> int:
        targets, _ = one_per_list(  # one cancel ends a whole list
            (
                o
                for o in self.book.open_orders()
                if o.state in (OrderState.NEW, OrderState.PARTIALLY_FILLED)
            ),
            open_list_key(self.book.order_lists, self.book.orders),
        )
        for order in targets:
            self.wire.cancel(order.symbol, order.client_order_id)
        self.audit("cancel_all", reason=message.reason, orders=[o.client_order_id for o in targets])
        return len(targets)

    def on_breaker_changed(self, message: BreakerChanged) -> None:
        self.keep_cancelling()

    def keep_cancelling(self) -> None:
        """Cancel-on-RED (``broker.cancel_on_red``): while RED, every order of ours that the
        exchange confirms open is cancelled, and cancelled again with back-off until the
        exchange reports it gone. Called on the trip, on every poll's look at the book, on
        each answer from the exchange, and when an instance starts; each attempt audited."""
        duty = self.state.cancel_duty
        if not (self.settings.broker.cancel_on_red and self.ctx.gate.state.is_red):
            duty.clear()
            return
        key = open_list_key(self.book.order_lists, self.book.orders)  # one ends a whole list
        for order, attempt in duty.due(self.book.open_orders(), mono_ms(), key):
            self.wire.cancel(order.symbol, order.client_order_id)
            self.audit(
                "cancel_on_red",
                client_order_id=order.client_order_id,
                attempt=attempt,
                state=order.state.value,
                reason=self.ctx.gate.state.reason,
            )

    def on_resync(self, message: ResyncRequest) -> dict[str, Any]:
        return resync.resync(self, message)

    # ------------------------------------------------------------------ emergency flatten

    def on_flatten_cancel(self, message: FlattenCancel) -> dict[str, Any]:
        return flatten.on_cancel(self, message)

    def on_flatten_view(self, message: FlattenView) -> dict[str, Any]:
        return flatten.on_view(self, message)

    def on_flatten_sell(self, message: FlattenSell) -> dict[str, Any]:
        return flatten.on_sell(self, message)
