"""Compaction of closed history: a closed order (terminal, every fill booked) leaves the
ledger with its executions, but its client order id is still refused, its fills are still
refused as duplicates, and balances, positions and fill counts stay exact — in the book
and through a checkpoint. BookOrder rows are written generically: a field added to it
round-trips without a change to the checkpoint code."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from enum import StrEnum

import pytest

from domain.book import DAY_MS, Book, BookOrder, Execution, Market, OrderState, due
from domain.checkpoint import CheckpointInvalid, RowCodec, restore, snapshot
from domain.replay import compact_entry, replay

MARKETS = {"BTCUSDT": Market("BTCUSDT", "BTC", "USDT")}
T0 = 1_750_000_000_000


def fill(n: int, cid: str | None, order_id: int, side: str = "BUY") -> Execution:
    return Execution(
        symbol="BTCUSDT",
        trade_id=n,
        order_id=order_id,
        client_order_id=cid,
        side=side,
        price=Decimal("60000"),
        qty=Decimal("0.001"),
        commission=Decimal("0.06"),
        commission_asset="USDT",
        time_ms=T0 + n,
        is_maker=False,
        via="ws",
    )


def traded(count: int) -> Book:
    """A book with ``count`` filled BUY orders c0.., one fill each (trade ids 1..)."""
    book = Book(dict(MARKETS))
    book.open({"USDT": Decimal("10000"), "BTC": Decimal("0")})
    for n in range(count):
        cid = f"c{n}"
        order = BookOrder(cid, "BTCUSDT", "BUY", "MARKET", Decimal("0.001"), None, created_ms=T0)
        book.add_intent(order)
        book.apply_order_update(
            symbol="BTCUSDT",
            client_order_id=cid,
            order_id=100 + n,
            venue_state="FILLED",
            cumulative_qty=Decimal("0.001"),
            cumulative_quote=Decimal("60"),
            now_ms=T0 + n,
        )
        assert book.apply_execution(fill(n + 1, cid, 100 + n))
    return book


def through_checkpoint(book: Book) -> Book:
    restored, _ = replay(
        [], MARKETS, start=restore(json.loads(json.dumps(snapshot(book, {}))), MARKETS)
    )
    return restored


def test_the_oldest_closed_orders_beyond_the_horizon_are_due() -> None:
    book = traded(5)
    assert due(book.closed, book.orders, keep_closed=2) == ["c0", "c1", "c2"]
    assert due(book.closed, book.orders, keep_closed=10) == []
    book.orders["c0"].booked_qty = Decimal(0)  # a fill reported but not booked: not closed yet
    assert due(book.closed, book.orders, keep_closed=2) == ["c1", "c2"]


def test_compaction_keeps_balances_positions_and_fill_counts_exact() -> None:
    book = traded(4)
    totals, positions = dict(book.totals), dict(book.positions)
    counts, today = book.fill_counts(), book.fills_since(T0 - T0 % DAY_MS)
    assert book.compact(["c0", "c1"]) == 2
    assert set(book.orders) == {"c2", "c3"} and len(book.executions) == 2
    assert book.compacted.ids == {"c0", "c1"}
    assert dict(book.totals) == totals and book.positions == positions
    assert book.fill_counts() == counts == {("BTCUSDT", "BUY"): 4}
    assert book.fills_since(T0 - T0 % DAY_MS) == today == 4
    assert book.closed == ["c2", "c3"] and ("BTCUSDT", 100) not in book.by_order_id


@pytest.mark.parametrize("restored", [False, True], ids=["in the book", "after a checkpoint"])
def test_a_duplicate_fill_of_a_compacted_order_is_not_booked_twice(restored: bool) -> None:
    book = traded(3)
    book.compact(["c0", "c1"])
    if restored:
        book = through_checkpoint(book)
    totals, duplicates = dict(book.totals), book.duplicates
    assert not book.apply_execution(fill(1, "c0", 100))  # a late copy from the stream
    assert not book.apply_execution(fill(2, None, 101))  # a REST trade (no client id)
    assert dict(book.totals) == totals and book.duplicates == duplicates + 2
    assert book.trades_above({"BTCUSDT": 0}) == {("BTCUSDT", 1), ("BTCUSDT", 2), ("BTCUSDT", 3)}
    assert book.apply_execution(fill(4, "c2", 102)) is True  # a new trade is still booked
    assert book.late_report("c0") and not book.late_report("c2")


@pytest.mark.parametrize("restored", [False, True], ids=["in the book", "after a checkpoint"])
def test_a_reused_client_order_id_of_a_compacted_order_is_refused(restored: bool) -> None:
    book = traded(2)
    book.compact(["c0"])
    if restored:
        book = through_checkpoint(book)
    assert book.knows_id("c0") and "c0" not in book.orders
    with pytest.raises(ValueError, match="already in the book"):
        book.add_intent(BookOrder("c0", "BTCUSDT", "BUY", "MARKET", Decimal("1"), None))


def test_an_order_not_closed_for_good_is_never_compacted() -> None:
    book = traded(1)
    book.add_intent(BookOrder("open", "BTCUSDT", "BUY", "LIMIT", Decimal("1"), Decimal("1")))
    assert book.compact(["open", "missing"]) == 0
    assert "open" in book.orders and "open" in book.live and not book.compacted.ids


def test_a_compact_entry_replays_to_the_same_book_and_forgets_old_creation_times() -> None:
    entries = [
        ("opening", {"totals": {"USDT": "100"}, "trade_floor": {}}),
        *[
            (
                "intent",
                {
                    "client_order_id": f"c{n}",
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "LIMIT",
                    "quantity": "1",
                    "price": "1",
                    "created_ms": T0 + n * DAY_MS,
                },
            )
            for n in range(3)
        ],
        *[
            (
                "order",
                {
                    "client_order_id": f"c{n}",
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "LIMIT",
                    "quantity": "1",
                    "price": "1",
                    "state": "CANCELED",
                    "order_id": n + 1,
                    "executed_qty": "0",
                },
            )
            for n in range(2)
        ],
        ("compact", compact_entry(["c0", "c1"], T0 + DAY_MS)),
    ]
    book, _ = replay(entries, MARKETS)
    assert set(book.orders) == {"c2"} and book.compacted.ids == {"c0", "c1"}
    assert book.created == [T0 + DAY_MS, T0 + 2 * DAY_MS]
    assert book.intents_since(0) == 2


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"


@dataclasses.dataclass
class GrownOrder(BookOrder):
    """BookOrder with fields a later change might add (of each kind a field can have)."""

    venue_tag: str = ""
    parent_id: str | None = None
    window: TimeInForce | None = None
    peg_offset: Decimal | None = None


def test_fields_added_to_an_order_round_trip_without_touching_the_checkpoint_code() -> None:
    codec = RowCodec(GrownOrder)
    assert codec.names[-4:] == ["venue_tag", "parent_id", "window", "peg_offset"]
    order = GrownOrder(
        "c1",
        "BTCUSDT",
        "SELL",
        "LIMIT",
        Decimal("0.10000000"),
        Decimal("60000.01"),
        state=OrderState.PARTIALLY_FILLED,
        order_id=7,
        executed_qty=Decimal("0.05"),
        strategy="grid",
        strategy_order_id="g-42",
        time_in_force="IOC",
        booked_quote=Decimal("3000.0005"),
        venue_tag="x",
        parent_id="p-1",
        window=TimeInForce.IOC,
        peg_offset=Decimal("1E-8"),
    )
    row = json.loads(json.dumps(codec.row(order)))
    back = codec.reader(codec.names)(row)
    assert back == order and back.window is TimeInForce.IOC
    assert str(back.quantity) == "0.10000000" and str(back.peg_offset) == "1E-8"
    # an older checkpoint without the new fields: they take their defaults
    older = RowCodec(BookOrder)
    plain = older.reader(older.names)(older.row(order))
    assert codec.reader(older.names)(older.row(order)) == GrownOrder(**dataclasses.asdict(plain))
    # a checkpoint with a field this version does not know is refused, not half read
    with pytest.raises(CheckpointInvalid, match="venue_tag"):
        older.reader(codec.names)


def test_the_fields_the_gateway_added_are_in_the_checkpoint() -> None:
    """strategy, strategy_order_id, time_in_force and booked_quote came after the
    checkpoint code was written: they are in it without a change to it."""
    names = RowCodec(BookOrder).names
    assert {"strategy", "strategy_order_id", "time_in_force", "booked_quote"} <= set(names)


def test_every_order_field_is_in_the_checkpoint() -> None:
    """Every field of BookOrder that is state (compared) is written; the evidence flags,
    which the broker recomputes, are not."""
    names = RowCodec(BookOrder).names
    state = [f.name for f in dataclasses.fields(BookOrder) if f.compare]
    assert names == state and "evidence_done" not in names


def test_a_field_of_a_type_with_no_conversion_fails_at_once() -> None:
    @dataclasses.dataclass
    class Odd(BookOrder):
        tags: tuple[str, ...] = ()

    with pytest.raises(TypeError, match=r"Odd\.tags"):
        RowCodec(Odd)
