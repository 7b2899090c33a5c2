"""The symbol filters as the simulated exchange enforces them, from Binance's ``filters.md``.

The rules are read back from the very ``filters`` array the exchange publishes in
``exchangeInfo``, so what a client is told is what it is judged by. A failing order gets
``-1013 "Filter failure: <FILTER>"`` as Binance words it. This is the exchange's own
implementation, on purpose independent of any client-side filter code.

Checked, in this order: PRICE_FILTER (``price``, then ``stopPrice``), PERCENT_PRICE /
PERCENT_PRICE_BY_SIDE (``price`` against the reference price, here the mid), LOT_SIZE,
MARKET_LOT_SIZE (MARKET orders), NOTIONAL / MIN_NOTIONAL, TRAILING_DELTA (trailing stops),
MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS (conditional orders); MAX_NUM_ORDER_LISTS for a new
order list. A bound or a step of 0 disables that rule. Arithmetic is exact ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from typing import Any

from exchange.simulator.errors import filter_failure

#: the conditional ("algo") order types MAX_NUM_ALGO_ORDERS counts
ALGO_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")

#: enough digits that no product or remainder of request values is ever rounded
EXACT = Context(prec=100)


@dataclass(frozen=True)
class Lot:
    """LOT_SIZE or MARKET_LOT_SIZE: minQty, maxQty, stepSize."""

    min_qty: Decimal
    max_qty: Decimal
    step: Decimal


@dataclass(frozen=True)
class SymbolRules:
    """One symbol's filters. ``None`` where the symbol has no such filter."""

    min_price: Decimal
    max_price: Decimal
    tick_size: Decimal
    lot: Lot
    market_lot: Lot | None = None
    notional_type: str | None = None  # "NOTIONAL" or "MIN_NOTIONAL"
    min_notional: Decimal | None = None
    max_notional: Decimal | None = None
    apply_min_to_market: bool = False
    apply_max_to_market: bool = False
    percent_type: str | None = None  # "PERCENT_PRICE_BY_SIDE" or "PERCENT_PRICE"
    bid_up: Decimal | None = None
    bid_down: Decimal | None = None
    ask_up: Decimal | None = None
    ask_down: Decimal | None = None
    max_num_orders: int | None = None
    max_num_algo_orders: int | None = None
    max_num_order_lists: int | None = None
    #: TRAILING_DELTA: (min, max) BIPS for stops above the market, and for those below
    trailing_above: tuple[int, int] | None = None
    trailing_below: tuple[int, int] | None = None

    @classmethod
    def from_filters(cls, filters: Sequence[Mapping[str, Any]]) -> SymbolRules:
        """Parse an exchangeInfo ``filters`` array (PRICE_FILTER and LOT_SIZE required)."""
        by_type = {str(f["filterType"]): f for f in filters}

        def dec(f: Mapping[str, Any], key: str) -> Decimal:
            return Decimal(str(f[key]))

        def lot(f: Mapping[str, Any]) -> Lot:
            return Lot(dec(f, "minQty"), dec(f, "maxQty"), dec(f, "stepSize"))

        price = by_type["PRICE_FILTER"]
        fields: dict[str, Any] = {
            "min_price": dec(price, "minPrice"),
            "max_price": dec(price, "maxPrice"),
            "tick_size": dec(price, "tickSize"),
            "lot": lot(by_type["LOT_SIZE"]),
        }
        if "MARKET_LOT_SIZE" in by_type:
            fields["market_lot"] = lot(by_type["MARKET_LOT_SIZE"])
        if (f := by_type.get("NOTIONAL")) is not None:
            fields |= {
                "notional_type": "NOTIONAL",
                "min_notional": dec(f, "minNotional"),
                "max_notional": dec(f, "maxNotional"),
                "apply_min_to_market": bool(f["applyMinToMarket"]),
                "apply_max_to_market": bool(f["applyMaxToMarket"]),
            }
        elif (f := by_type.get("MIN_NOTIONAL")) is not None:
            fields |= {
                "notional_type": "MIN_NOTIONAL",
                "min_notional": dec(f, "minNotional"),
                "apply_min_to_market": bool(f["applyToMarket"]),
            }
        if (f := by_type.get("PERCENT_PRICE_BY_SIDE")) is not None:
            fields |= {
                "percent_type": "PERCENT_PRICE_BY_SIDE",
                "bid_up": dec(f, "bidMultiplierUp"),
                "bid_down": dec(f, "bidMultiplierDown"),
                "ask_up": dec(f, "askMultiplierUp"),
                "ask_down": dec(f, "askMultiplierDown"),
            }
        elif (f := by_type.get("PERCENT_PRICE")) is not None:
            up, down = dec(f, "multiplierUp"), dec(f, "multiplierDown")
            fields |= {
                "percent_type": "PERCENT_PRICE",
                "bid_up": up,
                "bid_down": down,
                "ask_up": up,
                "ask_down": down,
            }
        if (f := by_type.get("MAX_NUM_ORDERS")) is not None:
            fields["max_num_orders"] = int(f["maxNumOrders"])
        if (f := by_type.get("MAX_NUM_ALGO_ORDERS")) is not None:
            fields["max_num_algo_orders"] = int(f["maxNumAlgoOrders"])
        if (f := by_type.get("MAX_NUM_ORDER_LISTS")) is not None:
            fields["max_num_order_lists"] = int(f["maxNumOrderLists"])
        if (f := by_type.get("TRAILING_DELTA")) is not None:
            fields["trailing_above"] = (
                int(f["minTrailingAboveDelta"]),
                int(f["maxTrailingAboveDelta"]),
            )
            fields["trailing_below"] = (
                int(f["minTrailingBelowDelta"]),
                int(f["maxTrailingBelowDelta"]),
            )
        return cls(**fields)


