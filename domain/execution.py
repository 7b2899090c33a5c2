"""Execution quality as pure arithmetic: slippage against the arrival price, and latency
percentiles per symbol.

The *arrival* (reference) price is the mid the order path saw when it accepted the intent;
slippage is how much worse the fill was, in basis points, positive = worse for us (a BUY
filled above the mid, a SELL below). Latencies are in milliseconds, per symbol, over the
last ``LatencyStats.size`` samples; percentiles use the nearest-rank method (the value at
rank ceil(p/100 * n)), so they are always a latency that was actually observed.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

BPS = Decimal(10_000)


def slippage_bps(side: str, reference: Decimal, fill_price: Decimal) -> Decimal:
    """Basis points the fill is worse than the reference (negative: better). Exact Decimal."""
    if reference <= 0:
        raise ValueError("the reference price must be positive")
    if side == "BUY":
        return (fill_price - reference) / reference * BPS
    if side == "SELL":
        return (reference - fill_price) / reference * BPS
    raise ValueError(f"bad side {side!r}")


def average_price(fills: Iterable[tuple[Decimal, Decimal]]) -> Decimal | None:
    """Quantity-weighted average of (price, quantity) fills; None without any quantity."""
    quote = qty = Decimal(0)
    for price, q in fills:
        quote += price * q
        qty += q
    return None if qty == 0 else quote / qty


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (0 < p <= 100) of ``values``; None when there are none."""
    if not 0 < p <= 100:
        raise ValueError("p must be in (0, 100]")
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LatencyStats:
    """Latency samples per (symbol, leg), e.g. ("BTCUSDT", "place_ack"), the newest
    ``size`` of each kept."""

    size: int = 500
    samples: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    ordered: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # the same, sorted

    def add(self, symbol: str, leg: str, ms: float) -> None:
        if ms < 0:
            return  # clocks of two machines: a negative latency says nothing
        key = (symbol, leg)
        if key not in self.samples:
            self.samples[key] = deque(maxlen=self.size)
        keep(self.samples[key], self.ordered.setdefault(key, []), ms)

    def percentile(self, symbol: str, leg: str, p: float) -> float | None:
        key = (symbol, leg)
        return rank(sorted_view(self.samples.get(key, ()), self.ordered.get(key)), p)

    def summary(
        self, symbol: str | None = None
    ) -> dict[str, dict[str, dict[str, float | int | None]]]:
        """symbol → leg → {count, p50, p95, p99, max}, for the status and the audit trail
        (of ``symbol`` alone, when given)."""
        out: dict[str, dict[str, dict[str, float | int | None]]] = {}
        for (name, leg), values in sorted(self.samples.items()):
            if symbol is None or name == symbol:
                ordered = sorted_view(values, self.ordered.get((name, leg)))
                out.setdefault(name, {})[leg] = _figures(ordered)
        return out


def keep(window: deque[float], ordered: list[float], value: float) -> None:
    """Append ``value`` to a bounded ``window`` and keep ``ordered`` (its values, sorted)
    in step: what the window drops leaves the sorted copy too."""
    if window.maxlen is not None and len(window) == window.maxlen and ordered:
        del ordered[bisect.bisect_left(ordered, window[0])]
    window.append(value)
    bisect.insort(ordered, value)


def sorted_view(window: Collection[float], ordered: list[float] | None) -> list[float]:
    """The window's values sorted: the copy kept in step, or sorted now if it is not."""
    if ordered is not None and len(ordered) == len(window):
        return ordered
    return sorted(window)


