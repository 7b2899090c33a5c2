"""The internal book: orders, executions, balances, positions, locked amounts, resync.

Table-driven unit tests plus a property: for random event streams with drops, duplicates and
reordering, after catch-up the book equals the true state. Every amount is compared with
exact Decimal equality.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from domain.book import (
    OPEN_ON_EXCHANGE,
    TERMINAL,
    Book,
    BookOrder,
    Execution,
    Market,
    OrderState,
    Position,
)

D = Decimal
SYMBOL = "BTCUSDT"
MARKETS = {
    "BTCUSDT": Market("BTCUSDT", "BTC", "USDT"),
    "ETHUSDT": Market("ETHUSDT", "ETH", "USDT"),
}
OPENING = {"BTC": D("2"), "USDT": D("100000"), "BNB": D("1")}


# --- helpers -------------------------------------------------------------------------------------


def new_book(balances: dict[str, Decimal] | None = None) -> Book:
    book = Book(markets=dict(MARKETS))
    book.open(dict(OPENING if balances is None else balances))
    return book


def intent(
    cid: str = "c1",
    *,
    side: str = "BUY",
    type_: str = "LIMIT",
    quantity: str = "0.5",
    price: str | None = "60000",
    symbol: str = SYMBOL,
) -> BookOrder:
    return BookOrder(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        type=type_,
        quantity=D(quantity),
        price=None if price is None else D(price),
    )


def update(
    book: Book,
    state: str,
    cumulative: str = "0",
    *,
    cid: str | None = "c1",
    order_id: int = 1,
    quote: str = "0",
    now_ms: int = 1,
    symbol: str = SYMBOL,
) -> BookOrder | None:
    return book.apply_order_update(
        symbol=symbol,
        client_order_id=cid,
        order_id=order_id,
        venue_state=state,
        cumulative_qty=D(cumulative),
        cumulative_quote=D(quote),
        now_ms=now_ms,
    )


def fill(
    trade_id: int,
    *,
    qty: str,
    price: str,
    side: str = "BUY",
    cid: str | None = "c1",
    order_id: int = 1,
    commission: str = "0",
    commission_asset: str | None = "USDT",
    via: str = "ws",
    symbol: str = SYMBOL,
) -> Execution:
    return Execution(
        symbol=symbol,
        trade_id=trade_id,
        order_id=order_id,
        client_order_id=cid,
        side=side,
        price=D(price),
        qty=D(qty),
        commission=D(commission),
        commission_asset=commission_asset,
        time_ms=1,
        is_maker=False,
        via=via,
    )


def totals(book: Book) -> dict[str, Decimal]:
    """The book's balances without zero entries (a defaultdict grows on reads)."""
    return {asset: amount for asset, amount in book.totals.items() if amount != 0}


def book_with_order(order: BookOrder | None = None, *, order_id: int = 1) -> Book:
    """An opened book holding one acknowledged order (NEW, exchange id known)."""
    book = new_book()
    book.add_intent(order or intent())
    update(book, "NEW", cid=(order or intent()).client_order_id, order_id=order_id)
    return book


# --- opening and intents -------------------------------------------------------------------------


def test_open_takes_the_exchange_balances_as_the_opening_state() -> None:
    book = Book(markets=dict(MARKETS))
    assert not book.opened
    book.open({"BTC": D("1.5"), "USDT": D("20")})
    assert book.opened
    assert totals(book) == {"BTC": D("1.5"), "USDT": D("20")}


def test_add_intent_starts_pending_new_and_refuses_a_duplicate_client_order_id() -> None:
    book = new_book()
    book.add_intent(intent("c1"))
    assert book.orders["c1"].state is OrderState.PENDING_NEW
    assert book.orders["c1"].order_id is None
    with pytest.raises(ValueError, match="c1"):
        book.add_intent(intent("c1"))


def test_an_intent_moves_no_balance_and_locks_nothing_until_acknowledged() -> None:
    book = new_book()
    book.add_intent(intent("c1"))
    assert totals(book) == OPENING
    assert book.locked() == {}
    assert [o.client_order_id for o in book.open_orders()] == ["c1"]


def test_order_update_records_the_exchange_order_id_for_lookups() -> None:
    book = new_book()
    book.add_intent(intent("c1"))
    update(book, "NEW", cid="c1", order_id=77)
    assert book.orders["c1"].order_id == 77
    assert book.by_order_id[(SYMBOL, 77)] == "c1"
    assert book.find(SYMBOL, None, 77) is book.orders["c1"]
    assert book.find("ETHUSDT", None, 77) is None


def test_order_update_of_an_order_the_book_does_not_know_returns_none() -> None:
    book = new_book()
    assert update(book, "NEW", cid="ghost", order_id=9) is None
    assert book.orders == {}
    assert book.by_order_id == {}
    assert book.anomalies == []


