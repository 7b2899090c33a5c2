"""Replaying the journal's day entries: the day's loss baseline and its peak equity."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.book import DAY_MS, Book, BookOrder, Execution, Market
from domain.replay import fill_entry, order_entry, replay

MARKETS = {"BTCUSDT": Market("BTCUSDT", "BTC", "USDT")}
DAY = 20_000 * DAY_MS


def entries(*more: tuple[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [("opening", {"totals": {"BTC": "1", "USDT": "1000"}}), *more]


def test_the_day_mark_and_the_latest_peak_of_that_day_come_back() -> None:
    book, _ = replay(
        entries(
            ("day_mark", {"start_ms": DAY, "pnl_base": "-12.5"}),
            ("day_peak", {"start_ms": DAY, "peak": "61000.10"}),
            ("day_peak", {"start_ms": DAY, "peak": "61500"}),
            ("day_peak", {"start_ms": DAY, "peak": "61200"}),  # moved down by a withdrawal
        ),
        MARKETS,
    )
    assert book.day is not None
    assert (book.day.start_ms, book.day.pnl_base) == (DAY, Decimal("-12.5"))
    assert book.day.peak_equity == Decimal("61200")


def test_a_new_day_starts_without_the_last_days_peak() -> None:
    book, _ = replay(
        entries(
            ("day_mark", {"start_ms": DAY, "pnl_base": "0"}),
            ("day_peak", {"start_ms": DAY, "peak": "70000"}),
            ("day_mark", {"start_ms": DAY + DAY_MS, "pnl_base": "3"}),
            ("day_peak", {"start_ms": DAY, "peak": "80000"}),  # a stray entry of the old day
        ),
        MARKETS,
    )
    assert book.day is not None
    assert book.day.start_ms == DAY + DAY_MS and book.day.peak_equity is None


def test_a_fee_paid_in_a_third_asset_replays_at_the_value_it_had_when_it_was_paid() -> None:
    markets = {"BTCUSDT": Market("BTCUSDT", "BTC", "USDT")}
    live = Book(markets)
    changes: list[tuple[str, dict[str, Any]]] = [
        ("opening", {"totals": {"BTC": "0", "USDT": "100000", "BNB": "1"}})
    ]

    def journal(kind: str, payload: Any) -> None:
        if kind == "order":
            changes.append(("order", order_entry(payload)))
        elif kind == "fill":
            changes.append(("fill", fill_entry(payload)))

    live.open({"BTC": Decimal(0), "USDT": Decimal(100000), "BNB": Decimal(1)})
    live.on_change = journal
    live.prices["BNBUSDT"] = Decimal("600")  # BNB's price when the fee is paid
    live.add_intent(order("c1", "BUY", "0.01", "60000"))
    for side, qty, trade_id, cid in (("BUY", "0.01", 1, "c1"), ("SELL", "0.01", 2, "c2")):
        if cid == "c2":
            live.add_intent(order("c2", "SELL", "0.01", "61000"))
        live.apply_order_update(
            symbol="BTCUSDT", client_order_id=cid, order_id=trade_id, venue_state="FILLED",
            cumulative_qty=Decimal(qty), cumulative_quote=Decimal(0), now_ms=trade_id,
        )  # fmt: skip
        price = "60000" if side == "BUY" else "61000"
        live.apply_execution(
            Execution(
                symbol="BTCUSDT", trade_id=trade_id, order_id=trade_id, client_order_id=cid,
                side=side, price=Decimal(price), qty=Decimal(qty), commission=Decimal("0.001"),
                commission_asset="BNB", time_ms=trade_id, is_maker=False, via="ws",
            )
        )  # fmt: skip
    live.prices["BNBUSDT"] = Decimal("900")  # later: a replay must not revalue past fees
    replayed, _ = replay(changes, markets)  # (a replay has no prices at all)
    ours, again = live.positions["BTCUSDT"], replayed.positions["BTCUSDT"]
    assert ours.fees_quote == again.fees_quote == Decimal("1.2")  # 2 x 0.001 BNB at 600
    assert ours.realized_pnl == again.realized_pnl == Decimal("8.8")  # 10 gained, fees paid
    assert replayed.totals == live.totals


def order(cid: str, side: str, qty: str, price: str) -> BookOrder:
    return BookOrder(
        client_order_id=cid, symbol="BTCUSDT", side=side, type="LIMIT",
        quantity=Decimal(qty), price=Decimal(price), created_ms=0, updated_ms=0,
    )  # fmt: skip


def test_a_fill_claimed_late_comes_back_from_the_journal() -> None:
    """A REST trade overtook the acknowledgment: kept apart, then claimed when the order's
    id became known. The journal holds the fill (no client id) before the order entry;
    the replay must claim it at the same point, as the live book did."""
    live = Book(MARKETS)
    changes: list[tuple[str, dict[str, Any]]] = [
        ("opening", {"totals": {"BTC": "0", "USDT": "1000"}})
    ]

    def journal(kind: str, payload: Any) -> None:
        if kind == "order":
            changes.append(("order", order_entry(payload)))
        elif kind == "fill":
            changes.append(("fill", fill_entry(payload)))

    live.open({"BTC": Decimal(0), "USDT": Decimal(1000)})
    live.on_change = journal
    live.add_intent(order("c1", "BUY", "0.01", "1000"))
    changes.append(("intent", order_entry(live.orders["c1"])))
    live.apply_execution(
        Execution(
            symbol="BTCUSDT", trade_id=7, order_id=31, client_order_id=None, side="BUY",
            price=Decimal("1000"), qty=Decimal("0.01"), commission=Decimal(0),
            commission_asset="USDT", time_ms=1, is_maker=False, via="rest",
        )
    )  # fmt: skip
    assert live.foreign_executions  # kept apart: whose is it?
    live.apply_order_update(
        symbol="BTCUSDT", client_order_id="c1", order_id=31, venue_state="FILLED",
        cumulative_qty=Decimal("0.01"), cumulative_quote=Decimal("10"), now_ms=2,
    )  # fmt: skip
    assert [k for k, _ in changes[-2:]] == ["fill", "order"]  # claimed, then the order
    replayed, _ = replay(changes, MARKETS)
    assert replayed.totals == live.totals == {"BTC": Decimal("0.01"), "USDT": Decimal("990")}
    assert replayed.foreign_executions == {}
    assert replayed.orders["c1"].booked_qty == Decimal("0.01")
    assert replayed.orders["c1"].fills_booked
