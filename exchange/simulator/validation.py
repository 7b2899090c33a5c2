"""A new order's parameters as Binance checks them before its filters.

Side, type and time in force (-1117, -1116, -1115), the parameters each order type needs
or must not have (-1102, -1106), and positive amounts (-1013); then the symbol filters of
:mod:`exchange.simulator.filters`. Nothing here changes any state. An order list checks
each of its orders here, naming the parameters as the list sends them
(``aboveTimeInForce``, ``pendingPrice``) through ``label``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from exchange.simulator.errors import ApiError, filter_failure, mandatory, not_required
from exchange.simulator.filters import check_filters
from exchange.simulator.market import Market
from exchange.simulator.model import ORDER_TYPES, PRICED_TYPES, STOP_TYPES, TIME_IN_FORCE

Label = Callable[[str], str]


def same_name(name: str) -> str:
    return name


def either(first: str, second: str) -> ApiError:
    """-1102: one of two parameters must be sent."""
    return ApiError(-1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!")


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
    trailing_delta: int | None = None,
    open_algo_orders: int = 0,
    label: Label = same_name,
) -> None:
    """Every check that happens before the matching engine (-11xx, -1013).

    ``open_orders`` and ``open_algo_orders`` count the account's open orders on the
    symbol, plus this request's other orders (an order list's)."""
    if side not in ("BUY", "SELL"):
        raise ApiError(-1117, "Invalid side.")
    if order_type not in ORDER_TYPES:
        raise ApiError(-1116, "Invalid orderType.")
    needs_tif = order_type in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
    if needs_tif and time_in_force is None:
        raise mandatory(label("timeInForce"))
    if time_in_force is not None:
        if time_in_force not in TIME_IN_FORCE:
            raise ApiError(-1115, "Invalid timeInForce.")
        if not needs_tif:
            raise not_required(label("timeInForce"))
    if order_type in PRICED_TYPES and price is None:
        raise mandatory(label("price"))
    if order_type not in PRICED_TYPES and price is not None:
        raise not_required(label("price"))
    if order_type in STOP_TYPES:
        if stop_price is None and trailing_delta is None:
            raise either(label("stopPrice"), label("trailingDelta"))
    else:
        if stop_price is not None:
            raise not_required(label("stopPrice"))
        if trailing_delta is not None:
            raise not_required(label("trailingDelta"))
    if quote_order_qty is not None:
        if order_type != "MARKET":
            raise not_required("quoteOrderQty")
        if quantity is not None:
            raise either("quantity", "quoteOrderQty")
        if quote_order_qty <= 0:
            raise ApiError(-1013, "Illegal quoteOrderQty.")
    elif quantity is None:
        if order_type == "MARKET":
            raise either(label("quantity"), "quoteOrderQty")
        raise mandatory(label("quantity"))
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
        trailing_delta=trailing_delta,
        open_algo_orders=open_algo_orders,
    )
