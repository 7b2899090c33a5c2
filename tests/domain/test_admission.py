"""Admission: duplicate, policy, breaker gate and YELLOW, in that order, each verdict kept."""

from __future__ import annotations

from decimal import Decimal

from domain.admission import Refusal, YellowView, admit
from domain.breaker_rules import YellowLimits
from domain.policy import PolicyInput, PolicyLimits
from tests.domain.test_policy import FILTERS

LIMITS = PolicyLimits(symbols=frozenset({"BTCUSDT"}))


def account(**kw: object) -> PolicyInput:
    values: dict[str, object] = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "MARKET",
        "quantity": Decimal("0.01"),
        "price": None,
        "reference_price": Decimal("60000"),
        "filters": FILTERS,
        "free_quote": Decimal("10000"),
        "free_base": Decimal("1"),
        "open_orders": 0,
    }
    values.update(kw)
    return PolicyInput(**values)  # type: ignore[arg-type]


def gates(admission: object) -> list[str]:
    return [v.gate for v in admission.verdicts]  # type: ignore[attr-defined]


def test_an_order_within_every_limit_passes_with_each_verdict_recorded() -> None:
    a = admit(account(), LIMITS, duplicate=False, breaker_refusal=None, yellow=None)
    assert a.accepted and a.refusal is None and a.quantity == Decimal("0.01")
    assert gates(a)[-1] == "breaker" and all(v.passed for v in a.verdicts)


def test_a_duplicate_is_refused_before_any_other_gate() -> None:
    a = admit(account(), LIMITS, duplicate=True, breaker_refusal="RED: x", yellow=None)
    assert a.refusal is Refusal.DUPLICATE and gates(a) == ["client_order_id"]


def test_the_policy_refuses_before_the_breaker_is_asked() -> None:
    a = admit(account(quantity=Decimal("1")), LIMITS, duplicate=False, breaker_refusal="RED: x",
              yellow=None)  # fmt: skip
    assert a.refusal is Refusal.POLICY and "breaker" not in gates(a)
    assert a.reason.startswith("policy: ")


def test_the_gates_refusal_is_a_breaker_refusal_with_its_reason() -> None:
    a = admit(account(), LIMITS, duplicate=False, breaker_refusal="RED: drill", yellow=None)
    assert a.refusal is Refusal.BREAKER and a.reason == "breaker: RED: drill"
    assert a.verdicts[-1].gate == "breaker" and not a.verdicts[-1].passed


def test_yellow_lets_only_an_order_that_reduces_exposure_through() -> None:
    yellow = YellowView(YellowLimits(reduce_only=True), ("slippage",))
    buy = admit(account(), LIMITS, duplicate=False, breaker_refusal=None, yellow=yellow)
    assert buy.refusal is Refusal.BREAKER and "reduce exposure" in buy.reason
    sell = admit(
        account(side="SELL", position_qty=Decimal("0.02")),
        LIMITS,
        duplicate=False,
        breaker_refusal=None,
        yellow=yellow,
    )
    assert sell.accepted and sell.verdicts[-1].reason == "reduces exposure"


def test_yellow_pauses_everything_while_a_pausing_cause_is_active() -> None:
    yellow = YellowView(YellowLimits(), ("market_data",))
    sell = admit(
        account(side="SELL", position_qty=Decimal("1")),
        LIMITS,
        duplicate=False,
        breaker_refusal=None,
        yellow=yellow,
    )
    assert sell.refusal is Refusal.BREAKER and "paused" in sell.reason
