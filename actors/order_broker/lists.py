"""Order lists through the broker: an ``OrderListIntent`` (OCO, OTO, OTOCO) takes the path of
an order, whole — its shape, the protective rules (a stop's trigger side, a bracket whose
legs cross), admission of the legs that can take money (an OCO's worst leg only: the pair
shares its funds; an OTO's working order), then write-ahead (one audit record and one
durable journal entry for the whole list) before the wire sends it as one request. It is
refused whole or journaled whole.

Then: the answer and the ``listStatus`` events keep the book's list in step; a stop that
triggered is an ordinary order; an OCO order whose partner executed is expected to expire,
and when its expiry has not come within ``[broker] list_expiry_grace_s`` the REST poller is
asked to confirm it (an order the exchange no longer lists is read back by ``allOrders``).
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import ValidationError

from actors.order_broker.intake import filters_of, new_client_order_id, new_strategy_order_id
from domain.admission import Admission, Refusal, YellowView, admit, intent_record
from domain.book import BookOrder, BookOrderList, OrderState
from domain.breaker import Level
from domain.breaker_rules import EvidenceKind
from domain.instance import other_instance
from domain.policy import policy_input_from_book
from domain.protective import Leg, bracket_refusal, trigger_refusal
from domain.replay import list_intent_entry
from exchange.contract import (
    ExecutionReport,
    ListType,
    OrderListRequest,
    OrderListStatus,
    OrderRequest,
)
from runtime.clock import mono_ms, now_ms
from runtime.crashpoints import crash_point
from runtime.messages import (
    ListDecision,
    ListEvent,
    ListExpiryCheck,
    ListLeg,
    OrderListIntent,
    PollNow,
    SendOutcome,
    SendResult,
)
from storage import StoreError

if TYPE_CHECKING:
    from actors.order_broker.broker import OrderBroker


# ---------------------------------------------------------------------------- intake


def on_list_intent(broker: OrderBroker, intent: OrderListIntent) -> ListDecision:
    taken_at = time.monotonic()
    book = broker.book
    instance = broker.ctx.services.instance
    legs = dict(intent.legs)
    own_ids: dict[str, str] = {}  # a strategy's own ids of its legs, by role
    own_list_id: str | None = None  # and of the list (made, as Binance makes one, if none)
    if intent.strategy:  # its ids are its own (scoped to it); what goes out is Vigil's
        own_list_id = intent.strategy_list_id or new_strategy_order_id()
        list_cid = new_client_order_id(instance)
        leg_ids = {role: new_client_order_id(instance) for role in legs}
        own_ids = {
            role: leg.strategy_order_id or leg.client_order_id or new_strategy_order_id()
            for role, leg in legs.items()
        }
    else:
        list_cid = intent.list_client_order_id or new_client_order_id(instance)
        leg_ids = {
            role: leg.client_order_id or new_client_order_id(instance) for role, leg in legs.items()
        }
    ids = (list_cid, *leg_ids.values())

    def refused(
        refusal: Refusal, reason: str, verdicts: list[dict[str, object]] | None = None
    ) -> ListDecision:
        broker.state.counters["refused"] += 1
        broker.audit(
            "list_refused",
            list_client_order_id=list_cid,
            list_type=intent.list_type,
            symbol=intent.symbol,
            legs={role: leg_ids[role] for role in legs},
            reason=reason,
            refusal=refusal.value,
            verdicts=verdicts or [],
            strategy=intent.strategy,
            strategy_list_id=intent.strategy_list_id,
            intent_cid=intent.correlation_id,
        )
        return ListDecision(
            accepted=False,
            list_client_order_id=list_cid,
            legs=tuple(leg_ids.items()),
            reason=reason,
            refusal=refusal,
            correlation_id=intent.correlation_id,
        )

    broker.state.counters["intents"] += 1
    try:
        request = list_request(intent, list_cid, leg_ids)
    except (ValidationError, ValueError) as exc:
        return refused(Refusal.POLICY, f"policy: {_first_error(exc)}")
    if list_cid in book.order_lists or any(book.knows_id(c) for c in ids[1:]):  # compacted too
        return refused(Refusal.DUPLICATE, "duplicate client order id: already in the book")
    why_dup = _strategy_duplicate(broker, intent, own_ids)
    if why_dup is not None:
        return refused(Refusal.DUPLICATE, why_dup)
    market = book.prices.get(intent.symbol)
    why = protective_refusal(request, market) or pending_refusal(request)
    if why is not None:
        return refused(Refusal.POLICY, f"policy: {why}")
    admissions: list[tuple[str, Admission]] = []
    now = now_ms()
    broker.journal_day(broker.state.risk.roll_day(book, now))
    for role in judged_roles(request):
        order = getattr(request, role)
        admission = _admit(broker, order, now, intent, len(request.orders))
        admissions.append((role, admission))
        if not admission.accepted:
            return refused(
                admission.refusal or Refusal.POLICY,
                f"{role} order: {admission.reason}",
                admission.verdict_dicts(),
            )
    verdicts = [v for _, a in admissions for v in a.verdict_dicts()]
    gates = sorted({str(v["gate"]) for v in verdicts})
    order_list = BookOrderList(
        list_client_order_id=list_cid,
        symbol=intent.symbol,
        list_type=request.list_type.value,
        legs={role: leg_ids[role] for role in legs},
        created_ms=now,
        updated_ms=now,
        source=intent.source,
        strategy=intent.strategy,
        strategy_list_id=own_list_id,
    )
    own_by_cid = {leg_ids[role]: own for role, own in own_ids.items()}
    book_legs = [
        _book_order(o, now, intent, own_by_cid.get(o.client_order_id)) for o in request.orders
    ]
    record = {
        "list_client_order_id": list_cid,
        "list_type": request.list_type.value,
        "symbol": intent.symbol,
        "roles": dict(order_list.legs),
        "orders": [intent_record(o, []) for o in book_legs],
        "verdicts": {role: a.verdict_dicts() for role, a in admissions},
    }
    try:  # write-ahead: the whole list durable before any of it can reach the wire
        audit_seq = broker.trail.append(
            "list_accepted", record, cid=intent.correlation_id, actor=broker.name
        )
        entry = list_intent_entry(order_list, book_legs, intent.correlation_id, audit_seq, gates)
        broker.journal.append("list_intent", entry, durable=True)
    except StoreError as exc:
        broker.ctx.gate.trip_red(f"durable storage failed: {exc}", "order_broker")
        return refused(Refusal.STORAGE, f"storage: {exc}")
    book.add_list_intent(order_list, book_legs)
    crash_point("after_list_journaled")
    broker.state.counters["accepted"] += 1
    broker.wire.send_list(request, intent.correlation_id, taken_at)
    return ListDecision(
        accepted=True,
        list_client_order_id=list_cid,
        legs=tuple(order_list.legs.items()),
        correlation_id=intent.correlation_id,
    )


def list_request(
    intent: OrderListIntent, list_cid: str, leg_ids: dict[str, str]
) -> OrderListRequest:
    """The contract's request for the intent (its shape rules raise ``ValidationError``)."""
    orders = {role: _order_request(intent.symbol, leg, leg_ids[role]) for role, leg in intent.legs}
    return OrderListRequest(
        list_type=ListType(intent.list_type),
        symbol=intent.symbol,
        list_client_order_id=list_cid,
        **orders,
    )


