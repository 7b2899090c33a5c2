"""The order broker's part of an emergency flatten (``assembly.flatten`` drives the steps).

* ``on_cancel``: every order of ours the exchange confirms open is cancelled — each cancel
  journaled (``cancel_requested``) and audited (``flatten_cancel``) before the wire, and
  sent again with back-off (the same duty as cancel-on-RED, so the two never cancel one
  order twice at once) until it is gone;
* ``on_view``: Vigil's positions and reference prices, the orders of ours still open and
  the states of the flatten's own sells;
* ``on_sell``: one MARKET SELL — the only order that may reach the wire while RED. It takes
  no intent path: nothing but this handler makes one, and the wire's flatten path
  (``Wire.send_flatten``) sends nothing but a MARKET SELL. It is checked against the
  symbol's filters and against Vigil's position (never more than the book holds, less the
  flatten sells still open), then written ahead like every order — the audit record queued
  (``intent_accepted``, gate ``flatten``) and the journal entry durable — and audited as a
  step (``flatten_sell``) before it can reach the wire. Every other intent is still judged
  by the breaker gate and refused while RED.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from actors.order_broker.cancels import ADOPTED
from actors.order_broker.intake import filters_of, new_client_order_id
from actors.order_broker.stale import cancel_ahead
from domain.admission import intent_record
from domain.book import BookOrder, OrderState
from domain.cancel_duty import CancelDuty, open_list_key
from domain.filters import FilterViolation, check_order
from domain.money import plain
from domain.replay import intent_entry
from exchange.contract import OrderRequest, OrderType, Side
from runtime.clock import mono_ms, now_ms
from runtime.messages import FlattenCancel, FlattenSell, FlattenView
from storage import StoreError

if TYPE_CHECKING:
    from actors.order_broker.broker import OrderBroker

SOURCE = "flatten"  # the source of the flatten's sells in the book


@dataclass
class FlattenState:
    """The flatten's cancel retries while cancel-on-RED is off (else that duty is shared)."""

    duty: CancelDuty = field(default_factory=CancelDuty)


def ours(order: BookOrder) -> bool:
    return order.source not in ADOPTED


def open_of_ours(broker: OrderBroker) -> list[dict[str, Any]]:
    return [
        {"client_order_id": o.client_order_id, "symbol": o.symbol, "state": o.state.value}
        for o in broker.book.open_orders()
        if ours(o)
    ]


def on_cancel(broker: OrderBroker, message: FlattenCancel) -> dict[str, Any]:
    """Cancel what is due now; answers ``{"cancelled": [...], "open": [...]}``."""
    shared = broker.settings.broker.cancel_on_red and broker.ctx.gate.state.is_red
    duty = broker.state.cancel_duty if shared else broker.flattening.duty
    targets = [o for o in broker.book.open_orders() if ours(o)]
    cancelled = []
    key = open_list_key(broker.book.order_lists, broker.book.orders)  # one cancel ends a whole list
    for order, attempt in duty.due(targets, mono_ms(), key):
        extra = {"attempt": attempt}
        reason = f"emergency flatten: {message.reason}"
        if cancel_ahead(
            broker, order, "flatten_cancel", "flatten", reason, extra, message.correlation_id
        ):
            cancelled.append(order.client_order_id)
    return {"cancelled": cancelled, "open": open_of_ours(broker)}


def on_view(broker: OrderBroker, message: FlattenView) -> dict[str, Any]:
    book = broker.book
    positions = {s: plain(p.quantity) for s, p in book.positions.items() if s in book.markets}
    orders = {}
    for cid in message.client_order_ids:
        o = book.orders.get(cid)
        if o is not None:
            orders[cid] = {
                "symbol": o.symbol,
                "quantity": plain(o.quantity),
                "state": o.state.value,
                "executed_qty": plain(o.executed_qty),
                "cumulative_quote": plain(o.cumulative_quote),
            }
    return {
        "symbols": {s: {"base": m.base, "quote": m.quote} for s, m in book.markets.items()},
        "positions": positions,
        "prices": {s: plain(p) for s, p in book.prices.items() if s in book.markets},
        "open": open_of_ours(broker),
        "orders": orders,
    }


def _selling(broker: OrderBroker, symbol: str) -> Decimal:
    """The base the flatten's sells still open on ``symbol`` may yet sell."""
    return sum(
        (
            o.quantity - o.executed_qty
            for o in broker.book.open_orders()
            if o.symbol == symbol and o.source == SOURCE
        ),
        Decimal(0),
    )


def on_sell(broker: OrderBroker, message: FlattenSell) -> dict[str, Any]:
    """Answers ``{"accepted": bool, "client_order_id", "reason"?}``."""
    cid = new_client_order_id(broker.ctx.services.instance)
    symbol, qty = message.symbol, message.quantity

    def refused(reason: str) -> dict[str, Any]:
        broker.audit(
            "flatten_sell_refused",
            client_order_id=cid,
            symbol=symbol,
            quantity=plain(qty),
            reason=reason,
        )
        return {"accepted": False, "client_order_id": cid, "reason": reason}

    if symbol not in broker.book.markets:
        return refused(f"{symbol} is not a configured symbol")
    position = broker.book.positions.get(symbol)
    held = (position.quantity if position is not None else Decimal(0)) - _selling(broker, symbol)
    if qty <= 0 or qty > held:
        return refused(f"quantity {plain(qty)} is not within Vigil's position ({plain(held)})")
    filters = filters_of(broker, symbol)
    if filters is None:
        return refused(f"no filters for {symbol}: the exchange's rules cannot be read")
    try:
        check_order(
            filters,
            side="SELL",
            order_type="MARKET",
            quantity=qty,
            price=None,
            reference_price=broker.book.prices.get(symbol),
        )
    except FilterViolation as exc:
        return refused(f"{exc}: {exc.detail}")
    created = now_ms()
    order = BookOrder(
        client_order_id=cid,
        symbol=symbol,
        side="SELL",
        type="MARKET",
        quantity=qty,
        price=None,
        created_ms=created,
        updated_ms=created,
        source=SOURCE,
    )
    verdicts = [
        {"gate": "flatten", "passed": True, "reason": f"emergency flatten: {message.reason}"}
    ]
    record = intent_record(order, verdicts) | {"path": "flatten"}
    try:  # write-ahead: the audit record queued, the journal entry durable, then the wire
        seq = broker.trail.append(
            "intent_accepted", record, cid=message.correlation_id, actor=broker.name
        )
        entry = intent_entry(order, message.correlation_id, seq, ["flatten"])
        broker.journal.append("intent", entry, durable=True)
        broker.trail.append(
            "flatten_sell",
            {
                "actor": broker.name,
                "client_order_id": cid,
                "symbol": symbol,
                "quantity": plain(qty),
                "position": plain(held),
                "reason": message.reason,
            },
            cid=message.correlation_id,
            actor=broker.name,
        )
    except StoreError as exc:
        broker.ctx.gate.trip_red(f"durable storage failed: {exc}", "order_broker")
        return refused(f"storage: {exc}")
    broker.book.add_intent(order)
    broker.state.evidence.execution.accepted(cid, symbol, "SELL", broker.book.prices.get(symbol))
    request = OrderRequest(
        symbol=symbol,
        side=Side.SELL,
        type=OrderType.MARKET,
        client_order_id=cid,
        quantity=qty,
    )
    broker.state.counters["accepted"] += 1
    broker.wire.send_flatten(request, message.correlation_id)
    return {"accepted": True, "client_order_id": cid, "state": OrderState.PENDING_NEW.value}
