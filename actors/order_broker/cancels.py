"""One order's cancel (``CancelOrder`` → ``CancelDecision``): the order is found by Vigil's
client order id, by the strategy's own id (scoped to that strategy) or by the exchange's
orderId; a cancel the exchange could act on is journaled (``cancel_requested``) and
audited before the wire sends it, and answered at once — the CANCELED state arrives
through the normal report path. A cancel only reduces risk, so it is allowed while RED.

Refused (found, not accepted) when the order is finished, its outcome is unknown, it has
no answer from the exchange yet, or Vigil did not place it (an adopted order); not found
when no order matches, or it belongs to another strategy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.book import BookOrder, OrderState
from runtime.clock import now_ms
from runtime.messages import CancelDecision, CancelOrder
from storage import StoreError

if TYPE_CHECKING:
    from actors.order_broker.broker import OrderBroker

ADOPTED = frozenset({"adopted", "resync", "cancelled at start-up"})  # not placed by Vigil


def find(broker: OrderBroker, message: CancelOrder) -> BookOrder | None:
    """The order ``message`` names (None: none, or not the asking strategy's)."""
    book = broker.book
    order: BookOrder | None = None
    if message.client_order_id is not None:
        order = book.orders.get(message.client_order_id)
    elif message.strategy_order_id is not None:
        order = book.find_strategy(message.strategy, message.strategy_order_id)
    elif message.order_id is not None:
        order = book.find(message.symbol, None, message.order_id)
    if order is None or (message.symbol and order.symbol != message.symbol):
        return None
    if message.order_id is not None and order.order_id != message.order_id:
        return None  # both ids named, of different orders: as Binance, neither is cancelled
    if message.strategy and order.strategy != message.strategy:
        return None  # another strategy's order: as if there were none
    return order


def refusal(order: BookOrder) -> str | None:
    """Why this order cannot be cancelled now (None: it can)."""
    if order.state.is_terminal:
        return f"order {order.client_order_id} is already {order.state.value}"
    if order.state is OrderState.UNKNOWN:
        return f"order {order.client_order_id}: its outcome is unknown (being resolved)"
    if order.state is OrderState.PENDING_NEW or order.order_id is None:
        return f"order {order.client_order_id} has no answer from the exchange yet"
    if order.source in ADOPTED:
        return f"order {order.client_order_id} was not placed by Vigil"
    return None


def on_cancel(broker: OrderBroker, message: CancelOrder) -> CancelDecision:
    cid = message.correlation_id
    order = find(broker, message)
    if order is None:
        named = message.client_order_id or message.strategy_order_id or message.order_id
        reason = f"no such order: {named}"
        broker.audit(
            "cancel_refused",
            strategy=message.strategy,
            symbol=message.symbol,
            client_order_id=message.client_order_id,
            strategy_order_id=message.strategy_order_id,
            order_id=message.order_id,
            reason=reason,
            request_reason=message.reason,
        )
        return CancelDecision(
            accepted=False, client_order_id=None, reason=reason, found=False, correlation_id=cid
        )
    record = {
        "strategy": order.strategy,
        "requested_by": message.strategy,
        "client_order_id": order.client_order_id,
        "strategy_order_id": order.strategy_order_id,
        "order_id": order.order_id,
        "symbol": order.symbol,
        "state": order.state.value,
        "reason": message.reason,
    }
    why = refusal(order)
    if why is not None:
        broker.audit("cancel_refused", **{**record, "refusal": why})
        return CancelDecision(
            accepted=False, client_order_id=order.client_order_id, reason=why, correlation_id=cid
        )
    try:
        broker.journal.append("cancel_requested", {**record, "at_ms": now_ms()}, durable=True)
    except StoreError as exc:
        why = f"storage: {exc}"
        broker.audit("cancel_refused", **{**record, "refusal": why})
        return CancelDecision(
            accepted=False, client_order_id=order.client_order_id, reason=why, correlation_id=cid
        )
    broker.audit("cancel_requested", **record)
    broker.wire.cancel(order.symbol, order.client_order_id)
    return CancelDecision(accepted=True, client_order_id=order.client_order_id, correlation_id=cid)
