"""The pre-trade policy guard: every gate, table-driven, with exact Decimal edges."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from domain.book import Book, BookOrder, DayMark, Market, OrderState, Position
from domain.filters import SymbolFilters
from domain.policy import (
    DAY_MS,
    Decision,
    PolicyInput,
    PolicyLimits,
    Verdict,
    check_intent,
    policy_input_from_book,
    reduces_exposure,
)

D = Decimal

# exchangeInfo's BTCUSDT entry, as Binance sends it (the filters the brief names).
BTCUSDT_ENTRY: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "status": "TRADING",
    "baseAsset": "BTC",
    "quoteAsset": "USDT",
    "filters": [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": "0.01000000",
            "maxPrice": "1000000.00000000",
            "tickSize": "0.01000000",
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": "0.00001000",
            "maxQty": "9000.00000000",
            "stepSize": "0.00001000",
        },
        {
            "filterType": "PERCENT_PRICE_BY_SIDE",
            "bidMultiplierUp": "5",
            "bidMultiplierDown": "0.2",
            "askMultiplierUp": "5",
            "askMultiplierDown": "0.2",
            "avgPriceMins": 5,
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": "5.00000000",
            "applyMinToMarket": True,
            "maxNotional": "9000000.00000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        },
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
    ],
}
FILTERS = SymbolFilters.from_exchange_info(BTCUSDT_ENTRY)
LIMITS = PolicyLimits(
    symbols=frozenset({"BTCUSDT"}),
    max_order_notional=D("5000"),
    max_open_orders=50,
    fat_finger_pct=D("5"),
)
REFERENCE = D("60000")
ALL_GATES = [
    "symbol",
    "side",
    "type",
    "quantity",
    "price",
    "filters",
    "reference_price",
    "filters",
    "max_order_notional",
    "max_open_orders",
    "fat_finger",
    "balance",
]


def intent(**changes: Any) -> PolicyInput:
    """A LIMIT BUY of 0.01 BTC at the mid: 600 USDT, well inside every limit."""
    base = PolicyInput(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        quantity=D("0.01"),
        price=REFERENCE,
        reference_price=REFERENCE,
        filters=FILTERS,
        free_quote=D("100000"),
        free_base=D("10"),
        open_orders=0,
    )
    return replace(base, **changes)


def buy_input(book: Book, now_ms: int, **kw: Any) -> PolicyInput:
    """The guard's input, from ``book``, for a LIMIT BUY of 0.01 BTC at 60000."""
    return policy_input_from_book(
        book,
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        quantity=D("0.01"),
        price=D("60000"),
        filters=FILTERS,
        now_ms=now_ms,
        **kw,
    )


def verdict(decision: Decision, gate: str) -> Verdict:
    matching = [v for v in decision.verdicts if v.gate == gate]
    assert matching, f"no {gate} verdict in {decision.verdicts}"
    return matching[-1]


def failed_gates(decision: Decision) -> list[str]:
    return [v.gate for v in decision.verdicts if not v.passed]


# --- the happy path ------------------------------------------------------------------------------


def test_a_plain_limit_buy_passes_every_gate_in_order() -> None:
    decision = check_intent(intent(), LIMITS)
    assert decision.accepted
    assert decision.reason == ""
    assert [v.gate for v in decision.verdicts] == ALL_GATES
    assert all(v.passed and v.reason == "" for v in decision.verdicts)
    assert (decision.quantity, decision.price) == (D("0.01"), D("60000"))


def test_a_market_buy_passes_and_has_no_fat_finger_gate() -> None:
    decision = check_intent(intent(type="MARKET", price=None), LIMITS)
    assert decision.accepted
    assert "fat_finger" not in [v.gate for v in decision.verdicts]
    assert Verdict("price", True) in decision.verdicts  # passes: a MARKET order has none
    assert (decision.quantity, decision.price) == (D("0.01"), None)


# --- early gates: the first failure ends the decision --------------------------------------------