# --- order state machine -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("venue_state", "expected"),
    [
        ("NEW", OrderState.NEW),
        ("PENDING_NEW", OrderState.NEW),
        ("PARTIALLY_FILLED", OrderState.PARTIALLY_FILLED),
        ("PENDING_CANCEL", OrderState.PARTIALLY_FILLED),
        ("FILLED", OrderState.FILLED),
        ("CANCELED", OrderState.CANCELED),
        ("REJECTED", OrderState.REJECTED),
        ("EXPIRED", OrderState.EXPIRED),
        ("EXPIRED_IN_MATCH", OrderState.EXPIRED),
    ],
)
def test_venue_states_map_onto_book_states(venue_state: str, expected: OrderState) -> None:
    book = new_book()
    book.add_intent(intent("c1", quantity="0.5"))
    cumulative = "0.5" if expected is OrderState.FILLED else "0"
    update(book, venue_state, cumulative)
    assert book.orders["c1"].state is expected


def test_unknown_venue_state_is_an_anomaly_and_leaves_the_order_unchanged() -> None:
    book = book_with_order()
    order = update(book, "TELEPORTED", "0.2")
    assert order is book.orders["c1"]
    assert order.state is OrderState.NEW
    assert order.executed_qty == 0
    assert len(book.anomalies) == 1
    assert "TELEPORTED" in book.anomalies[0]


@pytest.mark.parametrize(
    ("updates", "state", "executed", "duplicates"),
    [
        pytest.param(
            [("PARTIALLY_FILLED", "0.2"), ("PARTIALLY_FILLED", "0.1")],
            OrderState.PARTIALLY_FILLED,
            "0.2",
            1,
            id="older-partial-after-newer-partial",
        ),
        pytest.param(
            [("PARTIALLY_FILLED", "0.3"), ("NEW", "0")],
            OrderState.PARTIALLY_FILLED,
            "0.3",
            1,
            id="late-new-after-partial",
        ),
        pytest.param(
            [("FILLED", "0.5"), ("PARTIALLY_FILLED", "0.3"), ("NEW", "0")],
            OrderState.FILLED,
            "0.5",
            2,
            id="partial-and-new-after-filled",
        ),
        pytest.param(
            [("PARTIALLY_FILLED", "0.1"), ("PARTIALLY_FILLED", "0.4"), ("PARTIALLY_FILLED", "0.2")],
            OrderState.PARTIALLY_FILLED,
            "0.4",
            1,
            id="out-of-order-partials",
        ),
        pytest.param(
            [("PARTIALLY_FILLED", "0.2"), ("NEW", "0.2")],
            OrderState.PARTIALLY_FILLED,
            "0.2",
            0,
            id="new-with-same-cumulative-does-not-demote-partial",
        ),
        pytest.param(
            [("FILLED", "0.5"), ("PARTIALLY_FILLED", "0.5")],
            OrderState.FILLED,
            "0.5",
            1,
            id="partial-with-final-cumulative-after-filled",
        ),
    ],
)
def test_cumulative_quantity_never_decreases_and_late_updates_are_ignored(
    updates: list[tuple[str, str]], state: OrderState, executed: str, duplicates: int
) -> None:
    book = new_book()
    book.add_intent(intent("c1", quantity="0.5"))
    for venue_state, cumulative in updates:
        update(book, venue_state, cumulative)
    order = book.orders["c1"]
    assert order.state is state
    assert order.executed_qty == D(executed)
    assert book.duplicates == duplicates
    assert book.anomalies == []


def test_cumulative_quote_keeps_the_largest_value_seen() -> None:
    book = book_with_order()
    update(book, "PARTIALLY_FILLED", "0.2", quote="12000")
    update(book, "PARTIALLY_FILLED", "0.2", quote="11000")
    assert book.orders["c1"].cumulative_quote == D("12000")


@pytest.mark.parametrize(
    ("terminal", "cumulative"),
    [("FILLED", "0.5"), ("CANCELED", "0.1"), ("REJECTED", "0"), ("EXPIRED", "0.2")],
)
@pytest.mark.parametrize("late", ["NEW", "PARTIALLY_FILLED", "PENDING_NEW"])
def test_a_terminal_state_is_never_left_by_a_late_update(
    terminal: str, cumulative: str, late: str
) -> None:
    book = new_book()
    book.add_intent(intent("c1", quantity="0.5"))
    update(book, terminal, cumulative, now_ms=5)
    update(book, late, cumulative, now_ms=9)
    order = book.orders["c1"]
    assert order.state.value == terminal
    assert order.executed_qty == D(cumulative)
    assert order.updated_ms == 5
    assert book.duplicates == 1
    assert book.anomalies == []


def test_canceled_then_a_late_new_is_ignored() -> None:
    book = book_with_order()
    update(book, "CANCELED", "0")
    update(book, "NEW", "0")
    assert book.orders["c1"].state is OrderState.CANCELED
    assert not book.orders["c1"].is_open
    assert book.open_orders() == []


def test_a_fill_after_a_terminal_state_is_an_anomaly_and_not_applied() -> None:
    book = book_with_order()
    update(book, "CANCELED", "0.1")
    update(book, "PARTIALLY_FILLED", "0.2")
    order = book.orders["c1"]
    assert order.state is OrderState.CANCELED
    assert order.executed_qty == D("0.1")
    assert len(book.anomalies) == 1
    assert "fill after terminal" in book.anomalies[0]


def test_a_larger_cumulative_in_the_same_terminal_state_is_an_anomaly() -> None:
    book = book_with_order()
    update(book, "CANCELED", "0.1")
    update(book, "CANCELED", "0.3")
    assert book.orders["c1"].executed_qty == D("0.1")
    assert len(book.anomalies) == 1


