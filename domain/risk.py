"""Risk of the day: the UTC day's mark, its highest equity and the drawdown from it.

Today's P&L counts from the mark made when the UTC day is first seen with a price for
every position (a position valued at 0 in the mark would jump when its price came). The
day's highest equity (the balances at the mids, in the first symbol's quote asset; assets
without a price are left out) is journaled each time it rises by a basis point, so a
restart forgives neither today's loss nor a drawdown. A deposit or withdrawal moves the
peak by its value: money leaving the account is not a drawdown. Pure: the caller journals
what the answers say and sends the samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from domain.book import DAY_MS, Book, DayMark
from domain.breaker_rules import EvidenceKind
from domain.evidence import Signal
from domain.money import plain

PEAK_STEP = Decimal("1.0001")  # the day's peak equity is journaled each time it rises 1 bp


@dataclass
class RiskReading:
    """What one look found: samples for the breaker, and what to journal."""

    signals: list[Signal] = field(default_factory=list)
    new_day: DayMark | None = None  # a day mark made now (journal it)
    peak: DayMark | None = None  # the day whose peak moved enough to journal


@dataclass
class DayRisk:
    """The day's mark and peak, as the broker judges them; ``peak_journaled`` is the last
    peak written (a new one is written when equity has risen a basis point above it)."""

    peak_journaled: Decimal | None = None

    def roll_day(self, book: Book, now_ms: int) -> DayMark | None:
        """Mark the UTC day when it is first seen: returns the new mark (to journal), or
        None when today is marked already or a position has no price yet."""
        if book.day_marked(now_ms) or book.unpriced_positions():
            return None
        start = now_ms - now_ms % DAY_MS
        book.day = DayMark(start, book.total_pnl())
        self.peak_journaled = None
        return book.day

    def shift_peak(self, book: Book, asset: str, delta: Decimal) -> DayMark | None:
        """A deposit or withdrawal of ``delta`` ``asset`` moves the day's peak by its value
        at the mid; returns the day (its peak to journal), or None when nothing moved."""
        day = book.day
        if day is None or day.peak_equity is None or not book.markets:
            return None
        quote = equity_quote(book)
        price = Decimal(1) if asset == quote else book.prices.get(f"{asset}{quote}")
        if price is None:
            return None  # unvalued: the next sample values the account as a whole again
        day.peak_equity = max(day.peak_equity + delta * price, Decimal(0))
        self.peak_journaled = day.peak_equity
        return day

    def sample(self, book: Book, now_ms: int) -> RiskReading:
        """Today's loss and the drawdown from today's highest equity, as samples."""
        reading = RiskReading()
        if not book.opened:
            return reading
        reading.new_day = self.roll_day(book, now_ms)
        day = book.day
        if day is None or not book.day_marked(now_ms):
            return reading  # today is not marked yet (a position without a price)
        loss = -book.daily_pnl(now_ms)
        reading.signals.append(Signal(EvidenceKind.DAILY_LOSS, f"today's P&L {plain(-loss)}", loss))
        quote = equity_quote(book)
        equity, unvalued = book.equity(quote)
        traded = {m.base for m in book.markets.values()}
        if equity <= 0 or traded.intersection(unvalued):
            return reading  # a traded asset's price is still to come: no drawdown from a part
        peak = max(day.peak_equity or equity, equity)
        day.peak_equity = peak
        last = self.peak_journaled
        if last is None or peak >= last * PEAK_STEP:
            # journaled when it has risen by a basis point since the last entry, so the
            # entries are bounded by the market's rise, not by time
            self.peak_journaled = peak
            reading.peak = day
        drawdown = (peak - equity) / peak * 100
        detail = f"equity {plain(equity)} {quote}, today's peak {plain(peak)}"
        reading.signals.append(
            Signal(EvidenceKind.DRAWDOWN_PCT, detail, drawdown.quantize(Decimal("0.0001")))
        )
        return reading


def equity_quote(book: Book) -> str:
    """Equity is valued in the first symbol's quote asset."""
    return next(iter(book.markets.values())).quote