@pytest.mark.parametrize(
    ("changes", "gate", "reason"),
    [
        ({"symbol": "ETHUSDT"}, "symbol", "ETHUSDT is not allowed"),
        ({"side": "HOLD"}, "side", "bad side 'HOLD'"),
        ({"side": "buy"}, "side", "bad side 'buy'"),
        ({"type": "OCO"}, "type", "type OCO not allowed"),
        ({"type": "TRAILING"}, "type", "type TRAILING not allowed"),
        (
            {"type": "STOP_LOSS_LIMIT", "stop_price": D("59000")},
            "trigger",
            "BUY STOP_LOSS_LIMIT trigger 59000 is on the wrong side of the market 60000: it "
            "must be above it (it would trigger at once)",
        ),
        (
            {"type": "STOP_LOSS", "side": "SELL", "price": None, "stop_price": D("60000")},
            "trigger",
            "SELL STOP_LOSS trigger 60000 is on the wrong side of the market 60000: it "
            "must be below it (it would trigger at once)",
        ),
        (
            {"type": "STOP_LOSS", "stop_price": D("61000")},
            "price",
            "a STOP_LOSS order takes no price",
        ),
        ({"quantity": D("0")}, "quantity", "quantity must be positive"),
        ({"quantity": D("-0.01")}, "quantity", "quantity must be positive"),
        ({"price": None}, "price", "a LIMIT needs a positive price"),
        ({"price": D("0")}, "price", "a LIMIT needs a positive price"),
        ({"price": D("-60000")}, "price", "a LIMIT needs a positive price"),
        ({"filters": None}, "filters", "no exchange filters for the symbol yet"),
    ],
)
def test_an_early_gate_refuses_and_stops_the_checks(
    changes: dict[str, Any], gate: str, reason: str
) -> None:
    decision = check_intent(intent(**changes), LIMITS)
    assert not decision.accepted
    assert decision.verdicts[-1] == Verdict(gate, False, reason)
    assert all(v.passed for v in decision.verdicts[:-1])
    assert decision.reason == f"{gate}: {reason}"
    assert (decision.quantity, decision.price) == (None, None)


# --- exchange filters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        pytest.param({"quantity": D("0.000009")}, "LOT_SIZE", id="floors-to-zero"),
        pytest.param({"quantity": D("9000.00001")}, "LOT_SIZE", id="above-max-qty"),
        pytest.param({"quantity": D("0.00008")}, "NOTIONAL", id="notional-4.8-below-min-5"),
        pytest.param({"price": D("0.001")}, "PRICE_FILTER", id="buy-price-floors-to-zero"),
        pytest.param({"price": D("1000000.01")}, "PRICE_FILTER", id="above-max-price"),
        pytest.param(
            {"price": D("300000.01"), "quantity": D("0.00002")},
            "PERCENT_PRICE_BY_SIDE",
            id="above-5x-reference",
        ),
        pytest.param(
            {"side": "SELL", "price": D("11999.99"), "quantity": D("0.001")},
            "PERCENT_PRICE_BY_SIDE",
            id="below-0.2x-reference",
        ),
        pytest.param({"open_orders": 200}, "MAX_NUM_ORDERS", id="exchange-order-limit"),
        pytest.param(
            {"type": "MARKET", "price": None, "quantity": D("0.00008")},
            "NOTIONAL",
            id="market-min-notional-at-reference",
        ),
    ],
)
def test_an_order_failing_an_exchange_filter_is_refused_at_the_filters_gate(
    changes: dict[str, Any], reason: str
) -> None:
    limits = replace(LIMITS, max_open_orders=1000, fat_finger_pct=D("1000"))
    decision = check_intent(intent(**changes), limits)
    assert not decision.accepted
    assert decision.verdicts[-1] == Verdict("filters", False, f"Filter failure: {reason}")
    assert decision.reason == f"filters: Filter failure: {reason}"


def test_the_exchange_order_limit_passes_one_below_it() -> None:
    limits = replace(LIMITS, max_open_orders=1000)
    assert check_intent(intent(open_orders=199), limits).accepted


@pytest.mark.parametrize(
    ("side", "quantity", "price", "expected_qty", "expected_price"),
    [
        ("BUY", "0.0123456789", "60000.019", "0.01234", "60000.01"),
        ("SELL", "0.0123456789", "60000.011", "0.01234", "60000.02"),
        ("BUY", "0.01", "60000.01", "0.01", "60000.01"),
        ("SELL", "0.01", "60000.01", "0.01", "60000.01"),
        ("SELL", "0.019999999", "59999.9999", "0.01999", "60000.00"),
    ],
)
def test_quantity_is_floored_and_price_rounded_toward_safety(
    side: str, quantity: str, price: str, expected_qty: str, expected_price: str
) -> None:
    decision = check_intent(intent(side=side, quantity=D(quantity), price=D(price)), LIMITS)
    assert decision.accepted, decision.reason
    assert decision.quantity == D(expected_qty)
    assert decision.price == D(expected_price)


