"""Exact decimal money: parsing, Binance-style formatting and step arithmetic.

Every amount is a finite ``decimal.Decimal``; floats are refused at the boundary. Arithmetic runs
in a private context that traps ``Inexact``, so a result is either exact or a ``MoneyError`` (never
silently rounded). Results are exact up to ``PRECISION`` significant digits.
"""

from __future__ import annotations

import re
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)

__all__ = [
    "PRECISION",
    "MoneyError",
    "ceil_to_step",
    "floor_to_step",
    "format_decimal",
    "is_multiple",
    "multiply",
    "to_decimal",
]

PRECISION = 100
_EXACT = Context(prec=PRECISION, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
_DECIMAL_STRING = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class MoneyError(ValueError):
    """A value is not a valid exact amount, or an operation on it cannot be exact."""


def to_decimal(value: object, field: str = "value") -> Decimal:
    """Return ``value`` as a finite Decimal, exactly.

    Accepts ``str`` in plain or scientific notation ("0.00100000", "1e-8") with no whitespace,
    ``int`` (not ``bool``) and finite ``Decimal``. Anything else (float, bool, None, NaN, Infinity,
    empty or malformed strings) raises ``MoneyError`` naming ``field``.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise MoneyError(f"{field}: expected a decimal, got bool {value!r}")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        if not _DECIMAL_STRING.fullmatch(value):
            raise MoneyError(f"{field}: not a decimal string: {value!r}")
        result = Decimal(value)
    else:
        raise MoneyError(f"{field}: expected str, int or Decimal, got {type(value).__name__}")
    if not result.is_finite():
        raise MoneyError(f"{field}: not finite: {value!r}")
    return result


def format_decimal(value: Decimal, places: int = 8) -> str:
    """Fixed-point text with exactly ``places`` decimals and no exponent ("0.10000000").

    Raises ``MoneyError`` if ``value`` has non-zero digits beyond ``places`` (never rounds).
    """
    _require_finite(value, "value")
    if places < 0:
        raise MoneyError(f"places must be >= 0, got {places}")
    try:
        fixed = value.quantize(Decimal(1).scaleb(-places), context=_EXACT)
    except DecimalException:
        raise MoneyError(f"{value} cannot be written exactly with {places} decimals") from None
    if fixed.is_zero():
        fixed = fixed.copy_abs()
    return f"{fixed:f}"


def plain(value: Decimal) -> str:
    """A Decimal for people: exact, without trailing zeros or an exponent."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def for_people(value: Decimal, places: int = 8) -> str:
    """An amount for a person to read: rounded half-even to ``places`` decimals (an average
    or a P&L from a division can carry 26 digits), then ``plain``. Never for arithmetic."""
    return plain(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


def multiply(a: Decimal, b: Decimal) -> Decimal:
    """Exact product ``a * b``; ``MoneyError`` if it needs more than ``PRECISION`` digits."""
    _require_finite(a, "a")
    _require_finite(b, "b")
    try:
        return _EXACT.multiply(a, b)
    except DecimalException:
        raise MoneyError(f"{a} * {b} is not exactly representable") from None


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True if ``value`` is an exact integer multiple of ``step``; every value is for step 0."""
    _require_finite(value, "value")
    _require_non_negative(step, "step")
    if step.is_zero():
        return True
    try:
        return _EXACT.remainder(value, step).is_zero()
    except DecimalException:
        raise MoneyError(f"cannot test {value} against step {step} exactly") from None


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of ``step`` that is <= ``value``, carrying ``step``'s exponent.

    ``floor_to_step(Decimal("1.23456"), Decimal("0.001")) == Decimal("1.234")``. Step 0 returns
    ``value`` unchanged. Negative inputs raise ``MoneyError``.
    """
    return _multiple_of_step(value, step, round_up=False)


def ceil_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Smallest multiple of ``step`` that is >= ``value``, carrying ``step``'s exponent.

    Step 0 returns ``value`` unchanged. Negative inputs raise ``MoneyError``.
    """
    return _multiple_of_step(value, step, round_up=True)


def _multiple_of_step(value: Decimal, step: Decimal, *, round_up: bool) -> Decimal:
    _require_non_negative(value, "value")
    _require_non_negative(step, "step")
    if step.is_zero():
        return value
    try:
        count = _EXACT.divide_int(value, step)  # truncates; == floor for value >= 0
        if round_up and not _EXACT.remainder(value, step).is_zero():
            count = _EXACT.add(count, 1)
        return _EXACT.multiply(count, step).copy_abs()  # no "-0" from a -0 input
    except DecimalException:
        raise MoneyError(f"cannot round {value} to step {step} exactly") from None


def _require_finite(value: Decimal, field: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise MoneyError(f"{field}: expected a finite Decimal, got {value!r}")


def _require_non_negative(value: Decimal, field: str) -> None:
    _require_finite(value, field)
    if value < 0:
        raise MoneyError(f"{field}: must be >= 0, got {value}")
