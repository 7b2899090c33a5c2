"""What a MARKET order would cost before it is sent: its expected average fill, walked
level by level through the order book, its slippage from the mid, and the protection price
that bounds it (the worst price a LIMIT IOC sent in its place may fill at).

A market order into a thin book does its damage at once; slippage judged after the fill is
too late. Pure: the caller brings the book's levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class FillEstimate:
    """Taking ``wanted`` from the book: what it can fill, at what average and worst price,
    and how far the average is from the mid (bps, worse is positive)."""

    wanted: Decimal
    fillable: Decimal
    average: Decimal | None
    worst: Decimal | None
    mid: Decimal
    slippage_bps: Decimal | None

    @property
    def fills_whole(self) -> bool:
        return self.fillable >= self.wanted

    def as_dict(self) -> dict[str, str | None]:
        def text(v: Decimal | None) -> str | None:
            return None if v is None else format(v.normalize(), "f")

        return {
            "wanted": text(self.wanted),
            "fillable": text(self.fillable),
            "average": text(self.average),
            "worst": text(self.worst),
            "mid": text(self.mid),
            "slippage_bps": text(self.slippage_bps),
        }


def estimate_fill(
    side: str, qty: Decimal, levels: Sequence[tuple[Decimal, Decimal]], mid: Decimal
) -> FillEstimate:
    """Walk ``levels`` (the asks for a BUY, the bids for a SELL, best first)."""
    left, cost, worst = qty, Decimal(0), None
    for price, available in levels:
        if left <= 0:
            break
        take = min(left, available)
        cost += take * price
        left -= take
        worst = price
    filled = qty - left
    if filled <= 0:
        return FillEstimate(qty, Decimal(0), None, None, mid, None)
    average = cost / filled
    worse = average - mid if side == "BUY" else mid - average
    bps = (worse / mid * BPS).quantize(Decimal("0.01")) if mid > 0 else None
    return FillEstimate(qty, filled, average, worst, mid, bps)


def protection_price(side: str, mid: Decimal, max_bps: Decimal, tick: Decimal) -> Decimal:
    """The worst price within ``max_bps`` of the mid, on the tick, never beyond the bound:
    a BUY's is floored, a SELL's ceiled."""
    if side == "BUY":
        bound = mid * (1 + max_bps / BPS)
        return (bound / tick).to_integral_value(ROUND_FLOOR) * tick
    bound = mid * (1 - max_bps / BPS)
    return (bound / tick).to_integral_value(ROUND_CEILING) * tick
