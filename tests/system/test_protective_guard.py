"""The guard and protective orders, through the broker: while YELLOW (only orders that
reduce exposure), a protective SELL OCO over a position we hold goes through — it counts
as one sell of its quantity, not two — while a BUY is refused, and a third bracket that
would sell more than the position is refused."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from domain.admission import Refusal
from runtime.messages import ListDecision, ListLeg, OrderListIntent
from tests.conftest import Vigil, wait_for
from tests.system.test_breaker_triggers import level, start

S = "BTCUSDT"
D = Decimal


def protective_oco(vigil: Vigil, qty: str) -> ListDecision:
    intent = OrderListIntent(
        symbol=S,
        list_type="OCO",
        legs=(
            ("above", ListLeg(type="LIMIT_MAKER", side="SELL", quantity=D(qty), price=D("61000"))),
            (
                "below",
                ListLeg(type="STOP_LOSS", side="SELL", quantity=D(qty), stop_price=D("59000")),
            ),
        ),
    )
    decision: ListDecision = vigil.system.ask("order_broker", intent)
    return decision


def test_yellow_lets_protective_legs_through_and_counts_the_pair_once(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = start(
        vigil_factory,
        {"rejects": {"threshold": 2, "window_s": 120}, "api_errors": {"threshold": 0}},
        breaker={"yellow_max_orders_per_minute": 50, "yellow_cool_down_s": 120},
    )
    bought = vigil.submit(side="BUY", type="MARKET", quantity="0.02")
    assert bought.accepted, bought.reason
    book = vigil.system.book.book
    wait_for(lambda: book.positions.get(S) is not None and book.positions[S].quantity > 0)
    held = book.positions[S].quantity  # 0.02 less the commission
    assert D("0.018") < held <= D("0.02")
    vigil.sim.arm("reject_orders", count=2)
    for _ in range(2):
        assert vigil.submit(type="LIMIT", price="59000", quantity="0.01").accepted
    wait_for(lambda: level(vigil) == "YELLOW", timeout=5)

    buy = vigil.submit(type="LIMIT", price="59000", quantity="0.01")
    assert not buy.accepted and buy.refusal is Refusal.BREAKER
    first = protective_oco(vigil, "0.009")
    assert first.accepted, first.reason  # reduces the position: YELLOW lets it through
    assert book.commitments.selling[S] == D("0.009")  # the pair's quantity once, not twice
    second = protective_oco(vigil, "0.009")
    assert second.accepted, second.reason  # 0.009 more: still within what is held
    third = protective_oco(vigil, "0.009")
    assert not third.accepted and third.refusal is Refusal.BREAKER
    assert "above" in third.reason or "below" in third.reason  # names the leg judged
    wait_for(lambda: len(vigil.sim.state()["order_lists"]) == 2, timeout=5)
