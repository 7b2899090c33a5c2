"""The intake: one intent becomes an order, or a refusal with its reasons.

Admission (``domain.admission``: duplicate, policy guard, breaker gate, YELLOW), then for a
MARKET order what the book would do to it (``domain.market_impact``), then write-ahead —
the audit record queued and the journal entry durable — before the wire may send it.
"""

from __future__ import annotations

import secrets
import string
import time
from decimal import Decimal
from typing import TYPE_CHECKING

from actors.order_broker.cancels import ADOPTED
from domain.admission import (
    Admission,
    Refusal,
    YellowView,
    admit,
    check_market_impact,
    intent_record,
)
from domain.book import BookOrder, OrderState
from domain.breaker import Level
from domain.filters import SymbolFilters
from domain.instance import client_order_id
from domain.market_impact import FillEstimate, estimate_fill, protection_price
from domain.policy import TIF_TYPES, policy_input_from_book
from domain.protective import STOPS
from domain.replacing import without_replaced
from domain.replay import intent_entry
from exchange.contract import ExchangeError, OrderRequest, TimeInForce
from runtime.clock import mono_ms, now_ms
from runtime.crashpoints import crash_point
from runtime.messages import IntentDecision, OrderIntent
from storage import StoreError

if TYPE_CHECKING:
    from actors.order_broker.broker import OrderBroker


def new_client_order_id(instance: str = "") -> str:
    return client_order_id(instance or "000000")


_ID_CHARS = string.ascii_letters + string.digits


def new_strategy_order_id() -> str:
    """An id for a strategy's order that came without one, made as Binance makes them
    (22 random letters and digits)."""
    return "".join(secrets.choice(_ID_CHARS) for _ in range(22))


