"""Binance Spot symbol filters: parse exchangeInfo, write it back, quantize and pre-check orders.

Semantics follow Binance's ``filters.md``. ``check_order`` is shared by the simulator (which turns a
``FilterViolation`` into error -1013) and by the live adapter (as a pre-flight), so both reject
exactly the same orders. Quantizing rounds toward safety: a quantity is only ever floored, a BUY
price floored and a SELL price ceiled; anything else raises ``FilterViolation``.

Not modelled: ``avgPriceMins`` (callers pass the reference price they use) and the iceberg,
trailing-delta, algo-order and position filters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn, cast

from domain.money import (
    MoneyError,
    ceil_to_step,
    floor_to_step,
    format_decimal,
    is_multiple,
    multiply,
    to_decimal,
)

__all__ = [
    "ORDER_TYPES",
    "SIDES",
    "FilterParseError",
    "FilterViolation",
    "SymbolFilters",
    "check_order",
    "notional",
    "quantize_price",
    "quantize_quantity",
]

SIDES = frozenset({"BUY", "SELL"})
ORDER_TYPES = frozenset(
    {
        "LIMIT",
        "MARKET",
        "LIMIT_MAKER",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
    }
)
_PRICED_TYPES = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
_DECIMAL_FIELDS = (
    "min_price",
    "max_price",
    "tick_size",
    "min_qty",
    "max_qty",
    "step_size",
    "market_min_qty",
    "market_max_qty",
    "market_step_size",
    "min_notional",
    "max_notional",
    "bid_multiplier_up",
    "bid_multiplier_down",
    "ask_multiplier_up",
    "ask_multiplier_down",
)


class FilterParseError(ValueError):
    """An exchangeInfo symbol entry lacks a required filter or holds a malformed value."""

    def __init__(self, symbol: str, field: str, reason: str) -> None:
        super().__init__(symbol, field, reason)
        self.symbol = symbol
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.symbol}: invalid {self.field}: {self.reason}"


class FilterViolation(ValueError):
    """An order fails a symbol filter; ``str(exc)`` is Binance's -1013 message verbatim."""

    def __init__(self, filter_type: str, detail: str = "") -> None:
        super().__init__(filter_type, detail)
        self.filter_type = filter_type
        self.detail = detail

    def __str__(self) -> str:
        return f"Filter failure: {self.filter_type}"


