"""Binance Spot symbol filters: parse exchangeInfo, write it back, quantize and pre-check orders.

Semantics follow Binance's ``filters.md``. ``check_order`` is used by the policy guard and by the
live adapter's pre-flight. The exchange simulator does not use it: it implements the filters on
its own, from ``filters.md``, so that the exchange the tests judge Vigil against does not run
Vigil's code. Quantizing rounds toward safety: a quantity is only ever floored, a BUY price
floored and a SELL price ceiled; anything else raises ``FilterViolation``.

Not modelled: ``avgPriceMins`` (callers pass the reference price they use) and the iceberg,
trailing-delta, algo-order and position filters.

- ``_symbol``: ``SymbolFilters`` (the rules of one symbol), its errors, ``SIDES``/``ORDER_TYPES``;
- ``_exchange_info``: exchangeInfo's ``symbols`` entry into ``SymbolFilters``, and back;
- ``_check``: ``check_order``, the single-filter checks and ``notional``;
- ``_quantize``: ``quantize_quantity`` and ``quantize_price``.
"""

from __future__ import annotations

from domain.filters._check import check_order, notional
from domain.filters._quantize import quantize_price, quantize_quantity
from domain.filters._symbol import (
    ORDER_TYPES,
    SIDES,
    FilterParseError,
    FilterViolation,
    SymbolFilters,
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
