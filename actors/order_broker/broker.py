"""The order broker actor: its state, its handler table and how it tells the breaker.

``OrderIntent → admission (duplicate, policy, breaker gate, YELLOW) → journal (write-ahead)
→ wire → exchange``. Each handler is one line that hands the message to the module of its
concept: intents (``intake``), order lists (``lists``, ``list_recovery``), the exchange's
reports (``reports``), evidence from fills and prices (``fill_evidence``), queries, cancels,
resync and flatten. What stays here is the instance itself: its start from durable state,
the journal and live-event observer of the book, the evidence gathered while a message is
handled and told as one ``BreakerEvidence``, and cancel-on-RED.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from actors.order_broker import (
    cancels,
    checkpoints,
    fill_evidence,
    flatten,
    intake,
    list_recovery,
    lists,
    queries,
    reports,
    resync,
    stale,
)
from actors.order_broker.feed import ExecutionFeed
from actors.order_broker.memory import BrokerMemory, OwnedJournal
from actors.order_broker.wire import Wire
from domain.book import Book, BookOrder, OrderState
from domain.breaker_rules import EvidenceKind
from domain.cancel_duty import one_per_list, open_list_key
from domain.evidence import Signal, unknown_orders
from domain.replay import change_entry
from exchange.contract import (
    OrderStatus,
)
from runtime.actor import VigilActor
from runtime.clock import mono_ms, now_ms
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
    StatusRequest,
    TradesSeen,
)
from storage import StoreError

NOT_OURS = cancels.ADOPTED  # adopted orders' sources
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

    # ------------------------------------------------------------------ reports (reports.py)

    def on_send_outcome(self, message: SendOutcome) -> None:
        reports.on_send_outcome(self, message)

    def on_order_event(self, message: OrderEvent) -> None:
        reports.on_order_event(self, message)

    def on_order_snapshot(self, message: OrderSnapshot) -> None:
        reports.on_order_snapshot(self, message)

    def on_order_absent(self, message: OrderAbsent) -> None:
        reports.on_order_absent(self, message)

    def on_trades(self, message: TradesSeen) -> None:
        reports.on_trades(self, message)

    def on_account(self, message: AccountEvent) -> None:
        reports.on_account(self, message)

    def check_reports(self) -> None:
        reports.check_reports(self)

    def _known(self, order: BookOrder | None) -> bool:
        return reports.known(self, order)

    def apply_status(self, status: OrderStatus) -> BookOrder | None:
        """Apply the exchange's view of one order to the book."""
        return reports.apply_status(self, status)

    # ------------------------------------------------------------------ evidence (fill_evidence.py)

    def on_price(self, message: MarketPrice) -> None:
        fill_evidence.on_price(self, message)

    def checkpoint_due(self) -> bool:
        """A checkpoint of the compacted book every ``journal.checkpoint_every`` entries."""
        return checkpoints.checkpoint_due(self)

    def collect_evidence(self) -> None:
        fill_evidence.collect_evidence(self)

    def _settled(self, order: BookOrder) -> None:
        fill_evidence.settled(self, order)

    def _risk(self) -> None:
        fill_evidence.risk(self)

    def journal_day(self, day: Any) -> None:
        fill_evidence.journal_day(self, day)

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
