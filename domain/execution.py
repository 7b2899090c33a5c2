"""Execution quality as pure arithmetic: slippage against the arrival price, and latency
percentiles per symbol.

The *arrival* (reference) price is the mid the order path saw when it accepted the intent;
slippage is how much worse the fill was, in basis points, positive = worse for us (a BUY
filled above the mid, a SELL below). Latencies are in milliseconds, per symbol, over the
last ``LatencyStats.size`` samples; percentiles use the nearest-rank method (the value at
rank ceil(p/100 * n)), so they are always a latency that was actually observed.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
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

    def add(self, symbol: str, leg: str, ms: float) -> None:
        if ms < 0:
            return  # clocks of two machines: a negative latency says nothing
        key = (symbol, leg)
        if key not in self.samples:
            self.samples[key] = deque(maxlen=self.size)
        self.samples[key].append(ms)

    def percentile(self, symbol: str, leg: str, p: float) -> float | None:
        return percentile(list(self.samples.get((symbol, leg), ())), p)

    def summary(self) -> dict[str, dict[str, dict[str, float | int | None]]]:
        """symbol → leg → {count, p50, p95, p99, max}, for the status and the audit trail."""
        out: dict[str, dict[str, dict[str, float | int | None]]] = {}
        for (symbol, leg), values in sorted(self.samples.items()):
            data = list(values)
            out.setdefault(symbol, {})[leg] = {
                "count": len(data),
                "p50": percentile(data, 50),
                "p95": percentile(data, 95),
                "p99": percentile(data, 99),
                "max": max(data) if data else None,
            }
        return out


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