def test_market_quantity_is_floored_too() -> None:
    decision = check_intent(intent(type="MARKET", price=None, quantity=D("0.0100099")), LIMITS)
    assert decision.quantity == D("0.01000")


# --- reference price -----------------------------------------------------------------------------


def test_a_market_order_without_a_reference_price_is_refused() -> None:
    decision = check_intent(intent(type="MARKET", price=None, reference_price=None), LIMITS)
    assert not decision.accepted
    assert decision.verdicts[-1] == Verdict(
        "reference_price", False, "no reference price for the symbol yet"
    )


def test_a_market_order_carrying_a_price_still_needs_a_reference_price() -> None:
    # 1 BTC (~60000 USDT) bought at market, valued at 1 USDT: notional 1 <= free 100
    decision = check_intent(
        intent(
            type="MARKET",
            quantity=D("1"),
            price=D("1"),
            reference_price=None,
            free_quote=D("100"),
        ),
        LIMITS,
    )
    assert not decision.accepted


def test_a_limit_order_without_a_reference_price_is_refused() -> None:
    # sells 0.1 BTC (~6000 USDT at market) for 5 USDT: only the fat-finger band can stop it
    decision = check_intent(
        intent(side="SELL", quantity=D("0.1"), price=D("50"), reference_price=None),
        LIMITS,
    )
    assert not decision.accepted


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"type": "MARKET", "price": D("-1")}, id="market-negative-price"),
        pytest.param({"quantity": D("Infinity")}, id="infinite-quantity"),
        pytest.param({"price": D("Infinity")}, id="infinite-price"),
    ],
)
def test_a_malformed_amount_is_refused_not_raised(changes: dict[str, Any]) -> None:
    decision = check_intent(intent(**changes), LIMITS)
    assert not decision.accepted


# --- max order notional --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "max_notional", "accepted"),
    [
        pytest.param({"quantity": D("0.1"), "price": D("50000")}, "5000", True, id="limit-at-max"),
        pytest.param(
            {"quantity": D("0.1"), "price": D("50000")},
            "4999.99999999",
            False,
            id="limit-max-plus-1e-8",
        ),
        pytest.param(
            {"type": "MARKET", "price": None, "quantity": D("0.1"), "reference_price": D("50000")},
            "5000",
            True,
            id="market-at-max",
        ),
        pytest.param(
            {
                "type": "MARKET",
                "price": None,
                "quantity": D("0.1"),
                "reference_price": D("50000.0000001"),
            },
            "5000",
            False,
            id="market-max-plus-1e-8",
        ),
    ],
)
def test_max_order_notional_edges(
    changes: dict[str, Any], max_notional: str, accepted: bool
) -> None:
    limits = replace(LIMITS, max_order_notional=D(max_notional))
    decision = check_intent(intent(**{"reference_price": D("50000"), **changes}), limits)
    assert verdict(decision, "max_order_notional").passed is accepted
    assert decision.accepted is accepted


def test_max_order_notional_reason_names_both_amounts() -> None:
    limits = replace(LIMITS, max_order_notional=D("4999.99999999"))
    decision = check_intent(intent(quantity=D("0.1"), price=D("50000")), limits)
    assert (
        decision.reason == "max_order_notional: notional 5000.0000000000000000 above 4999.99999999"
    )


def test_the_notional_uses_the_quantized_amounts() -> None:
    # 0.1000099 @ 50000.009 would be 5000.49...; floored: 0.10000 @ 50000.00 = 5000 exactly
    decision = check_intent(
        intent(quantity=D("0.1000099"), price=D("50000.009"), reference_price=D("50000")),
        LIMITS,
    )
    assert verdict(decision, "max_order_notional").passed
    assert decision.accepted


# --- max open orders -----------------------------------------------------------------------------


@pytest.mark.parametrize(("open_orders", "accepted"), [(0, True), (49, True), (50, False)])
def test_max_open_orders_edges(open_orders: int, accepted: bool) -> None:
    decision = check_intent(intent(open_orders=open_orders), LIMITS)
    assert verdict(decision, "max_open_orders").passed is accepted
    assert decision.accepted is accepted


def test_max_open_orders_reason() -> None:
    decision = check_intent(intent(open_orders=50), LIMITS)
    assert decision.reason == "max_open_orders: 50 open orders, limit 50"


