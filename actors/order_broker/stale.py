"""Stale-order cleanup in the broker (``policy.max_order_age_s``): on every look of the REST
poller at the book (``InFlightRequest``, each ``poller.interval_s``), the resting orders of
ours older than the limit (``domain.stale_orders``) are cancelled — each attempt audited
(``stale_order_cancelled``, with its age and the limit) before the wire sends it, and sent
again with the cancel duty's back-off until the exchange reports the order gone. The
exchange's CANCELED report reaches the book and the strategy by the normal report path.

Off while cancel-on-RED is at work (that duty cancels every order anyway), and never an
order in flight, UNKNOWN or not placed by Vigil.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from domain.cancel_duty import CancelDuty
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
    for order, attempt in state.duty.due([s.order for s in stale], now):
        record = {
            "actor": broker.name,
            "client_order_id": order.client_order_id,
            "symbol": order.symbol,
            "state": order.state.value,
            "age_s": ages[order.client_order_id] / 1000,
            "max_order_age_s": max_age_s,
            "attempt": attempt,
        }
        try:  # the record is in the trail before the cancel can reach the wire
            broker.trail.append("stale_order_cancelled", record, actor=broker.name)
        except StoreError:
            continue  # the trail reports its own failure (RED); the next look tries again
        broker.wire.cancel(order.symbol, order.client_order_id)
        sent += 1
    return sent
