"""Rounding onto a symbol's grid toward safety: ``quantize_quantity`` and ``quantize_price``.

A quantity is only ever floored, a BUY price floored and a SELL price ceiled; a result that still
fails its filter raises ``FilterViolation`` (checked with ``_check``'s single-filter checks)
rather than being resized.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import cast

from domain.filters._check import check_lot, check_price
from domain.filters._symbol import SymbolFilters
from domain.money import ceil_to_step, floor_to_step


def quantize_quantity(qty: Decimal, f: SymbolFilters, *, market: bool = False) -> Decimal:
    """Floor ``qty`` onto the lot step so it passes LOT_SIZE (and MARKET_LOT_SIZE if ``market``).

    Never returns more than ``qty``. For market orders the step is the least common multiple of
    both steps, since Binance applies both filters. If the floored quantity is still below a
    minimum or above a maximum, raises ``FilterViolation`` rather than resizing the order.
    Negative ``qty`` raises ``MoneyError``.
    """
    step = _common_step(f.step_size, f.market_step_size) if market else f.step_size
    result = floor_to_step(qty, step)
    check_lot(result, f.min_qty, f.max_qty, f.step_size, "LOT_SIZE")
    if market:
        check_lot(result, f.market_min_qty, f.market_max_qty, f.market_step_size, "MARKET_LOT_SIZE")
    return result


def quantize_price(price: Decimal, f: SymbolFilters, side: str) -> Decimal:
    """Put ``price`` on the tick without hurting the caller: BUY floors, SELL ceils.

    Raises ``FilterViolation("PRICE_FILTER")`` if the result is outside [minPrice, maxPrice],
    ``ValueError`` for an unknown side and ``MoneyError`` for a negative price.
    """
    if side == "BUY":
        result = floor_to_step(price, f.tick_size)
    elif side == "SELL":
        result = ceil_to_step(price, f.tick_size)
    else:
        raise ValueError(f"side must be BUY or SELL, got {side!r}")
    check_price(f, result, "price")
    return result


def _common_step(a: Decimal, b: Decimal) -> Decimal:
    """Smallest positive multiple of both steps (a step of 0 imposes nothing)."""
    if a.is_zero() or b.is_zero():
        return b if a.is_zero() else a
    ta, tb = a.as_tuple(), b.as_tuple()
    ea, eb = cast(int, ta.exponent), cast(int, tb.exponent)  # finite, per SymbolFilters
    e = min(ea, eb)
    units_a = int("".join(map(str, ta.digits))) * 10 ** (ea - e)
    units_b = int("".join(map(str, tb.digits))) * 10 ** (eb - e)
    return Decimal(f"{math.lcm(units_a, units_b)}E{e}")