def _order_request(symbol: str, leg: ListLeg, cid: str) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=leg.side,  # type: ignore[arg-type]
        type=leg.type,  # type: ignore[arg-type]
        client_order_id=cid,
        quantity=leg.quantity,
        price=leg.price,
        stop_price=leg.stop_price,
        trailing_delta=leg.trailing_delta,
        time_in_force=leg.time_in_force,  # type: ignore[arg-type]
    )


def protective_refusal(request: OrderListRequest, market: Decimal | None) -> str | None:
    """A bracket whose legs cross (or leave the market outside), or a pending stop whose
    trigger is on the wrong side of the market."""
    pair = request.pair
    if pair is not None:
        above, below = pair
        why = bracket_refusal(
            above.side.value,
            Leg(above.type.value, above.price, above.stop_price),
            Leg(below.type.value, below.price, below.stop_price),
            market if request.list_type is ListType.OCO else None,
        )
        if why is not None:
            return why
    if request.pending is not None:
        p = request.pending
        return trigger_refusal(p.side.value, p.type.value, p.stop_price, market)
    return None


def judged_roles(request: OrderListRequest) -> list[str]:
    """The legs the guard judges: an OCO's worst leg (the pair shares its funds: exposure
    counts one); an OTO's / OTOCO's working order, and its pending order (an OTOCO's worst
    pending leg) when that is on the working order's side: it adds exposure of its own. A
    pending order on the other side only spends what the working order buys (or buys back
    what it sells), never more (``pending_refusal``)."""
    if request.list_type is ListType.OCO:
        assert request.above is not None and request.below is not None
        return ["above" if _worth(request.above) >= _worth(request.below) else "below"]
    assert request.working is not None
    roles = ["working"]
    if request.pending is not None:
        pending = "pending"
    else:
        assert request.above is not None and request.below is not None
        pending = "above" if _worth(request.above) >= _worth(request.below) else "below"
    if getattr(request, pending).side == request.working.side:
        roles.append(pending)
    return roles


