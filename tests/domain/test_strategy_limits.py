"""A strategy's own limits (pure), as admission stacks them on the policy, the exchange
filter refusal kept apart from the policy's, and the journal keeping a strategy's ids."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.admission import Refusal, admit
from domain.book import BookOrder, OrderState
from domain.replay import intent_entry, order_entry, replay
from domain.strategy_limits import StrategyLimits, check_strategy
from tests.domain.test_admission import LIMITS, account
from tests.domain.test_replay import MARKETS, entries


def test_no_limits_pass_everything() -> None:
    assert check_strategy("s", StrategyLimits(), symbol="X", notional=None, open_orders=99) == []


def test_each_broken_limit_gives_its_reason() -> None:
    limits = StrategyLimits(
        symbols=frozenset({"ETHUSDT"}), max_order_notional=Decimal("100"), max_open_orders=3
    )
    reasons = check_strategy(
        "bot1", limits, symbol="BTCUSDT", notional=Decimal("250.50"), open_orders=3
    )
    assert reasons == [
        "strategy bot1: symbol BTCUSDT not allowed",
        "strategy bot1: max_order_notional 100 < 250.5",
        "strategy bot1: max_open_orders 3 reached",
    ]
    unvalued = check_strategy("b", limits, symbol="ETHUSDT", notional=None, open_orders=0)
    assert unvalued == ["strategy b: max_order_notional 100: the order has no value"]


@given(
    cap=st.decimals(min_value=1, max_value=10_000, places=2),
    notional=st.decimals(min_value=0, max_value=20_000, places=2),
    cap_orders=st.integers(min_value=0, max_value=5),
    open_orders=st.integers(min_value=0, max_value=10),
)
def test_a_limit_admits_what_lands_exactly_on_it(
    cap: Decimal, notional: Decimal, cap_orders: int, open_orders: int
) -> None:
    limits = StrategyLimits(max_order_notional=cap, max_open_orders=cap_orders)
    reasons = check_strategy("s", limits, symbol="X", notional=notional, open_orders=open_orders)
    assert any("max_order_notional" in r for r in reasons) == (notional > cap)
    assert any("max_open_orders" in r for r in reasons) == (open_orders >= cap_orders)


def test_admission_checks_the_strategy_after_the_policy_on_the_quantized_notional() -> None:
    limits = StrategyLimits(max_order_notional=Decimal("600"))  # 0.01 at the mid 60000
    small = admit(account(), LIMITS, duplicate=False, breaker_refusal=None, yellow=None,
                  strategy="bot1", strategy_limits=limits)  # fmt: skip
    assert small.accepted and [v.gate for v in small.verdicts][-2:] == ["strategy", "breaker"]
    big = admit(account(quantity=Decimal("0.01")), LIMITS, duplicate=False,
                breaker_refusal=None, yellow=None, strategy="bot1",
                strategy_limits=StrategyLimits(max_order_notional=Decimal("599.99")))  # fmt: skip
    assert big.refusal is Refusal.POLICY
    assert big.reason == "strategy bot1: max_order_notional 599.99 < 600"
    assert [v.gate for v in big.verdicts][-1] == "strategy" and "breaker" not in [
        v.gate for v in big.verdicts
    ]


def test_a_filter_failure_is_a_filter_refusal_and_no_filters_yet_is_policy() -> None:
    under_lot = admit(account(quantity=Decimal("0.0000001")), LIMITS, duplicate=False,
                      breaker_refusal=None, yellow=None)  # fmt: skip
    assert under_lot.refusal is Refusal.FILTER and under_lot.reason.startswith("policy: filters:")
    no_filters = admit(account(filters=None), LIMITS, duplicate=False, breaker_refusal=None,
                       yellow=None)  # fmt: skip
    assert no_filters.refusal is Refusal.POLICY


def test_the_journal_keeps_a_strategys_ids_and_time_in_force() -> None:
    order = BookOrder(
        client_order_id="vgl-abcdef-01",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        quantity=Decimal("0.01"),
        price=Decimal("50000"),
        created_ms=5,
        strategy="bot1",
        strategy_order_id="mine-1",
        time_in_force="IOC",
    )
    native = BookOrder("native-1", "BTCUSDT", "BUY", "MARKET", Decimal("0.01"), None)
    assert "strategy" not in intent_entry(native, "c", 1, [])  # native entries as before
    acked = BookOrder(**{**order.__dict__})
    acked.state, acked.order_id = OrderState.NEW, 42
    book, _ = replay(
        entries(
            ("intent", intent_entry(order, "corr", 7, ["symbol"])),
            ("intent", intent_entry(native, "corr2", 8, [])),
            ("order", order_entry(acked)),
        ),
        MARKETS,
    )
    back = book.find_strategy("bot1", "mine-1")
    assert back is not None and back.client_order_id == "vgl-abcdef-01"
    assert (back.strategy, back.time_in_force, back.state) == ("bot1", "IOC", OrderState.NEW)
    assert book.find_strategy("", "mine-1") is None and book.find_strategy("bot2", "mine-1") is None
    assert book.strategy_open_orders("bot1") == 1
    assert book.strategy_open_orders("") == 1  # the native intent: UNKNOWN until resolved
