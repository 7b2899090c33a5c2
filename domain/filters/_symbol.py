"""``SymbolFilters``, the trading rules of one symbol as an immutable value, with its two errors.

Also the request vocabulary the rules are judged against (``SIDES``, ``ORDER_TYPES``). Reading and
writing exchangeInfo lives in ``_exchange_info``; the methods here delegate to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

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
        from domain.filters._exchange_info import parse_symbol_entry  # _exchange_info imports us

        return parse_symbol_entry(cls, symbol_entry)

    def to_exchange_info_filters(self) -> list[dict[str, Any]]:
        """The inverse of ``from_exchange_info``: Binance's ``filters`` list for this symbol.

        Decimals are written with 8 decimals ("0.00100000"), flags and counts as JSON bools/ints,
        in Binance's usual order. MARKET_LOT_SIZE is always written; the notional and percent
        filters are written in the shape recorded by ``*_filter_type``; MAX_NUM_ORDERS when set.
        Raises ``MoneyError`` if a value has more than 8 significant decimals.
        """
        from domain.filters._exchange_info import write_filters  # _exchange_info imports us

        return write_filters(self)