def test_executed_above_the_ordered_quantity_is_an_anomaly_for_a_limit_and_not_applied() -> None:
    book = book_with_order(intent("c1", quantity="0.5"))
    update(book, "FILLED", "0.6")
    assert book.orders["c1"].executed_qty == D("0")  # the book keeps what it knew
    assert book.take_anomalies() == book.anomalies  # for the broker to halt on
    assert len(book.anomalies) == 1
    assert "0.6 > 0.5" in book.anomalies[0]


def test_executed_above_the_ordered_quantity_is_no_anomaly_for_a_market() -> None:
    book = book_with_order(intent("c1", type_="MARKET", quantity="0.5", price=None))
    update(book, "FILLED", "0.6")
    assert book.anomalies == []


@pytest.mark.parametrize("state", [OrderState.UNKNOWN, OrderState.REJECTED, OrderState.EXPIRED])
def test_mark_moves_an_open_order_locally(state: OrderState) -> None:
    book = new_book()
    book.add_intent(intent("c1"))
    book.mark("c1", state, 42)
    assert book.orders["c1"].state is state
    assert book.orders["c1"].updated_ms == 42
    assert book.anomalies == []


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_mark_never_leaves_a_terminal_state(terminal: OrderState) -> None:
    book = new_book()
    book.add_intent(intent("c1"))
    book.mark("c1", terminal, 1)
    book.mark("c1", OrderState.UNKNOWN, 2)
    assert book.orders["c1"].state is terminal
    assert book.orders["c1"].updated_ms == 1
    assert len(book.anomalies) == 1


def test_state_properties_terminal_and_in_flight() -> None:
    assert {s for s in OrderState if s.is_terminal} == set(TERMINAL)
    assert {s for s in OrderState if s.in_flight} == {OrderState.PENDING_NEW, OrderState.UNKNOWN}
    assert set(OPEN_ON_EXCHANGE) == {OrderState.NEW, OrderState.PARTIALLY_FILLED}


def test_anomalies_are_bounded() -> None:
    book = new_book()
    book.add_intent(intent("c1"))
    book.mark("c1", OrderState.CANCELED, 1)
    for i in range(1001):
        book.mark("c1", OrderState.NEW, i)
    assert 0 < len(book.anomalies) <= 1000


# --- executions: accounted once ------------------------------------------------------------------


def _sourced(source: str) -> Execution:
    """The same fill as the ack, a WS executionReport and a REST trade would carry it."""
    return fill(
        501,
        qty="0.1",
        price="60000",
        commission="6",
        commission_asset="USDT",
        via=source,
        # a REST trade (myTrades) carries the exchange order id but no client order id
        cid=None if source == "rest" else "c1",
    )


@pytest.mark.parametrize("sources", list(itertools.permutations(["ack", "ws", "rest"])))
def test_a_fill_is_accounted_once_whatever_the_source_order(sources: tuple[str, ...]) -> None:
    book = book_with_order()
    accepted = [book.apply_execution(_sourced(source)) for source in sources]
    assert accepted == [True, False, False]
    assert book.duplicates == 2
    assert list(book.executions) == [(SYMBOL, 501)]
    assert book.executions[(SYMBOL, 501)].via == sources[0]
    assert totals(book) == {"BTC": D("2.1"), "USDT": D("93994"), "BNB": D("1")}


def test_the_same_trade_id_on_another_symbol_is_a_different_fill() -> None:
    book = new_book({"USDT": D("100000")})
    book.add_intent(intent("b1", quantity="0.1"))
    book.add_intent(intent("e1", quantity="1", price="3000", symbol="ETHUSDT"))
    assert book.apply_execution(fill(7, cid="b1", qty="0.1", price="60000"))
    assert book.apply_execution(fill(7, cid="e1", qty="1", price="3000", symbol="ETHUSDT"))
    assert book.duplicates == 0
    assert totals(book) == {"BTC": D("0.1"), "ETH": D("1"), "USDT": D("91000")}


@pytest.mark.parametrize(
    ("side", "commission", "asset", "expected"),
    [
        ("BUY", "0.0001", "BTC", {"BTC": D("2.0999"), "USDT": D("94000"), "BNB": D("1")}),
        ("BUY", "6", "USDT", {"BTC": D("2.1"), "USDT": D("93994"), "BNB": D("1")}),
        ("BUY", "0.01", "BNB", {"BTC": D("2.1"), "USDT": D("94000"), "BNB": D("0.99")}),
        ("SELL", "6", "USDT", {"BTC": D("1.9"), "USDT": D("105994"), "BNB": D("1")}),
        ("SELL", "0.01", "BNB", {"BTC": D("1.9"), "USDT": D("106000"), "BNB": D("0.99")}),
        ("BUY", "0", None, {"BTC": D("2.1"), "USDT": D("94000"), "BNB": D("1")}),
    ],
)
def test_balances_are_opening_plus_fills_minus_commission(
    side: str, commission: str, asset: str | None, expected: dict[str, Decimal]
) -> None:
    book = book_with_order(intent("c1", side=side, quantity="0.1"))
    book.apply_execution(
        fill(1, side=side, qty="0.1", price="60000", commission=commission, commission_asset=asset)
    )
    assert totals(book) == expected


