"""An order list in the book: an OCO, OTO or OTOCO as one object with its legs (each leg an
ordinary ``BookOrder``), the venue's list id and list statuses, and the expiries its
contingency makes Vigil expect.

When one order of an OCO pair executes (its first fill, or a stop's trigger), the exchange
expires the other; until that expiry is reported the book *expects* it (``expiry_expected``,
leg → since when), so an owner can confirm it by REST when it does not come in time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from domain.book._ledger import ZERO, BookOrder

#: the roles of a list's orders, in Binance's order (working, pending, then the pair)
ROLES = ("working", "pending", "above", "below")
LIST_DONE = frozenset({"ALL_DONE", "REJECT"})


@dataclass
class BookOrderList:
    list_client_order_id: str
    symbol: str
    list_type: str  # what was placed: OCO, OTO or OTOCO
    legs: dict[str, str]  # role → the leg's client order id
    order_list_id: int | None = None
    contingency_type: str = ""  # the venue's (an OTOCO is OTO)
    list_status_type: str = ""  # "" until the venue has told
    list_order_status: str = ""
    created_ms: int = 0
    updated_ms: int = 0
    source: str = ""
    strategy: str = ""
    strategy_list_id: str | None = None  # the strategy's own listClientOrderId
    # the leg whose expiry the other leg's execution makes due → since when (owner's ms)
    expiry_expected: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.list_order_status in LIST_DONE

    @property
    def leg_ids(self) -> list[str]:
        return [self.legs[r] for r in ROLES if r in self.legs]

    @property
    def pair(self) -> tuple[str, str] | None:
        """The OCO pair's client order ids (an OCO's, or an OTOCO's pending pair)."""
        if "above" in self.legs and "below" in self.legs:
            return self.legs["above"], self.legs["below"]
        return None

    def partner(self, client_order_id: str) -> str | None:
        """The other order of the OCO pair ``client_order_id`` belongs to."""
        pair = self.pair
        if pair is None or client_order_id not in pair:
            return None
        return pair[1] if pair[0] == client_order_id else pair[0]

    def role_of(self, client_order_id: str) -> str | None:
        for role, cid in self.legs.items():
            if cid == client_order_id:
                return role
        return None


def pair_shadows(order_list: BookOrderList, orders: dict[str, BookOrder]) -> dict[str, bool]:
    """An OCO pair locks its funds once: once one order has started executing (filled, in
    part or whole, or triggered), the other is shadowed (reserves nothing: it is expiring);
    before, while both are live, the smaller reservation is. Empty when the list has no
    pair."""
    pair = order_list.pair
    if pair is None:
        return {}
    a, b = orders.get(pair[0]), orders.get(pair[1])
    if a is None or b is None:
        return {}
    want = {a.client_order_id: False, b.client_order_id: False}
    if a.executing != b.executing:  # the funds went to the executing order (open or done)
        want[(b if a.executing else a).client_order_id] = True
    elif not a.executing and not a.state.is_terminal and not b.state.is_terminal:
        smaller = b if reservation(b) <= reservation(a) else a
        want[smaller.client_order_id] = True
    return want


def reservation(order: BookOrder) -> Decimal:
    """What an OCO order would take from the account: its notional at its limit or trigger
    price (a SELL pair shares its quantity, so the dearer order is the worst case)."""
    price = order.price if order.price is not None else order.stop_price
    return (price or ZERO) * order.quantity


def overdue_expiries(
    order_lists: dict[str, BookOrderList], orders: dict[str, BookOrder], now_ms: int, grace_ms: int
) -> list[BookOrder]:
    """Legs whose expiry has been due for ``grace_ms`` or longer and is still not reported."""
    out = []
    for order_list in order_lists.values():
        for cid, since in order_list.expiry_expected.items():
            leg = orders.get(cid)
            if leg is not None and not leg.state.is_terminal and now_ms - since >= grace_ms:
                out.append(leg)
    return out
