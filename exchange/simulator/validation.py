"""A new order's parameters as Binance checks them before its filters.

Side, type and time in force (-1117, -1116, -1115), the parameters each order type needs
or must not have (-1102, -1106), and positive amounts (-1013); then the symbol filters of
:mod:`exchange.simulator.filters`. Nothing here changes any state.
"""

from __future__ import annotations

from decimal import Decimal

from exchange.simulator.errors import ApiError, filter_failure, mandatory, not_required
from exchange.simulator.filters import check_filters
from exchange.simulator.market import Market
from exchange.simulator.model import ORDER_TYPES, STOP_TYPES, TIME_IN_FORCE


def check_new_order(
    market: Market,
    *,
    side: str,
    order_type: str,
    time_in_force: str | None,
    quantity: Decimal | None,
    quote_order_qty: Decimal | None,
    price: Decimal | None,
    stop_price: Decimal | None,
    open_orders: int,
) -> None:
    """Every check that happens before the matching engine (-11xx, -1013)."""
    if side not in ("BUY", "SELL"):
        raise ApiError(-1117, "Invalid side.")
    if order_type not in ORDER_TYPES:
        raise ApiError(-1116, "Invalid orderType.")
    needs_tif = order_type in ("LIMIT", *STOP_TYPES)
    if needs_tif and time_in_force is None:
        raise mandatory("timeInForce")
    if time_in_force is not None:
        if time_in_force not in TIME_IN_FORCE:
            raise ApiError(-1115, "Invalid timeInForce.")
        if not needs_tif:
            raise not_required("timeInForce")
    if order_type != "MARKET" and price is None:
        raise mandatory("price")
    if order_type == "MARKET" and price is not None:
        raise not_required("price")
    if order_type in STOP_TYPES and stop_price is None:
        raise mandatory("stopPrice")
    if order_type not in STOP_TYPES and stop_price is not None:
        raise not_required("stopPrice")
    if quote_order_qty is not None:
        if order_type != "MARKET":
            raise not_required("quoteOrderQty")
        if quantity is not None:
            raise ApiError(
                -1102,
                "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
            )
        if quote_order_qty <= 0:
            raise ApiError(-1013, "Illegal quoteOrderQty.")
    elif quantity is None:
        if order_type == "MARKET":
            raise ApiError(
                -1102,
                "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
            )
        raise mandatory("quantity")
    if quantity is not None and quantity <= 0:
        raise filter_failure("LOT_SIZE")
    for name, value in (("price", price), ("stopPrice", stop_price)):
        if value is not None and value <= 0:
            raise ApiError(-1013, f"Illegal {name}.")
    check_filters(
        market.rules,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        stop_price=stop_price,
        reference_price=market.mid,
        open_orders=open_orders,
    )
