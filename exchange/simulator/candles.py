"""Klines and the 24-hour ticker made from the price process's path and the account's
trades, in Binance's shapes (``rest-api.md``: klines are arrays of 12, amounts as strings,
times and counts as integers).

A kline's open is the mid carried into its interval (the last sample before it), its high,
low and close come from the samples inside it; volumes and the trade count from the trades
inside it (the simulator's only trades are the account's own, against its synthetic book).
An interval with no sample repeats the last price with zero volume, as a quiet market's
klines do. Pure functions.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from exchange.simulator.errors import ApiError
from exchange.simulator.model import ZERO, SimTrade
from exchange.simulator.rendering import fmt

MINUTE = 60_000
INTERVALS: dict[str, int] = {
    "1s": 1000,
    "1m": MINUTE,
    "3m": 3 * MINUTE,
    "5m": 5 * MINUTE,
    "15m": 15 * MINUTE,
    "30m": 30 * MINUTE,
    "1h": 60 * MINUTE,
    "2h": 120 * MINUTE,
    "4h": 240 * MINUTE,
    "6h": 360 * MINUTE,
    "8h": 480 * MINUTE,
    "12h": 720 * MINUTE,
    "1d": 1440 * MINUTE,
    "3d": 3 * 1440 * MINUTE,
    "1w": 7 * 1440 * MINUTE,
    "1M": 0,  # calendar months
}
TZ_RE = re.compile(r"^([+-]?)([0-9]{1,2})(?::([0-9]{2}))?$")
DAY = 1440 * MINUTE

Sample = tuple[int, Decimal]


def interval_ms(name: str) -> int:
    if name not in INTERVALS:
        raise ApiError(-1120, "Invalid interval.")
    return INTERVALS[name]


def tz_offset_ms(text: str | None) -> int:
    """``timeZone``: hours and minutes within [-12:00, +14:00] (default 0, UTC)."""
    if text is None:
        return 0
    match = TZ_RE.match(text)
    if match is None:
        raise ApiError(-1100, "Illegal characters found in parameter 'timeZone'.")
    sign = -1 if match.group(1) == "-" else 1
    minutes = int(match.group(2)) * 60 + int(match.group(3) or 0)
    offset = sign * minutes
    if not -12 * 60 <= offset <= 14 * 60:
        raise ApiError(-1100, "Illegal characters found in parameter 'timeZone'.")
    return offset * MINUTE


def open_time(at_ms: int, interval: str, offset_ms: int = 0) -> int:
    """The open time of the interval that holds ``at_ms`` (UTC ms), in ``offset_ms``'s zone."""
    if interval == "1M":
        local = datetime.fromtimestamp((at_ms + offset_ms) / 1000, UTC)
        first = datetime(local.year, local.month, 1, tzinfo=UTC)
        return int(first.timestamp() * 1000) - offset_ms
    size = INTERVALS[interval]
    if size >= DAY * 7:  # weeks open on Monday (the epoch was a Thursday)
        monday = 4 * DAY
        return (at_ms + offset_ms - monday) // size * size + monday - offset_ms
    return (at_ms + offset_ms) // size * size - offset_ms


def close_time(start_ms: int, interval: str, offset_ms: int = 0) -> int:
    if interval == "1M":
        local = datetime.fromtimestamp((start_ms + offset_ms) / 1000, UTC)
        days = calendar.monthrange(local.year, local.month)[1]
        return start_ms + days * DAY - 1
    return start_ms + INTERVALS[interval] - 1


@dataclass(frozen=True, slots=True)
class Window:
    """Prices and trades over [start, end]."""

    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    taker_buy_volume: Decimal
    taker_buy_quote: Decimal
    trades: list[SimTrade]


