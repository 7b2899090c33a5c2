"""Reconciliation: the internal book against the exchange, HEALTHY / WARNING / CRITICAL.

Unknown orders and trades are CRITICAL at once; everything else is a WARNING that turns
CRITICAL once it outlives its grace; ``first_seen`` carries the age of a mismatch across cycles
and forgets it once the mismatch clears.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.reconciliation import (
    ExchangeOrder,
    ExchangeSnapshot,
    ExchangeTrade,
    Finding,
    InternalOrder,
    InternalSnapshot,
    ListView,
    Result,
    Severity,
    Tolerances,
    reconcile,
)

D = Decimal
SYMBOL = "BTCUSDT"
T0 = 1_000_000
MARKETS = {"BTCUSDT": ("BTC", "USDT"), "ETHUSDT": ("ETH", "USDT")}
# epsilon 1e-8, grace 10 s, balance grace 3 s; the unknown-outcome grace set equal to the
# grace so that the table of aged mismatches checks one edge (the longer one for UNKNOWN
# orders is tested on its own below)
TOL = Tolerances(unknown_grace_ms=Tolerances().grace_ms)
GRACE = TOL.grace_ms
BALANCE_GRACE = TOL.balance_grace_ms


# --- builders ------------------------------------------------------------------------------------


def ours(
    cid: str,
    state: str = "NEW",
    order_id: int | None = 11,
    executed: str = "0",
    symbol: str = SYMBOL,
) -> InternalOrder:
    return InternalOrder(cid, symbol, order_id, state, D(executed), T0)


def theirs(
    cid: str, order_id: int = 11, state: str = "NEW", executed: str = "0", symbol: str = SYMBOL
) -> ExchangeOrder:
    return ExchangeOrder(cid, symbol, order_id, state, D(executed))


def internal(
    *,
    totals: dict[str, Decimal] | None = None,
    locked: dict[str, Decimal] | None = None,
    orders: tuple[InternalOrder, ...] = (),
    trades: tuple[tuple[str, int], ...] = (),
) -> InternalSnapshot:
    return InternalSnapshot(
        totals=dict(totals or {}),
        locked=dict(locked or {}),
        orders={o.client_order_id: o for o in orders},
        order_ids={(o.symbol, o.order_id): o.client_order_id for o in orders if o.order_id},
        trades=frozenset(trades),
        markets=dict(MARKETS),
    )


def exchange(
    *,
    balances: dict[str, tuple[Decimal, Decimal]] | None = None,
    open_orders: tuple[ExchangeOrder, ...] = (),
    trades: tuple[ExchangeTrade, ...] = (),
) -> ExchangeSnapshot:
    return ExchangeSnapshot(dict(balances or {}), open_orders, trades)


def equal_state() -> tuple[InternalSnapshot, ExchangeSnapshot]:
    """One filled order (c0, trade 501) and one open BUY LIMIT (c1) locking 3000 USDT."""
    return (
        internal(
            totals={"BTC": D("1.5"), "USDT": D("10000")},
            locked={"USDT": D("3000")},
            orders=(ours("c0", "FILLED", 10, "0.5"), ours("c1", "NEW", 11)),
            trades=((SYMBOL, 501),),
        ),
        exchange(
            balances={"BTC": (D("1.5"), D("0")), "USDT": (D("7000"), D("3000"))},
            open_orders=(theirs("c1", 11),),
            trades=(ExchangeTrade(SYMBOL, 501, 10),),
        ),
    )


def kinds(result: Result) -> list[tuple[str, Severity]]:
    return [(f.kind, f.severity) for f in result.findings]


def only(result: Result) -> Finding:
    assert len(result.findings) == 1, result.findings
    return result.findings[0]


# --- healthy -------------------------------------------------------------------------------------


def test_equal_state_is_healthy_with_no_findings() -> None:
    book, venue = equal_state()
    result = reconcile(book, venue, T0, TOL)
    assert result.severity is Severity.HEALTHY
    assert result.findings == ()
    assert result.first_seen == {}
    assert result.at_ms == T0


def test_empty_state_is_healthy() -> None:
    assert reconcile(internal(), exchange(), T0, TOL).severity is Severity.HEALTHY


def test_terminal_book_orders_absent_on_the_exchange_are_healthy() -> None:
    orders = tuple(
        ours(f"c{i}", state, 20 + i)
        for i, state in enumerate(["FILLED", "CANCELED", "REJECTED", "EXPIRED"])
    )
    assert reconcile(internal(orders=orders), exchange(), T0, TOL).severity is Severity.HEALTHY


def test_a_zero_internal_balance_absent_on_the_exchange_is_healthy() -> None:
    book = internal(totals={"ETH": D("0")})
    assert reconcile(book, exchange(), T0, TOL).severity is Severity.HEALTHY


def test_an_exchange_order_known_by_its_order_id_only_is_not_unknown() -> None:
    book, venue = equal_state()
    venue = replace(venue, open_orders=(theirs("web_renamed", 11),))
    assert reconcile(book, venue, T0, TOL).severity is Severity.HEALTHY


# --- unknown orders and trades: CRITICAL at once -------------------------------------------------


def test_an_unknown_exchange_open_order_is_critical_at_once() -> None:
    book, venue = equal_state()
    venue = replace(
        venue, open_orders=(*venue.open_orders, theirs("ghost", 99, "PARTIALLY_FILLED", "0.1"))
    )
    result = reconcile(book, venue, T0, TOL)
    assert result.severity is Severity.CRITICAL
    finding = only(result)
    assert finding.kind == "unknown_order"
    assert finding.severity is Severity.CRITICAL
    assert finding.key == "unknown_order:BTCUSDT:99"
    assert "ghost" in finding.detail
    assert finding.internal == "absent"
    assert finding.exchange == "PARTIALLY_FILLED executed 0.1"
    assert result.first_seen == {"unknown_order:BTCUSDT:99": T0}


def test_an_exchange_trade_of_an_unknown_order_is_critical_at_once() -> None:
    book, venue = equal_state()
    venue = replace(venue, trades=(*venue.trades, ExchangeTrade(SYMBOL, 777, 99)))
    result = reconcile(book, venue, T0, TOL)
    assert result.severity is Severity.CRITICAL
    finding = only(result)
    assert (finding.kind, finding.key) == ("unknown_trade", "unknown_trade:BTCUSDT:777")
    assert "#99" in finding.detail


def test_an_unknown_order_is_critical_even_while_other_work_is_in_flight() -> None:
    book, venue = equal_state()
    book = internal(
        totals=book.totals,
        locked=book.locked,
        orders=(*book.orders.values(), ours("c2", "PENDING_NEW", None)),
        trades=tuple(book.trades),
    )
    venue = replace(venue, open_orders=(*venue.open_orders, theirs("ghost", 99)))
    result = reconcile(book, venue, T0, TOL)
    assert result.severity is Severity.CRITICAL
    assert kinds(result) == [
        ("unknown_order", Severity.CRITICAL),
        ("in_flight", Severity.WARNING),
    ]


def _trade_of_in_flight_order() -> tuple[InternalSnapshot, ExchangeSnapshot]:
    """Sent, response lost (UNKNOWN, no exchange id), filled at once: the exchange shows a
    trade of an order id the book cannot place yet."""
    book = internal(
        totals={"BTC": D("0"), "USDT": D("10000")},
        orders=(ours("c9", "UNKNOWN", None),),
    )
    venue = exchange(
        balances={"BTC": (D("0"), D("0")), "USDT": (D("10000"), D("0"))},
        trades=(ExchangeTrade(SYMBOL, 900, 55),),
    )
    return book, venue


def test_a_trade_that_may_be_our_in_flight_order_is_a_warning_not_a_false_critical() -> None:
    book, venue = _trade_of_in_flight_order()
    result = reconcile(book, venue, T0, TOL)
    assert result.severity is Severity.WARNING
    assert ("unknown_trade", Severity.WARNING) in kinds(result)


def test_a_trade_that_may_be_our_in_flight_order_is_critical_once_it_outlives_grace() -> None:
    book, venue = _trade_of_in_flight_order()
    first_seen = {"unknown_trade:BTCUSDT:900": T0, "in_flight:c9": T0 + GRACE + 1}
    result = reconcile(book, venue, T0 + GRACE + 1, TOL, first_seen)
    assert result.severity is Severity.CRITICAL
    assert ("unknown_trade", Severity.CRITICAL) in kinds(result)


def test_an_unknown_trade_on_a_symbol_with_nothing_in_flight_is_critical_at_once() -> None:
    book, venue = _trade_of_in_flight_order()
    venue = replace(venue, trades=(ExchangeTrade("ETHUSDT", 900, 55),))
    result = reconcile(book, venue, T0, TOL)
    assert result.severity is Severity.CRITICAL
    assert ("unknown_trade", Severity.CRITICAL) in kinds(result)


# --- aged mismatches: WARNING within grace, CRITICAL after ----------------------------------------


def _missing_trade() -> tuple[InternalSnapshot, ExchangeSnapshot, str]:
    book, venue = equal_state()
    venue = replace(venue, trades=(*venue.trades, ExchangeTrade(SYMBOL, 502, 11)))
    return book, venue, "missing_trade:BTCUSDT:502"


def _missing_order() -> tuple[InternalSnapshot, ExchangeSnapshot, str]:
    book, venue = equal_state()
    # c1 gone from the exchange, its lock released on both sides: only the order differs
    book = replace(book, locked={})
    venue = replace(
        venue, open_orders=(), balances={"BTC": (D("1.5"), D("0")), "USDT": (D("10000"), D("0"))}
    )
    return book, venue, "missing_order:c1"


def _in_flight(state: str) -> tuple[InternalSnapshot, ExchangeSnapshot, str]:
    book, venue = equal_state()
    book = replace(
        book, orders={**book.orders, "c2": ours("c2", state, None)}
    )  # no exchange id yet
    return book, venue, "in_flight:c2"


def _order_state() -> tuple[InternalSnapshot, ExchangeSnapshot, str]:
    book, venue = equal_state()
    book = replace(book, orders={**book.orders, "c1": ours("c1", "PENDING_NEW", 11)})
    return book, venue, "order_state:c1"


def _order_fill() -> tuple[InternalSnapshot, ExchangeSnapshot, str]:
    book, venue = equal_state()
    venue = replace(venue, open_orders=(theirs("c1", 11, "PARTIALLY_FILLED", "0.01"),))
    return book, venue, "order_fill:c1"


AGED = {
    "missing_trade": _missing_trade,
    "missing_order": _missing_order,
    "in_flight_pending_new": lambda: _in_flight("PENDING_NEW"),
    "in_flight_unknown": lambda: _in_flight("UNKNOWN"),
    "order_state": _order_state,
    "order_fill": _order_fill,
}


@pytest.mark.parametrize("case", sorted(AGED))
def test_an_in_flight_or_catch_up_mismatch_is_a_warning_when_first_seen(case: str) -> None:
    book, venue, key = AGED[case]()
    result = reconcile(book, venue, T0, TOL)
    assert result.severity is Severity.WARNING
    finding = only(result)
    assert finding.key == key
    assert finding.severity is Severity.WARNING
    assert result.first_seen == {key: T0}


@pytest.mark.parametrize("case", sorted(AGED))
def test_an_in_flight_or_catch_up_mismatch_is_still_a_warning_at_exactly_grace(case: str) -> None:
    book, venue, key = AGED[case]()
    result = reconcile(book, venue, T0 + GRACE, TOL, {key: T0})
    assert result.severity is Severity.WARNING
    assert result.first_seen == {key: T0}


@pytest.mark.parametrize("case", sorted(AGED))
def test_an_in_flight_or_catch_up_mismatch_is_critical_once_it_outlives_grace(case: str) -> None:
    book, venue, key = AGED[case]()
    result = reconcile(book, venue, T0 + GRACE + 1, TOL, {key: T0})
    assert result.severity is Severity.CRITICAL
    assert only(result).severity is Severity.CRITICAL
    assert result.first_seen == {key: T0}


def test_mismatch_details_name_both_sides() -> None:
    book, venue, _ = _order_fill()
    finding = only(reconcile(book, venue, T0, TOL))
    assert (finding.internal, finding.exchange) == ("0", "0.01")
    book, venue, _ = _missing_order()
    finding = only(reconcile(book, venue, T0, TOL))
    assert (finding.internal, finding.exchange) == ("NEW", "not open")


# --- balances ------------------------------------------------------------------------------------


def _drifted(exchange_usdt_free: str) -> tuple[InternalSnapshot, ExchangeSnapshot]:
    book, venue = equal_state()
    venue = replace(venue, balances={**venue.balances, "USDT": (D(exchange_usdt_free), D("3000"))})
    return book, venue


def test_a_balance_mismatch_names_the_asset_and_both_amounts() -> None:
    book, venue = _drifted("6999.5")
    finding = only(reconcile(book, venue, T0, TOL))
    assert finding.kind == "balance"
    assert finding.key == "balance:USDT"
    assert finding.detail == "USDT: book holds 10000, exchange holds 9999.5"
    assert (finding.internal, finding.exchange) == ("10000", "9999.5")


@pytest.mark.parametrize(
    ("age", "severity"),
    [
        (0, Severity.WARNING),
        (BALANCE_GRACE, Severity.WARNING),
        (BALANCE_GRACE + 1, Severity.CRITICAL),
    ],
)
def test_a_balance_mismatch_with_nothing_in_flight_turns_critical_after_balance_grace(
    age: int, severity: Severity
) -> None:
    book, venue = _drifted("6999.5")
    result = reconcile(book, venue, T0 + age, TOL, {"balance:USDT": T0})
    assert result.severity is severity
    assert only(result).severity is severity


def _with_order_in_flight(book: InternalSnapshot, cid: str = "c2") -> InternalSnapshot:
    return replace(book, orders={**book.orders, cid: ours(cid, "PENDING_NEW", None)})


def test_a_balance_mismatch_while_an_order_is_in_flight_is_an_inconclusive_warning() -> None:
    book, venue = _drifted("6999.5")
    book = _with_order_in_flight(book)
    first_seen = {"balance:USDT": T0}
    result = reconcile(book, venue, T0 + BALANCE_GRACE + 1, TOL, first_seen)
    balance = next(f for f in result.findings if f.kind == "balance")
    assert balance.severity is Severity.WARNING
    assert balance.detail.endswith("(orders moving)")
    assert (balance.internal, balance.exchange) == ("10000", "9999.5")
    assert result.first_seen["balance:USDT"] == T0  # the first sighting is kept


def test_a_moving_asset_escalates_only_past_the_unsettled_grace() -> None:
    book, venue = _drifted("6999.5")
    moving = _with_order_in_flight(book)
    first = reconcile(moving, venue, T0, TOL)
    assert first.first_seen["balance:USDT"] == T0
    seen = {"balance:USDT": T0}  # a fresh order in flight each cycle: only the balance ages
    late = TOL.unsettled_grace_ms

    def balance_severity(at: int, cid: str) -> Severity:
        result = reconcile(_with_order_in_flight(book, cid), venue, at, TOL, seen)
        return next(f.severity for f in result.findings if f.kind == "balance")

    assert balance_severity(T0 + late, "n1") is Severity.WARNING
    assert balance_severity(T0 + late + 1, "n2") is Severity.CRITICAL


def test_an_unsettled_cycle_does_not_escalate_a_balance_mismatch() -> None:
    book, venue = _drifted("6999.5")
    result = reconcile(book, venue, T0 + GRACE + 1, TOL, {"balance:USDT": T0}, settled=False)
    assert result.severity is Severity.WARNING
    assert result.first_seen == {"balance:USDT": T0}


def test_an_unsettled_cycle_of_equal_state_is_healthy() -> None:
    book, venue = equal_state()
    assert reconcile(book, venue, T0, TOL, settled=False).severity is Severity.HEALTHY


def test_a_conclusive_cycle_escalates_from_the_first_sighting_across_moving_ones() -> None:
    book, venue = _drifted("6999.5")
    first = reconcile(book, venue, T0, TOL)
    moving = reconcile(_with_order_in_flight(book), venue, T0 + 2_000, TOL, first.first_seen)
    final = reconcile(book, venue, T0 + BALANCE_GRACE + 1, TOL, moving.first_seen)
    assert [r.severity for r in (first, moving, final)] == [
        Severity.WARNING,
        Severity.WARNING,
        Severity.CRITICAL,
    ]


def test_a_balance_drift_outliving_grace_is_critical_even_while_orders_keep_moving() -> None:
    book, venue = equal_state()
    venue = replace(venue, balances={**venue.balances, "BNB": (D("5"), D("0"))})  # drift
    first_seen: dict[str, int] = {}
    severities = []
    for cycle in range(3 * GRACE // 1_000):  # one cycle a second, a fresh order in flight each
        now = T0 + cycle * 1_000
        result = reconcile(_with_order_in_flight(book, f"n{cycle}"), venue, now, TOL, first_seen)
        first_seen = result.first_seen
        severities.append(result.severity)
    assert severities[-1] is Severity.CRITICAL


@pytest.mark.parametrize(
    ("book_btc", "exchange_btc", "healthy"),
    [
        ("1.5", "1.50000001", True),
        ("1.50000001", "1.5", True),
        ("1.5", "1.50000002", False),
        ("1.50000002", "1.5", False),
        ("1.5", "1.500000010000000001", False),
    ],
)
def test_balance_epsilon_edges_with_the_default_epsilon(
    book_btc: str, exchange_btc: str, healthy: bool
) -> None:
    book, venue = equal_state()
    book = replace(book, totals={**book.totals, "BTC": D(book_btc)})
    venue = replace(venue, balances={**venue.balances, "BTC": (D(exchange_btc), D("0"))})
    result = reconcile(book, venue, T0, TOL)
    assert (result.severity is Severity.HEALTHY) is healthy


@pytest.mark.parametrize(
    ("difference", "healthy"),
    [("0.0001", True), ("0.00010001", False), ("0.00009999", True)],
)
def test_a_difference_of_exactly_epsilon_is_fine_and_epsilon_plus_1e8_is_not(
    difference: str, healthy: bool
) -> None:
    tolerances = Tolerances(epsilon=D("0.0001"))
    book, venue = equal_state()
    venue = replace(venue, balances={**venue.balances, "BTC": (D("1.5") + D(difference), D("0"))})
    result = reconcile(book, venue, T0, tolerances)
    assert (result.severity is Severity.HEALTHY) is healthy


def test_an_asset_only_on_the_exchange_is_a_balance_mismatch() -> None:
    book, venue = equal_state()
    venue = replace(venue, balances={**venue.balances, "ETH": (D("2"), D("0"))})
    finding = only(reconcile(book, venue, T0, TOL))
    assert (finding.key, finding.internal, finding.exchange) == ("balance:ETH", "0", "2")


def test_an_asset_only_in_the_book_is_a_balance_mismatch() -> None:
    book, venue = equal_state()
    book = replace(book, totals={**book.totals, "BNB": D("0.5")})
    finding = only(reconcile(book, venue, T0, TOL))
    assert (finding.key, finding.internal, finding.exchange) == ("balance:BNB", "0.5", "0")


def test_a_locked_mismatch_with_equal_totals_is_reported_alone() -> None:
    book, venue = equal_state()
    venue = replace(venue, balances={**venue.balances, "USDT": (D("7001"), D("2999"))})
    result = reconcile(book, venue, T0, TOL)
    assert result.severity is Severity.WARNING
    finding = only(result)
    assert finding.kind == "locked"
    assert finding.key == "locked:USDT"
    assert (finding.internal, finding.exchange) == ("3000", "2999")
    assert "3000" in finding.detail
    assert "2999" in finding.detail


def test_a_locked_mismatch_turns_critical_after_balance_grace() -> None:
    book, venue = equal_state()
    venue = replace(venue, balances={**venue.balances, "USDT": (D("7001"), D("2999"))})
    result = reconcile(book, venue, T0 + BALANCE_GRACE + 1, TOL, {"locked:USDT": T0})
    assert result.severity is Severity.CRITICAL


# --- first_seen across cycles --------------------------------------------------------------------


def test_first_seen_is_carried_and_drives_the_age_across_cycles() -> None:
    book, venue, key = _missing_trade()
    first = reconcile(book, venue, T0, TOL)
    second = reconcile(book, venue, T0 + GRACE, TOL, first.first_seen)
    third = reconcile(book, venue, T0 + GRACE + 1, TOL, second.first_seen)
    assert [r.severity for r in (first, second, third)] == [
        Severity.WARNING,
        Severity.WARNING,
        Severity.CRITICAL,
    ]
    assert third.first_seen == {key: T0}


def test_first_seen_forgets_a_cleared_mismatch_and_a_new_one_starts_a_fresh_grace() -> None:
    book, venue, key = _missing_trade()
    first = reconcile(book, venue, T0, TOL)
    caught_up = replace(book, trades=book.trades | {(SYMBOL, 502)})
    cleared = reconcile(caught_up, venue, T0 + 5_000, TOL, first.first_seen)
    assert cleared.severity is Severity.HEALTHY
    assert cleared.first_seen == {}
    again = reconcile(book, venue, T0 + GRACE + 5_000, TOL, cleared.first_seen)
    assert again.severity is Severity.WARNING
    assert again.first_seen == {key: T0 + GRACE + 5_000}


def test_first_seen_drops_keys_of_mismatches_no_longer_present() -> None:
    book, venue = equal_state()
    result = reconcile(book, venue, T0, TOL, {"balance:USDT": T0 - 99_999, "in_flight:x": 1})
    assert result.severity is Severity.HEALTHY
    assert result.first_seen == {}


def test_the_input_first_seen_map_is_not_modified() -> None:
    book, venue, _ = _missing_trade()
    previous = {"balance:ETH": T0}
    reconcile(book, venue, T0, TOL, previous)
    assert previous == {"balance:ETH": T0}


def test_a_critical_finding_makes_the_whole_result_critical_over_warnings() -> None:
    book, venue, _ = _missing_trade()
    venue = replace(venue, trades=(*venue.trades, ExchangeTrade(SYMBOL, 999, 98)))
    result = reconcile(book, venue, T0, TOL)
    assert result.severity is Severity.CRITICAL
    assert sorted(kinds(result)) == [
        ("missing_trade", Severity.WARNING),
        ("unknown_trade", Severity.CRITICAL),
    ]


def test_finding_as_dict_is_plain_strings() -> None:
    finding = Finding("balance", Severity.WARNING, "balance:USDT", "d", "1", "2")
    assert finding.as_dict() == {
        "kind": "balance",
        "severity": "WARNING",
        "key": "balance:USDT",
        "detail": "d",
        "internal": "1",
        "exchange": "2",
    }


# --- properties ----------------------------------------------------------------------------------

amounts = st.integers(0, 10**12).map(lambda n: D(n).scaleb(-8))


@st.composite
def equal_states(draw: st.DrawFn) -> tuple[InternalSnapshot, ExchangeSnapshot]:
    assets = draw(st.lists(st.sampled_from(["BTC", "USDT", "ETH", "BNB"]), unique=True))
    balances = {a: (draw(amounts), draw(amounts)) for a in assets}
    n_open = draw(st.integers(0, 5))
    n_done = draw(st.integers(0, 5))
    open_states = st.sampled_from(["NEW", "PARTIALLY_FILLED"])
    done_states = st.sampled_from(["FILLED", "CANCELED", "EXPIRED", "REJECTED"])
    opened = [ours(f"o{i}", draw(open_states), 100 + i, str(draw(amounts))) for i in range(n_open)]
    done = [ours(f"d{i}", draw(done_states), 200 + i) for i in range(n_done)]
    trades = [
        ExchangeTrade(SYMBOL, 1000 + k, o.order_id or 0)
        for k, o in enumerate(opened + done)
        if draw(st.booleans())
    ]
    book = internal(
        totals={a: free + locked for a, (free, locked) in balances.items()},
        locked={a: locked for a, (_, locked) in balances.items()},
        orders=tuple(opened + done),
        trades=tuple((t.symbol, t.trade_id) for t in trades),
    )
    venue = exchange(
        balances=balances,
        open_orders=tuple(
            theirs(o.client_order_id, o.order_id or 0, o.state, str(o.executed_qty)) for o in opened
        ),
        trades=tuple(trades),
    )
    return book, venue


first_seens = st.dictionaries(st.text(min_size=1, max_size=12), st.integers(0, T0))


@settings(max_examples=150, deadline=None)
@given(state=equal_states(), now=st.integers(0, 10 * T0), first_seen=first_seens)
def test_equal_states_are_always_healthy(
    state: tuple[InternalSnapshot, ExchangeSnapshot], now: int, first_seen: dict[str, int]
) -> None:
    book, venue = state
    result = reconcile(book, venue, now, TOL, first_seen)
    assert result.severity is Severity.HEALTHY
    assert result.findings == ()
    assert result.first_seen == {}


@settings(max_examples=150, deadline=None)
@given(
    state=equal_states(),
    order_id=st.integers(10_000, 10**9),
    cid=st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=20),
    ghost_state=st.sampled_from(["NEW", "PARTIALLY_FILLED"]),
)
def test_any_single_unknown_order_is_critical(
    state: tuple[InternalSnapshot, ExchangeSnapshot],
    order_id: int,
    cid: str,
    ghost_state: str,
) -> None:
    book, venue = state
    ghost_cid = f"ghost-{cid}"  # never one of ours
    venue = replace(
        venue, open_orders=(*venue.open_orders, theirs(ghost_cid, order_id, ghost_state))
    )
    result = reconcile(book, venue, T0, TOL)
    assert result.severity is Severity.CRITICAL
    assert [f.key for f in result.findings if f.severity is Severity.CRITICAL] == [
        f"unknown_order:{SYMBOL}:{order_id}"
    ]


@settings(max_examples=150, deadline=None)
@given(state=equal_states(), trade_id=st.integers(10**6, 10**9), order_id=st.integers(10**4, 10**9))
def test_any_single_unknown_trade_is_critical(
    state: tuple[InternalSnapshot, ExchangeSnapshot], trade_id: int, order_id: int
) -> None:
    book, venue = state
    venue = replace(venue, trades=(*venue.trades, ExchangeTrade(SYMBOL, trade_id, order_id)))
    result = reconcile(book, venue, T0, TOL)
    assert result.severity is Severity.CRITICAL
    assert only(result).key == f"unknown_trade:{SYMBOL}:{trade_id}"


def test_an_order_of_unknown_outcome_has_the_brokers_window_before_it_is_critical() -> None:
    """The broker believes the exchange's "no such order" only after its unknown window:
    the reconciliation must not call the order CRITICAL before (a false CRITICAL)."""
    from domain.reconciliation import ExchangeSnapshot, InternalOrder, InternalSnapshot, Tolerances

    order = InternalOrder("lost", "BTCUSDT", None, "UNKNOWN", Decimal(0), 0)
    internal = InternalSnapshot(
        totals={}, locked={}, orders={"lost": order}, order_ids={}, trades=frozenset(),
        markets={"BTCUSDT": ("BTC", "USDT")}, live=frozenset({"lost"}),
    )  # fmt: skip
    exchange = ExchangeSnapshot(balances={}, open_orders=(), trades=())
    tol = Tolerances(grace_ms=10_000, unknown_grace_ms=25_000)
    seen: dict[str, int] = {}
    first = reconcile(internal, exchange, 0, tol, seen)
    later = reconcile(internal, exchange, 20_000, tol, first.first_seen)
    assert later.severity is Severity.WARNING  # past the grace, within the window
    last = reconcile(internal, exchange, 25_001, tol, later.first_seen)
    assert last.severity is Severity.CRITICAL


# --- order lists ---------------------------------------------------------------------------------


def with_lists(
    book_lists: dict[str, tuple[str, ...]],
    open_in_book: tuple[str, ...],
    exchange_lists: tuple[ListView, ...],
) -> tuple[InternalSnapshot, ExchangeSnapshot]:
    mine, theirs_ = equal_state()
    mine = replace(
        mine,
        list_legs=book_lists,
        order_lists={k: ListView(k, SYMBOL, 7, book_lists[k]) for k in open_in_book},
    )
    return mine, replace(theirs_, open_lists=exchange_lists)


def test_an_order_list_on_both_sides_is_healthy() -> None:
    mine, theirs_ = with_lists(
        {"L1": ("tp", "sl")}, ("L1",), (ListView("L1", SYMBOL, 7, ("sl", "tp")),)
    )
    assert reconcile(mine, theirs_, T0, TOL).severity is Severity.HEALTHY


def test_a_list_the_book_never_placed_is_critical_at_once() -> None:
    mine, theirs_ = with_lists({}, (), (ListView("ghost-oco", SYMBOL, 9, ("g1", "g2")),))
    result = reconcile(mine, theirs_, T0, TOL)
    assert result.severity is Severity.CRITICAL
    (finding,) = result.findings
    assert finding.kind == "unknown_order_list" and "ghost-oco" in finding.detail


def test_a_leg_vigil_did_not_place_in_one_of_its_lists_is_critical() -> None:
    mine, theirs_ = with_lists(
        {"L1": ("tp", "sl")}, ("L1",), (ListView("L1", SYMBOL, 7, ("sl", "other")),)
    )
    result = reconcile(mine, theirs_, T0, TOL)
    assert [f.kind for f in result.findings] == ["foreign_leg"]
    assert result.severity is Severity.CRITICAL


def test_a_list_open_in_the_book_only_ages_like_a_missing_order() -> None:
    mine, theirs_ = with_lists({"L1": ("tp", "sl")}, ("L1",), ())
    first = reconcile(mine, theirs_, T0, TOL)
    assert first.severity is Severity.WARNING
    later = reconcile(mine, theirs_, T0 + GRACE + 1, TOL, first.first_seen)
    assert later.severity is Severity.CRITICAL
    assert [f.kind for f in later.findings] == ["missing_order_list"]
