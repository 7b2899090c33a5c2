"""The intake: one intent becomes an order, or a refusal with its reasons.

Admission (``domain.admission``: duplicate, policy guard, breaker gate, YELLOW), then for a
MARKET order what the book would do to it (``domain.market_impact``), then write-ahead —
the audit record queued and the journal entry durable — before the wire may send it.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING

from domain.admission import (
    Admission,
    Refusal,
    YellowView,
    admit,
    check_market_impact,
    intent_record,
)
from domain.book import BookOrder
from domain.breaker import Level
from domain.filters import SymbolFilters
from domain.instance import client_order_id
from domain.market_impact import FillEstimate, estimate_fill, protection_price
from domain.policy import policy_input_from_book
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


def on_intent(broker: OrderBroker, intent: OrderIntent) -> IntentDecision:
    taken_at = time.monotonic()  # the start of vigil_intent_to_wire_seconds
    broker.state.counters["intents"] += 1
    cid = intent.client_order_id or new_client_order_id(broker.ctx.services.instance)
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
    )
    admission = admit(
        account,
        broker.limits,
        duplicate=broker.book.knows_id(cid),
        breaker_refusal=gate.refusal(),
        yellow=YellowView(board.limits, board.causes) if gate.state.level is Level.YELLOW else None,
    )
    estimate: FillEstimate | None = None
    if admission.accepted and intent.type == "MARKET" and broker.max_market_bps is not None:
        estimate = market_estimate(broker, intent.symbol, intent.side, admission.quantity)
        admission = check_market_impact(admission, estimate, broker.max_market_bps)
    if not admission.accepted:
        return refuse(broker, intent, cid, admission, estimate=estimate)
    order_type, price, tif = intent.type, admission.price, None
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
    )
    verdicts = admission.verdict_dicts()
    record = intent_record(order, verdicts)
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
        broker.journal.append("intent", entry, durable=True)
    except StoreError as exc:
        gate.trip_red(f"durable storage failed: {exc}", "order_broker")
        failed = Admission(admission.verdicts, order.quantity, order.price, Refusal.STORAGE)
        return refuse(broker, intent, cid, failed, f"storage: {exc}")
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
        time_in_force=tif,
    )
    broker.state.counters["accepted"] += 1
    broker.wire.send(request, intent.correlation_id, taken_at)
    return IntentDecision(
        accepted=True,
        client_order_id=cid,
        correlation_id=intent.correlation_id,
        type=order.type,
        quantity=order.quantity,
        price=order.price,
    )


def refuse(
    broker: OrderBroker,
    intent: OrderIntent,
    cid: str,
    admission: Admission,
    reason: str = "",
    *,
    estimate: FillEstimate | None = None,
) -> IntentDecision:
    reason = reason or admission.reason
    broker.state.counters["refused"] += 1
    extra = {} if estimate is None else {"market_estimate": estimate.as_dict()}
    broker.audit(
        "intent_refused",
        client_order_id=cid,
        reason=reason,
        verdicts=admission.verdict_dicts(),
        intent_cid=intent.correlation_id,
        **extra,
    )
    return IntentDecision(
        accepted=False,
        client_order_id=cid,
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
