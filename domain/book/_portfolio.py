"""The portfolio: positions at average cost, their P&L, the trading day's baseline
(``DayMark``), and the account valued at reference prices (equity).

Pure functions of the book's balances, positions and prices; the book calls them. A
position is spot: never short, and never more than the base asset the account holds
(``position_breaks``). Money is Decimal throughout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from domain.book._ledger import ZERO, Execution, Market

DAY_MS = 86_400_000


@dataclass
class Position:
    """Spot: base holdings from our fills, at average cost (in the quote asset)."""

    symbol: str
    quantity: Decimal = ZERO
    cost: Decimal = ZERO  # total quote paid for ``quantity``
    realized_pnl: Decimal = ZERO
    fees_quote: Decimal = ZERO

    @property
    def average_entry(self) -> Decimal | None:
        return None if self.quantity <= 0 else self.cost / self.quantity

    def unrealized(self, mark: Decimal | None) -> Decimal:
        if mark is None or self.quantity <= 0:
            return ZERO
        return mark * self.quantity - self.cost

    def apply_fill(
        self, market: Market, ex: Execution, notional: Decimal, fee_quote: Decimal
    ) -> tuple[Decimal, Decimal]:
        """Apply a fill of ``market`` to the position: (change in realized P&L, base
        closed). A BUY adds at cost (its fee included unless paid in the base); a SELL
        realizes against the average cost, and a SELL of coins never bought only books
        its fee."""
        self.fees_quote += fee_quote
        if ex.side == "BUY":
            received = ex.qty - (ex.commission if ex.commission_asset == market.base else ZERO)
            self.quantity += received
            self.cost += notional + (fee_quote if ex.commission_asset != market.base else ZERO)
            return ZERO, ZERO
        if self.quantity > 0:
            sold = min(ex.qty, self.quantity)
            basis = self.cost * sold / self.quantity
            realized = ex.price * sold - basis - fee_quote
            self.realized_pnl += realized
            self.cost -= basis
            self.quantity -= sold
            return realized, sold
        self.realized_pnl -= fee_quote
        return -fee_quote, ZERO


@dataclass
class DayMark:
    """The trading day's baseline (UTC days): the total P&L (realized + unrealized) when
    the day was first seen, against which today's loss is measured, and the highest
    equity seen since, against which the drawdown is."""

    start_ms: int
    pnl_base: Decimal
    peak_equity: Decimal | None = None


def fee_in_quote(market: Market, ex: Execution, prices: Mapping[str, Decimal]) -> Decimal:
    """The fee of ``ex`` valued in the quote asset; a fee paid in a third asset (e.g. BNB)
    at its reference price ``{asset}{quote}`` in ``prices`` (0 when it has none)."""
    if not ex.commission or ex.commission_asset is None:
        return ZERO
    if ex.commission_asset == market.quote:
        return ex.commission
    if ex.commission_asset == market.base:
        return ex.commission * ex.price
    rate = prices.get(f"{ex.commission_asset}{market.quote}")
    return ex.commission * rate if rate is not None else ZERO


def total_pnl(positions: Mapping[str, Position], prices: Mapping[str, Decimal]) -> Decimal:
    """Realized + unrealized P&L over every position, at the reference prices."""
    return sum(
        (p.realized_pnl + p.unrealized(prices.get(s)) for s, p in positions.items()),
        ZERO,
    )


def equity(
    totals: Mapping[str, Decimal], prices: Mapping[str, Decimal], quote: str
) -> tuple[Decimal, list[str]]:
    """The balances valued in ``quote`` at the reference prices (``{asset}{quote}``), and
    the assets held that have no price (left out)."""
    total = ZERO
    unvalued = []
    for asset, amount in sorted(totals.items()):
        if not amount:
            continue
        if asset == quote:
            total += amount
            continue
        price = prices.get(f"{asset}{quote}")
        if price is None:
            unvalued.append(asset)
            continue
        total += amount * price
    return total, unvalued


def position_breaks(
    market: Market, positions: Mapping[str, Position], totals: Mapping[str, Decimal]
) -> str | None:
    """The spot position invariant for ``market``: our position is never negative and
    never more than the base asset the account holds; no balance is negative."""
    symbol = market.symbol
    pos = positions.get(symbol)
    held = totals.get(market.base, ZERO)
    if pos is not None and pos.quantity < 0:
        return f"{symbol} position {pos.quantity} is negative"
    if pos is not None and pos.quantity > held:
        return f"{symbol} position {pos.quantity} is more than the {held} {market.base} held"
    for asset in (market.base, market.quote):
        if totals.get(asset, ZERO) < 0:
            return f"{asset} balance {totals[asset]} is negative"
    return None
