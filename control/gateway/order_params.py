"""A new order's parameters as Binance checks them before anything else: side (-1117), type
(-1116), time in force (-1115, -1102, -1106), price and quantity present or absent as the
type wants (-1102, -1106), positive (-1013), the symbol one Vigil trades (-1121), and the
parameters Vigil does not support (-1020: quoteOrderQty, stop, iceberg, trailing and
pegged orders). Pure: the result is a :class:`NewOrder` or an :class:`ApiError`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from exchange.protocol.errors import ApiError, bad_symbol, mandatory, not_required
from exchange.protocol.params import Params

ORDER_TYPES = frozenset(
    {
        "LIMIT",
        "MARKET",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
        "LIMIT_MAKER",
    }
)
SUPPORTED_TYPES = ORDER_TYPES  # every type the broker guards (stops included)
STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
PRICED = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
WITH_TIF = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
TIME_IN_FORCE = frozenset({"GTC", "IOC", "FOK"})
RESP_TYPES = frozenset({"ACK", "RESULT", "FULL"})
UNSUPPORTED = (
    "quoteOrderQty",
    "icebergQty",
    "pegPriceType",
    "pegOffsetValue",
    "pegOffsetType",
)
IGNORED = ("strategyId", "strategyType")  # Binance's own tags: read, not used
STP_MODES = frozenset({"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"})
T = TypeVar("T")


def unsupported(what: str) -> ApiError:
    return ApiError(-1020, f"This operation is not supported. (Vigil: {what})")


@dataclass(frozen=True, slots=True)
class NewOrder:
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None
    time_in_force: str | None
    client_order_id: str | None
    resp_type: str
    stop_price: Decimal | None = None
    trailing_delta: int | None = None


def read_new_order(params: Params, symbols: Collection[str]) -> NewOrder:
    """Every check of ``POST /api/v3/order`` (and ``/order/test``) before Vigil's guard."""
    symbol = params.require("symbol")
    side = params.require("side")
    order_type = params.require("type")
    if symbol not in symbols:
        raise bad_symbol()
    if side not in ("BUY", "SELL"):
        raise ApiError(-1117, "Invalid side.")
    if order_type not in ORDER_TYPES:
        raise ApiError(-1116, "Invalid orderType.")
    if order_type not in SUPPORTED_TYPES:
        raise unsupported(f"{order_type} orders")
    for name in UNSUPPORTED:
        if params.get(name) is not None:
            raise unsupported(f"parameter '{name}'")
    for name in IGNORED:
        params.get(name)
    stp = params.get("selfTradePreventionMode")
    if stp is not None and stp not in STP_MODES:
        raise ApiError(-1100, "Illegal characters found in parameter 'selfTradePreventionMode'.")
    tif = params.get("timeInForce")
    if order_type in WITH_TIF and tif is None:
        raise mandatory("timeInForce")
    if tif is not None:
        if tif not in TIME_IN_FORCE:
            raise ApiError(-1115, "Invalid timeInForce.")
        if order_type not in WITH_TIF:
            raise not_required("timeInForce")
    price = params.decimal("price")
    if order_type not in PRICED and price is not None:
        raise not_required("price")
    if order_type in PRICED and price is None:
        raise mandatory("price")
    stop_price, trailing = read_trigger(params, order_type)
    quantity = params.decimal("quantity")
    if quantity is None:
        if order_type == "MARKET":
            raise ApiError(
                -1102,
                "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
            )
        raise mandatory("quantity")
    if quantity <= 0:
        raise ApiError(-1013, "Filter failure: LOT_SIZE")
    if price is not None and price <= 0:
        raise ApiError(-1013, "Illegal price.")
    client_id = params.client_id("newClientOrderId")
    resp = params.get("newOrderRespType")
    if resp is None:
        resp = "FULL" if order_type in ("LIMIT", "MARKET") else "ACK"
    if resp not in RESP_TYPES:
        raise ApiError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
    return NewOrder(
        symbol=symbol,
        side=side,
        type=order_type,
        quantity=quantity,
        price=price,
        time_in_force=tif,
        client_order_id=client_id,
        resp_type=resp,
        stop_price=stop_price,
        trailing_delta=trailing,
    )


def read_trigger(params: Params, order_type: str) -> tuple[Decimal | None, int | None]:
    """A stop's ``stopPrice`` / ``trailingDelta`` (one of them mandatory for a stop type,
    neither allowed otherwise)."""
    stop_price = params.decimal("stopPrice")
    trailing = params.integer("trailingDelta")
    if order_type in STOP_TYPES:
        if stop_price is None and trailing is None:
            raise ApiError(
                -1102,
                "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!",
            )
    else:
        if stop_price is not None:
            raise not_required("stopPrice")
        if trailing is not None:
            raise not_required("trailingDelta")
    if stop_price is not None and stop_price <= 0:
        raise ApiError(-1013, "Stop price is invalid.")
    if trailing is not None and trailing <= 0:
        raise ApiError(-2010, "Invalid trailingDelta.")
    return stop_price, trailing


def order_ref(params: Params) -> tuple[str, str | None, int | None]:
    """``symbol`` and ``origClientOrderId`` or ``orderId`` (one of them mandatory)."""
    symbol = params.require("symbol")
    own_id = params.client_id("origClientOrderId")
    order_id = params.integer("orderId")
    if own_id is None and order_id is None:
        raise ApiError(
            -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        )
    return symbol, own_id, order_id


def page(items: list[T], limit: int, *, from_start: bool) -> list[T]:
    """A history answer's ``limit`` items, oldest first, as Binance picks them: the oldest
    from the starting point (``orderId`` / ``fromId`` / ``startTime`` given), otherwise the
    most recent (rest-api.md, "General API Information")."""
    return items[:limit] if from_start else items[-limit:]


def limit_param(params: Params, default: int = 500, maximum: int = 1000) -> int:
    limit = params.integer("limit")
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise ApiError(
            -1100, f"Illegal characters found in parameter 'limit'; legal range is '1-{maximum}'."
        )
    return limit
