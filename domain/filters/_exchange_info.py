"""Binance's exchangeInfo wire format: one ``symbols`` entry into ``SymbolFilters``, and back.

The bodies of ``SymbolFilters.from_exchange_info`` and ``.to_exchange_info_filters`` (documented
there); every malformed field becomes a ``FilterParseError`` naming the symbol and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NoReturn

from domain.filters._symbol import FilterParseError, SymbolFilters
from domain.money import MoneyError, format_decimal, to_decimal


def parse_symbol_entry(cls: type[SymbolFilters], symbol_entry: Mapping[str, Any]) -> SymbolFilters:
    """Build ``cls`` from one exchangeInfo ``symbols`` element (see ``from_exchange_info``)."""
    symbol = symbol_entry.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise FilterParseError("<unknown>", "symbol", f"expected a non-empty string: {symbol!r}")
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


def write_filters(f: SymbolFilters) -> list[dict[str, Any]]:
    """Binance's ``filters`` list for ``f`` (see ``SymbolFilters.to_exchange_info_filters``)."""
    out: list[dict[str, Any]] = [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": _fmt(f.min_price),
            "maxPrice": _fmt(f.max_price),
            "tickSize": _fmt(f.tick_size),
        },
        _lot_filter("LOT_SIZE", f.min_qty, f.max_qty, f.step_size),
        _lot_filter("MARKET_LOT_SIZE", f.market_min_qty, f.market_max_qty, f.market_step_size),
    ]
    if f.percent_price_filter_type == "PERCENT_PRICE":
        out.append(
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": _fmt(f.bid_multiplier_up),
                "multiplierDown": _fmt(f.bid_multiplier_down),
            }
        )
    elif f.percent_price_filter_type == "PERCENT_PRICE_BY_SIDE":
        out.append(
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": _fmt(f.bid_multiplier_up),
                "bidMultiplierDown": _fmt(f.bid_multiplier_down),
                "askMultiplierUp": _fmt(f.ask_multiplier_up),
                "askMultiplierDown": _fmt(f.ask_multiplier_down),
            }
        )
    if f.notional_filter_type == "NOTIONAL":
        out.append(
            {
                "filterType": "NOTIONAL",
                "minNotional": _fmt(f.min_notional),
                "applyMinToMarket": f.apply_min_to_market,
                "maxNotional": _fmt(f.max_notional),
                "applyMaxToMarket": f.apply_max_to_market,
            }
        )
    elif f.notional_filter_type == "MIN_NOTIONAL":
        out.append(
            {
                "filterType": "MIN_NOTIONAL",
                "minNotional": _fmt(f.min_notional),
                "applyToMarket": f.apply_min_to_market,
            }
        )
    if f.max_num_orders is not None:
        out.append({"filterType": "MAX_NUM_ORDERS", "maxNumOrders": f.max_num_orders})
    return out


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