def test_a_fill_of_an_unknown_order_is_kept_apart_and_moves_no_balance() -> None:
    book = new_book()
    foreign = fill(900, cid="ghost", order_id=555, qty="1", price="60000")
    assert book.apply_execution(foreign) is True
    assert book.foreign_executions == {(SYMBOL, 900): foreign}
    assert book.executions == {}
    assert totals(book) == OPENING
    assert book.positions == {}


def test_a_foreign_fill_delivered_twice_is_a_duplicate() -> None:
    book = new_book()
    assert book.apply_execution(fill(900, cid=None, order_id=555, qty="1", price="60000"))
    assert not book.apply_execution(fill(900, cid=None, order_id=555, qty="1", price="60000"))
    assert book.duplicates == 1
    assert len(book.foreign_executions) == 1


def test_a_rest_trade_finds_its_order_by_exchange_order_id() -> None:
    book = book_with_order(order_id=31)
    assert book.apply_execution(fill(5, cid=None, order_id=31, qty="0.1", price="60000"))
    assert book.foreign_executions == {}
    assert (SYMBOL, 5) in book.executions


def test_every_fill_accounted_is_handed_over_once_whichever_path_brought_it() -> None:
    """The owner's evidence sees a fill claimed late (seen before its order's exchange id)
    just as it sees one applied directly; with what each did to the position."""
    book = new_book({"BTC": D("0"), "USDT": D("100000")})
    assert book.take_accounted() == []  # collecting starts here
    book.add_intent(intent("b", quantity="0.1"))
    update(book, "NEW", cid="b", order_id=30)
    book.apply_execution(fill(4, cid="b", order_id=30, qty="0.1", price="60000"))
    bought = book.take_accounted()
    assert [(a.execution.trade_id, a.realized, a.closed_qty) for a in bought] == [(4, D(0), D(0))]
    assert book.orders["b"].booked_qty == D("0.1") and book.orders["b"].fills_booked
    book.add_intent(intent("s", side="SELL", quantity="0.1", price="59000"))
    book.apply_execution(fill(5, cid=None, order_id=31, side="SELL", qty="0.04", price="59000"))
    assert book.take_accounted() == []  # kept apart: whose is it?
    update(book, "PARTIALLY_FILLED", "0.04", cid="s", order_id=31, quote="2360")
    claimed = book.take_accounted()
    assert [a.execution.trade_id for a in claimed] == [5]
    assert claimed[0].closed_qty == D("0.04")
    assert claimed[0].realized == D("0.04") * (D("59000") - D("60000"))
    assert book.orders["s"].booked_qty == D("0.04")
    # the exchange reports more filled than the book has fills for: not all booked yet
    update(book, "FILLED", "0.1", cid="s", order_id=31, quote="5900")
    assert not book.orders["s"].fills_booked
    assert book.take_accounted() == []


def test_fills_claimed_together_are_handed_over_together() -> None:
    book = new_book({"BTC": D("0"), "USDT": D("100000")})
    book.add_intent(intent("b", quantity="0.2"))
    update(book, "NEW", cid="b", order_id=30)
    book.apply_execution(fill(4, cid="b", order_id=30, qty="0.2", price="60000"))
    book.add_intent(intent("s", side="SELL", quantity="0.2", price="59000"))
    for trade_id, price in ((5, "60040"), (6, "59940")):
        book.apply_execution(
            fill(trade_id, cid=None, order_id=31, side="SELL", qty="0.1", price=price)
        )
    book.take_accounted()
    update(book, "FILLED", "0.2", cid="s", order_id=31, quote="12000")
    claimed = book.take_accounted()
    assert [a.execution.trade_id for a in claimed] == [5, 6]
    assert sum(a.realized for a in claimed) == D("-2")  # +4, then -6: a loss overall
    assert book.orders["s"].fills_booked


def test_a_sell_of_coins_the_book_never_bought_closes_nothing() -> None:
    book = new_book()  # 2 BTC held from before: no position
    book.take_accounted()
    book.add_intent(intent("s", side="SELL", quantity="0.1", price="59000"))
    update(book, "NEW", cid="s", order_id=40)
    book.apply_execution(
        fill(6, cid="s", order_id=40, side="SELL", qty="0.1", price="59000", commission="5.9")
    )
    [sold] = book.take_accounted()
    assert sold.closed_qty == 0 and sold.realized == D("-5.9")  # the fee, no close


def test_equity_leaves_out_what_has_no_price_and_says_so() -> None:
    book = new_book()  # 2 BTC, 100000 USDT, 1 BNB
    book.set_price("BTCUSDT", D("60000"), 1)
    assert book.equity("USDT") == (D("220000"), ["BNB"])
    book.positions[SYMBOL] = Position(SYMBOL, D("0.1"), D("6000"))
    book.positions["ETHUSDT"] = Position("ETHUSDT", D("1"), D("3000"))
    assert book.unpriced_positions() == ["ETHUSDT"]


