"""Adapter-level quantizing: an ``OrderRequest`` onto a symbol's filters, and Decimals to wire text.

Thin wrappers over ``domain.filters``; they never round against the caller (quantities floor,
BUY prices floor, SELL prices ceil) and raise ``FilterViolation`` rather than resize an order
that cannot pass. Whether to quantize is the caller's decision: ``place_order`` only checks.
"""

from __future__ import annotations

import re
from decimal import Decimal

from domain.filters import SymbolFilters, quantize_price, quantize_quantity
from exchange.contract import OrderRequest, OrderType

__all__ = ["quantize_request", "wire_decimal"]

#: what Binance accepts for a decimal parameter
WIRE_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")


def wire_decimal(value: Decimal) -> str:
    """Plain positional text ("0.001", never "1E-3"); ValueError if Binance would refuse it."""
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a sendable amount: {value}")
    text = format(value, "f")
    if not WIRE_DECIMAL.fullmatch(text):
        raise ValueError(f"not a sendable amount: {text}")
    return text


def quantize_request(request: OrderRequest, filters: SymbolFilters) -> OrderRequest:
    """``request`` with quantity, price and stop price put on the symbol's steps and ticks."""
    if request.symbol != filters.symbol:
        raise ValueError(f"filters of {filters.symbol} for an order on {request.symbol}")
    changes: dict[str, Decimal] = {}
    if request.quantity is not None:
        changes["quantity"] = quantize_quantity(
            request.quantity, filters, market=request.type is OrderType.MARKET
        )
    if request.price is not None:
        changes["price"] = quantize_price(request.price, filters, request.side.value)
    if request.stop_price is not None:
        changes["stop_price"] = quantize_price(request.stop_price, filters, request.side.value)
    return request.model_copy(update=changes) if changes else request
