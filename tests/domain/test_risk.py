"""The day's mark, its peak equity and the drawdown from it."""

from __future__ import annotations

from decimal import Decimal

from domain.book import DAY_MS, Book, Market
from domain.breaker_rules import EvidenceKind
from domain.risk import DayRisk

MARKETS = {"BTCUSDT": Market("BTCUSDT", "BTC", "USDT")}
NOON = 20_000 * DAY_MS + DAY_MS // 2


def opened() -> Book:
    book = Book(dict(MARKETS))
    book.open({"USDT": Decimal("1000"), "BTC": Decimal("0.1")})
    book.set_price("BTCUSDT", Decimal("10000"), 0)
    return book


def test_the_day_is_marked_once_and_its_mark_is_returned_to_journal() -> None:
    book, risk = opened(), DayRisk()
    day = risk.roll_day(book, NOON)
    assert day is not None and day.start_ms == NOON - DAY_MS // 2
    assert risk.roll_day(book, NOON + 1) is None  # marked already


def test_a_sample_gives_todays_loss_and_the_drawdown_from_the_peak() -> None:
    book, risk = opened(), DayRisk()
    first = risk.sample(book, NOON)
    assert first.new_day is not None and first.peak is not None  # the first peak: journal
    by_kind = {s.kind: s.value for s in first.signals}
    assert by_kind[EvidenceKind.DRAWDOWN_PCT] == Decimal(0)
    book.set_price("BTCUSDT", Decimal("9000"), 1)  # equity 2000 -> 1900
    later = risk.sample(book, NOON + 1)
    assert later.new_day is None and later.peak is None  # no new high: nothing to journal
    by_kind = {s.kind: s.value for s in later.signals}
    assert by_kind[EvidenceKind.DRAWDOWN_PCT] == Decimal("5.0000")


def test_a_withdrawal_moves_the_peak_with_it() -> None:
    book, risk = opened(), DayRisk()
    risk.sample(book, NOON)
    day = risk.shift_peak(book, "USDT", Decimal("-500"))
    assert day is not None and day.peak_equity == Decimal("1500")
    book.apply_external("USDT", Decimal("-500"))
    after = risk.sample(book, NOON + 1)
    by_kind = {s.kind: s.value for s in after.signals}
    assert by_kind[EvidenceKind.DRAWDOWN_PCT] == Decimal(0)  # not a drawdown
