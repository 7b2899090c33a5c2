"""Stale-order cleanup in the broker (``policy.max_order_age_s``): on every look of the REST
poller at the book (``InFlightRequest``, each ``poller.interval_s``), the resting orders of
ours older than the limit (``domain.stale_orders``) are cancelled — each attempt journaled
(``cancel_requested``, durable) and audited (``stale_order_cancelled``, with its age and the
limit) before the wire sends it, and sent again with the cancel duty's back-off until the
exchange reports the order gone. The exchange's CANCELED report reaches the book and the
strategy by the normal report path.

Off while cancel-on-RED is at work (that duty cancels every order anyway), and never an
order in flight, UNKNOWN or not placed by Vigil.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from domain.book import BookOrder
from domain.cancel_duty import CancelDuty, open_list_key
from domain.stale_orders import OrderAges, stale_orders
from runtime.clock import mono_ms, now_ms
from storage import StoreError

if TYPE_CHECKING:
    from actors.order_broker.broker import OrderBroker


@dataclass
class StaleSweep:
    """One broker instance's stale-order state: the orders' ages and the cancel retries."""

    ages: OrderAges = field(default_factory=OrderAges)
    duty: CancelDuty = field(default_factory=CancelDuty)


def sweep(broker: OrderBroker) -> int:
    """Cancel the stale orders due now; returns how many cancels were sent."""
    max_age_s = broker.settings.policy.max_order_age_s
    if max_age_s is None:
        return 0
    state = broker.stale
    if broker.settings.broker.cancel_on_red and broker.ctx.gate.state.is_red:
        state.duty.clear()  # cancel-on-RED cancels them all: no second cancel per order
        return 0
    limit_ms = int(max_age_s * 1000)
    now = mono_ms()
    stale = stale_orders(
        broker.book.open_orders(),
        state.ages,
        now_mono_ms=now,
        now_wall_ms=now_ms(),
        max_age_ms=limit_ms,
    )
    ages = {s.order.client_order_id: s.age_ms for s in stale}
    sent = 0
    key = open_list_key(
        broker.book.order_lists, broker.book.orders
    )  # a stale leg's cancel ends its whole list
    for order, attempt in state.duty.due([s.order for s in stale], now, key):
        extra = {
            "age_s": ages[order.client_order_id] / 1000,
            "max_order_age_s": max_age_s,
            "attempt": attempt,
        }
        reason = f"stale: open {extra['age_s']:.1f} s, limit {max_age_s:g} s"
        if cancel_ahead(
            broker, order, "stale_order_cancelled", "stale-order cleanup", reason, extra
        ):
            sent += 1
    return sent


def cancel_ahead(
    broker: OrderBroker,
    order: BookOrder,
    audit_kind: str,
    requested_by: str,
    reason: str,
    extra: dict[str, Any],
    correlation_id: str | None = None,
) -> bool:
    """One cancel of Vigil's own making, written ahead as every cancel is: the journal's
    ``cancel_requested`` entry durable, then the audit record (``audit_kind``) queued, then
    the wire. False (nothing sent) when storage fails: the store's failure is reported
    where it happens, and the caller's back-off tries again."""
    record = {
        "strategy": order.strategy,
        "requested_by": requested_by,
        "client_order_id": order.client_order_id,
        "strategy_order_id": order.strategy_order_id,
        "order_id": order.order_id,
        "symbol": order.symbol,
        "state": order.state.value,
        "reason": reason,
    }
    if order.order_list is not None:  # the exchange cancels the whole list with it
        record["order_list"] = order.order_list
    try:
        broker.journal.append("cancel_requested", {**record, "at_ms": now_ms()}, durable=True)
        broker.trail.append(
            audit_kind,
            {"actor": broker.name, **record, **extra},
            cid=correlation_id,
            actor=broker.name,
        )
    except StoreError:
        return False
    broker.wire.cancel(order.symbol, order.client_order_id)
    return True