def on_intent(
    broker: OrderBroker, intent: OrderIntent, *, replacing: str | None = None
) -> IntentDecision:
    """Admit, journal and send one intent; with ``replacing`` (a cancel-replace) the order
    it replaces is named in the same journal entry and audit record, and both halves go in
    one exchange request."""
    taken_at = time.monotonic()  # the start of vigil_intent_to_wire_seconds
    broker.state.counters["intents"] += 1
    instance = broker.ctx.services.instance
    # a strategy's order always goes out under an id Vigil makes (unique whatever ids the
    # strategies choose); the strategy's own id maps to it
    sid: str | None
    if intent.strategy:
        cid = new_client_order_id(instance)
        sid = intent.strategy_order_id or new_strategy_order_id()
    else:
        cid = intent.client_order_id or new_client_order_id(instance)
        sid = intent.strategy_order_id
    duplicate, why = broker.book.knows_id(cid), ""  # compacted orders' ids too
    if not duplicate and sid is not None:
        earlier = broker.book.find_strategy(intent.strategy, sid)
        if earlier is not None and earlier.is_open:
            duplicate = True
            why = f"{sid} is still open ({earlier.client_order_id})"
    shape = stop_shape(intent.type, intent.stop_price, intent.trailing_delta)
    if shape is None and replacing is not None:
        shape = replace_refusal(broker, intent, replacing)
    if shape is not None:
        admission = Admission((), intent.quantity, intent.price, Refusal.POLICY, f"policy: {shape}")
        return refuse(broker, intent, cid, admission, sid=sid)
    now = now_ms()
    broker.journal_day(broker.state.risk.roll_day(broker.book, now))
    gate = broker.ctx.gate
    board = broker.ctx.services.board()
    account = policy_input_from_book(
        broker.book,
        symbol=intent.symbol,
        side=intent.side,
        type=intent.type,
        quantity=intent.quantity,
        price=intent.price,
        filters=filters_of(broker, intent.symbol),
        now_ms=now,
        price_clock_ms=mono_ms(),
        time_in_force=intent.time_in_force,
        stop_price=intent.stop_price,
    )
    strategy_open = (
        0 if intent.strategy_limits is None else broker.book.strategy_open_orders(intent.strategy)
    )
    if replacing is not None:  # cancelled first in the same request: its funds are the new one's
        account = without_replaced(account, broker.book, replacing)
        if broker.book.orders[replacing].strategy == intent.strategy:
            strategy_open = max(strategy_open - 1, 0)
    limits = intent.strategy_limits
    admission = admit(
        account,
        broker.limits,
        duplicate=duplicate,
        duplicate_reason=why,
        breaker_refusal=gate.refusal(),
        yellow=YellowView(board.limits, board.causes) if gate.state.level is Level.YELLOW else None,
        strategy=intent.strategy,
        strategy_limits=limits,
        strategy_open_orders=strategy_open,
    )
    estimate: FillEstimate | None = None
    if admission.accepted and intent.type == "MARKET" and broker.max_market_bps is not None:
        estimate = market_estimate(broker, intent.symbol, intent.side, admission.quantity)
        admission = check_market_impact(admission, estimate, broker.max_market_bps)
    if not admission.accepted:
        return refuse(broker, intent, cid, admission, estimate=estimate, sid=sid)
    order_type, price = intent.type, admission.price
    tif = TimeInForce(intent.time_in_force or "GTC") if order_type in TIF_TYPES else None
    if estimate is not None and broker.settings.policy.market_as_limit_ioc:
        # the exchange itself cannot fill it worse than the protection price
        filters = filters_of(broker, intent.symbol)
        assert broker.max_market_bps is not None and filters is not None
        price = protection_price(
            intent.side, estimate.mid, broker.max_market_bps, filters.tick_size
        )
        order_type, tif = "LIMIT", TimeInForce.IOC
    order = BookOrder(
        client_order_id=cid,
        symbol=intent.symbol,
        side=intent.side,
        type=order_type,
        quantity=admission.quantity,
        price=price,
        created_ms=now_ms(),
        updated_ms=now_ms(),
        source=intent.source,
        strategy=intent.strategy,
        strategy_order_id=sid,
        time_in_force=None if tif is None else tif.value,
        stop_price=intent.stop_price,
        trailing_delta=intent.trailing_delta,
    )
    verdicts = admission.verdict_dicts()
    record = intent_record(order, verdicts)
    if replacing is not None:
        record["replaces"] = replacing
    if estimate is not None:
        record["market_estimate"] = estimate.as_dict()
        record["sent_as"] = f"{order_type} {tif.value}" if tif else order_type
    # write-ahead, with one disk flush: the audit record is queued (group-committed) and
    # its sequence number goes into the journal entry, which is durable before the
    # order can reach the wire; recovery re-writes any record a crash took from the
    # trail (``assembly.recovery``), so neither can be lost
    try:
        audit_seq = broker.trail.append(
            "intent_accepted", record, cid=intent.correlation_id, actor=broker.name
        )
        gates = [v["gate"] for v in verdicts]
        entry = intent_entry(order, intent.correlation_id, audit_seq, gates)
        if replacing is not None:  # both halves in the one write-ahead entry
            entry["replaces"] = replacing
        broker.journal.append("intent", entry, durable=True)
    except StoreError as exc:
        gate.trip_red(f"durable storage failed: {exc}", "order_broker")
        failed = Admission(admission.verdicts, order.quantity, order.price, Refusal.STORAGE)
        return refuse(broker, intent, cid, failed, f"storage: {exc}", sid=sid)
    broker.book.add_intent(order)
    broker.state.evidence.execution.accepted(
        cid, order.symbol, order.side, broker.book.prices.get(order.symbol)
    )
    crash_point("after_intent_journaled")
    request = OrderRequest(
        symbol=order.symbol,
        side=order.side,  # type: ignore[arg-type]
        type=order.type,  # type: ignore[arg-type]
        client_order_id=cid,
        quantity=order.quantity,
        price=order.price,
        stop_price=order.stop_price,
        trailing_delta=order.trailing_delta,
        time_in_force=tif,
    )
    broker.state.counters["accepted"] += 1
    if replacing is not None:
        broker.wire.send_replace(request, replacing, intent.correlation_id, taken_at)
    else:
        broker.wire.send(request, intent.correlation_id, taken_at)
    return IntentDecision(
        accepted=True,
        client_order_id=cid,
        strategy_order_id=sid,
        correlation_id=intent.correlation_id,
        type=order.type,
        quantity=order.quantity,
        price=order.price,
    )


