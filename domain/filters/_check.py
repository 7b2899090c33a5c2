"""Pre-checking an order against a symbol's filters, as Binance would: ``check_order``.

Also the single-filter checks ``_quantize`` reuses to vouch for what it rounds, and ``notional``,
the value the NOTIONAL and MIN_NOTIONAL filters bound (it lives here, not with the rounding, so
that imports run one way: ``_quantize`` -> ``_check``).
"""

from __future__ import annotations

from decimal import Decimal

from domain.filters._symbol import ORDER_TYPES, SIDES, FilterViolation, SymbolFilters
from domain.money import is_multiple, multiply

_PRICED_TYPES = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})


def notional(price: Decimal, qty: Decimal) -> Decimal:
    """Exact ``price * qty`` (``MoneyError`` if not exactly representable)."""
    return multiply(price, qty)


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
            check_price(f, value, name)
    if price is not None and reference_price is not None:
        _check_percent_price(f, side, price, reference_price)
    if quantity is not None:
        check_lot(quantity, f.min_qty, f.max_qty, f.step_size, "LOT_SIZE")
        if order_type == "MARKET":
            check_lot(
                quantity, f.market_min_qty, f.market_max_qty, f.market_step_size, "MARKET_LOT_SIZE"
            )
        _check_notional(f, order_type, quantity, price, stop_price, reference_price)
    if f.max_num_orders is not None and open_orders + 1 > f.max_num_orders:
        raise FilterViolation("MAX_NUM_ORDERS", f"{open_orders} open, limit {f.max_num_orders}")


def check_price(f: SymbolFilters, price: Decimal, name: str) -> None:
    """PRICE_FILTER for one price field (``name`` is "price" or "stopPrice")."""
    if price <= 0:
        raise FilterViolation("PRICE_FILTER", f"{name} {price} must be positive")
    if f.min_price and price < f.min_price:
        raise FilterViolation("PRICE_FILTER", f"{name} {price} below minPrice {f.min_price}")
    if f.max_price and price > f.max_price:
        raise FilterViolation("PRICE_FILTER", f"{name} {price} above maxPrice {f.max_price}")
    if not is_multiple(price, f.tick_size):
        raise FilterViolation("PRICE_FILTER", f"{name} {price} not on tickSize {f.tick_size}")


def check_lot(qty: Decimal, min_qty: Decimal, max_qty: Decimal, step: Decimal, kind: str) -> None:
    """LOT_SIZE or MARKET_LOT_SIZE (``kind``) with the given bounds and step."""
    if qty <= 0:
        raise FilterViolation(kind, f"quantity {qty} must be positive")
    if qty < min_qty:
        raise FilterViolation(kind, f"quantity {qty} below minQty {min_qty}")
    if max_qty and qty > max_qty:
        raise FilterViolation(kind, f"quantity {qty} above maxQty {max_qty}")
    if not is_multiple(qty, step):
        raise FilterViolation(kind, f"quantity {qty} not on stepSize {step}")


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