def test_a_rest_trade_seen_before_the_order_id_is_known_is_accounted_after_catch_up() -> None:
    book = new_book()
    book.add_intent(intent("c1", quantity="0.1"))
    book.mark("c1", OrderState.UNKNOWN, 1)  # ack lost; WS events dropped
    book.apply_execution(fill(5, cid=None, order_id=31, qty="0.1", price="60000"))
    update(book, "FILLED", "0.1", cid="c1", order_id=31, quote="6000")  # REST order query
    assert book.orders["c1"].executed_qty == D("0.1")
    assert (SYMBOL, 5) in book.executions
    assert book.foreign_executions == {}
    assert totals(book) == {"BTC": D("2.1"), "USDT": D("94000"), "BNB": D("1")}


# --- external changes and resync -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("asset", "delta", "expected"),
    [
        ("USDT", "250.5", D("100250.5")),
        ("USDT", "-100000", D("0")),
        ("BTC", "-0.00000001", D("1.99999999")),
        ("ETH", "3", D("3")),
    ],
)
def test_external_balance_deltas_change_the_totals(
    asset: str, delta: str, expected: Decimal
) -> None:
    book = new_book()
    book.apply_external(asset, D(delta))
    assert book.totals[asset] == expected


def test_resync_returns_only_the_differences_and_takes_the_exchange_balances() -> None:
    book = new_book({"BTC": D("2"), "USDT": D("100"), "BNB": D("1")})
    diff = book.resync({"BTC": D("2"), "USDT": D("90"), "ETH": D("5")})
    assert diff == {
        "USDT": (D("100"), D("90")),
        "BNB": (D("1"), D("0")),
        "ETH": (D("0"), D("5")),
    }
    assert totals(book) == {"BTC": D("2"), "USDT": D("90"), "ETH": D("5")}


def test_resync_of_equal_balances_returns_no_difference() -> None:
    book = new_book()
    assert book.resync(dict(OPENING)) == {}
    assert totals(book) == OPENING


# --- locked --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "updates", "expected"),
    [
        pytest.param(intent(side="BUY"), [("NEW", "0")], {"USDT": D("30000")}, id="buy-new"),
        pytest.param(
            intent(side="BUY"),
            [("PARTIALLY_FILLED", "0.2")],
            {"USDT": D("18000")},
            id="buy-partial",
        ),
        pytest.param(intent(side="SELL"), [("NEW", "0")], {"BTC": D("0.5")}, id="sell-new"),
        pytest.param(
            intent(side="SELL"),
            [("PARTIALLY_FILLED", "0.2")],
            {"BTC": D("0.3")},
            id="sell-partial",
        ),
        pytest.param(
            intent(side="BUY", type_="MARKET", price=None), [("NEW", "0")], {}, id="buy-market"
        ),
        pytest.param(
            intent(side="SELL", type_="MARKET", price=None), [("NEW", "0")], {}, id="sell-market"
        ),
        pytest.param(intent(side="BUY"), [], {}, id="pending-new"),
        pytest.param(intent(side="BUY"), [("FILLED", "0.5")], {}, id="filled"),
        pytest.param(intent(side="SELL"), [("CANCELED", "0.2")], {}, id="canceled"),
    ],
)
def test_locked_is_what_open_limit_orders_reserve(
    order: BookOrder, updates: list[tuple[str, str]], expected: dict[str, Decimal]
) -> None:
    book = new_book()
    book.add_intent(order)
    for venue_state, cumulative in updates:
        update(book, venue_state, cumulative)
    assert dict(book.locked()) == expected


def test_an_unknown_outcome_order_locks_nothing() -> None:
    book = new_book()
    book.add_intent(intent("c1"))
    book.mark("c1", OrderState.UNKNOWN, 1)
    assert dict(book.locked()) == {}


def test_locked_sums_every_open_order_per_asset() -> None:
    book = new_book()
    book.add_intent(intent("b1", side="BUY", quantity="0.1", price="60000.01"))
    book.add_intent(intent("b2", side="BUY", quantity="0.25", price="59000"))
    book.add_intent(intent("s1", side="SELL", quantity="0.3", price="70000"))
    book.add_intent(intent("s2", side="SELL", quantity="0.00001", price="71000"))
    for i, cid in enumerate(["b1", "b2", "s1", "s2"]):
        update(book, "NEW", cid=cid, order_id=i + 1)
    assert dict(book.locked()) == {"USDT": D("20750.001"), "BTC": D("0.30001")}


# --- positions -----------------------------------------------------------------------------------


def _two_buys_one_sell() -> Book:
    book = new_book({"USDT": D("100000")})
    book.add_intent(intent("b1", quantity="0.1", price="60000"))
    book.add_intent(intent("b2", quantity="0.1", price="62000"))
    book.add_intent(intent("s1", side="SELL", quantity="0.1", price="65000"))
    book.apply_execution(fill(1, cid="b1", qty="0.1", price="60000", commission="6"))
    book.apply_execution(fill(2, cid="b2", qty="0.1", price="62000", commission="6.2"))
    book.apply_execution(fill(3, cid="s1", side="SELL", qty="0.1", price="65000", commission="6.5"))
    return book


def test_average_entry_includes_quote_commission() -> None:
    book = new_book({"USDT": D("100000")})
    book.add_intent(intent("b1", quantity="0.1", price="60000"))
    book.add_intent(intent("b2", quantity="0.1", price="62000"))
    book.apply_execution(fill(1, cid="b1", qty="0.1", price="60000", commission="6"))
    book.apply_execution(fill(2, cid="b2", qty="0.1", price="62000", commission="6.2"))
    pos = book.positions[SYMBOL]
    assert pos.quantity == D("0.2")
    assert pos.cost == D("12212.2")
    assert pos.average_entry == D("61061")
    assert pos.fees_quote == D("12.2")
    assert pos.realized_pnl == 0