def replace_refusal(broker: OrderBroker, intent: OrderIntent, replacing: str) -> str | None:
    """Why ``replacing`` cannot be cancel-replaced by ``intent`` (it must be an order of ours,
    acknowledged and open, on the same symbol), or None."""
    old = broker.book.orders.get(replacing)
    if old is None:
        return f"cannot replace {replacing}: no such order"
    if old.source in ADOPTED:
        return f"cannot replace {replacing}: not placed by Vigil"
    if old.symbol != intent.symbol:
        return f"cannot replace {replacing}: it is on {old.symbol}, not {intent.symbol}"
    if old.order_list is not None:
        return f"cannot replace {replacing}: it is an order of list {old.order_list}"
    if old.order_id is None or old.state not in (OrderState.NEW, OrderState.PARTIALLY_FILLED):
        return f"cannot replace {replacing}: it is {old.state.value}"
    return None


def stop_shape(order_type: str, stop_price: Decimal | None, trailing: int | None) -> str | None:
    """Why a stop's trigger fields do not fit its type (a stop needs a stop price or a
    trailing delta, any other type takes neither), or None."""
    triggered = stop_price is not None or trailing is not None
    if order_type in STOPS and not triggered:
        return f"a {order_type} needs a stop_price or a trailing_delta"
    if order_type not in STOPS and triggered:
        return f"a {order_type} takes no stop_price or trailing_delta"
    if stop_price is not None and not (stop_price.is_finite() and stop_price > 0):
        return "stop_price must be positive"
    if trailing is not None and trailing <= 0:
        return "trailing_delta must be positive"
    return None


def refuse(
    broker: OrderBroker,
    intent: OrderIntent,
    cid: str,
    admission: Admission,
    reason: str = "",
    *,
    estimate: FillEstimate | None = None,
    sid: str | None = None,
) -> IntentDecision:
    reason = reason or admission.reason
    broker.state.counters["refused"] += 1
    extra = {} if estimate is None else {"market_estimate": estimate.as_dict()}
    broker.audit(
        "intent_refused",
        client_order_id=cid,
        strategy=intent.strategy,
        strategy_order_id=sid,
        symbol=intent.symbol,
        side=intent.side,
        type=intent.type,
        reason=reason,
        refusal=None if admission.refusal is None else admission.refusal.value,
        verdicts=admission.verdict_dicts(),
        intent_cid=intent.correlation_id,
        **extra,
    )
    return IntentDecision(
        accepted=False,
        client_order_id=cid,
        strategy_order_id=sid,
        reason=reason,
        refusal=admission.refusal,
        correlation_id=intent.correlation_id,
    )


def market_estimate(
    broker: OrderBroker, symbol: str, side: str, qty: Decimal
) -> FillEstimate | None:
    """What the book would do to a MARKET order now, from the order book's depth (read
    again after ``policy.depth_cache_s``); None when the book cannot be read."""
    cached = broker.state.depth.get(symbol)
    max_age_ms = broker.settings.policy.depth_cache_s * 1000
    if cached is None or mono_ms() - cached[0] > max_age_ms:
        try:
            cached = (mono_ms(), broker.adapter.get_depth(symbol))
        except ExchangeError:
            return None  # no book to judge by: refused (fail closed)
        broker.state.depth[symbol] = cached
    depth = cached[1]
    if not depth.bids or not depth.asks:
        return None
    mid = (depth.bids[0][0] + depth.asks[0][0]) / 2
    return estimate_fill(side, qty, depth.asks if side == "BUY" else depth.bids, mid)


def filters_of(broker: OrderBroker, symbol: str) -> SymbolFilters | None:
    try:
        return broker.adapter.symbol_filters(symbol)
    except (ExchangeError, KeyError):
        return None