def pending_refusal(request: OrderListRequest) -> str | None:
    """Why a pending order on the other side of its working order would trade more than
    the working order does (it is not judged alone: it may only spend what the working
    order buys, or buy back what it sells), or None."""
    working = request.working
    if working is None:
        return None
    for order in (request.pending, request.above, request.below):
        if order is None or order.side == working.side:
            continue
        if (order.quantity or Decimal(0)) > (working.quantity or Decimal(0)):
            return (
                f"the pending {order.side.value} of {order.quantity} is more than the working "
                f"{working.side.value} of {working.quantity}"
            )
    return None


def _worth(order: OrderRequest) -> Decimal:
    price = order.price if order.price is not None else order.stop_price
    return (price or Decimal(0)) * (order.quantity or Decimal(0))


def _strategy_duplicate(
    broker: OrderBroker, intent: OrderListIntent, own_ids: dict[str, str]
) -> str | None:
    """Why a strategy's list reuses one of its own ids still in use (its list id on one of
    its open lists, a leg's id on one of its open orders, or twice in the list), or None."""
    if not intent.strategy:
        return None
    book = broker.book
    if intent.strategy_list_id is not None:
        for ol in book.order_lists.values():
            if (
                ol.strategy == intent.strategy
                and ol.strategy_list_id == intent.strategy_list_id
                and not ol.done
                and book.list_is_open(ol)
            ):
                return f"duplicate list id: {intent.strategy_list_id} is still open"
    if len(set(own_ids.values())) != len(own_ids):
        return "duplicate client order id: the same id on two orders of the list"
    for own in own_ids.values():
        earlier = book.find_strategy(intent.strategy, own)
        if earlier is not None and earlier.is_open:
            return f"duplicate client order id: {own} is still open"
    return None


def _admit(
    broker: OrderBroker, order: OrderRequest, now: int, intent: OrderListIntent, legs: int = 1
) -> Admission:
    """The guard on one judged leg; the account's and the strategy's open orders counted as
    if the list's other ``legs - 1`` orders were already open (a list opens them at once)."""
    gate = broker.ctx.gate
    board = broker.ctx.services.board()
    account = policy_input_from_book(
        broker.book,
        symbol=order.symbol,
        side=order.side.value,
        type=order.type.value,
        quantity=order.quantity or Decimal(0),
        price=order.price,
        filters=filters_of(broker, order.symbol),
        now_ms=now,
        price_clock_ms=mono_ms(),
        time_in_force=None if order.time_in_force is None else order.time_in_force.value,
        stop_price=order.stop_price,
    )
    account.open_orders += legs - 1  # the list's other orders open with this one
    if account.symbol_open_orders is not None:
        account.symbol_open_orders += legs - 1
    limits = intent.strategy_limits
    return admit(
        account,
        broker.limits,
        duplicate=False,
        breaker_refusal=gate.refusal(),
        yellow=YellowView(board.limits, board.causes) if gate.state.level is Level.YELLOW else None,
        strategy=intent.strategy,
        strategy_limits=limits,
        strategy_open_orders=0
        if limits is None
        else broker.book.strategy_open_orders(intent.strategy) + legs - 1,
    )


def _book_order(
    order: OrderRequest, now: int, intent: OrderListIntent, own_id: str | None = None
) -> BookOrder:
    return BookOrder(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side.value,
        type=order.type.value,
        quantity=order.quantity or Decimal(0),
        price=order.price,
        created_ms=now,
        updated_ms=now,
        source=intent.source,
        strategy=intent.strategy,
        strategy_order_id=own_id,
        time_in_force=None if order.time_in_force is None else order.time_in_force.value,
        stop_price=order.stop_price,
        trailing_delta=order.trailing_delta,
    )


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(exc)


# ---------------------------------------------------------------------------- answers


def on_list_outcome(broker: OrderBroker, message: SendOutcome) -> None:
    """What became of a list's send: its answer applied (the list and each order), a
    refusal (every leg REJECTED), or an unknown outcome (each leg UNKNOWN: the poller
    finds each by its client order id, never sending it again)."""
    book = broker.book
    order_list = book.order_lists.get(message.client_order_id)
    if order_list is None:
        return
    broker.state.counters["answered"] += 1
    broker.audit(
        "list_send_outcome",
        list_client_order_id=order_list.list_client_order_id,
        outcome=message.outcome.value,
        detail=message.detail,
        code=message.code,
    )
    outcome = message.outcome
    if outcome is SendResult.ACKED:
        broker.state.counters["sent"] += 1
        apply_list(broker, message.ack)
    elif outcome in (SendResult.REJECTED, SendResult.NOT_SENT, SendResult.REFUSED):
        book.refuse_list(order_list.list_client_order_id, now_ms())
        if outcome is SendResult.REJECTED:
            broker.evidence(
                EvidenceKind.ORDER_REJECTED,
                f"order list {order_list.list_client_order_id}: {message.code} {message.detail}",
            )
    else:
        broker.state.counters["sent"] += 1
        for cid in order_list.leg_ids:
            leg = book.orders[cid]
            if not leg.state.is_terminal and leg.order_id is None:
                book.mark(cid, OrderState.UNKNOWN, now_ms())
                broker.state.unknown_since.setdefault(cid, mono_ms())
        broker.evidence(
            EvidenceKind.UNKNOWN_OUTCOME,
            f"order list {order_list.list_client_order_id}: {message.detail}",
        )
        broker.report_unknown()
    for cid in order_list.leg_ids:
        if cid in book.orders:
            broker._settled(book.orders[cid])
    broker.keep_cancelling()