@dataclass(frozen=True, slots=True)
class SymbolFilters:
    """The trading rules of one symbol. Amounts are finite Decimals >= 0; 0 disables a bound/step.

    ``notional_filter_type`` records which filter the notional bounds came from ("NOTIONAL" or
    "MIN_NOTIONAL"), ``percent_price_filter_type`` likewise ("PERCENT_PRICE_BY_SIDE" or
    "PERCENT_PRICE"); they name the failure and choose the shape written back. Left as None they
    are derived: NOTIONAL if ``max_notional`` is set else MIN_NOTIONAL; PERCENT_PRICE_BY_SIDE.
    Inconsistent combinations raise ``ValueError``.
    """

    symbol: str
    base_asset: str
    quote_asset: str
    min_price: Decimal
    max_price: Decimal
    tick_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal
    market_min_qty: Decimal
    market_max_qty: Decimal
    market_step_size: Decimal
    min_notional: Decimal | None = None
    max_notional: Decimal | None = None
    apply_min_to_market: bool = False
    apply_max_to_market: bool = False
    notional_filter_type: str | None = None
    bid_multiplier_up: Decimal | None = None
    bid_multiplier_down: Decimal | None = None
    ask_multiplier_up: Decimal | None = None
    ask_multiplier_down: Decimal | None = None
    percent_price_filter_type: str | None = None
    max_num_orders: int | None = None

    def __post_init__(self) -> None:
        for name in _DECIMAL_FIELDS:
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, Decimal) and value.is_finite() and value >= 0
            ):
                self._invalid(f"{name} must be a finite Decimal >= 0, got {value!r}")
        if self.max_num_orders is not None and (
            isinstance(self.max_num_orders, bool) or not isinstance(self.max_num_orders, int)
        ):
            self._invalid(f"max_num_orders must be an int, got {self.max_num_orders!r}")
        self._settle_notional()
        self._settle_percent_price()

    def _settle_notional(self) -> None:
        kind = self.notional_filter_type
        if kind is None and (self.min_notional is not None or self.max_notional is not None):
            kind = "NOTIONAL" if self.max_notional is not None else "MIN_NOTIONAL"
            object.__setattr__(self, "notional_filter_type", kind)
        has_min, has_max = self.min_notional is not None, self.max_notional is not None
        consistent = {
            None: not (has_min or has_max or self.apply_min_to_market or self.apply_max_to_market),
            "NOTIONAL": has_min and has_max,
            "MIN_NOTIONAL": has_min and not has_max and not self.apply_max_to_market,
        }
        if not consistent.get(kind, False):
            self._invalid(f"notional fields do not fit notional_filter_type={kind!r}")

    def _settle_percent_price(self) -> None:
        bid = (self.bid_multiplier_up, self.bid_multiplier_down)
        ask = (self.ask_multiplier_up, self.ask_multiplier_down)
        kind = self.percent_price_filter_type
        if kind is None and any(m is not None for m in bid + ask):
            kind = "PERCENT_PRICE_BY_SIDE"
            object.__setattr__(self, "percent_price_filter_type", kind)
        all_set = all(m is not None for m in bid + ask)
        consistent = {
            None: all(m is None for m in bid + ask),
            "PERCENT_PRICE_BY_SIDE": all_set,
            "PERCENT_PRICE": all_set and bid == ask,
        }
        if not consistent.get(kind, False):
            self._invalid(f"multipliers do not fit percent_price_filter_type={kind!r}")

    def _invalid(self, reason: str) -> NoReturn:
        raise ValueError(f"{self.symbol}: {reason}")

    @classmethod
    def from_exchange_info(cls, symbol_entry: Mapping[str, Any]) -> SymbolFilters:
        """Parse one element of exchangeInfo's ``symbols`` array, exactly as Binance sends it.

        PRICE_FILTER and LOT_SIZE are required; MARKET_LOT_SIZE defaults to LOT_SIZE; NOTIONAL
        wins over MIN_NOTIONAL and PERCENT_PRICE_BY_SIDE over PERCENT_PRICE when both appear.
        Unknown filter types are ignored. Anything missing or malformed raises
        ``FilterParseError`` naming the symbol and the field (e.g. "LOT_SIZE.stepSize").
        """
        symbol = symbol_entry.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise FilterParseError(
                "<unknown>", "symbol", f"expected a non-empty string: {symbol!r}"
            )
        p = _Parser(symbol)
        by_type = p.filters(symbol_entry)
        price, lot = p.required(by_type, "PRICE_FILTER"), p.required(by_type, "LOT_SIZE")
        market = by_type.get("MARKET_LOT_SIZE", lot)
        max_orders = by_type.get("MAX_NUM_ORDERS")
        return cls(
            symbol=symbol,
            base_asset=p.text(symbol_entry, "baseAsset"),
            quote_asset=p.text(symbol_entry, "quoteAsset"),
            min_price=p.decimal(price, "minPrice"),
            max_price=p.decimal(price, "maxPrice"),
            tick_size=p.decimal(price, "tickSize"),
            min_qty=p.decimal(lot, "minQty"),
            max_qty=p.decimal(lot, "maxQty"),
            step_size=p.decimal(lot, "stepSize"),
            market_min_qty=p.decimal(market, "minQty"),
            market_max_qty=p.decimal(market, "maxQty"),
            market_step_size=p.decimal(market, "stepSize"),
            **_parse_notional(p, by_type),
            **_parse_percent_price(p, by_type),
            max_num_orders=None if max_orders is None else p.count(max_orders, "maxNumOrders"),
        )

    def to_exchange_info_filters(self) -> list[dict[str, Any]]:
        """The inverse of ``from_exchange_info``: Binance's ``filters`` list for this symbol.

        Decimals are written with 8 decimals ("0.00100000"), flags and counts as JSON bools/ints,
        in Binance's usual order. MARKET_LOT_SIZE is always written; the notional and percent
        filters are written in the shape recorded by ``*_filter_type``; MAX_NUM_ORDERS when set.
        Raises ``MoneyError`` if a value has more than 8 significant decimals.
        """
        out: list[dict[str, Any]] = [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _fmt(self.min_price),
                "maxPrice": _fmt(self.max_price),
                "tickSize": _fmt(self.tick_size),
            },
            _lot_filter("LOT_SIZE", self.min_qty, self.max_qty, self.step_size),
            _lot_filter(
                "MARKET_LOT_SIZE", self.market_min_qty, self.market_max_qty, self.market_step_size
            ),
        ]
        if self.percent_price_filter_type == "PERCENT_PRICE":
            out.append(
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": _fmt(self.bid_multiplier_up),
                    "multiplierDown": _fmt(self.bid_multiplier_down),
                }
            )
        elif self.percent_price_filter_type == "PERCENT_PRICE_BY_SIDE":
            out.append(
                {
                    "filterType": "PERCENT_PRICE_BY_SIDE",
                    "bidMultiplierUp": _fmt(self.bid_multiplier_up),
                    "bidMultiplierDown": _fmt(self.bid_multiplier_down),
                    "askMultiplierUp": _fmt(self.ask_multiplier_up),
                    "askMultiplierDown": _fmt(self.ask_multiplier_down),
                }
            )
        if self.notional_filter_type == "NOTIONAL":
            out.append(
                {
                    "filterType": "NOTIONAL",
                    "minNotional": _fmt(self.min_notional),
                    "applyMinToMarket": self.apply_min_to_market,
                    "maxNotional": _fmt(self.max_notional),
                    "applyMaxToMarket": self.apply_max_to_market,
                }
            )
        elif self.notional_filter_type == "MIN_NOTIONAL":
            out.append(
                {
                    "filterType": "MIN_NOTIONAL",
                    "minNotional": _fmt(self.min_notional),
                    "applyToMarket": self.apply_min_to_market,
                }
            )
        if self.max_num_orders is not None:
            out.append({"filterType": "MAX_NUM_ORDERS", "maxNumOrders": self.max_num_orders})
        return out