def window(samples: Sequence[Sample], trades: Sequence[SimTrade], start: int, end: int) -> Window:
    """The price path and trades over [start, end] (both ms, inclusive)."""
    times = [t for t, _ in samples]
    before = bisect_left(times, start)
    inside = [p for _, p in samples[before : bisect_right(times, end)]]
    opening = samples[before - 1][1] if before > 0 else (inside[0] if inside else ZERO)
    prices = [opening, *inside]
    chosen = [t for t in trades if start <= t.time <= end]
    taker_buys = [t for t in chosen if t.is_buyer != t.is_maker]  # the taker was the buyer
    return Window(
        open=opening,
        high=max(prices),
        low=min(prices),
        close=prices[-1],
        volume=sum((t.qty for t in chosen), ZERO),
        quote_volume=sum((t.quote_qty for t in chosen), ZERO),
        taker_buy_volume=sum((t.qty for t in taker_buys), ZERO),
        taker_buy_quote=sum((t.quote_qty for t in taker_buys), ZERO),
        trades=chosen,
    )


def klines(
    samples: Sequence[Sample],
    trades: Sequence[SimTrade],
    *,
    interval: str,
    now_ms: int,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int = 500,
    offset_ms: int = 0,
) -> list[list[object]]:
    """Binance's klines over the simulator's history (oldest first, at most ``limit``)."""
    interval_ms(interval)
    if not samples:
        return []
    first = open_time(samples[0][0], interval, offset_ms)
    last = open_time(min(end_ms if end_ms is not None else now_ms, now_ms), interval, offset_ms)
    lower = first if start_ms is None else max(first, open_time(start_ms, interval, offset_ms))
    opens: list[int] = []
    at = lower
    while at <= last:
        opens.append(at)
        at = close_time(at, interval, offset_ms) + 1
    opens = opens[:limit] if start_ms is not None else opens[-limit:]
    out: list[list[object]] = []
    for begin in opens:
        end = close_time(begin, interval, offset_ms)
        w = window(samples, trades, begin, end)
        out.append(
            [
                begin,
                fmt(w.open),
                fmt(w.high),
                fmt(w.low),
                fmt(w.close),
                fmt(w.volume),
                end,
                fmt(w.quote_volume),
                len(w.trades),
                fmt(w.taker_buy_volume),
                fmt(w.taker_buy_quote),
                "0",
            ]
        )
    return out


def ticker_24hr(
    symbol: str,
    samples: Sequence[Sample],
    trades: Sequence[SimTrade],
    *,
    now_ms: int,
    bid: tuple[Decimal, Decimal],
    ask: tuple[Decimal, Decimal],
    mini: bool = False,
) -> dict[str, object]:
    """``GET /api/v3/ticker/24hr`` for one symbol (FULL, or MINI)."""
    start = now_ms - DAY
    w = window(samples, trades, start, now_ms)
    change = w.close - w.open
    percent = (change / w.open * 100) if w.open else ZERO
    weighted = (w.quote_volume / w.volume) if w.volume else w.close
    ids = [t.trade_id for t in w.trades]
    mini_fields: dict[str, object] = {
        "symbol": symbol,
        "openPrice": fmt(w.open),
        "highPrice": fmt(w.high),
        "lowPrice": fmt(w.low),
        "lastPrice": fmt(w.close),
        "volume": fmt(w.volume),
        "quoteVolume": fmt(w.quote_volume),
        "openTime": start,
        "closeTime": now_ms,
        "firstId": ids[0] if ids else -1,
        "lastId": ids[-1] if ids else -1,
        "count": len(ids),
    }
    if mini:
        return mini_fields
    return {
        "symbol": symbol,
        "priceChange": fmt(change),
        "priceChangePercent": f"{percent:.3f}",
        "weightedAvgPrice": fmt(weighted),
        "prevClosePrice": fmt(w.open),
        "lastPrice": fmt(w.close),
        "lastQty": fmt(w.trades[-1].qty if w.trades else ZERO),
        "bidPrice": fmt(bid[0]),
        "bidQty": fmt(bid[1]),
        "askPrice": fmt(ask[0]),
        "askQty": fmt(ask[1]),
        **{k: v for k, v in mini_fields.items() if k != "symbol"},
    }