def test_a_sell_realizes_pnl_against_the_average_cost() -> None:
    pos = _two_buys_one_sell().positions[SYMBOL]
    assert pos.realized_pnl == D("387.4")  # 6500 - 6106.1 basis - 6.5 fee
    assert pos.quantity == D("0.1")
    assert pos.cost == D("6106.1")
    assert pos.average_entry == D("61061")
    assert pos.fees_quote == D("18.7")


def test_balances_after_two_buys_and_a_sell_are_exact() -> None:
    assert totals(_two_buys_one_sell()) == {"BTC": D("0.1"), "USDT": D("94281.3")}


@pytest.mark.parametrize(
    ("mark", "expected"),
    [(D("64000"), D("293.9")), (D("61061"), D("0")), (D("60000"), D("-106.1")), (None, D("0"))],
)
def test_unrealized_pnl_is_mark_value_minus_remaining_cost(
    mark: Decimal | None, expected: Decimal
) -> None:
    assert _two_buys_one_sell().positions[SYMBOL].unrealized(mark) == expected


def test_a_flat_position_has_no_average_entry_and_no_unrealized_pnl() -> None:
    pos = Position(SYMBOL)
    assert pos.average_entry is None
    assert pos.unrealized(D("60000")) == 0


def test_commission_in_base_reduces_the_quantity_received_by_a_buy() -> None:
    book = book_with_order(intent("c1", quantity="0.5"))
    book.apply_execution(
        fill(1, qty="0.5", price="60000", commission="0.0005", commission_asset="BTC")
    )
    pos = book.positions[SYMBOL]
    assert pos.quantity == D("0.4995")
    assert pos.cost == D("30000")  # the fee is paid in coins not received, not in quote
    assert pos.fees_quote == D("30")
    assert book.totals["BTC"] == D("2.4995")


def test_commission_in_a_third_asset_is_converted_at_its_reference_price() -> None:
    book = book_with_order(intent("c1", quantity="0.1"))
    book.prices["BNBUSDT"] = D("600")
    book.apply_execution(
        fill(1, qty="0.1", price="60000", commission="0.01", commission_asset="BNB")
    )
    pos = book.positions[SYMBOL]
    assert pos.quantity == D("0.1")
    assert pos.fees_quote == D("6")
    assert pos.cost == D("6006")
    assert pos.average_entry == D("60060")
    assert book.totals["BNB"] == D("0.99")


def test_a_sell_commission_in_a_third_asset_reduces_realized_pnl() -> None:
    book = book_with_order(intent("b1", quantity="0.1"))
    book.prices["BNBUSDT"] = D("600")
    book.add_intent(intent("s1", side="SELL", quantity="0.1", price="61000"))
    book.apply_execution(fill(1, cid="b1", qty="0.1", price="60000", commission_asset=None))
    book.apply_execution(
        fill(
            2,
            cid="s1",
            side="SELL",
            qty="0.1",
            price="61000",
            commission="0.01",
            commission_asset="BNB",
        )
    )
    pos = book.positions[SYMBOL]
    assert pos.realized_pnl == D("94")  # 6100 - 6000 - 6
    assert pos.quantity == 0
    assert pos.cost == 0


def test_a_sell_without_a_position_only_books_its_fee() -> None:
    book = book_with_order(intent("s1", side="SELL", quantity="0.1"))
    book.apply_execution(fill(1, cid="s1", side="SELL", qty="0.1", price="60000", commission="6"))
    pos = book.positions[SYMBOL]
    assert pos.realized_pnl == D("-6")
    assert pos.quantity == 0


# --- property: drops, duplicates and reordering, then catch-up -----------------------------------

STEP = D("0.00001")
TICK = D("0.01")
SATOSHI = D("0.00000001")
ZERO = D(0)
Accepted = dict[tuple[str, int], int]  # trade key -> times apply_execution returned True


@dataclass(frozen=True)
class Report:
    """One executionReport: the order's new state and, for a TRADE, the fill."""

    cid: str
    order_id: int
    venue_state: str
    cumulative: Decimal
    cumulative_quote: Decimal
    execution: Execution | None = None


@dataclass
class TrueOrder:
    order: BookOrder
    order_id: int
    final_state: str
    executed: Decimal = ZERO
    quote: Decimal = ZERO
    fills: list[Execution] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)


@dataclass
class Truth:
    orders: list[TrueOrder]
    balances: dict[str, Decimal]

    @property
    def reports(self) -> list[Report]:
        return [r for o in self.orders for r in o.reports]

    @property
    def fills(self) -> list[Execution]:
        return [f for o in self.orders for f in o.fills]