# --- parsing -------------------------------------------------------------------------------------


class _Parser:
    """Typed field readers that raise ``FilterParseError`` for one symbol."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def fail(self, field: str, reason: str) -> NoReturn:
        raise FilterParseError(self.symbol, field, reason)

    def text(self, entry: Mapping[str, Any], key: str) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value:
            self.fail(key, f"expected a non-empty string, got {value!r}")
        return value

    def filters(self, entry: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
        raw = entry.get("filters")
        if not isinstance(raw, list | tuple):
            self.fail("filters", f"expected a list, got {type(raw).__name__}")
        by_type: dict[str, Mapping[str, Any]] = {}
        for item in raw:
            kind = item.get("filterType") if isinstance(item, Mapping) else None
            if not isinstance(kind, str):
                self.fail("filters", f"entry without a filterType: {item!r}")
            if kind in by_type:
                self.fail("filters", f"duplicate {kind}")
            by_type[kind] = item
        return by_type

    def required(self, by_type: Mapping[str, Mapping[str, Any]], kind: str) -> Mapping[str, Any]:
        if kind not in by_type:
            self.fail(kind, "filter is missing")
        return by_type[kind]

    def decimal(self, flt: Mapping[str, Any], key: str) -> Decimal:
        field = f"{flt['filterType']}.{key}"
        if key not in flt:
            self.fail(field, "missing")
        try:
            value = to_decimal(flt[key], field)
        except MoneyError:
            self.fail(field, f"expected a decimal string, got {flt[key]!r}")
        if value < 0:
            self.fail(field, f"must be >= 0, got {flt[key]!r}")
        return value

    def flag(self, flt: Mapping[str, Any], key: str) -> bool:
        value = flt.get(key)
        if not isinstance(value, bool):
            self.fail(f"{flt['filterType']}.{key}", f"expected a boolean, got {value!r}")
        return value

    def count(self, flt: Mapping[str, Any], key: str) -> int:
        value = flt.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(f"{flt['filterType']}.{key}", f"expected an int >= 0, got {value!r}")
        return value


def _parse_notional(p: _Parser, by_type: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    if (flt := by_type.get("NOTIONAL")) is not None:
        return {
            "notional_filter_type": "NOTIONAL",
            "min_notional": p.decimal(flt, "minNotional"),
            "max_notional": p.decimal(flt, "maxNotional"),
            "apply_min_to_market": p.flag(flt, "applyMinToMarket"),
            "apply_max_to_market": p.flag(flt, "applyMaxToMarket"),
        }
    if (flt := by_type.get("MIN_NOTIONAL")) is not None:
        return {
            "notional_filter_type": "MIN_NOTIONAL",
            "min_notional": p.decimal(flt, "minNotional"),
            "apply_min_to_market": p.flag(flt, "applyToMarket"),
        }
    return {}


def _parse_percent_price(p: _Parser, by_type: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    if (flt := by_type.get("PERCENT_PRICE_BY_SIDE")) is not None:
        return {
            "percent_price_filter_type": "PERCENT_PRICE_BY_SIDE",
            "bid_multiplier_up": p.decimal(flt, "bidMultiplierUp"),
            "bid_multiplier_down": p.decimal(flt, "bidMultiplierDown"),
            "ask_multiplier_up": p.decimal(flt, "askMultiplierUp"),
            "ask_multiplier_down": p.decimal(flt, "askMultiplierDown"),
        }
    if (flt := by_type.get("PERCENT_PRICE")) is not None:
        up, down = p.decimal(flt, "multiplierUp"), p.decimal(flt, "multiplierDown")
        return {
            "percent_price_filter_type": "PERCENT_PRICE",
            "bid_multiplier_up": up,
            "bid_multiplier_down": down,
            "ask_multiplier_up": up,
            "ask_multiplier_down": down,
        }
    return {}


def _fmt(value: Decimal | None) -> str:
    if value is None:  # pragma: no cover - excluded by SymbolFilters.__post_init__
        raise MoneyError("cannot write a missing value")
    return format_decimal(value, 8)


def _lot_filter(kind: str, min_qty: Decimal, max_qty: Decimal, step: Decimal) -> dict[str, Any]:
    return {
        "filterType": kind,
        "minQty": _fmt(min_qty),
        "maxQty": _fmt(max_qty),
        "stepSize": _fmt(step),
    }


# --- arithmetic ----------------------------------------------------------------------------------


def notional(price: Decimal, qty: Decimal) -> Decimal:
    """Exact ``price * qty`` (``MoneyError`` if not exactly representable)."""
    return multiply(price, qty)


def quantize_quantity(qty: Decimal, f: SymbolFilters, *, market: bool = False) -> Decimal:
    """Floor ``qty`` onto the lot step so it passes LOT_SIZE (and MARKET_LOT_SIZE if ``market``).

    Never returns more than ``qty``. For market orders the step is the least common multiple of
    both steps, since Binance applies both filters. If the floored quantity is still below a
    minimum or above a maximum, raises ``FilterViolation`` rather than resizing the order.
    Negative ``qty`` raises ``MoneyError``.
    """
    step = _common_step(f.step_size, f.market_step_size) if market else f.step_size
    result = floor_to_step(qty, step)
    _check_lot(result, f.min_qty, f.max_qty, f.step_size, "LOT_SIZE")
    if market:
        _check_lot(
            result, f.market_min_qty, f.market_max_qty, f.market_step_size, "MARKET_LOT_SIZE"
        )
    return result


def quantize_price(price: Decimal, f: SymbolFilters, side: str) -> Decimal:
    """Put ``price`` on the tick without hurting the caller: BUY floors, SELL ceils.

    Raises ``FilterViolation("PRICE_FILTER")`` if the result is outside [minPrice, maxPrice],
    ``ValueError`` for an unknown side and ``MoneyError`` for a negative price.
    """
    if side == "BUY":
        result = floor_to_step(price, f.tick_size)
    elif side == "SELL":
        result = ceil_to_step(price, f.tick_size)
    else:
        raise ValueError(f"side must be BUY or SELL, got {side!r}")
    _check_price(f, result, "price")
    return result


def _common_step(a: Decimal, b: Decimal) -> Decimal:
    """Smallest positive multiple of both steps (a step of 0 imposes nothing)."""
    if a.is_zero() or b.is_zero():
        return b if a.is_zero() else a
    ta, tb = a.as_tuple(), b.as_tuple()
    ea, eb = cast(int, ta.exponent), cast(int, tb.exponent)  # finite, per SymbolFilters
    e = min(ea, eb)
    units_a = int("".join(map(str, ta.digits))) * 10 ** (ea - e)
    units_b = int("".join(map(str, tb.digits))) * 10 ** (eb - e)
    return Decimal(f"{math.lcm(units_a, units_b)}E{e}")


# --- checking ------------------------------------------------------------------------------------


def check_order(
    f: SymbolFilters,
    *,
    side: str,
    order_type: str,
    quantity: Decimal | None,
    price: Decimal | None,
    stop_price: Decimal | None = None,
    reference_price: Decimal | None = None,
    open_orders: int = 0,
) -> None:
    """Raise ``FilterViolation`` for the first filter the order fails, as Binance would.

    Order of checks: PRICE_FILTER (price, then stopPrice), PERCENT_PRICE[_BY_SIDE] (priced orders,
    when ``reference_price`` is given), LOT_SIZE, MARKET_LOT_SIZE (MARKET only), NOTIONAL or
    MIN_NOTIONAL, MAX_NUM_ORDERS (``open_orders + 1`` may not exceed the limit). Notional is
    ``price * quantity``, or ``stopPrice * quantity`` for a stop order without a price; a MARKET
    order uses ``reference_price`` and only the bounds flagged ``apply*ToMarket`` (skipped when no
    reference is given). ``quantity=None`` (a quoteOrderQty MARKET order) skips the quantity and
    notional checks. Zero or negative quantities and prices fail their filter. Malformed requests
    (unknown side or type, missing quantity, missing price on a priced type) raise ``ValueError``.
    """
    if side not in SIDES:
        raise ValueError(f"side must be BUY or SELL, got {side!r}")
    if order_type not in ORDER_TYPES:
        raise ValueError(f"unknown order type {order_type!r}")
    if quantity is None and order_type != "MARKET":
        raise ValueError(f"{order_type} order needs a quantity")
    if price is None and order_type in _PRICED_TYPES:
        raise ValueError(f"{order_type} order needs a price")

    for name, value in (("price", price), ("stopPrice", stop_price)):
        if value is not None:
            _check_price(f, value, name)
    if price is not None and reference_price is not None:
        _check_percent_price(f, side, price, reference_price)
    if quantity is not None:
        _check_lot(quantity, f.min_qty, f.max_qty, f.step_size, "LOT_SIZE")
        if order_type == "MARKET":
            _check_lot(
                quantity, f.market_min_qty, f.market_max_qty, f.market_step_size, "MARKET_LOT_SIZE"
            )
        _check_notional(f, order_type, quantity, price, stop_price, reference_price)
    if f.max_num_orders is not None and open_orders + 1 > f.max_num_orders:
        raise FilterViolation("MAX_NUM_ORDERS", f"{open_orders} open, limit {f.max_num_orders}")


def _check_price(f: SymbolFilters, price: Decimal, name: str) -> None:
    if price <= 0:
        raise FilterViolation("PRICE_FILTER", f"{name} {price} must be positive")
    if f.min_price and price < f.min_price:
        raise FilterViolation("PRICE_FILTER", f"{name} {price} below minPrice {f.min_price}")
    if f.max_price and price > f.max_price:
        raise FilterViolation("PRICE_FILTER", f"{name} {price} above maxPrice {f.max_price}")
    if not is_multiple(price, f.tick_size):
        raise FilterViolation("PRICE_FILTER", f"{name} {price} not on tickSize {f.tick_size}")


def _check_percent_price(f: SymbolFilters, side: str, price: Decimal, reference: Decimal) -> None:
    if side == "BUY":
        up, down = f.bid_multiplier_up, f.bid_multiplier_down
    else:
        up, down = f.ask_multiplier_up, f.ask_multiplier_down
    if f.percent_price_filter_type is None or up is None or down is None:
        return
    low, high = multiply(reference, down), multiply(reference, up)
    if not low <= price <= high:
        raise FilterViolation(
            f.percent_price_filter_type, f"{side} price {price} outside [{low}, {high}]"
        )


def _check_lot(qty: Decimal, min_qty: Decimal, max_qty: Decimal, step: Decimal, kind: str) -> None:
    if qty <= 0:
        raise FilterViolation(kind, f"quantity {qty} must be positive")
    if qty < min_qty:
        raise FilterViolation(kind, f"quantity {qty} below minQty {min_qty}")
    if max_qty and qty > max_qty:
        raise FilterViolation(kind, f"quantity {qty} above maxQty {max_qty}")
    if not is_multiple(qty, step):
        raise FilterViolation(kind, f"quantity {qty} not on stepSize {step}")


def _check_notional(
    f: SymbolFilters,
    order_type: str,
    quantity: Decimal,
    price: Decimal | None,
    stop_price: Decimal | None,
    reference_price: Decimal | None,
) -> None:
    kind = f.notional_filter_type
    if kind is None:
        return
    if order_type == "MARKET":
        basis, check_min, check_max = reference_price, f.apply_min_to_market, f.apply_max_to_market
    else:
        basis, check_min, check_max = price if price is not None else stop_price, True, True
    if basis is None:
        return
    value = notional(basis, quantity)
    if check_min and f.min_notional is not None and value < f.min_notional:
        raise FilterViolation(kind, f"notional {value} below minNotional {f.min_notional}")
    if check_max and f.max_notional is not None and value > f.max_notional:
        raise FilterViolation(kind, f"notional {value} above maxNotional {f.max_notional}")
