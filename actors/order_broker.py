"""order_broker: the order path and the internal book.

``OrderIntent → policy guard → breaker gate → book (write-ahead) → wire → exchange``.
Sends run on a one-thread "wire" so the broker keeps answering (halts, heartbeats)
while the exchange is slow; the gate is checked again on the wire thread right before
each send, so nothing queued before a RED reaches the exchange after it.

Unknown outcomes (timeout after send, lost response, 5xx, -1007, a duplicate client id)
are never re-sent: the order is UNKNOWN until the poller finds it by client order id or
the exchange confirms it does not exist after ``unknown_window_s``; one that stays unknown
longer is a RED input.
"""

from __future__ import annotations

import concurrent.futures
import secrets
import time
from collections import ChainMap
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from domain.book import DAY_MS, Accounted, Book, BookOrder, DayMark, Execution, OrderState
from domain.breaker import Level
from domain.breaker_rules import BreakerBoard, yellow_refusal
from domain.execution import ExecutionTracker
from domain.policy import PolicyLimits, check_intent, policy_input_from_book, reduces_exposure
from domain.reconciliation import InternalOrder, InternalSnapshot
from domain.replay import order_entry
from exchange.contract import (
    BalanceUpdate,
    DuplicateClientOrderId,
    ExchangeError,
    NotSent,
    OrderAck,
    OrderNotFound,
    OrderRequest,
    Rejected,
    UnknownOutcome,
)
from runtime.actor import VigilActor
from runtime.clock import mono_ms, now_ms
from runtime.crashpoints import crash_point
from runtime.incidents import internal_state, write_incident
from runtime.messages import (
    AccountEvent,
    BookSnapshotRequest,
    BreakerChanged,
    BreakerInput,
    BreakerSample,
    CancelAll,
    InFlightRequest,
    IntentDecision,
    MarketPrice,
    OrderAbsent,
    OrderEvent,
    OrderIntent,
    OrderSnapshot,
    ResyncRequest,
    SendOutcome,
    StatusRequest,
    TradesSeen,
)
from storage import AuditTrail, Journal, StoreError

NOT_OURS = frozenset({"adopted", "resync", "cancelled at start-up"})  # adopted orders' sources
MIN_LATENCY_SAMPLES = 20  # a symbol's place→ack p95 is evidence from this many acks on
RISK_SAMPLE_S = 1.0  # daily loss and drawdown samples on prices, at most this often
PEAK_STEP = Decimal("1.0001")  # the day's peak equity is journaled each time it rises 1 bp


def intent_entry(order: BookOrder, correlation_id: str) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "quantity": str(order.quantity),
        "price": None if order.price is None else str(order.price),
        "created_ms": order.created_ms,
        "source": order.source,
        "correlation_id": correlation_id,
    }