@st.composite
def truths(draw: st.DrawFn) -> Truth:
    balances: dict[str, Decimal] = defaultdict(Decimal, OPENING)
    orders: list[TrueOrder] = []
    trade_id = 1000
    for n in range(draw(st.integers(1, 4))):
        side = draw(st.sampled_from(["BUY", "SELL"]))
        fill_units = draw(st.lists(st.integers(1, 40_000), max_size=4))
        extra = draw(st.integers(0 if fill_units else 1, 40_000))
        quantity = (sum(fill_units) + extra) * STEP
        limit = draw(st.integers(5_000_000, 7_000_000)) * TICK
        cid, order_id = f"o{n}", 500 + n
        truth = TrueOrder(
            order=BookOrder(cid, SYMBOL, side, "LIMIT", quantity, limit),
            order_id=order_id,
            final_state="NEW",
        )
        truth.reports.append(Report(cid, order_id, "NEW", D(0), D(0)))
        for units in fill_units:
            trade_id += draw(st.integers(1, 3))
            qty = units * STEP
            price = draw(st.integers(5_000_000, 7_000_000)) * TICK
            notional = price * qty
            if side == "BUY":  # Binance charges the asset received
                asset = "BTC"
                commission = draw(st.integers(0, units)) * SATOSHI  # <= 0.1%
                balances["BTC"] += qty - commission
                balances["USDT"] -= notional
            else:
                asset = "USDT"
                commission = draw(st.integers(0, 1_000_000)) * SATOSHI
                balances["BTC"] -= qty
                balances["USDT"] += notional - commission
            execution = fill(
                trade_id,
                qty=str(qty),
                price=str(price),
                side=side,
                cid=cid,
                order_id=order_id,
                commission=str(commission),
                commission_asset=asset,
            )
            truth.fills.append(execution)
            truth.executed += qty
            truth.quote += notional
            state = "FILLED" if truth.executed == quantity else "PARTIALLY_FILLED"
            truth.final_state = state
            truth.reports.append(
                Report(cid, order_id, state, truth.executed, truth.quote, execution)
            )
        if truth.final_state != "FILLED" and draw(st.booleans()):
            truth.final_state = "CANCELED"
            truth.reports.append(Report(cid, order_id, "CANCELED", truth.executed, truth.quote))
        orders.append(truth)
    return Truth(orders, {a: v for a, v in balances.items()})


def _deliver(book: Book, report: Report, accepted: Accepted) -> None:
    """What the broker does with one executionReport (on_order_event)."""
    book.apply_order_update(
        symbol=SYMBOL,
        client_order_id=report.cid,
        order_id=report.order_id,
        venue_state=report.venue_state,
        cumulative_qty=report.cumulative,
        cumulative_quote=report.cumulative_quote,
        now_ms=1,
    )
    if report.execution is not None and book.apply_execution(report.execution):
        key = (report.execution.symbol, report.execution.trade_id)
        accepted[key] = accepted.get(key, 0) + 1


def _rest_trades(book: Book, truth: Truth, accepted: Accepted) -> None:
    """Every trade once more as the REST poller sees it (myTrades: no client order id)."""
    for execution in truth.fills:
        rest = Execution(
            symbol=execution.symbol,
            trade_id=execution.trade_id,
            order_id=execution.order_id,
            client_order_id=None,
            side=execution.side,
            price=execution.price,
            qty=execution.qty,
            commission=execution.commission,
            commission_asset=execution.commission_asset,
            time_ms=execution.time_ms,
            is_maker=execution.is_maker,
            via="rest",
        )
        if book.apply_execution(rest):
            accepted[(rest.symbol, rest.trade_id)] = (
                accepted.get((rest.symbol, rest.trade_id), 0) + 1
            )


def _snapshots(book: Book, truth: Truth) -> None:
    """A final REST order snapshot per order, carrying the true cumulative quantity."""
    for o in truth.orders:
        book.apply_order_update(
            symbol=SYMBOL,
            client_order_id=o.order.client_order_id,
            order_id=o.order_id,
            venue_state=o.final_state,
            cumulative_qty=o.executed,
            cumulative_quote=o.quote,
            now_ms=2,
        )


def _run_channel(data: st.DataObject, truth: Truth, *, drops: bool) -> tuple[Book, Accepted]:
    book = new_book()
    for true_order in truth.orders:
        order = true_order.order
        book.add_intent(
            BookOrder(
                order.client_order_id, SYMBOL, order.side, "LIMIT", order.quantity, order.price
            )
        )
    delivered: list[Report] = []
    for report in truth.reports:
        copies = data.draw(st.integers(0 if drops else 1, 3), label="copies")
        delivered.extend([report] * copies)
    delivered = data.draw(st.permutations(delivered), label="order")
    accepted: Accepted = {}
    for report in delivered:
        before = {cid: (o.executed_qty, o.state) for cid, o in book.orders.items()}
        _deliver(book, report, accepted)
        for cid, ours in book.orders.items():
            executed, state = before[cid]
            assert ours.executed_qty >= executed, "cumulative quantity went down"
            assert not state.is_terminal or ours.state is state, "a terminal state was left"
        assert_commitments_recount(book)
    return book, accepted