# --- fat finger ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "price", "accepted"),
    [
        ("BUY", "63000", True),
        ("BUY", "63000.01", False),
        ("BUY", "57000", True),
        ("BUY", "56999.99", False),
        ("SELL", "63000", True),
        ("SELL", "63000.01", False),
        ("SELL", "57000", True),
        ("SELL", "56999.99", False),
        ("BUY", "63000.009", True),  # floors to 63000.00
        ("BUY", "63000.019", False),  # floors to 63000.01
        ("SELL", "56999.991", True),  # ceils to 57000.00
        ("SELL", "56999.981", False),  # ceils to 56999.99
    ],
)
def test_fat_finger_band_edges_on_the_quantized_price(
    side: str, price: str, accepted: bool
) -> None:
    decision = check_intent(intent(side=side, price=D(price)), LIMITS)
    assert verdict(decision, "fat_finger").passed is accepted
    assert decision.accepted is accepted


def test_fat_finger_band_with_a_fractional_reference() -> None:
    # 5% of 60000.10 is 3000.005: the band is [57000.095, 63000.105]
    limits = LIMITS
    reference = D("60000.10")
    assert check_intent(intent(price=D("63000.10"), reference_price=reference), limits).accepted
    assert not check_intent(intent(price=D("63000.11"), reference_price=reference), limits).accepted
    sell = intent(side="SELL", price=D("57000.10"), reference_price=reference)
    assert check_intent(sell, limits).accepted
    sell = intent(side="SELL", price=D("57000.09"), reference_price=reference)
    assert not check_intent(sell, limits).accepted


def test_fat_finger_reason_names_price_band_and_mid() -> None:
    decision = check_intent(intent(price=D("63000.01")), LIMITS)
    assert decision.reason == "fat_finger: price 63000.01000000 more than 5% from the mid 60000"


# --- balance -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "accepted"),
    [
        pytest.param({"free_quote": D("600")}, True, id="buy-exactly-enough-quote"),
        pytest.param({"free_quote": D("599.99999999")}, False, id="buy-short-by-1e-8"),
        pytest.param({"side": "SELL", "free_base": D("0.01")}, True, id="sell-exactly-enough"),
        pytest.param(
            {"side": "SELL", "free_base": D("0.00999999")}, False, id="sell-short-by-1e-8"
        ),
        pytest.param(
            {"type": "MARKET", "price": None, "free_quote": D("600")},
            True,
            id="market-buy-at-reference-exactly-enough",
        ),
        pytest.param(
            {"type": "MARKET", "price": None, "free_quote": D("599.99999999")},
            False,
            id="market-buy-short",
        ),
        pytest.param(
            {"side": "SELL", "free_quote": D("0"), "free_base": D("0.01")},
            True,
            id="sell-needs-no-quote",
        ),
        pytest.param(
            {"side": "BUY", "free_quote": D("600"), "free_base": D("0")},
            True,
            id="buy-needs-no-base",
        ),
    ],
)
def test_balance_edges(changes: dict[str, Any], accepted: bool) -> None:
    decision = check_intent(intent(**changes), LIMITS)
    assert verdict(decision, "balance").passed is accepted
    assert decision.accepted is accepted


def test_the_buy_balance_check_uses_the_floored_price() -> None:
    # 0.01 @ 60000.009 floors to 60000.00: 600 needed, not 600.00009
    assert check_intent(intent(price=D("60000.009"), free_quote=D("600")), LIMITS).accepted


def test_balance_reason_names_need_and_free() -> None:
    decision = check_intent(intent(side="SELL", free_base=D("0.005")), LIMITS)
    assert decision.reason == "balance: needs 0.01000000, free 0.005"


# --- the decision --------------------------------------------------------------------------------


def test_late_gates_all_run_and_the_reason_is_the_first_failure() -> None:
    decision = check_intent(
        intent(price=D("63000.01"), open_orders=50, free_quote=D("1")),
        replace(LIMITS, max_order_notional=D("1")),
    )
    assert failed_gates(decision) == [
        "max_order_notional",
        "max_open_orders",
        "fat_finger",
        "balance",
    ]
    assert decision.reason.startswith("max_order_notional: ")
    assert (decision.quantity, decision.price) == (D("0.01"), D("63000.01"))


