"""Protective orders' own rules: which side of the market a stop's trigger must be on, and
whether a bracket's (OCO pair's) prices are in the order the exchange requires — so that a
stop or bracket that could never protect anything is refused with the reason before the
wire (Binance: "Order would trigger immediately", "The relationship of the prices for the
orders is not correct").

A STOP_LOSS SELL and a TAKE_PROFIT BUY wait below the market, a STOP_LOSS BUY and a
TAKE_PROFIT SELL above it (the ``_LIMIT`` variants alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

STOP_LOSSES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT"})
TAKE_PROFITS = frozenset({"TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
STOPS = STOP_LOSSES | TAKE_PROFITS


def trigger_above(side: str, order_type: str) -> bool:
    """Whether a stop of this side and type waits above the market (else below)."""
    return (order_type in STOP_LOSSES) == (side == "BUY")


def trigger_refusal(
    side: str, order_type: str, stop_price: Decimal | None, market: Decimal | None
) -> str | None:
    """Why a stop's trigger is on the wrong side of the market (``market``: the last or
    mid price), or None when it is on the right side (or there is nothing to judge: not a
    stop, a trailing stop without a stop price, no market price)."""
    if order_type not in STOPS or stop_price is None or market is None:
        return None
    if trigger_above(side, order_type):
        if stop_price > market:
            return None
        where = "above"
    else:
        if stop_price < market:
            return None
        where = "below"
    return (
        f"{side} {order_type} trigger {stop_price} is on the wrong side of the market "
        f"{market}: it must be {where} it (it would trigger at once)"
    )


@dataclass(frozen=True, slots=True)
class Leg:
    """What the bracket rule needs of one order of a pair."""

    type: str
    price: Decimal | None
    stop_price: Decimal | None

    @property
    def level(self) -> Decimal | None:
        """Where it acts: a LIMIT_MAKER / TAKE_PROFIT_LIMIT at its price, a stop at its
        trigger."""
        if self.type in ("LIMIT_MAKER", "LIMIT", "TAKE_PROFIT_LIMIT") and self.price is not None:
            return self.price
        return self.stop_price


def bracket_refusal(side: str, above: Leg, below: Leg, market: Decimal | None) -> str | None:
    """Why an OCO pair's legs cross (rest-api.md's price restrictions: the above order acts
    above the market, the below one below it, so the above level must exceed the below
    level and the market must lie between them), or None."""
    high, low = above.level, below.level
    if high is None or low is None:
        return None  # a trailing leg without a stop price: tracked from placement
    if high <= low:
        return (
            f"bracket legs cross: the above order ({above.type} at {high}) must be higher "
            f"than the below order ({below.type} at {low})"
        )
    if market is not None and not low < market < high:
        return (
            f"bracket {side}: the market {market} must lie between the below order "
            f"({below.type} at {low}) and the above order ({above.type} at {high})"
        )
    return None