def assert_commitments_recount(book: Book) -> None:
    """The running commitments equal a count from scratch over the live orders."""
    committed: dict[str, Decimal] = defaultdict(Decimal)
    notional: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    unpriced = set()
    selling: dict[str, Decimal] = defaultdict(Decimal)
    per_symbol: dict[str, int] = defaultdict(int)
    for o in book.orders.values():
        if o.state.is_terminal:
            continue
        market = book.markets[o.symbol]
        remaining = max(o.quantity - o.executed_qty, D(0))
        per_symbol[o.symbol] += 1
        if o.side == "SELL":
            selling[o.symbol] += remaining
        if o.price is None:
            unpriced.add(o.client_order_id)
            if o.side == "SELL":
                committed[market.base] += remaining
            continue
        value = o.price * remaining
        committed[market.quote if o.side == "BUY" else market.base] += (
            value if o.side == "BUY" else remaining
        )
        notional[(o.symbol, o.side)] += value
    ours = book.commitments
    assert {a: v for a, v in ours.committed.items() if v} == {
        a: v for a, v in committed.items() if v
    }
    assert {k: v for k, v in ours.notional.items() if v} == {k: v for k, v in notional.items() if v}
    assert set(ours.unpriced) == unpriced
    assert {k: v for k, v in ours.selling.items() if v} == {k: v for k, v in selling.items() if v}
    assert {k: v for k, v in ours.per_symbol.items() if v} == dict(per_symbol)
    assert set(book.live) == {cid for cid, o in book.orders.items() if not o.state.is_terminal}


def _assert_book_equals_truth(book: Book, truth: Truth, accepted: Accepted) -> None:
    assert totals(book) == {a: v for a, v in truth.balances.items() if v != 0}
    for o in truth.orders:
        ours = book.orders[o.order.client_order_id]
        assert ours.executed_qty == o.executed
        assert ours.cumulative_quote == o.quote
        assert ours.state.value == o.final_state
        assert ours.order_id == o.order_id
    keys = {(f.symbol, f.trade_id) for f in truth.fills}
    assert set(book.executions) == keys
    assert book.foreign_executions == {}
    assert accepted == dict.fromkeys(keys, 1)
    expected_locked: dict[str, Decimal] = defaultdict(Decimal)
    for o in truth.orders:
        if o.final_state in ("NEW", "PARTIALLY_FILLED"):
            remaining = o.order.quantity - o.executed
            if o.order.side == "BUY":
                expected_locked["USDT"] += (o.order.price or D(0)) * remaining
            else:
                expected_locked["BTC"] += remaining
    assert dict(book.locked()) == dict(expected_locked)


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(truth=truths(), data=st.data(), drops=st.booleans())
def test_after_catch_up_the_book_equals_the_true_state(
    truth: Truth, data: st.DataObject, drops: bool
) -> None:
    book, accepted = _run_channel(data, truth, drops=drops)
    _snapshots(book, truth)  # REST order status for every order, then its trades
    _rest_trades(book, truth, accepted)
    _assert_book_equals_truth(book, truth, accepted)
    assert book.anomalies == []


@PROPERTY
@given(truth=truths(), data=st.data())
def test_reordered_and_duplicated_streams_alone_reach_the_true_state(
    truth: Truth, data: st.DataObject
) -> None:
    book, accepted = _run_channel(data, truth, drops=False)
    _assert_book_equals_truth(book, truth, accepted)
    assert book.anomalies == []


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(truth=truths(), data=st.data())
def test_after_catch_up_trades_first_the_book_equals_the_true_state(
    truth: Truth, data: st.DataObject
) -> None:
    book, accepted = _run_channel(data, truth, drops=True)
    _rest_trades(book, truth, accepted)  # trades since the watermark, then order status
    _snapshots(book, truth)
    _assert_book_equals_truth(book, truth, accepted)


def test_commitments_follow_every_change_and_count_an_intent_in_flight() -> None:
    book = new_book()
    book.add_intent(intent("b1", quantity="0.5", price="60000"))  # PENDING_NEW counts
    book.add_intent(intent("s1", side="SELL", quantity="0.25", price="61000"))
    book.add_intent(intent("m1", side="SELL", type_="MARKET", quantity="0.1", price=None))
    book.add_intent(intent("m2", type_="MARKET", quantity="0.1", price=None))
    c = book.commitments
    assert c.committed["USDT"] == D("30000")
    assert c.committed["BTC"] == D("0.35")
    assert c.notional[(SYMBOL, "BUY")] == D("30000")
    assert c.notional[(SYMBOL, "SELL")] == D("15250")
    assert set(c.unpriced) == {"m1", "m2"}
    update(book, "PARTIALLY_FILLED", "0.2", cid="b1", order_id=1)
    assert c.committed["USDT"] == D("18000")
    update(book, "CANCELED", "0.2", cid="b1", order_id=1)
    book.mark("m2", OrderState.REJECTED, 2)
    assert c.committed["USDT"] == 0 and c.notional[(SYMBOL, "BUY")] == 0
    assert set(c.unpriced) == {"m1"}
    assert_commitments_recount(book)
    book.rebuild_live()  # from scratch, as after a replay: the same figures
    assert book.commitments.committed["BTC"] == D("0.35")
    assert_commitments_recount(book)


def test_commitments_stay_exact_at_magnitudes_a_28_digit_sum_would_round() -> None:
    book = new_book()
    book.add_intent(intent("big", quantity="1000000000", price="1000000000000"))
    book.add_intent(intent("tiny", quantity="0.00000001", price="0.00000001"))
    update(book, "CANCELED", "0", cid="big", order_id=1)
    assert book.commitments.committed["USDT"] == D("1E-16")
