"""The protective orders' rules: a stop's trigger side, and a bracket whose legs cross."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.protective import Leg, bracket_refusal, trigger_above, trigger_refusal

D = Decimal
prices = st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2)


@pytest.mark.parametrize(
    ("side", "order_type", "above"),
    [
        ("SELL", "STOP_LOSS", False),
        ("SELL", "STOP_LOSS_LIMIT", False),
        ("BUY", "TAKE_PROFIT", False),
        ("BUY", "STOP_LOSS_LIMIT", True),
        ("SELL", "TAKE_PROFIT_LIMIT", True),
    ],
)
def test_each_stop_waits_on_its_side_of_the_market(side: str, order_type: str, above: bool) -> None:
    assert trigger_above(side, order_type) is above


@given(
    st.sampled_from(["BUY", "SELL"]),
    st.sampled_from(["STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]),
    prices,
    prices,
)
def test_a_trigger_is_refused_exactly_when_it_would_fire_at_once(
    side: str, order_type: str, stop: Decimal, market: Decimal
) -> None:
    fires_now = stop <= market if trigger_above(side, order_type) else stop >= market
    reason = trigger_refusal(side, order_type, stop, market)
    assert (reason is not None) == fires_now
    if reason is not None:
        assert "wrong side of the market" in reason and str(stop) in reason


def test_nothing_to_judge_is_no_refusal() -> None:
    assert trigger_refusal("SELL", "LIMIT", D("1"), D("2")) is None
    assert trigger_refusal("SELL", "STOP_LOSS", None, D("2")) is None  # trailing only
    assert trigger_refusal("SELL", "STOP_LOSS", D("3"), None) is None  # no market yet


@given(prices, prices, prices)
def test_a_bracket_passes_only_with_the_market_between_its_legs(
    high: Decimal, low: Decimal, market: Decimal
) -> None:
    above = Leg("LIMIT_MAKER", high, None)
    below = Leg("STOP_LOSS_LIMIT", low - D("0.01"), low)
    reason = bracket_refusal("SELL", above, below, market)
    assert (reason is None) == (low < market < high)
    if high <= low:
        assert reason is not None and reason.startswith("bracket legs cross")


def test_a_buy_bracket_uses_the_take_profits_price_and_the_stops_trigger() -> None:
    above = Leg("STOP_LOSS_LIMIT", D("61100"), D("61000"))
    below = Leg("LIMIT_MAKER", D("59000"), None)
    assert bracket_refusal("BUY", above, below, D("60000")) is None
    assert bracket_refusal("BUY", below, above, D("60000")) == (
        "bracket legs cross: the above order (LIMIT_MAKER at 59000) must be higher than the "
        "below order (STOP_LOSS_LIMIT at 61000)"
    )