def rank(ordered: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of values already sorted (None when there are none)."""
    n = len(ordered)
    return ordered[max(1, math.ceil(p / 100 * n)) - 1] if n else None


def _figures(ordered: Sequence[float]) -> dict[str, float | int | None]:
    """{count, p50, p95, p99, max} of values already sorted (nearest rank)."""
    return {
        "count": len(ordered),
        "p50": rank(ordered, 50),
        "p95": rank(ordered, 95),
        "p99": rank(ordered, 99),
        "max": ordered[-1] if ordered else None,
    }


@dataclass(frozen=True, slots=True)
class ExecutionQuality:
    """One order's execution quality, as the audit trail records it."""

    client_order_id: str
    symbol: str
    side: str
    reference_price: Decimal
    fill_price: Decimal
    filled_qty: Decimal
    slippage_bps: Decimal
    place_to_ack_ms: float | None = None
    place_to_fill_ms: float | None = None

    def as_dict(self) -> dict[str, str | float | None]:
        return {
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "reference_price": str(self.reference_price),
            "fill_price": str(self.fill_price),
            "filled_qty": str(self.filled_qty),
            "slippage_bps": str(self.slippage_bps.quantize(Decimal("0.01"))),
            "place_to_ack_ms": self.place_to_ack_ms,
            "place_to_fill_ms": self.place_to_fill_ms,
        }


def execution_quality(
    *,
    client_order_id: str,
    symbol: str,
    side: str,
    reference_price: Decimal,
    fills: Sequence[tuple[Decimal, Decimal]],
    placed_ms: int | None = None,
    acked_ms: int | None = None,
    filled_ms: int | None = None,
) -> ExecutionQuality | None:
    """The quality of an order from its arrival price and its fills; None without fills."""
    price = average_price(fills)
    if price is None:
        return None

    def span(end: int | None) -> float | None:
        return None if placed_ms is None or end is None else float(end - placed_ms)

    return ExecutionQuality(
        client_order_id=client_order_id,
        symbol=symbol,
        side=side,
        reference_price=reference_price,
        fill_price=price,
        filled_qty=sum((q for _, q in fills), Decimal(0)),
        slippage_bps=slippage_bps(side, reference_price, price),
        place_to_ack_ms=span(acked_ms),
        place_to_fill_ms=span(filled_ms),
    )


@dataclass
class _Tracked:
    symbol: str
    side: str
    reference: Decimal | None  # the arrival mid, when there was one
    sent: float | None = None  # monotonic seconds, when the wire began the send
    first_fill_ms: float | None = None
    acked_ms: float | None = None
    answered: bool = False  # the send's own answer came (an event can overtake it)
    fills: list[tuple[Decimal, Decimal]] = field(default_factory=list)


@dataclass
class ExecutionTracker:
    """Execution quality of the orders this process placed: per order its arrival price,
    when it was sent, acknowledged and first filled, and its fills; per symbol the latency
    of place→ack and place→first fill and the slippage of recent fills. Pure: the caller
    stamps the times (monotonic seconds, so a wall-clock step cannot make a latency)."""

    size: int = 500
    latency: LatencyStats = field(default_factory=LatencyStats)
    slippage: dict[str, deque[float]] = field(default_factory=dict)
    slippage_ordered: dict[str, list[float]] = field(default_factory=dict)  # the same, sorted
    orders: dict[str, _Tracked] = field(default_factory=dict)

    def accepted(self, cid: str, symbol: str, side: str, reference: Decimal | None) -> None:
        self.orders[cid] = _Tracked(symbol, side, reference)

    def sent(self, cid: str, at: float) -> None:
        """Stamped by the wire thread right before the request goes out (one attribute
        write; the broker reads it only after an answer or a fill of the order)."""
        order = self.orders.get(cid)
        if order is not None:
            order.sent = at

    def answered(self, cid: str, at: float, *, acked: bool) -> float | None:
        """The send's answer came; returns the place→ack latency in ms for an
        acknowledgment (None otherwise, or when the send was not stamped)."""
        order = self.orders.get(cid)
        if order is None:
            return None
        order.answered = True
        if not acked or order.sent is None:
            return None
        order.acked_ms = (at - order.sent) * 1000
        self.latency.add(order.symbol, "place_ack", order.acked_ms)
        return order.acked_ms

    def settled(self, cid: str) -> bool:
        """Whether a finished order may be closed: its send was answered (or it is not
        tracked), so no latency of it is still to come."""
        order = self.orders.get(cid)
        return order is None or order.answered

    def fill(self, cid: str, price: Decimal, qty: Decimal, at: float) -> Decimal | None:
        """Account one fill of a tracked order; returns its slippage in bps against the
        arrival price (None when there was none, or the order is not tracked)."""
        order = self.orders.get(cid)
        if order is None:
            return None
        if not order.fills and order.sent is not None:
            order.first_fill_ms = max(0.0, (at - order.sent) * 1000)
            self.latency.add(order.symbol, "place_fill", order.first_fill_ms)
        order.fills.append((price, qty))
        if order.reference is None or order.reference <= 0:
            return None
        bps = slippage_bps(order.side, order.reference, price)
        window = self.slippage.setdefault(order.symbol, deque(maxlen=self.size))
        keep(window, self.slippage_ordered.setdefault(order.symbol, []), float(bps))
        return bps

    def finished(self, cid: str) -> ExecutionQuality | None:
        """The order is done: its quality record (None without fills or arrival price)."""
        order = self.orders.pop(cid, None)
        if order is None or order.reference is None or order.reference <= 0:
            return None
        price = average_price(order.fills)
        if price is None:
            return None
        return ExecutionQuality(
            client_order_id=cid,
            symbol=order.symbol,
            side=order.side,
            reference_price=order.reference,
            fill_price=price,
            filled_qty=sum((q for _, q in order.fills), Decimal(0)),
            slippage_bps=slippage_bps(order.side, order.reference, price),
            place_to_ack_ms=order.acked_ms,
            place_to_fill_ms=order.first_fill_ms,
        )

    def p95_ack_ms(self, symbol: str, min_samples: int = 1) -> float | None:
        """The symbol's place→ack p95; None below ``min_samples`` acks (one slow first
        order is not a trend)."""
        if len(self.latency.samples.get((symbol, "place_ack"), ())) < min_samples:
            return None
        return self.latency.percentile(symbol, "place_ack", 95)

    def summary(
        self, symbol: str | None = None
    ) -> dict[str, dict[str, dict[str, float | int | None]]]:
        """symbol → {place_ack, place_fill, slippage_bps} → {count, p50, p95, p99, max}
        (of ``symbol`` alone, when given: what an order's quality record carries)."""
        out = self.latency.summary(symbol)
        for name, values in sorted(self.slippage.items()):
            if symbol is None or name == symbol:
                ordered = sorted_view(values, self.slippage_ordered.get(name))
                out.setdefault(name, {})["slippage_bps"] = _figures(ordered)
        return out
