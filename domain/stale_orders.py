"""Stale-order cleanup (``policy.max_order_age_s``): which resting orders of ours have been
open longer than the limit and are to be cancelled now.

An order is a candidate only while the exchange has confirmed it open (NEW or
PARTIALLY_FILLED): never one in flight or UNKNOWN (it is resolved by query first), never
one Vigil did not place (adopted at start-up or by a resync). Its age runs from its
creation (the wall-clock ``created_ms``) as seen when the owner first looks at it, and on
the monotonic clock from then on, so a step of the wall clock after that cannot make an
order look older. Pure: the caller passes both clocks and sends the cancels.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from domain.book import BookOrder
from domain.cancel_duty import CONFIRMED_OPEN

# the sources of orders Vigil did not place: adopted at start-up, by a resync, or found and
# cancelled at start-up (the broker's ``actors.order_broker.cancels.ADOPTED``, kept equal by
# a test)
NOT_OURS = frozenset({"adopted", "resync", "cancelled at start-up"})


@dataclass(frozen=True, slots=True)
class StaleOrder:
    """A resting order of ours older than the limit, with its age (ms)."""

    order: BookOrder
    age_ms: int


def is_candidate(order: BookOrder) -> bool:
    """Confirmed open on the exchange, resting (not MARKET), and placed by Vigil."""
    return order.state in CONFIRMED_OPEN and order.type != "MARKET" and order.source not in NOT_OURS


@dataclass
class OrderAges:
    """When each candidate became open, on the monotonic clock (ms): its creation time
    translated from the wall clock the first time it is seen, then kept."""

    since: dict[str, int] = field(default_factory=dict)  # client order id -> mono ms

    def observe(self, orders: Iterable[BookOrder], now_mono_ms: int, now_wall_ms: int) -> None:
        """Record the candidates among ``orders`` not seen before; forget the rest."""
        seen = set()
        for order in orders:
            if not is_candidate(order):
                continue
            cid = order.client_order_id
            seen.add(cid)
            if cid not in self.since:
                waited = max(0, now_wall_ms - order.created_ms) if order.created_ms else 0
                self.since[cid] = now_mono_ms - waited
        for cid in [c for c in self.since if c not in seen]:
            del self.since[cid]

    def stale(
        self, orders: Iterable[BookOrder], now_mono_ms: int, max_age_ms: int
    ) -> list[StaleOrder]:
        """The candidates (already observed) whose age has reached ``max_age_ms``."""
        found = []
        for order in orders:
            since = self.since.get(order.client_order_id)
            if since is None or not is_candidate(order):
                continue
            age = now_mono_ms - since
            if age >= max_age_ms:
                found.append(StaleOrder(order, age))
        return found


def stale_orders(
    orders: Iterable[BookOrder],
    ages: OrderAges,
    *,
    now_mono_ms: int,
    now_wall_ms: int,
    max_age_ms: int,
) -> list[StaleOrder]:
    """Observe ``orders`` (the book's open orders) and return those stale now."""
    orders = list(orders)
    ages.observe(orders, now_mono_ms, now_wall_ms)
    return ages.stale(orders, now_mono_ms, max_age_ms)
