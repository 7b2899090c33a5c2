"""Cancel-on-RED as a standing duty: while RED, every order of ours that the exchange has
confirmed open (NEW or PARTIALLY_FILLED) is to be cancelled — and cancelled again, with
back-off, until the exchange reports it gone (CANCELED, FILLED, EXPIRED...) — whenever it
was acknowledged, whatever happened to an earlier attempt.

An order whose state is not confirmed (in flight, UNKNOWN) is never a target: it is
resolved by query first. The legs of one open order list are one target: the exchange
cancels a whole list when any of its orders is cancelled, so one cancel goes (to the leg
already being cancelled, else the first) and its siblings, which that cancel ends, are not
sent a second one that could only be refused (-2011, unknown order). Once a leg of a list
is CANCELED the exchange has cancelled the whole list: its siblings' reports are on the way
and none of them is a target (were they lost, REST brings them). Pure: the caller passes
the time (monotonic ms) and sends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from domain.book import BookOrder, BookOrderList, OrderState

#: an order's open order list (its key) and whether the list is being cancelled already
#: (one of its legs CANCELED), or None when the order stands alone
ListKey = Callable[[BookOrder], tuple[str, bool] | None]


def open_list_key(
    order_lists: Mapping[str, BookOrderList], orders: Mapping[str, BookOrder] | None = None
) -> ListKey:
    """The key of an order's list while the list is open on the exchange (a leg of a done
    list, or an order outside any list, is cancelled on its own); with ``orders``, a list
    one of whose legs is CANCELED is known to be ending."""

    def key(order: BookOrder) -> tuple[str, bool] | None:
        if order.order_list is None:
            return None
        order_list = order_lists.get(order.order_list)
        if order_list is None or order_list.done:
            return None
        legs = [] if orders is None else [orders.get(c) for c in order_list.leg_ids]
        ending = any(leg is not None and leg.state is OrderState.CANCELED for leg in legs)
        return order.order_list, ending

    return key


def one_per_list(
    orders: Iterable[BookOrder], key: ListKey | None, prefer: Iterable[str] = ()
) -> tuple[list[BookOrder], set[str]]:
    """The orders to cancel, one per open list (a leg in ``prefer`` first, else the first
    seen; none for a list already ending), and the client order ids of the legs left out:
    the siblings whose list that cancel ends."""
    orders = list(orders)
    if key is None:
        return orders, set()
    preferred = set(prefer)
    ranked = sorted(orders, key=lambda o: o.client_order_id not in preferred)  # stable
    leaders: dict[str, str] = {}
    covered: set[str] = set()
    for order in ranked:
        found = key(order)
        if found is None:
            continue
        k, ending = found
        if ending or k in leaders:
            covered.add(order.client_order_id)
        else:
            leaders[k] = order.client_order_id
    return [o for o in orders if o.client_order_id not in covered], covered


CONFIRMED_OPEN = frozenset({OrderState.NEW, OrderState.PARTIALLY_FILLED})


@dataclass
class CancelDuty:
    """Which orders to cancel now: each target's first attempt at once, then again after
    ``first_retry_ms``, doubling up to ``max_retry_ms`` between attempts."""

    first_retry_ms: int = 2_000
    max_retry_ms: int = 15_000
    attempts: dict[str, tuple[int, int]] = field(default_factory=dict)  # cid → (n, next at)

    def due(
        self, orders: Iterable[BookOrder], now_ms: int, list_key: ListKey | None = None
    ) -> list[tuple[BookOrder, int]]:
        """The orders to cancel now, each with its attempt number (1 for the first);
        ``list_key`` (see ``open_list_key``) makes the legs of an open list one target."""
        confirmed = [o for o in orders if o.state in CONFIRMED_OPEN]
        leaders, _ = one_per_list(confirmed, list_key, prefer=self.attempts)
        targets = {o.client_order_id: o for o in leaders}
        for cid in [c for c in self.attempts if c not in targets]:
            del self.attempts[cid]  # gone from the exchange (or its list's cancel ends it)
        due = []
        for cid, order in targets.items():
            made, next_at = self.attempts.get(cid, (0, now_ms))
            if now_ms < next_at:
                continue
            wait = min(self.first_retry_ms * 2**made, self.max_retry_ms)
            self.attempts[cid] = (made + 1, now_ms + wait)
            due.append((order, made + 1))
        return due

    def clear(self) -> None:
        """RED was reset: no duty."""
        self.attempts.clear()
