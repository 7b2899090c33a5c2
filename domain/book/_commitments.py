"""Commitments: what the live orders reserve, as running totals kept in step with every
order change (``Commitments.count`` / ``discount``), so a limit check never walks the
order history.

The totals are exact: an amount added when an order goes live is taken off unchanged
when it changes or closes, leaving no residue.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, Inexact, InvalidOperation

from domain.book._ledger import ZERO, BookOrder, Market

# running totals are added to and taken from as orders change: exact, never rounded (a
# rounded sum would leave a residue when the same amount is taken off again)
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, Inexact])


@dataclass(frozen=True, slots=True)
class Share:
    """What one live order may still take from the account, as counted in the book's
    running totals: ``amount`` of ``asset`` (a BUY's quote at its limit price, a SELL's
    base) and, when it has a price, its remaining ``notional`` in the quote asset. An
    unpriced order (MARKET BUY) is valued at the reference price when asked."""

    asset: str
    amount: Decimal
    key: tuple[str, str]  # (symbol, side)
    notional: Decimal | None


@dataclass
class Commitments:
    """The running totals over live orders (any state short of terminal, so an intent not
    yet acknowledged counts too): committed amount per asset, remaining notional per
    (symbol, side), and the unpriced orders, valued when asked."""

    committed: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    notional: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    shares: dict[str, Share] = field(default_factory=dict)
    unpriced: dict[str, BookOrder] = field(default_factory=dict)
    selling: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # base
    per_symbol: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # live orders
    # live OCO orders whose partner holds the pair's funds: counted as orders, not as money
    shadowed: dict[str, str] = field(default_factory=dict)  # client order id → symbol

    def count(self, order: BookOrder, market: Market) -> None:
        self.discount(order.client_order_id)
        if order.state.is_terminal:
            return
        self.per_symbol[order.symbol] += 1
        if order.shadowed:
            self.shadowed[order.client_order_id] = order.symbol
            return
        remaining = max(order.quantity - order.executed_qty, ZERO)
        key = (order.symbol, order.side)
        if order.price is None:
            self.unpriced[order.client_order_id] = order
            if order.side == "BUY":
                return  # its quote is unknown until valued at a reference price
            share = Share(market.base, remaining, key, None)
        elif order.side == "BUY":
            notional = order.price * remaining
            share = Share(market.quote, notional, key, notional)
        else:
            share = Share(market.base, remaining, key, order.price * remaining)
        self.shares[order.client_order_id] = share
        self.committed[share.asset] = EXACT.add(self.committed[share.asset], share.amount)
        if order.side == "SELL":
            self.selling[order.symbol] = EXACT.add(self.selling[order.symbol], share.amount)
        if share.notional is not None:
            self.notional[key] = EXACT.add(self.notional[key], share.notional)

    def discount(self, client_order_id: str) -> None:
        shadowed = self.shadowed.pop(client_order_id, None)
        if shadowed is not None:
            self.per_symbol[shadowed] -= 1
            return
        # every counted order has a share, or is unpriced (a MARKET BUY), or both
        unpriced = self.unpriced.pop(client_order_id, None)
        share = self.shares.pop(client_order_id, None)
        if share is None:
            if unpriced is not None:
                self.per_symbol[unpriced.symbol] -= 1
            return
        symbol, side = share.key
        self.per_symbol[symbol] -= 1
        self.committed[share.asset] = EXACT.subtract(self.committed[share.asset], share.amount)
        if side == "SELL":
            self.selling[symbol] = EXACT.subtract(self.selling[symbol], share.amount)
        if share.notional is not None:
            self.notional[share.key] = EXACT.subtract(self.notional[share.key], share.notional)