def test_decision_accepted_and_reason_follow_the_verdicts() -> None:
    assert Decision(()).accepted
    decision = Decision((Verdict("a", True), Verdict("b", False, "no"), Verdict("c", False, "x")))
    assert not decision.accepted
    assert decision.reason == "b: no"


# --- account-level limits (each only when configured) ---------------------------------------------


def test_limits_left_unset_cast_no_verdict() -> None:
    decision = check_intent(intent(orders_last_minute=10**6, daily_pnl=D("-1e9")), LIMITS)
    assert [v.gate for v in decision.verdicts] == ALL_GATES


# (limit field, its value, intent changes, passes) — a 0.01 BTC order at 60000: 600 USDT
RISK_EDGES = [
    ("max_orders_per_minute", 5, {"orders_last_minute": 4}, True),
    ("max_orders_per_minute", 5, {"orders_last_minute": 5}, False),
    ("max_orders_per_day", 100, {"orders_today": 99}, True),
    ("max_orders_per_day", 100, {"orders_today": 100}, False),
    # position: 0.1 BTC held (6000) + open buys 400 + this order 600 = 7000
    ("max_position_notional", D("7000"), {"position_qty": D("0.1"), "open_buy_notional": D(400)},
     True),
    ("max_position_notional", D("6999.99999999"),
     {"position_qty": D("0.1"), "open_buy_notional": D(400)}, False),
    ("max_position_notional", D("1"), {"side": "SELL", "position_qty": D("0.1")}, True),
    ("max_total_exposure", D("10000"), {"total_exposure": D("9400")}, True),
    ("max_total_exposure", D("10000"), {"total_exposure": D("9400.00000001")}, False),
    ("max_total_exposure", D("1"), {"side": "SELL", "total_exposure": D("9400")}, True),
    # directional: open buys 1000 - open sells 400 + 600 = 1200
    ("max_directional_notional", D("1200"),
     {"open_buy_notional": D(1000), "open_sell_notional": D(400)}, True),
    ("max_directional_notional", D("1199.99999999"),
     {"open_buy_notional": D(1000), "open_sell_notional": D(400)}, False),
    ("max_directional_notional", D("600"), {"side": "SELL", "open_buy_notional": D(0)}, True),
    ("max_directional_notional", D("599.99999999"), {"side": "SELL"}, False),
    # the position counts: a SELL that flattens 0.01 held is no short
    ("max_directional_notional", D("1"), {"side": "SELL", "position_qty": D("0.01")}, True),
    # past the cap already (0.1 held: 6000): a SELL brings it nearer flat, a BUY does not
    ("max_directional_notional", D("1000"), {"side": "SELL", "position_qty": D("0.1")}, True),
    ("max_directional_notional", D("1000"), {"position_qty": D("0.1")}, False),
    # 0.005 held (300), SELL 0.01: net short 300, as far from flat as before: refused
    ("max_directional_notional", D("100"), {"side": "SELL", "position_qty": D("0.005")},
     False),
    ("max_daily_loss", D("100"), {"daily_pnl": D("-99.99999999")}, True),
    ("max_daily_loss", D("100"), {"daily_pnl": D("-100")}, False),
    ("max_daily_loss", D("100"), {"daily_pnl": D("-500"), "side": "SELL",
     "position_qty": D("0.01")}, True),  # reduces exposure: allowed
    ("max_daily_loss", D("100"), {"daily_pnl": D("-500"), "side": "SELL",
     "position_qty": D("0.00999999")}, False),  # sells more than held: not a reduction
    ("max_daily_loss", D("100"), {"daily_pnl": D("-500"), "side": "SELL",
     "position_qty": D("0.02"), "open_sell_qty": D("0.01")}, True),  # 0.01 of it unsold
    # today's P&L cannot be valued (a position without a price): fail closed
    ("max_daily_loss", D("100"), {"daily_pnl": None}, False),
    ("max_daily_loss", D("100"), {"daily_pnl": None, "side": "SELL",
     "position_qty": D("0.01")}, True),
    ("max_daily_loss", D("100"), {"daily_pnl": D("-500"), "side": "SELL",
     "position_qty": D("0.02"), "open_sell_qty": D("0.01000001")}, False),  # already selling
]  # fmt: skip

RISK_GATE = {
    "max_orders_per_minute": "orders_per_minute",
    "max_orders_per_day": "orders_per_day",
    "max_position_notional": "max_position",
    "max_total_exposure": "total_exposure",
    "max_directional_notional": "directional_exposure",
    "max_daily_loss": "daily_loss",
}


