"""A strategy's own limits (one gateway key's), stacked on top of the account's [policy]:
which symbols it may trade, how large one order may be, how many of its own orders may be
open. Pure: ``check_strategy`` answers the reasons an intent breaks them (none: it passes).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.money import plain


@dataclass(frozen=True, slots=True)
class StrategyLimits:
    """One strategy's limits; a limit left None is off."""

    symbols: frozenset[str] | None = None  # None: every symbol of [exchange]
    max_order_notional: Decimal | None = None
    max_open_orders: int | None = None  # this strategy's own open orders


def check_strategy(
    strategy: str,
    limits: StrategyLimits,
    *,
    symbol: str,
    notional: Decimal | None,
    open_orders: int,
) -> list[str]:
    """Every limit the intent breaks, each reason starting ``strategy <name>: ``.
    ``notional`` is the order's value in quote (None: it cannot be valued, so a notional
    limit refuses it: fail closed); ``open_orders`` this strategy's orders open now."""
    reasons: list[str] = []
    prefix = f"strategy {strategy}: "
    if limits.symbols is not None and symbol not in limits.symbols:
        reasons.append(f"{prefix}symbol {symbol} not allowed")
    cap = limits.max_order_notional
    if cap is not None:
        if notional is None:
            reasons.append(f"{prefix}max_order_notional {plain(cap)}: the order has no value")
        elif notional > cap:
            reasons.append(f"{prefix}max_order_notional {plain(cap)} < {plain(notional)}")
    if limits.max_open_orders is not None and open_orders >= limits.max_open_orders:
        reasons.append(f"{prefix}max_open_orders {limits.max_open_orders} reached")
    return reasons
