"""Exact decimal money: parsing, formatting and step rounding."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.money import (
    MoneyError,
    ceil_to_step,
    floor_to_step,
    format_decimal,
    is_multiple,
    multiply,
    to_decimal,
)

D = Decimal


def same(a: Decimal, b: Decimal) -> bool:
    """Equal value *and* representation (sign, digits, exponent)."""
    return a.as_tuple() == b.as_tuple()


# --- to_decimal ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.00100000", D("0.00100000")),
        ("100000.00000000", D("100000.00000000")),
        ("1e-8", D("1E-8")),
        ("1E+2", D("1E+2")),
        ("-3.5", D("-3.5")),
        ("+2", D("2")),
        (".5", D("0.5")),
        ("5.", D("5")),
        (7, D(7)),
        (10**30, D(10**30)),
        (D("1.50"), D("1.50")),
    ],
)
def test_to_decimal_accepts_exact_values_keeping_their_digits(raw: object, expected: D) -> None:
    result = to_decimal(raw)
    assert type(result) is Decimal
    assert same(result, expected)


@pytest.mark.parametrize(
    "raw",
    [
        0.1,
        1.0,
        True,
        False,
        None,
        D("NaN"),
        D("sNaN"),
        D("Infinity"),
        D("-Infinity"),
        "NaN",
        "nan",
        "inf",
        "Infinity",
        "",
        "abc",
        " 1",
        "1 ",
        "1\n",
        "1_000",
        "0x10",
        "1.2.3",
        "1e",
        "--1",
        "\u0661",  # ARABIC-INDIC DIGIT ONE: Decimal() would accept it
        [],
        object(),
    ],
)
def test_to_decimal_rejects_non_exact_values_naming_the_field(raw: object) -> None:
    with pytest.raises(MoneyError, match=re.escape("LOT_SIZE.minQty")):
        to_decimal(raw, "LOT_SIZE.minQty")


def test_to_decimal_names_value_when_no_field_given() -> None:
    with pytest.raises(MoneyError, match=r"^value"):
        to_decimal(0.5)


def test_money_error_is_a_value_error() -> None:
    assert issubclass(MoneyError, ValueError)


# --- format_decimal ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (D("0.1"), 8, "0.10000000"),
        (D("0.00100000"), 8, "0.00100000"),
        (D("1E-8"), 8, "0.00000001"),
        (D("1E+2"), 8, "100.00000000"),
        (D("9000000"), 8, "9000000.00000000"),
        (D("0"), 8, "0.00000000"),
        (D("-0"), 8, "0.00000000"),
        (D("0E-12"), 8, "0.00000000"),
        (D("1.230000000000"), 8, "1.23000000"),
        (D("-1.5"), 2, "-1.50"),
        (D("7"), 0, "7"),
        (
            D("123456789012345678901234567890.12345678"),
            8,
            "123456789012345678901234567890.12345678",
        ),
    ],
)
def test_format_decimal_is_fixed_point_with_exact_places(
    value: D, places: int, expected: str
) -> None:
    assert format_decimal(value, places) == expected


@pytest.mark.parametrize(
    ("value", "places"),
    [(D("0.000000001"), 8), (D("1.005"), 2), (D("1.5"), 0), (D("0.123456789"), 8)],
)
def test_format_decimal_refuses_to_round(value: D, places: int) -> None:
    with pytest.raises(MoneyError):
        format_decimal(value, places)


@pytest.mark.parametrize("value", [D("NaN"), D("Infinity"), 0.5])
def test_format_decimal_rejects_non_finite_and_float(value: D) -> None:
    with pytest.raises(MoneyError):
        format_decimal(value)


def test_format_decimal_rejects_negative_places() -> None:
    with pytest.raises(MoneyError):
        format_decimal(D("1"), -1)


# --- arithmetic ----------------------------------------------------------------------------------


def test_multiply_is_exact_beyond_default_context_precision() -> None:
    a = D("123456789012345678901234567890.12345678")
    assert same(multiply(a, D("1.00000000")), D("123456789012345678901234567890.1234567800000000"))


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [
        (D("1.234"), D("0.001"), True),
        (D("1.2340"), D("0.00100000"), True),
        (D("1.2345"), D("0.001"), False),
        (D("0.75"), D("0.25"), True),
        (D("0.80"), D("0.25"), False),
        (D("0.015"), D("0.005"), True),
        (D("0.016"), D("0.005"), False),
        (D("0"), D("0.01"), True),
        (D("1.23456789"), D("0"), True),
        (D("120"), D("1E+1"), True),
    ],
)
def test_is_multiple(value: D, step: D, expected: bool) -> None:
    assert is_multiple(value, step) is expected


@pytest.mark.parametrize(
    ("value", "step", "floor", "ceil"),
    [
        (D("1.23456"), D("0.001"), D("1.234"), D("1.235")),
        (D("1.23456"), D("0.00100000"), D("1.23400000"), D("1.23500000")),
        (D("1.234"), D("0.001"), D("1.234"), D("1.234")),
        (D("1.3"), D("0.25"), D("1.25"), D("1.50")),
        (D("0.0123"), D("0.005"), D("0.010"), D("0.015")),
        (D("123"), D("1E+1"), D("1.2E+2"), D("1.3E+2")),
        (D("0"), D("0.001"), D("0.000"), D("0.000")),
        (D("0.0004"), D("0.001"), D("0.000"), D("0.001")),
        (D("1.23456789"), D("0"), D("1.23456789"), D("1.23456789")),
        (
            D("123456789012345678901234567890.123456789"),
            D("1E-8"),
            D("123456789012345678901234567890.12345678"),
            D("123456789012345678901234567890.12345679"),
        ),
    ],
)
def test_floor_and_ceil_to_step_are_exact_and_keep_the_step_exponent(
    value: D, step: D, floor: D, ceil: D
) -> None:
    assert same(floor_to_step(value, step), floor)
    assert same(ceil_to_step(value, step), ceil)


@pytest.mark.parametrize(
    ("value", "step"), [(D("-1"), D("0.1")), (D("1"), D("-0.1")), (D("NaN"), D("0.1"))]
)
@pytest.mark.parametrize("rounding", [floor_to_step, ceil_to_step])
def test_step_rounding_rejects_negative_and_non_finite_inputs(
    rounding: Callable[[D, D], D], value: D, step: D
) -> None:
    with pytest.raises(MoneyError):
        rounding(value, step)


steps = st.one_of(
    st.integers(min_value=-2, max_value=10).map(lambda k: D(1).scaleb(-k)),
    st.sampled_from([D("0.005"), D("0.25"), D("0.05"), D("2.5"), D("0.0025"), D("0.00100000")]),
)
amounts = st.decimals(
    min_value=0, max_value=D("1e12"), places=12, allow_nan=False, allow_infinity=False
)


@given(value=amounts, step=steps)
def test_floor_to_step_is_the_largest_multiple_not_above_value(value: D, step: D) -> None:
    result = floor_to_step(value, step)
    assert is_multiple(result, step)
    assert result <= value < result + step
    assert result.as_tuple().exponent == step.as_tuple().exponent


@given(value=amounts, step=steps)
def test_ceil_to_step_is_the_smallest_multiple_not_below_value(value: D, step: D) -> None:
    result = ceil_to_step(value, step)
    assert is_multiple(result, step)
    assert result - step < value <= result
    assert result.as_tuple().exponent == step.as_tuple().exponent
