"""The book's order lists: an accepted list with its legs, the venue's list statuses (and
the legs' exchange ids they carry), a list the exchange refused, the OCO expiry a leg's
change makes due, and an OCO pair's funds counted once.

``BookLists`` is a part of ``Book`` (``domain.book._book``), which holds the state it works
on; the list itself and its pure rules are ``domain.book._lists``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.book._commitments import Commitments
from domain.book._ledger import BookOrder, Market, OrderState
from domain.book._lists import BookOrderList, overdue_expiries, pair_shadows


class BookLists:
    """The order-list operations of ``Book`` (the state below is the book's)."""

    markets: dict[str, Market]
    orders: dict[str, BookOrder]
    by_order_id: dict[tuple[str, int], str]
    commitments: Commitments
    order_lists: dict[str, BookOrderList]
    list_by_id: dict[tuple[str, int], str]
    list_of_leg: dict[str, str]

    if TYPE_CHECKING:  # the book's own, and the accounting's

        def _emit(self, kind: str, payload: Any) -> None: ...
        def knows_id(self, client_order_id: str) -> bool: ...
        def add_intent(self, order: BookOrder) -> None: ...
        def mark(self, client_order_id: str, state: OrderState, now_ms: int) -> None: ...
        def claim_foreign(self, order: BookOrder) -> None: ...

    def add_list_intent(self, order_list: BookOrderList, legs: list[BookOrder]) -> None:
        """An accepted order list and its legs (each an intent like any order)."""
        key = order_list.list_client_order_id
        if key in self.order_lists:
            raise ValueError(f"order list {key} already in the book")
        if sorted(o.client_order_id for o in legs) != sorted(order_list.leg_ids):
            raise ValueError(f"order list {key}: legs do not match its roles")
        for leg in legs:  # checked before any change: refused whole, never half added
            if self.knows_id(leg.client_order_id):
                raise ValueError(f"client order id {leg.client_order_id} already in the book")
        self.order_lists[key] = order_list
        for leg in legs:
            leg.order_list = key
            self.list_of_leg[leg.client_order_id] = key
            self.add_intent(leg)

    def list_of(self, client_order_id: str) -> BookOrderList | None:
        key = self.list_of_leg.get(client_order_id)
        return None if key is None else self.order_lists.get(key)

    def find_list(
        self, symbol: str, list_client_order_id: str | None, order_list_id: int | None
    ) -> BookOrderList | None:
        if list_client_order_id is not None and list_client_order_id in self.order_lists:
            return self.order_lists[list_client_order_id]
        if order_list_id is not None:
            key = self.list_by_id.get((symbol, order_list_id))
            if key is not None:
                return self.order_lists.get(key)
        return None

    def apply_list_status(
        self,
        *,
        symbol: str,
        order_list_id: int,
        list_client_order_id: str,
        contingency_type: str,
        list_status_type: str,
        list_order_status: str,
        legs: list[tuple[str, int]],
        now_ms: int,
    ) -> BookOrderList | None:
        """A listStatus event or a REST order-list answer. Returns the list, or None when
        the book does not know it (a foreign list: the reconciler's business). The legs'
        exchange ids are learned here too (``legs``: (client order id, order id))."""
        order_list = self.find_list(symbol, list_client_order_id, order_list_id)
        if order_list is None:
            return None
        before = (
            order_list.order_list_id,
            order_list.list_status_type,
            order_list.list_order_status,
        )
        if order_list.order_list_id is None:
            order_list.order_list_id = order_list_id
            self.list_by_id[(symbol, order_list_id)] = order_list.list_client_order_id
        order_list.contingency_type = contingency_type
        if not order_list.done:  # a finished list stays finished
            order_list.list_status_type = list_status_type
            order_list.list_order_status = list_order_status
        for cid, order_id in legs:
            leg = self.orders.get(cid)
            if leg is not None and leg.order_list == order_list.list_client_order_id:
                if leg.order_id is None:
                    leg.order_id = order_id
                    self.by_order_id[(symbol, order_id)] = cid
                    self.claim_foreign(leg)
                    self._emit("order", leg)
        after = (
            order_list.order_list_id,
            order_list.list_status_type,
            order_list.list_order_status,
        )
        if after != before:
            order_list.updated_ms = now_ms
            self._emit("order_list", order_list)
        return order_list

    def refuse_list(self, list_client_order_id: str, now_ms: int) -> None:
        """The exchange refused the list (or it never left): the list is REJECT, and each
        leg the venue never acknowledged is REJECTED."""
        order_list = self.order_lists[list_client_order_id]
        for cid in order_list.leg_ids:
            if self.orders[cid].order_id is None:
                self.mark(cid, OrderState.REJECTED, now_ms)
        if not order_list.done:
            order_list.list_status_type = "RESPONSE"
            order_list.list_order_status = "REJECT"
            order_list.updated_ms = now_ms
            self._emit("order_list", order_list)

    def _leg_changed(self, order: BookOrder, now_ms: int) -> None:
        """One leg changed: the expiry its OCO partner is due (or no longer due)."""
        order_list = self.list_of(order.client_order_id)
        if order_list is None:
            return
        changed = False
        expected = order_list.expiry_expected
        if order.state.is_terminal and order.client_order_id in expected:
            del expected[order.client_order_id]
            changed = True
        partner_id = order_list.partner(order.client_order_id)
        partner = None if partner_id is None else self.orders.get(partner_id)
        if (
            partner is not None
            and order.executing
            and not partner.state.is_terminal
            and partner.client_order_id not in order_list.expiry_expected
        ):
            order_list.expiry_expected[partner.client_order_id] = now_ms
            changed = True
        if changed:
            self._emit("order_list", order_list)

    def overdue_expiries(self, now_ms: int, grace_ms: int) -> list[BookOrder]:
        """Legs whose expiry has been due for ``grace_ms`` and is still not reported: to be
        confirmed by REST."""
        return overdue_expiries(self.order_lists, self.orders, now_ms, grace_ms)

    def open_order_lists(self) -> list[BookOrderList]:
        return [ol for ol in self.order_lists.values() if not ol.done or self.list_is_open(ol)]

    def list_is_open(self, order_list: BookOrderList) -> bool:
        """Whether any of the list's orders is still open (a compacted one is not)."""
        return any(
            (leg := self.orders.get(cid)) is not None and leg.is_open for cid in order_list.leg_ids
        )

    def _shadow_pair(self, order: BookOrder) -> None:
        """Keep the pair's funds counted once (``pair_shadows``)."""
        order_list = self.list_of(order.client_order_id)
        if order_list is None:
            return
        for cid, shadowed in pair_shadows(order_list, self.orders).items():
            leg = self.orders[cid]
            if leg.shadowed != shadowed:
                leg.shadowed = shadowed
                if not leg.state.is_terminal:
                    self.commitments.count(leg, self.markets[leg.symbol])
