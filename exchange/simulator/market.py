"""One symbol's market: the seeded random-walk price process and the synthetic book.

The mid moves in whole ticks by a Gaussian step of ``volatility_ticks``; the book is
``depth_levels`` levels each side of it, and what takers consume from a level comes back
at the next step. Deterministic for a given seed; no I/O, no clock.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from exchange.simulator.config import SymbolSpec
from exchange.simulator.filters import SymbolRules
from exchange.simulator.model import ZERO

HISTORY = 100_000  # samples of the mid kept per symbol (klines, ticker/24hr)


@dataclass
class Market:
    """One symbol: the seeded price process and a synthetic book around the mid."""

    spec: SymbolSpec
    rules: SymbolRules
    rng: random.Random
    depth_levels: int
    mid_ticks: int = 0
    update_id: int = 1
    consumed: dict[tuple[str, int], Decimal] = field(default_factory=dict)
    next_order_id: int = 1
    next_trade_id: int = 1
    slippage_ticks: int = 0
    #: the price process's path, (time ms, mid) after each step: what klines are made of
    history: deque[tuple[int, Decimal]] = field(default_factory=lambda: deque(maxlen=HISTORY))

    def record(self, at_ms: int) -> None:
        """Remember the mid at ``at_ms`` (one sample per step of the price process)."""
        self.history.append((at_ms, self.mid))

    @property
    def tick(self) -> Decimal:
        return self.spec.tick_size

    @property
    def mid(self) -> Decimal:
        return self.tick * self.mid_ticks

    def step(self) -> None:
        """One step of the price process; the book's consumed liquidity refills."""
        move = round(self.rng.gauss(0.0, float(self.spec.volatility_ticks)))
        min_ticks = self.spec.spread_ticks + self.depth_levels * self.spec.level_gap_ticks + 1
        self.mid_ticks = max(min_ticks, self.mid_ticks + move)
        self.consumed.clear()
        self.update_id += 1

    def set_mid(self, price: Decimal) -> None:
        self.mid_ticks = int((price / self.tick).to_integral_value())
        self.consumed.clear()
        self.update_id += 1

    def best(self, side: str) -> Decimal:
        """Best bid (side BUY) or best ask (side SELL) of the synthetic book."""
        levels = self.levels("SELL" if side == "BUY" else "BUY")
        return levels[0][0] if levels else ZERO

    def levels(self, taker_side: str) -> list[tuple[Decimal, Decimal]]:
        """The book levels a taker on ``taker_side`` would hit, best first: (price, qty left)."""
        spread = self.spec.spread_ticks
        gap = self.spec.level_gap_ticks
        best_ask = self.mid_ticks + (spread + 1) // 2
        best_bid = best_ask - spread
        out: list[tuple[Decimal, Decimal]] = []
        for i in range(self.depth_levels):
            # a BUY taker hits the asks (above the mid), a SELL taker the bids
            ticks = best_ask + i * gap if taker_side == "BUY" else best_bid - i * gap
            if ticks < 1:
                break
            qty = self.spec.level_qty * (1 + i)
            left = qty - self.consumed.get((taker_side, ticks), ZERO)
            if left > 0:
                out.append((self.tick * ticks, left))
        return out

    def consume(self, taker_side: str, price: Decimal, qty: Decimal) -> None:
        key = (taker_side, int(price / self.tick))
        self.consumed[key] = self.consumed.get(key, ZERO) + qty

    def slipped(self, side: str, price: Decimal) -> Decimal:
        """Fill price after an armed slippage fault (worse for the taker)."""
        if not self.slippage_ticks:
            return price
        delta = self.tick * self.slippage_ticks
        return price + delta if side == "BUY" else max(self.tick, price - delta)

    def crosses(self, side: str, price: Decimal) -> bool:
        """Would a limit order at ``price`` take liquidity at once?"""
        if side == "BUY":
            asks = self.levels("BUY")
            return bool(asks) and price >= asks[0][0]
        bids = self.levels("SELL")
        return bool(bids) and price <= bids[0][0]

    def stop_triggered(self, side: str, order_type: str, stop: Decimal) -> bool:
        """Has the mid reached a stop order's ``stop``?"""
        # STOP_LOSS: BUY above market, SELL below; TAKE_PROFIT: the opposite.
        above = (order_type == "STOP_LOSS_LIMIT") == (side == "BUY")
        return self.mid >= stop if above else self.mid <= stop

    def walk_cost(self, side: str, qty: Decimal) -> Decimal:
        """What taking ``qty`` from the book on ``side`` would cost, level by level."""
        cost = ZERO
        for price, available in self.levels(side):
            take = min(qty, available)
            cost += take * self.slipped(side, price)
            qty -= take
            if qty <= 0:
                break
        return cost

    def quantity_for_quote(self, side: str, budget: Decimal) -> Decimal:
        """quoteOrderQty: the largest stepSize quantity whose cost on the book fits ``budget``."""
        step = self.spec.step_size
        qty = ZERO
        for price, available in self.levels(side):
            px = self.slipped(side, price)
            affordable = (budget / px).quantize(step, rounding=ROUND_DOWN)
            take = min(available, affordable)
            qty += take
            budget -= take * px
            if take < available:
                break
        return qty.quantize(step, rounding=ROUND_DOWN)
