"""Review findings on order lists through the broker (each test demonstrates a bug)."""

from __future__ import annotations

from decimal import Decimal

from runtime.messages import IntentDecision, ListDecision, ListLeg, OrderListIntent
from tests.conftest import Vigil

S = "BTCUSDT"
D = Decimal


def test_an_otos_pending_order_is_judged_by_the_policy_guard(vigil: Vigil) -> None:
    """Demonstrates a bug (review): ``actors.order_broker.lists.judged_roles`` judges only an
    OTO's working order ("the pending ones spend what it buys"), but nothing makes the
    pending order spend what the working one buys: its side and quantity are free. A pending
    BUY of 1 BTC (59,000 USDT, over ``policy.max_order_notional`` = 5,000) is refused alone
    and accepted behind a 0.001 BTC working order: the exchange places it, unjudged, the
    moment the working order fills."""
    big = D("1")
    alone: IntentDecision = vigil.submit(side="BUY", type="LIMIT", quantity=str(big), price="59000")
    assert not alone.accepted and "max_order_notional" in alone.reason  # the guard's rule
    intent = OrderListIntent(
        symbol=S,
        list_type="OTO",
        legs=(
            (
                "working",
                ListLeg(type="LIMIT", side="BUY", quantity=D("0.001"), price=D("59000"),
                        time_in_force="GTC"),
            ),
            (
                "pending",
                ListLeg(type="LIMIT", side="BUY", quantity=big, price=D("59000"),
                        time_in_force="GTC"),
            ),
        ),
    )  # fmt: skip
    decision: ListDecision = vigil.system.ask("order_broker", intent)
    assert not decision.accepted, "an unjudged pending order went to the exchange"
