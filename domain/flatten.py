"""Emergency flatten's plan: which MARKET SELL orders bring each position back to the quote
asset within the exchange's filters, and what is left as dust.

What is sold per symbol is the position Vigil's own fills built (``Position.quantity`` in
the book), capped at the exchange's free balance of the base asset (shared between the
symbols of one base asset, so their sells together never exceed it). Holdings Vigil did
not buy are never sold. Each sell is floored onto LOT_SIZE's and MARKET_LOT_SIZE's steps
(a multiple of both), split at the largest quantity the filters allow per order, and
checked as the exchange would (``domain.filters.check_order`` with the reference price);
whatever cannot be sold that way — below a step, below the minimum quantity or the
minimum notional — is dust, reported and never chased. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.filters import FilterViolation, SymbolFilters, check_order
from domain.money import floor_to_step

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Holding:
    """One configured symbol as the flatten sees it."""

    symbol: str
    position: Decimal  # base bought by Vigil's fills and still held (the book)
    free_base: Decimal  # the exchange's free balance of the base asset
    price: Decimal | None  # the reference price (mid) for the notional filters; None: unknown
    filters: SymbolFilters


@dataclass(frozen=True, slots=True)
class PlannedSell:
    symbol: str
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Dust:
    symbol: str
    quantity: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class FlattenPlan:
    sells: tuple[PlannedSell, ...]
    dust: tuple[Dust, ...]
    notes: tuple[str, ...]  # e.g. a position capped at the free balance

    def sold(self, symbol: str) -> Decimal:
        return sum((s.quantity for s in self.sells if s.symbol == symbol), ZERO)


def floor_to_both(qty: Decimal, a: Decimal, b: Decimal) -> Decimal:
    """The largest multiple of both steps (0 imposes nothing) not above ``qty``: flooring to
    each in turn until neither moves it (every common multiple below ``qty`` stays below
    each floor, so the fixed point is the largest)."""
    while True:
        floored = floor_to_step(floor_to_step(qty, a), b)
        if floored == qty:
            return qty
        qty = floored


def max_per_order(f: SymbolFilters, price: Decimal | None) -> Decimal | None:
    """The largest MARKET quantity one order may have (None: unbounded)."""
    bounds = [m for m in (f.max_qty, f.market_max_qty) if m > 0]
    if (
        price is not None
        and price > 0
        and f.max_notional is not None
        and f.max_notional > 0
        and f.apply_max_to_market
    ):
        bounds.append(f.max_notional / price)
    if not bounds:
        return None
    return floor_to_both(min(bounds), f.step_size, f.market_step_size)


def plan_flatten(holdings: Sequence[Holding]) -> FlattenPlan:
    """The sells and the dust for ``holdings`` (in the order given)."""
    free: dict[str, Decimal] = {}
    sells: list[PlannedSell] = []
    dust: list[Dust] = []
    notes: list[str] = []
    for h in holdings:
        f = h.filters
        left = free.setdefault(f.base_asset, max(h.free_base, ZERO))
        if h.position <= 0:
            continue
        target = min(h.position, left)
        if target < h.position:
            notes.append(
                f"{h.symbol}: position {h.position} {f.base_asset} capped at the free "
                f"balance left ({left})"
            )
        sellable = floor_to_both(target, f.step_size, f.market_step_size)
        if sellable < target:
            dust.append(Dust(h.symbol, target - sellable, "below the lot step"))
        cap = max_per_order(f, h.price)
        if cap is not None and cap <= 0:
            if sellable > 0:
                dust.append(Dust(h.symbol, sellable, "no quantity the filters allow"))
            continue
        sold = ZERO
        while sellable > 0:
            qty = sellable if cap is None else min(sellable, cap)
            sellable -= qty
            try:
                check_order(
                    f, side="SELL", order_type="MARKET", quantity=qty, price=None,
                    reference_price=h.price,
                )  # fmt: skip
            except FilterViolation as exc:
                dust.append(Dust(h.symbol, qty + sellable, f"{exc.filter_type}: {exc.detail}"))
                break
            sells.append(PlannedSell(h.symbol, qty))
            sold += qty
        if h.price is None and sold > 0:
            notes.append(f"{h.symbol}: no reference price: the exchange judges the notional")
        free[f.base_asset] = left - sold
    return FlattenPlan(tuple(sells), tuple(dust), tuple(notes))