@pytest.mark.parametrize(("limit", "value", "changes", "passes"), RISK_EDGES)
def test_account_limits_at_their_exact_edges(
    limit: str, value: Any, changes: dict[str, Any], passes: bool
) -> None:
    limits = replace(LIMITS, **{limit: value})
    decision = check_intent(intent(**changes), limits)
    gate = RISK_GATE[limit]
    assert verdict(decision, gate).passed is passes, decision.verdicts
    if not passes:
        assert decision.reason.startswith(f"{gate}: ")


def test_a_denied_symbol_is_refused_even_if_listed() -> None:
    limits = replace(LIMITS, denied_symbols=frozenset({"BTCUSDT"}))
    decision = check_intent(intent(), limits)
    assert decision.verdicts == (Verdict("symbol", False, "BTCUSDT is denied"),)


@pytest.mark.parametrize(
    ("side", "quantity", "held", "selling", "reduces"),
    [
        ("SELL", "0.5", "0.5", "0", True),
        ("SELL", "0.50000001", "0.5", "0", False),
        ("SELL", "0", "0.5", "0", False),
        ("BUY", "0.1", "0.5", "0", False),
        # our live sells already take part of the position
        ("SELL", "0.25", "0.5", "0.25", True),
        ("SELL", "0.25000001", "0.5", "0.25", False),
        ("SELL", "0.00000001", "0.5", "0.5", False),
    ],
)
def test_reduces_exposure(side: str, quantity: str, held: str, selling: str, reduces: bool) -> None:
    assert reduces_exposure(side, D(quantity), D(held), D(selling)) is reduces


# (age of the mid in ms, the limit in ms, passes): a mid exactly at the limit still counts
REFERENCE_AGE_EDGES = [
    (0, 30_000, True),
    (30_000, 30_000, True),
    (30_001, 30_000, False),
    (None, 30_000, False),  # never seen when: no reference
    (None, None, True),  # the check switched off
    (10**9, None, True),
]


@pytest.mark.parametrize(("age", "limit", "passes"), REFERENCE_AGE_EDGES)
def test_a_stale_reference_price_is_no_reference(
    age: int | None, limit: int | None, passes: bool
) -> None:
    limits = replace(LIMITS, max_reference_age_ms=limit)
    decision = check_intent(intent(reference_age_ms=age), limits)
    assert verdict(decision, "reference_price").passed is passes
    assert decision.accepted is passes
    if not passes:
        assert decision.verdicts[-1].gate == "reference_price"  # the checks stop there
        seen = "of unknown age" if age is None else "30.001s old"
        assert decision.reason == f"reference_price: the reference price is {seen}, limit 30s"


def test_the_exchange_order_limit_counts_this_symbols_orders_only() -> None:
    limits = replace(LIMITS, max_open_orders=1000)
    # 199 open on this symbol, 500 on others: the exchange's 200 per symbol still admits one
    assert check_intent(intent(open_orders=699, symbol_open_orders=199), limits).accepted
    refused = check_intent(intent(open_orders=200, symbol_open_orders=200), limits)
    assert refused.reason == "filters: Filter failure: MAX_NUM_ORDERS"


def test_the_policy_input_is_built_from_the_book() -> None:
    book = Book({"BTCUSDT": Market("BTCUSDT", "BTC", "USDT")})
    book.open({"USDT": D("10000"), "BTC": D("1")})
    now = 5 * DAY_MS + 3_600_000
    book.set_price("BTCUSDT", D("60000"), now - 1_500)
    book.add_intent(
        BookOrder(
            "a",
            "BTCUSDT",
            "BUY",
            "LIMIT",
            D("0.01"),
            D("59000"),
            OrderState.NEW,
            created_ms=now - 30_000,
        )
    )
    book.add_intent(
        BookOrder(
            "b",
            "BTCUSDT",
            "SELL",
            "LIMIT",
            D("0.02"),
            D("61000"),
            OrderState.NEW,
            created_ms=now - 2 * 3_600_000,
        )
    )
    book.positions["BTCUSDT"] = Position("BTCUSDT", D("0.5"), D("29000"), D("-20"))
    book.day = DayMark(5 * DAY_MS, D("100"))  # the day began with a P&L of +100
    got = buy_input(book, now)
    assert got.free_quote == D("10000") - D("590")  # own open buy reserves its quote
    assert got.free_base == D("1") - D("0.02")
    assert (got.open_orders, got.orders_last_minute, got.orders_today) == (2, 1, 1)
    assert got.symbol_open_orders == 2
    assert got.open_sell_qty == D("0.02")
    assert got.reference_age_ms == 1_500
    assert got.position_qty == D("0.5")
    assert (got.open_buy_notional, got.open_sell_notional) == (D("590"), D("1220"))
    assert got.total_exposure == D("0.5") * D("60000") + D("590")
    assert got.daily_pnl == D("-20") + (D("30000") - D("29000")) - D("100")
    assert check_intent(got, LIMITS).accepted