def apply_list(broker: OrderBroker, status: OrderListStatus) -> None:
    """The exchange's view of one of our lists (a placement or cancel answer, a query)."""
    book = broker.book
    book.apply_list_status(
        symbol=status.symbol,
        order_list_id=status.order_list_id,
        list_client_order_id=status.list_client_order_id,
        contingency_type=status.contingency_type.value,
        list_status_type=status.list_status_type.value,
        list_order_status=status.list_order_status.value,
        legs=[(o.client_order_id, o.order_id) for o in status.orders],
        now_ms=now_ms(),
    )
    for report in status.order_reports:
        order = broker.apply_status(report)
        broker._known(order)
    broker.check_reports()
    watch_expiries(broker)


def on_list_event(broker: OrderBroker, message: ListEvent) -> None:
    s = message.status
    order_list = broker.book.apply_list_status(
        symbol=s.symbol,
        order_list_id=s.order_list_id,
        list_client_order_id=s.list_client_order_id,
        contingency_type=s.contingency_type.value,
        list_status_type=s.list_status_type.value,
        list_order_status=s.list_order_status.value,
        legs=[(o.client_order_id, o.order_id) for o in s.orders],
        now_ms=now_ms(),
    )
    if order_list is None:
        instance = broker.ctx.services.instance
        other = other_instance(s.list_client_order_id, instance)
        if other is not None:
            broker.evidence(
                EvidenceKind.ANOTHER_INSTANCE,
                f"another Vigil (instance {other}) trades this exchange account: "
                f"order list {s.symbol} #{s.order_list_id} ({s.list_client_order_id})",
            )
        else:
            broker.evidence(
                EvidenceKind.UNKNOWN_ORDER,
                f"listStatus for an order list the book never placed: "
                f"{s.symbol} #{s.order_list_id} ({s.list_client_order_id}), orders "
                + ", ".join(o.client_order_id for o in s.orders),
            )
        return
    for cid in order_list.leg_ids:
        if broker._known(broker.book.orders.get(cid)):
            broker.audit("unknown_resolved", client_order_id=cid, state="IN_LIST")
    watch_expiries(broker)


def after_report(broker: OrderBroker, order: BookOrder | None, report: ExecutionReport) -> None:
    """An executionReport was applied: a stop that is now working has triggered (an
    ordinary order from here on), and a leg's execution makes its partner's expiry due."""
    if order is None:
        return
    if report.is_working and order.is_stop and not order.triggered:
        broker.book.mark_triggered(order, now_ms())
        broker.audit("stop_triggered", client_order_id=order.client_order_id)
    if order.order_list is not None:
        watch_expiries(broker)


# ---------------------------------------------------------------------------- expiries


def watch_expiries(broker: OrderBroker) -> None:
    """Arm one check after the grace for expiries that became due (one timer at a time)."""
    book = broker.book
    due = any(ol.expiry_expected for ol in book.order_lists.values() if ol.expiry_expected)
    if not due or broker.expiry_timer_armed:
        return
    broker.expiry_timer_armed = True
    directory = broker.ctx.directory
    grace = broker.settings.broker.list_expiry_grace_s

    def fire() -> None:
        directory.tell("order_broker", ListExpiryCheck(), sender="timer")

    timer = threading.Timer(grace, fire)
    timer.daemon = True
    timer.start()


def on_expiry_check(broker: OrderBroker, message: ListExpiryCheck) -> None:
    """Expiries overdue: audited, and the poller asked to confirm them by REST now."""
    broker.expiry_timer_armed = False
    grace_ms = int(broker.settings.broker.list_expiry_grace_s * 1000)
    now = now_ms()
    overdue = broker.book.overdue_expiries(now, grace_ms)
    for leg in overdue:
        order_list = broker.book.list_of(leg.client_order_id)
        since = (
            0 if order_list is None else order_list.expiry_expected.get(leg.client_order_id, now)
        )
        broker.audit(
            "list_expiry_overdue",
            client_order_id=leg.client_order_id,
            list_client_order_id=leg.order_list,
            waited_ms=now - since,
            detail="its partner executed; the expiry was not reported: confirming by REST",
        )
    if overdue:
        broker.tell("rest_poller", PollNow())
    watch_expiries(broker)  # what is still due, or due but not yet overdue