def check_filters(
    rules: SymbolRules,
    *,
    side: str,
    order_type: str,
    quantity: Decimal | None,
    price: Decimal | None,
    stop_price: Decimal | None,
    reference_price: Decimal,
    open_orders: int,
    trailing_delta: int | None = None,
    open_algo_orders: int = 0,
) -> None:
    """Raise -1013 ``Filter failure: X`` for the first filter the new order fails.

    ``quantity`` is None for a MARKET order sized by ``quoteOrderQty``: its quantity and
    notional are then settled by the matching engine. ``open_orders`` (``open_algo_orders``)
    is the account's number of open (conditional) orders on the symbol before this one.
    """
    with localcontext(EXACT):
        for value in (price, stop_price):
            if value is not None:
                _price_filter(rules, value)
        if price is not None:
            _percent_price(rules, side, price, reference_price)
        if quantity is not None:
            _lot_size(rules.lot, quantity, "LOT_SIZE")
            if order_type == "MARKET" and rules.market_lot is not None:
                _lot_size(rules.market_lot, quantity, "MARKET_LOT_SIZE")
            _notional(rules, order_type, quantity, price, stop_price, reference_price)
        if trailing_delta is not None:
            _trailing_delta(rules, side, order_type, trailing_delta)
        if rules.max_num_orders is not None and open_orders + 1 > rules.max_num_orders:
            raise filter_failure("MAX_NUM_ORDERS")
        algo = order_type in ALGO_TYPES
        if algo and rules.max_num_algo_orders is not None:
            if open_algo_orders + 1 > rules.max_num_algo_orders:
                raise filter_failure("MAX_NUM_ALGO_ORDERS")


def check_order_lists(rules: SymbolRules, open_lists: int) -> None:
    """MAX_NUM_ORDER_LISTS: the account's open order lists on the symbol, plus the new one
    (an OTOCO counts as one list)."""
    if rules.max_num_order_lists is not None and open_lists + 1 > rules.max_num_order_lists:
        raise filter_failure("MAX_NUM_ORDER_LISTS")


def _trailing_delta(rules: SymbolRules, side: str, order_type: str, delta: int) -> None:
    """STOP_LOSS BUY and TAKE_PROFIT SELL use the "above" range, the others the "below"."""
    above = order_type.startswith("STOP_LOSS") == (side == "BUY")
    bounds = rules.trailing_above if above else rules.trailing_below
    if delta <= 0 or (bounds is not None and not bounds[0] <= delta <= bounds[1]):
        raise filter_failure("TRAILING_DELTA")


def _on_step(value: Decimal, step: Decimal) -> bool:
    return step == 0 or value % step == 0


def _price_filter(rules: SymbolRules, price: Decimal) -> None:
    """price >= minPrice, price <= maxPrice, price % tickSize == 0 (each off when 0)."""
    if (
        price <= 0
        or (rules.min_price and price < rules.min_price)
        or (rules.max_price and price > rules.max_price)
        or not _on_step(price, rules.tick_size)
    ):
        raise filter_failure("PRICE_FILTER")


def _percent_price(rules: SymbolRules, side: str, price: Decimal, reference: Decimal) -> None:
    """BUY: reference * bidMultiplierDown <= price <= reference * bidMultiplierUp (ask: SELL)."""
    if rules.percent_type is None:
        return
    up, down = (rules.bid_up, rules.bid_down) if side == "BUY" else (rules.ask_up, rules.ask_down)
    if up is None or down is None:
        return
    if not reference * down <= price <= reference * up:
        raise filter_failure(rules.percent_type)


def _lot_size(lot: Lot, quantity: Decimal, filter_type: str) -> None:
    """quantity >= minQty, quantity <= maxQty (off when 0), quantity % stepSize == 0."""
    if (
        quantity <= 0
        or quantity < lot.min_qty
        or (lot.max_qty and quantity > lot.max_qty)
        or not _on_step(quantity, lot.step)
    ):
        raise filter_failure(filter_type)


def _notional(
    rules: SymbolRules,
    order_type: str,
    quantity: Decimal,
    price: Decimal | None,
    stop_price: Decimal | None,
    reference: Decimal,
) -> None:
    """minNotional <= price * quantity <= maxNotional; MARKET orders use the reference price
    and only the bounds their ``apply*ToMarket`` flags turn on."""
    if rules.notional_type is None:
        return
    basis: Decimal | None = reference
    check_min, check_max = rules.apply_min_to_market, rules.apply_max_to_market
    if order_type != "MARKET":
        basis, check_min, check_max = price if price is not None else stop_price, True, True
    if basis is None:
        return
    value = basis * quantity
    too_low = check_min and rules.min_notional is not None and value < rules.min_notional
    too_high = check_max and rules.max_notional is not None and value > rules.max_notional
    if too_low or too_high:
        raise filter_failure(rules.notional_type)
