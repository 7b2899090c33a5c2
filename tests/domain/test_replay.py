"""Replaying the journal's day entries: the day's loss baseline and its peak equity."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.book import DAY_MS, Market
from domain.replay import replay

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