def test_an_intent_still_in_flight_reserves_its_balance_for_the_next_one() -> None:
    """Two intents in quick succession: the first, not yet acknowledged, already takes its
    quote from what the second may spend (no double-spending of the free balance)."""
    book = Book({"BTCUSDT": Market("BTCUSDT", "BTC", "USDT")})
    book.open({"USDT": D("1000"), "BTC": D("0")})
    book.set_price("BTCUSDT", D("60000"), DAY_MS)
    book.add_intent(BookOrder("a", "BTCUSDT", "BUY", "LIMIT", D("0.01"), D("60000")))

    def next_buy() -> PolicyInput:
        return buy_input(book, DAY_MS)

    assert book.orders["a"].state is OrderState.PENDING_NEW
    assert next_buy().free_quote == D("400")
    assert not check_intent(next_buy(), LIMITS).accepted  # needs 600, 400 free
    book.mark("a", OrderState.REJECTED, 1)  # refused: its reservation is released
    assert next_buy().free_quote == D("1000")
    assert check_intent(next_buy(), LIMITS).accepted


def test_daily_pnl_counts_from_the_utc_days_mark_and_a_new_day_starts_at_zero() -> None:
    book = Book({"BTCUSDT": Market("BTCUSDT", "BTC", "USDT")})
    book.open({"USDT": D("1000")})
    book.prices["BTCUSDT"] = D("60000")
    book.positions["BTCUSDT"] = Position("BTCUSDT", D("0.01"), D("610"), D("-40"))
    book.day = DayMark(3 * DAY_MS, D("-25"))
    assert book.total_pnl() == D("-40") + (D("600") - D("610"))
    assert book.daily_pnl(3 * DAY_MS + 1) == D("-50") - D("-25")
    assert book.daily_pnl(4 * DAY_MS) == 0  # midnight UTC: the old mark no longer counts


def test_the_daily_pnl_is_unknown_while_today_is_not_marked() -> None:
    book = Book({"BTCUSDT": Market("BTCUSDT", "BTC", "USDT")})
    book.open({"USDT": D("1000")})
    now = 7 * DAY_MS + 5
    book.set_price("BTCUSDT", D("60000"), now)

    def daily() -> Decimal | None:
        return buy_input(book, now).daily_pnl

    assert daily() is None  # not marked (the broker marks it once it can value positions)
    book.day = DayMark(6 * DAY_MS, D("0"))
    assert daily() is None  # yesterday's mark
    book.day = DayMark(7 * DAY_MS, D("0"))
    assert daily() == 0


def test_a_reference_age_is_measured_on_the_prices_own_clock() -> None:
    book = Book({"BTCUSDT": Market("BTCUSDT", "BTC", "USDT")})
    book.open({"USDT": D("1000")})
    book.set_price("BTCUSDT", D("60000"), 5_000)  # the broker's monotonic ms

    wall = 1_700_000_000_000  # not the prices' clock
    assert buy_input(book, wall, price_clock_ms=6_500).reference_age_ms == 1_500


def test_the_intents_side_survives_open_orders_of_the_other_side() -> None:
    """A SELL judged while BUY orders are open stays a SELL (the exposure loop once rebound
    ``side``: a protective sell was judged as a buy and refused under YELLOW)."""
    book = Book({"BTCUSDT": Market("BTCUSDT", "BTC", "USDT")})
    book.open({"BTC": D("1"), "USDT": D("100000")})
    book.add_intent(BookOrder("b1", "BTCUSDT", "BUY", "LIMIT", D("0.01"), D("59000")))
    account = policy_input_from_book(
        book, symbol="BTCUSDT", side="SELL", type="LIMIT", quantity=D("0.01"),
        price=D("61000"), filters=FILTERS, now_ms=0,
    )  # fmt: skip
    assert account.side == "SELL" and account.total_exposure == D("590.00")