def intent_record(order: BookOrder, verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """The audit record of an accepted intent (also rebuilt from the journal, see
    ``assembly.system``)."""
    return {
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "quantity": str(order.quantity),
        "price": str(order.price),
        "verdicts": verdicts,
    }


def summary(o: BookOrder) -> InternalOrder:
    return InternalOrder(
        o.client_order_id, o.symbol, o.order_id, o.state.value, o.executed_qty, o.updated_ms
    )


def plain(value: Decimal) -> str:
    """A Decimal for people: exact, without trailing zeros or an exponent."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def new_client_order_id() -> str:
    return f"vgl-{secrets.token_hex(8)}"


class StaleInstance(RuntimeError):
    """A broker instance that has been replaced tried to write: refused."""


class OwnedJournal:
    """The journal as one broker instance sees it: writable only while that instance owns
    the book (``BookHolder.owner``). A replaced instance that wakes up mid-handler fails
    at its next write instead of changing what recovery will replay."""

    def __init__(self, journal: Journal, holder: BookHolder, generation: int) -> None:
        self._journal = journal
        self._holder = holder
        self._generation = generation

    def append(self, kind: str, body: dict[str, Any], *, durable: bool = False) -> None:
        if self._holder.owner != self._generation:
            raise StaleInstance(
                f"broker generation {self._generation} replaced by {self._holder.owner}"
            )
        self._journal.append(kind, body, durable=durable)


class BookHolder:
    """The book outlives a broker instance (a restart keeps what the old one knew);
    ``trade_floor`` is the last trade id per symbol that predates this run."""

    def __init__(self, book: Book) -> None:
        self.book = book
        self.trade_floor: dict[str, int] = {}
        # client order id -> mono_ms() it became unknown: a step of the wall clock must not
        # make the exchange's silence about it look long (marked absent too early) or short
        self.unknown_since: dict[str, int] = {}
        self.closed_summaries: dict[str, InternalOrder] = {}
        self.closed_index = 0
        self.execution = ExecutionTracker()
        # per SELL order being filled: (realized P&L, base closed) so far, judged once done
        self.closing: dict[str, tuple[Decimal, Decimal]] = {}
        self.peak_journaled: Decimal | None = None  # the last day_peak written
        self.owner = 0  # the generation of the broker instance that owns the book now
        self.risk_sampled = 0.0  # monotonic: the last risk samples taken on a price
        self.counters: dict[str, int] = {
            "intents": 0,
            "accepted": 0,
            "refused": 0,
            "sent": 0,
            "answered": 0,  # sends the wire has finished, whatever their outcome
        }


class OrderBroker(VigilActor):
    name = "order_broker"
    handlers = {
        OrderIntent: "on_intent",
        SendOutcome: "on_send_outcome",
        OrderEvent: "on_order_event",
        OrderSnapshot: "on_order_snapshot",
        OrderAbsent: "on_order_absent",
        TradesSeen: "on_trades",
        AccountEvent: "on_account",
        MarketPrice: "on_price",
        BookSnapshotRequest: "on_snapshot_request",
        InFlightRequest: "on_in_flight_request",
        CancelAll: "on_cancel_all",
        BreakerChanged: "on_breaker_changed",
        ResyncRequest: "on_resync",
        StatusRequest: "status",
    }

    def started(self) -> None:
        self.settings = self.ctx.service("settings")
        self.adapter = self.ctx.service("adapter")
        self.holder: BookHolder = self.ctx.service("book")
        # a restart starts from durable state, not from the failed instance's memory; from
        # here on this instance owns the book, and one that was replaced (hung, then woken)
        # can neither write the journal nor send an order
        self.ctx.service("rebuild_book")(self.generation)
        self.book: Book = self.holder.book
        p = self.settings.policy
        self.limits = PolicyLimits(
            symbols=frozenset(self.settings.exchange.symbols),
            max_order_notional=p.max_order_notional,
            max_open_orders=p.max_open_orders,
            fat_finger_pct=p.fat_finger_pct,
            denied_symbols=frozenset(p.denied_symbols),
            max_position_notional=p.max_position_notional,
            max_total_exposure=p.max_total_exposure,
            max_directional_notional=p.max_directional_notional,
            max_orders_per_minute=p.max_orders_per_minute,
            max_orders_per_day=p.max_orders_per_day,
            max_daily_loss=p.max_daily_loss,
            max_reference_age_ms=(
                None if p.max_reference_age_s is None else int(p.max_reference_age_s * 1000)
            ),
        )
        self.wire = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="wire")
        self.journal = OwnedJournal(self.ctx.service("journal"), self.holder, self.generation)
        self.trail: AuditTrail = self.ctx.service("trail")
        for order in self.book.open_orders():  # recovered in-flight intents: resolve by query
            if order.state is OrderState.UNKNOWN:
                self.holder.unknown_since.setdefault(order.client_order_id, mono_ms())
        self.book.take_accounted()  # evidence is collected from here on (not the replay's)
        for order in self.book.orders.values():  # finished before: their evidence was given
            order.evidence_done = (
                order.state.is_terminal and order.fills_booked
            ) or order.source in NOT_OURS
            order.partial_reported = order.type == "LIMIT" and 0 < order.executed_qty
            if order.evidence_done:  # a crash between its last fill and its judgment
                self.holder.closing.pop(order.client_order_id, None)
                self.holder.execution.orders.pop(order.client_order_id, None)
        self._unknown_count()  # the breaker's gauge says what this book says

    def stopping(self) -> None:
        wire = getattr(self, "wire", None)
        if wire is not None:
            wire.shutdown(wait=False, cancel_futures=False)

    # ------------------------------------------------------------------ opening

    def ensure_opened(self) -> bool:
        """The opening state: exchange balances, open orders and trade floors (once)."""
        if self.book.opened:
            return True
        balances = self.adapter.get_balances()
        open_orders = self.adapter.get_open_orders(None)
        for symbol in self.settings.exchange.symbols:
            recent = self.adapter.get_trades(symbol)
            self.holder.trade_floor[symbol] = max((t.trade_id for t in recent), default=0)
        totals = {a: b.free + b.locked for a, b in balances.items()}
        self.journal.append(
            "opening",
            {
                "totals": {a: str(v) for a, v in totals.items()},
                "trade_floor": self.holder.trade_floor,
            },
            durable=True,
        )
        self.book.open(totals)
        if open_orders:
            self._existing_orders(open_orders)
        self.audit("book_opened", assets=len(balances), open_orders=len(open_orders))
        return True

    def _adopt(self, o: Any, source: str) -> None:
        """Take an order found on the exchange into the book as it stands there."""
        state = o.state.value if o.state.value in OrderState.__members__ else "NEW"
        self.book.add_intent(
            BookOrder(
                client_order_id=o.client_order_id,
                symbol=o.symbol,
                side=o.side.value,
                type=o.type.value,
                quantity=o.orig_qty,
                price=o.price,
                state=OrderState(state),
                order_id=o.order_id,
                executed_qty=o.executed_qty,
                cumulative_quote=o.cumulative_quote_qty,
                created_ms=now_ms(),
                updated_ms=now_ms(),
                source=source,
                evidence_done=True,  # not placed by this Vigil: no per-order evidence
            )
        )
        self.book.by_order_id[(o.symbol, o.order_id)] = o.client_order_id
        self.journal.append("order", order_entry(self.book.orders[o.client_order_id]), durable=True)

    def _existing_orders(self, orders: list[Any]) -> None:
        mode = self.settings.broker.on_start_existing
        ids = [o.client_order_id for o in orders]
        if mode == "adopt":
            for o in orders:
                self._adopt(o, "adopted")
            self.audit("existing_orders_adopted", orders=ids)
        elif mode == "cancel":
            for o in orders:  # known first, so their cancel reports are not "foreign"
                self._adopt(o, "cancelled at start-up")
                self.adapter.cancel_order(o.symbol, order_id=o.order_id)
            self.audit("existing_orders_cancelled", orders=ids)
        else:
            self.tell(
                "breaker",
                BreakerInput(
                    kind="existing_orders",
                    severity="RED",
                    detail=f"{len(orders)} open orders already on the exchange at start-up",
                ),
            )

    # ------------------------------------------------------------------ intents

    def on_intent(self, intent: OrderIntent) -> IntentDecision:
        self.holder.counters["intents"] += 1
        cid = intent.client_order_id or new_client_order_id()
        if cid in self.book.orders:
            reason = "already in the book"
            dup = [{"gate": "client_order_id", "passed": False, "reason": reason}]
            return self._refuse(intent, cid, f"duplicate client order id: {reason}", 409, dup)
        now = now_ms()
        self._roll_day(now)
        account = policy_input_from_book(
            self.book,
            symbol=intent.symbol,
            side=intent.side,
            type=intent.type,
            quantity=intent.quantity,
            price=intent.price,
            filters=self._filters(intent.symbol),
            now_ms=now,
            price_clock_ms=mono_ms(),
        )
        decision = check_intent(account, self.limits)
        verdicts = [
            {"gate": v.gate, "passed": v.passed, "reason": v.reason} for v in decision.verdicts
        ]
        if not decision.accepted:
            return self._refuse(intent, cid, f"policy: {decision.reason}", 422, verdicts)
        # the breaker's verdicts join the policy's, so the audit shows why an order went
        refusal = self.ctx.gate.refusal()
        verdicts.append({"gate": "breaker", "passed": refusal is None, "reason": refusal or ""})
        if refusal is not None:
            return self._refuse(intent, cid, f"breaker: {refusal}", 409, verdicts)
        if self.ctx.gate.state.level is Level.YELLOW:  # what YELLOW still allows
            board: BreakerBoard = self.ctx.services.get("breaker_board") or BreakerBoard()
            quantity = decision.quantity or intent.quantity
            reduces = reduces_exposure(
                intent.side, quantity, account.position_qty, account.open_sell_qty
            )
            refusal = yellow_refusal(
                board.limits,
                board.causes,
                reduces_exposure=reduces,
                orders_last_minute=account.orders_last_minute,
            )
            verdicts.append(
                {
                    "gate": "yellow",
                    "passed": refusal is None,
                    "reason": refusal or ("reduces exposure" if reduces else ""),
                }
            )
            if refusal is not None:
                return self._refuse(intent, cid, f"breaker: {refusal}", 409, verdicts)
        order = BookOrder(
            client_order_id=cid,
            symbol=intent.symbol,
            side=intent.side,
            type=intent.type,
            quantity=decision.quantity or intent.quantity,
            price=decision.price,
            created_ms=now_ms(),
            updated_ms=now_ms(),
            source=intent.source,
        )
        # write-ahead, with one disk flush: the audit record is queued (group-committed) and
        # its sequence number goes into the journal entry, which is durable before the
        # order can reach the wire; recovery re-writes any record a crash took from the
        # trail (``VigilSystem._backfill_intent_audit``), so neither can be lost
        try:
            audit_seq = self.trail.append(
                "intent_accepted",
                intent_record(order, verdicts),
                cid=intent.correlation_id,
                actor=self.name,
            )
            self.journal.append(
                "intent",
                {
                    **intent_entry(order, intent.correlation_id),
                    "audit_seq": audit_seq,
                    "gates": [v["gate"] for v in verdicts],
                },
                durable=True,
            )
        except StoreError as exc:
            self.ctx.gate.trip_red(f"durable storage failed: {exc}", "order_broker")
            return self._refuse(intent, cid, f"storage: {exc}", 409, verdicts)
        self.book.add_intent(order)
        self.holder.execution.accepted(
            cid, order.symbol, order.side, self.book.prices.get(order.symbol)
        )
        crash_point("after_intent_journaled")
        request = OrderRequest(
            symbol=order.symbol,
            side=order.side,  # type: ignore[arg-type]
            type=order.type,  # type: ignore[arg-type]
            client_order_id=cid,
            quantity=order.quantity,
            price=order.price,
        )
        self.holder.counters["accepted"] += 1
        self.wire.submit(self._send, request, intent.correlation_id)
        return IntentDecision(
            accepted=True, client_order_id=cid, correlation_id=intent.correlation_id
        )

    def _refuse(
        self, intent: OrderIntent, cid: str, reason: str, status: int, verdicts: Any = None
    ) -> IntentDecision:
        self.holder.counters["refused"] += 1
        self.audit(
            "intent_refused",
            client_order_id=cid,
            reason=reason,
            verdicts=verdicts or [],
            intent_cid=intent.correlation_id,
        )
        return IntentDecision(
            accepted=False,
            client_order_id=cid,
            reason=reason,
            status=status,
            correlation_id=intent.correlation_id,
        )

    def _filters(self, symbol: str) -> Any:
        try:
            return self.adapter.symbol_filters(symbol)
        except (ExchangeError, KeyError):
            return None

    # ------------------------------------------------------------------ the wire

    def _send(self, request: OrderRequest, correlation_id: str) -> None:
        """Runs on the wire thread. Never re-sends: every outcome goes back to the broker."""
        cid = request.client_order_id

        def outcome(kind: str, detail: str = "", ack: Any = None, code: int | None = None) -> None:
            self.ctx.directory.tell(
                "order_broker",
                SendOutcome(
                    client_order_id=cid,
                    outcome=kind,
                    detail=detail,
                    ack=ack,
                    code=code,
                    answered_at=time.monotonic(),
                    correlation_id=correlation_id,
                ),
                sender="wire",
            )

        if self.holder.owner != self.generation:
            outcome("refused", "sent by a broker instance that has been replaced")
            return
        refusal = self.ctx.gate.begin_send(cid)
        if refusal is not None:
            outcome("refused", refusal)
            return
        self.holder.execution.sent(cid, time.monotonic())
        try:
            ack = self.adapter.place_order(request)
            crash_point("after_send")
        except DuplicateClientOrderId as exc:
            outcome("unknown", f"duplicate client order id: {exc}", code=exc.code)
        except NotSent as exc:
            outcome("not_sent", str(exc), code=exc.code)
        except Rejected as exc:
            outcome("rejected", str(exc), code=exc.code)
        except UnknownOutcome as exc:
            outcome("unknown", str(exc), code=exc.code)
        except ExchangeError as exc:
            outcome("rejected" if exc.code is not None else "unknown", str(exc), code=exc.code)
        except Exception as exc:  # we cannot tell whether it reached the exchange
            outcome("unknown", f"{type(exc).__name__}: {exc}")
        else:
            outcome("acked", ack=ack)
        finally:
            self.ctx.gate.end_send(cid)

    def on_send_outcome(self, message: SendOutcome) -> None:
        cid = message.client_order_id
        order = self.book.orders.get(cid)
        if order is None:
            return
        self.holder.counters["answered"] += 1
        self.audit(
            "send_outcome",
            client_order_id=cid,
            outcome=message.outcome,
            detail=message.detail,
            code=message.code,
        )
        execution = self.holder.execution
        latency = execution.answered(
            cid, message.answered_at or time.monotonic(), acked=message.outcome == "acked"
        )
        if message.outcome == "acked":
            self.holder.counters["sent"] += 1
            if latency is not None:
                # this symbol's p95, once it rests on enough acks; the rule takes the
                # highest in its window, so a fast symbol does not hide a slow one, and a
                # symbol that stops trading ages out
                p95 = execution.p95_ack_ms(order.symbol, MIN_LATENCY_SAMPLES)
                if p95 is not None:
                    self.tell(
                        "breaker",
                        BreakerSample(
                            kind="order_latency_p95_ms",
                            value=Decimal(str(round(p95, 3))),
                            detail=f"{order.symbol} place→ack p95",
                        ),
                    )
            self._apply_ack(order, message.ack)
        elif message.outcome in ("rejected", "not_sent", "refused"):
            self.book.mark(cid, OrderState.REJECTED, now_ms())
            if message.outcome == "rejected":  # evidence for the reject-spike rule
                self.tell(
                    "breaker",
                    BreakerInput(
                        kind="order_rejected",
                        severity="INFO",
                        detail=f"{cid}: {message.code} {message.detail}",
                    ),
                )
        else:
            self.holder.counters["sent"] += 1
            if not order.state.is_terminal and order.order_id is None:
                self.book.mark(cid, OrderState.UNKNOWN, now_ms())
                self.holder.unknown_since.setdefault(cid, mono_ms())
            # else the exchange already told us about the order (its event overtook the
            # failed answer): the outcome is known, nothing to resolve
            self.tell(
                "breaker",
                BreakerInput(
                    kind="unknown_outcome", severity="INFO", detail=f"{cid}: {message.detail}"
                ),
            )
            self._unknown_count()
        self._settled(order)

    def _apply_ack(self, order: BookOrder, ack: OrderAck) -> None:
        if self.holder.unknown_since.pop(order.client_order_id, None) is not None:
            self._unknown_count()  # (replayed as UNKNOWN after a restart: the answer came)
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
        for fill in ack.fills:
            self._fill(
                Execution(
                    symbol=ack.symbol,
                    trade_id=fill.trade_id,
                    order_id=ack.order_id,
                    client_order_id=order.client_order_id,
                    side=order.side,
                    price=fill.price,
                    qty=fill.qty,
                    commission=fill.commission,
                    commission_asset=fill.commission_asset,
                    time_ms=ack.transact_time_ms,
                    is_maker=False,
                    via="ack",
                )
            )

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
        if order is not None and order.client_order_id in self.holder.unknown_since:
            del self.holder.unknown_since[order.client_order_id]
            self._unknown_count()
        if r.execution_type == "TRADE" and r.trade_id is not None and r.trade_id >= 0:
            self._fill(
                Execution(
                    symbol=r.symbol,
                    trade_id=r.trade_id,
                    order_id=r.order_id,
                    client_order_id=r.order_client_id,
                    side=r.side.value,
                    price=r.last_price,
                    qty=r.last_qty,
                    commission=r.commission,
                    commission_asset=r.commission_asset,
                    time_ms=r.transaction_time_ms,
                    is_maker=r.is_maker,
                    via=message.via,
                )
            )
        if order is not None and order.state is OrderState.PARTIALLY_FILLED:
            crash_point("partial_fill")
        if order is not None:
            self._settled(order)
        else:
            self.tell(
                "breaker",
                BreakerInput(
                    kind="unknown_order",
                    severity="RED",
                    detail=f"execution report for an order the book never placed: "
                    f"{r.symbol} #{r.order_id} ({r.order_client_id})",
                ),
            )

    def on_order_snapshot(self, message: OrderSnapshot) -> None:
        s = message.status
        order = self._snapshot(s)
        if order is not None and order.client_order_id in self.holder.unknown_since:
            del self.holder.unknown_since[order.client_order_id]
            self.audit(
                "unknown_resolved", client_order_id=order.client_order_id, state=s.state.value
            )
            self._unknown_count()
        if order is not None:
            self._settled(order)

    def on_order_absent(self, message: OrderAbsent) -> None:
        order = self.book.orders.get(message.client_order_id)
        if order is None or order.state is not OrderState.UNKNOWN:
            return
        since = self.holder.unknown_since.setdefault(order.client_order_id, mono_ms())
        if mono_ms() - since >= self.settings.broker.unknown_window_s * 1000:
            self.book.mark(order.client_order_id, OrderState.REJECTED, now_ms())
            self.holder.unknown_since.pop(order.client_order_id, None)
            self._settled(order)
            self.audit(
                "unknown_resolved",
                client_order_id=order.client_order_id,
                state="ABSENT",
                detail="the exchange confirms no such order",
            )
            self._unknown_count()

    def on_trades(self, message: TradesSeen) -> None:
        for t in message.trades:
            order = self.book.find(t.symbol, None, t.order_id)
            self._fill(
                Execution(
                    symbol=t.symbol,
                    trade_id=t.trade_id,
                    order_id=t.order_id,
                    client_order_id=order.client_order_id if order else None,
                    side="BUY" if t.is_buyer else "SELL",
                    price=t.price,
                    qty=t.qty,
                    commission=t.commission,
                    commission_asset=t.commission_asset,
                    time_ms=t.time_ms,
                    is_maker=t.is_maker,
                    via="rest",
                )
            )

    def on_account(self, message: AccountEvent) -> None:
        if isinstance(message.event, BalanceUpdate):
            self.book.apply_external(message.event.asset, message.event.delta)
            self.audit("balance_update", asset=message.event.asset, delta=str(message.event.delta))
            self._shift_peak(message.event.asset, message.event.delta)
            for symbol, market in self.book.markets.items():
                if message.event.asset in (market.base, market.quote):
                    self._check_position(symbol)

    def on_price(self, message: MarketPrice) -> None:
        self.book.set_price(message.ticker.symbol, message.ticker.mid, mono_ms())
        if time.monotonic() - self.holder.risk_sampled >= RISK_SAMPLE_S:
            self._risk()

    # ------------------------------------------------------------------ evidence

    def _fill(self, execution: Execution) -> None:
        """One execution, from whichever path brought it (a duplicate or a foreign fill is
        accounted at most once, or kept apart)."""
        self.book.apply_execution(execution)
        self._evidence()

    def _evidence(self) -> None:
        """Evidence from every fill the book accounted since the last look, whichever way
        it came: applied here, or claimed once its order's exchange id became known (a REST
        trade can overtake the acknowledgment; several can be claimed at once). Every fill
        is judged before any of their orders is judged as done."""
        touched: dict[str, BookOrder] = {}
        for accounted in self.book.take_accounted():
            order = self._fill_evidence(accounted)
            touched[order.client_order_id] = order
        for order in touched.values():
            self._settled(order)  # this may have been the last fill of a finished order

    def _fill_evidence(self, accounted: Accounted) -> BookOrder:
        """A new fill of ours: its slippage against the order's arrival price, a LIMIT
        order seen partly filled (once per order), what it closed, the position invariant
        and the risk samples. What can be judged only per order (a close won or lost, an
        order that ended partly filled) is given when the order is done (``_settled``)."""
        execution = accounted.execution
        book = self.book
        order = book.find(execution.symbol, execution.client_order_id, execution.order_id)
        assert order is not None  # accounted executions belong to a known order
        cid = order.client_order_id
        tracker = self.holder.execution
        bps = tracker.fill(cid, execution.price, execution.qty, time.monotonic())
        if bps is not None:
            self.tell(
                "breaker",
                BreakerSample(
                    kind="slippage_bps",
                    value=bps,
                    detail=f"{cid} {execution.side} {execution.qty} "
                    f"{execution.symbol} at {execution.price}, arrival mid "
                    f"{tracker.orders[cid].reference}",
                ),
            )
        if order.type == "LIMIT" and order.state is OrderState.PARTIALLY_FILLED:
            self._partial(order)
        if accounted.closed_qty > 0 and not order.evidence_done:
            realized, closed = self.holder.closing.get(cid, (Decimal(0), Decimal(0)))
            self.holder.closing[cid] = (
                realized + accounted.realized,
                closed + accounted.closed_qty,
            )
        self._check_position(execution.symbol)
        self._risk()
        return order

    def _partial(self, order: BookOrder) -> None:
        if order.partial_reported or order.evidence_done:
            return
        order.partial_reported = True
        self.tell(
            "breaker",
            BreakerInput(
                kind="partial_fill",
                severity="INFO",
                detail=f"{order.client_order_id}: {order.executed_qty} of {order.quantity}",
            ),
        )

    def _check_position(self, symbol: str) -> None:
        broken = self.book.position_breaks(symbol)
        if broken is not None:
            self.tell(
                "breaker", BreakerInput(kind="position_invariant", severity="INFO", detail=broken)
            )

    def _settled(self, order: BookOrder) -> None:
        """An order that is done (terminal, every fill it reported accounted) gives its
        per-order evidence once: ended partly filled, and the close it made (one winning or
        losing trade per order, however many pieces it filled in); its execution quality
        goes to the audit trail, with its symbol's latency percentiles as they now stand."""
        self._evidence()
        if not order.state.is_terminal or not order.fills_booked:
            return
        if not order.evidence_done:
            order.evidence_done = True
            if 0 < order.executed_qty < order.quantity:
                self._partial(order)
            closing = self.holder.closing.pop(order.client_order_id, None)
            if closing is not None and closing[1] > 0 and closing[0]:
                realized, closed = closing
                self.tell(
                    "breaker",
                    BreakerInput(
                        kind="losing_trade" if realized < 0 else "winning_trade",
                        severity="INFO",
                        detail=f"{order.client_order_id}: closed {plain(closed)}, "
                        f"realized {plain(realized)}",
                    ),
                )
        execution = self.holder.execution
        if not execution.settled(order.client_order_id):
            return
        quality = execution.finished(order.client_order_id)
        if quality is not None:
            self.audit(
                "execution_quality",
                **quality.as_dict(),
                latency=self.holder.execution.summary().get(order.symbol, {}),
            )

    def _unknown_count(self) -> None:
        self.tell(
            "breaker",
            BreakerSample(
                kind="unknown_orders",
                value=Decimal(len(self.holder.unknown_since)),
                detail=", ".join(sorted(self.holder.unknown_since)[:5]),
            ),
        )

    def _roll_day(self, now: int) -> None:
        """Mark the UTC day when it is first seen: today's P&L counts from here. The mark is
        journaled, so a restart during the day keeps it. Not while a position has no price
        yet: its P&L would count as 0 in the mark and jump when the price came."""
        if self.book.day_marked(now):
            return
        if self.book.unpriced_positions():
            return  # the day starts at the first look that can value every position
        start = now - now % DAY_MS
        self.book.day = DayMark(start, self.book.total_pnl())
        self.holder.peak_journaled = None
        self.journal.append(
            "day_mark", {"start_ms": start, "pnl_base": str(self.book.day.pnl_base)}
        )

    def _shift_peak(self, asset: str, delta: Decimal) -> None:
        """A deposit or withdrawal moves equity without gain or loss: the day's peak moves
        with it (valued at the mid), so a withdrawal is not read as a drawdown."""
        day = self.book.day
        if day is None or day.peak_equity is None or not self.book.markets:
            return
        quote = self._equity_quote()
        price = Decimal(1) if asset == quote else self.book.prices.get(f"{asset}{quote}")
        if price is None:
            return  # unvalued: the next risk sample values the account as a whole again
        day.peak_equity = max(day.peak_equity + delta * price, Decimal(0))
        self._journal_peak(day)

    def _equity_quote(self) -> str:
        """Equity is valued in the first symbol's quote asset."""
        return next(iter(self.book.markets.values())).quote

    def _journal_peak(self, day: DayMark) -> None:
        """The day's peak as it stands now, for a restart to find (replay: latest wins)."""
        self.holder.peak_journaled = day.peak_equity
        self.journal.append("day_peak", {"start_ms": day.start_ms, "peak": str(day.peak_equity)})

    def _risk(self) -> None:
        """Today's loss and the drawdown from today's highest equity, as breaker samples."""
        self.holder.risk_sampled = time.monotonic()
        if not self.book.opened:
            return
        now = now_ms()
        self._roll_day(now)
        day = self.book.day
        if day is None or not self.book.day_marked(now):
            return  # today is not marked yet (a position without a price)
        loss = -self.book.daily_pnl(now)
        self.tell(
            "breaker",
            BreakerSample(kind="daily_loss", value=loss, detail=f"today's P&L {plain(-loss)}"),
        )
        quote = self._equity_quote()
        equity, unvalued = self.book.equity(quote)
        traded = {m.base for m in self.book.markets.values()}
        if equity <= 0 or traded.intersection(unvalued):
            return  # a traded asset's price is still to come: no drawdown from a part
        peak = max(day.peak_equity or equity, equity)
        day.peak_equity = peak
        last = self.holder.peak_journaled
        if last is None or peak >= last * PEAK_STEP:
            # journaled when it has risen by a basis point since the last entry: a restart
            # keeps the day's peak (a drawdown is not forgotten by restarting), to 1 bp,
            # and the entries are bounded by the market's rise, not by time
            self._journal_peak(day)
        drawdown = (peak - equity) / peak * 100
        self.tell(
            "breaker",
            BreakerSample(
                kind="drawdown_pct",
                value=drawdown.quantize(Decimal("0.0001")),
                detail=f"equity {plain(equity)} {quote}, today's peak {plain(peak)}",
            ),
        )

    # ------------------------------------------------------------------ queries

    def on_snapshot_request(self, message: BookSnapshotRequest) -> dict[str, Any]:
        """The book as plain, immutable data. Cost grows with the open orders and the
        executions above the marks, not with the history: closed orders never change, so
        their summaries are made once."""
        self.ensure_opened()
        self._risk()  # also here: prices may have moved since the last (throttled) sample
        book, holder = self.book, self.holder
        for cid in book.closed[holder.closed_index :]:
            holder.closed_summaries[cid] = summary(book.orders[cid])
        holder.closed_index = len(book.closed)
        # closed summaries and exchange ids never change once written, so the snapshot may
        # look them up in place (no copy of the history); the live part is copied
        live = {cid: summary(o) for cid, o in book.live.items()}
        orders = ChainMap(live, holder.closed_summaries)
        marks = {
            s: max(holder.trade_floor.get(s, 0), message.trade_marks.get(s, 0))
            for s in book.markets
        }
        return {
            "internal": InternalSnapshot(
                totals=dict(book.totals),
                locked=dict(book.locked()),
                orders=orders,
                order_ids=MappingProxyType(book.by_order_id),
                trades=book.trades_above(marks),
                markets={s: (m.base, m.quote) for s, m in book.markets.items()},
                live=frozenset(book.live),
            ),
            "trade_floor": dict(holder.trade_floor),
        }

    def on_in_flight_request(
        self, message: InFlightRequest
    ) -> list[tuple[str, str, str, int | None]]:
        stuck = [
            cid
            for cid, since in self.holder.unknown_since.items()
            if mono_ms() - since > 2 * self.settings.broker.unknown_window_s * 1000
        ]
        for cid in stuck:
            self.tell(
                "breaker",
                BreakerInput(
                    kind="unknown_stuck",
                    severity="RED",
                    detail=f"order {cid} outcome still unknown",
                ),
            )
        return [
            (o.symbol, o.client_order_id, o.state.value, o.order_id)
            for o in self.book.open_orders()
        ]

    def status(self, message: StatusRequest) -> dict[str, Any]:
        book = self.book
        now = now_ms()
        return {
            "orders": {
                cid: {
                    "symbol": o.symbol,
                    "side": o.side,
                    "type": o.type,
                    "quantity": str(o.quantity),
                    "price": None if o.price is None else str(o.price),
                    "state": o.state.value,
                    "order_id": o.order_id,
                    "executed_qty": str(o.executed_qty),
                }
                for cid, o in book.orders.items()
            },
            "balances": {a: plain(v) for a, v in sorted(book.totals.items())},
            "locked": {a: plain(v) for a, v in sorted(book.locked().items())},
            "positions": {
                s: {
                    "quantity": str(p.quantity),
                    "average_entry": None if p.average_entry is None else str(p.average_entry),
                    "realized_pnl": str(p.realized_pnl),
                    "unrealized_pnl": str(p.unrealized(book.prices.get(s))),
                }
                for s, p in book.positions.items()
            },
            "fills": len(book.executions),
            "counters": dict(self.holder.counters),
            "anomalies": len(book.anomalies),
            "duplicates": book.duplicates,
            "execution": self.holder.execution.summary(),
            "risk": {
                "day_start_ms": book.day.start_ms if book.day else None,
                # null while today cannot be valued (not marked: a position has no price)
                "daily_pnl": plain(book.daily_pnl(now)) if book.day_marked(now) else None,
                "peak_equity": None
                if self.book.day is None or self.book.day.peak_equity is None
                else plain(self.book.day.peak_equity),
                "unknown_orders": len(self.holder.unknown_since),
                # held but not in the equity (no {asset}{quote} price): dust, a fee asset
                "unvalued_assets": book.equity(self._equity_quote())[1] if book.markets else [],
            },
        }

    # ------------------------------------------------------------------ halts

    def on_cancel_all(self, message: CancelAll) -> int:
        targets = [
            o
            for o in self.book.open_orders()
            if o.state in (OrderState.NEW, OrderState.PARTIALLY_FILLED)
        ]
        for order in targets:
            self.wire.submit(self._cancel, order.symbol, order.client_order_id)
        self.audit("cancel_all", reason=message.reason, orders=[o.client_order_id for o in targets])
        return len(targets)

    def _cancel(self, symbol: str, client_order_id: str) -> None:
        try:
            self.adapter.cancel_order(symbol, client_order_id=client_order_id)
        except ExchangeError as exc:
            self.ctx.directory.tell(
                "audit_logger",
                self._audit_event("cancel_failed", client_order_id=client_order_id, error=str(exc)),
                sender="wire",
            )

    def _audit_event(self, kind: str, **data: Any) -> Any:
        from runtime.messages import AuditEvent

        return AuditEvent(kind=kind, data={"actor": self.name, **data})

    def on_breaker_changed(self, message: BreakerChanged) -> None:
        if message.level == "RED" and self.settings.broker.cancel_on_red:
            self.on_cancel_all(CancelAll(reason=f"RED: {message.reason}"))

    def on_resync(self, message: ResyncRequest) -> dict[str, Any]:
        """Rebuild the book from the exchange: only while RED, only confirmed, and only after
        a snapshot of both sides is on disk. Every difference is recorded."""
        if not self.ctx.gate.state.is_red:
            return {"ok": False, "reason": "resync is allowed only while RED"}
        if not message.confirmed:
            return {"ok": False, "reason": "resync needs --confirm"}
        symbols = self.settings.exchange.symbols
        balances = self.adapter.get_balances()
        open_orders = [o for s in symbols for o in self.adapter.get_open_orders(s)]
        latest = {
            s: max((t.trade_id for t in self.adapter.get_trades(s)), default=0) for s in symbols
        }
        at = now_ms()
        exchange = {
            "balances": {
                a: {"free": str(b.free), "locked": str(b.locked)} for a, b in balances.items()
            },
            "open_orders": [o.model_dump(mode="json") for o in open_orders],
            "latest_trade_ids": latest,
        }
        snapshot = write_incident(
            self.ctx.service("data_dir"),
            self.ctx.service("store"),
            kind="resync",
            at_ms=at,
            reason=f"operator resync: {message.reason}",
            state={
                "internal": internal_state(
                    self.on_snapshot_request(BookSnapshotRequest())["internal"]
                ),
                "exchange": exchange,
            },
            report={"kind": "resync", "at_ms": at, "reason": message.reason},
            lines=[f"Operator resync at {at} ms: {message.reason}", "State before the resync."],
        )
        changes: dict[str, Any] = {"snapshot": str(snapshot)}
        # the orders first: a snapshot that teaches an order's id claims the fills kept
        # apart for it, and the balances below (the exchange's, which include them) must
        # come after, or those fills would count twice
        adopted, updated = [], []
        for o in open_orders:
            known = self.book.find(o.symbol, o.client_order_id, o.order_id)
            if known is None:
                self._adopt(o, "resync")
                adopted.append(o.client_order_id)
            else:
                self._snapshot(o)
                updated.append(known.client_order_id)
        on_exchange = {o.client_order_id for o in open_orders}
        closed = []
        for order in self.book.open_orders():
            if order.client_order_id in on_exchange:
                continue
            try:
                status = self.adapter.get_order(order.symbol, client_order_id=order.client_order_id)
                self._snapshot(status)
            except OrderNotFound:
                self.book.mark(order.client_order_id, OrderState.REJECTED, now_ms())
            closed.append(order.client_order_id)
            self.holder.unknown_since.pop(order.client_order_id, None)
        # the orders the resync rewrote: their fills before it are settled by it (some may
        # never be booked), so they give no per-order evidence and are not tracked on
        for cid in [*updated, *closed]:
            self.book.orders[cid].evidence_done = True
            self.holder.closing.pop(cid, None)
            self.holder.execution.orders.pop(cid, None)
        self._evidence()  # what the snapshots claimed (no per-order evidence: done above)
        totals = {a: b.free + b.locked for a, b in balances.items()}
        self.journal.append(
            "resync",
            {"totals": {a: str(v) for a, v in totals.items()}, "trade_floor": latest},
            durable=True,
        )
        diff = self.book.resync(totals)
        changes["balances"] = {
            a: {"book": plain(b), "exchange": plain(e)} for a, (b, e) in diff.items()
        }
        dropped = len(self.book.foreign_executions)
        self.book.foreign_executions.clear()
        self.holder.trade_floor.update(latest)  # older trades are settled by this resync
        changes.update(
            adopted=adopted, updated=updated, closed=closed, foreign_trades_dropped=dropped
        )
        self.audit("resync", reason=message.reason, changes=changes)
        self._unknown_count()
        return {"ok": True, "changes": changes}

    def _snapshot(self, status: Any) -> BookOrder | None:
        """Apply the exchange's view of one order (an ``OrderStatus``) to the book."""
        return self.book.apply_order_update(
            symbol=status.symbol,
            client_order_id=status.client_order_id,
            order_id=status.order_id,
            venue_state=status.state.value,
            cumulative_qty=status.executed_qty,
            cumulative_quote=status.cumulative_quote_qty,
            now_ms=now_ms(),
        )
