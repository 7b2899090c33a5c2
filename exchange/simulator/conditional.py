"""When a conditional order triggers: stop prices and trailing stops, against the mid.

``STOP_LOSS`` BUY and ``TAKE_PROFIT`` SELL wait above the market, ``STOP_LOSS`` SELL and
``TAKE_PROFIT`` BUY below it (rest-api.md, "Trigger order price rules"); the ``_LIMIT``
variants alike. A trailing stop (``trailingDelta``, in BIPS) tracks the lowest (BUY) or
highest (SELL) price once it is tracking, and triggers when the price has come back by
the delta from it; with a ``stopPrice`` it starts tracking only once that price is
reached, without one it tracks from placement (Binance's trailing stop FAQ). The
simulator's last price is its mid. Pure: no clock, no I/O.
"""

from __future__ import annotations

from decimal import Decimal

from exchange.simulator.model import ZERO, SimOrder

BIPS = Decimal(10_000)


def waits_above(order_type: str, side: str) -> bool:
    """Does this conditional order wait for the price to rise to its stop price?"""
    return order_type.startswith("STOP_LOSS") == (side == "BUY")


def stop_reached(order_type: str, side: str, stop: Decimal, price: Decimal) -> bool:
    """Has ``price`` reached the stop price (at or beyond it, on the order's side)?"""
    return price >= stop if waits_above(order_type, side) else price <= stop


def start_tracking(order: SimOrder, price: Decimal, now: int) -> None:
    """A trailing stop begins tracking at ``price``."""
    order.trailing_time = now
    order.trail_extreme = price


def triggers(order: SimOrder, price: Decimal, now: int) -> bool:
    """Advance a waiting conditional order by one price; True when it triggers now."""
    if order.trailing_delta is None:
        return stop_reached(order.type, order.side, order.stop_price, price)
    if order.trailing_time == -1 or order.trail_extreme is None:
        if order.stop_price > ZERO and stop_reached(
            order.type, order.side, order.stop_price, price
        ):
            start_tracking(order, price, now)
        return False
    delta = Decimal(order.trailing_delta) / BIPS
    if order.side == "SELL":
        order.trail_extreme = max(order.trail_extreme, price)
        return price <= order.trail_extreme * (1 - delta)
    order.trail_extreme = min(order.trail_extreme, price)
    return price >= order.trail_extreme * (1 + delta)
