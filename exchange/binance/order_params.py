"""Request parameters of Binance Spot's order endpoints, built from contract requests: a new
order, a cancel-replace, an order list (OCO / OTO / OTOCO, leg by leg) and the references
naming an order or a list. Pure functions: no I/O, nothing decided beyond the wire format.
"""

from __future__ import annotations

from decimal import Decimal

from exchange.binance.quantize import wire_decimal
from exchange.contract import ListType, OrderListRequest, OrderRequest, is_valid_client_order_id

__all__ = [
    "cancel_replace_params",
    "checked_id",
    "leg_params",
    "list_query_params",
    "list_ref",
    "order_list_params",
    "order_params",
    "order_ref",
]


def order_params(request: OrderRequest) -> dict[str, str]:
    """``POST /api/v3/order``: one order, full answer asked."""
    params: dict[str, str] = {
        "symbol": request.symbol,
        "side": request.side.value,
        "type": request.type.value,
        "newClientOrderId": request.client_order_id,
        "newOrderRespType": "FULL",
    }
    if request.quantity is not None:
        params["quantity"] = wire_decimal(request.quantity)
    if request.quote_order_qty is not None:
        params["quoteOrderQty"] = wire_decimal(request.quote_order_qty)
    if request.price is not None:
        params["price"] = wire_decimal(request.price)
    if request.stop_price is not None:
        params["stopPrice"] = wire_decimal(request.stop_price)
    if request.trailing_delta is not None:
        params["trailingDelta"] = str(request.trailing_delta)
    if request.time_in_force is not None:
        params["timeInForce"] = request.time_in_force.value
    return params


def cancel_replace_params(request: OrderRequest, cancel_client_order_id: str) -> dict[str, str]:
    """``POST /api/v3/order/cancelReplace``: cancel ``cancel_client_order_id`` and place
    ``request``, mode STOP_ON_FAILURE."""
    params = order_params(request)
    params["cancelReplaceMode"] = "STOP_ON_FAILURE"
    params["cancelOrigClientOrderId"] = checked_id(cancel_client_order_id)
    return params


def order_list_params(request: OrderListRequest) -> tuple[str, dict[str, str]]:
    """The endpoint name (``new_oco``, ``new_oto`` or ``new_otoco``) and parameters of a list."""
    params = {"symbol": request.symbol, "listClientOrderId": request.list_client_order_id}
    params["newOrderRespType"] = "FULL"
    if request.list_type is ListType.OCO:
        assert request.above is not None and request.below is not None
        params["side"] = request.above.side.value
        params["quantity"] = wire_decimal(request.above.quantity or Decimal(0))
        params.update(leg_params("above", request.above, shared=True))
        params.update(leg_params("below", request.below, shared=True))
        return "new_oco", params
    if request.list_type is ListType.OTO:
        assert request.working is not None and request.pending is not None
        params.update(leg_params("working", request.working, shared=False))
        params.update(leg_params("pending", request.pending, shared=False))
        return "new_oto", params
    assert request.working is not None
    assert request.above is not None and request.below is not None
    params.update(leg_params("working", request.working, shared=False))
    params["pendingSide"] = request.above.side.value
    params["pendingQuantity"] = wire_decimal(request.above.quantity or Decimal(0))
    params.update(leg_params("pendingAbove", request.above, shared=True))
    params.update(leg_params("pendingBelow", request.below, shared=True))
    return "new_otoco", params


def leg_params(prefix: str, order: OrderRequest, *, shared: bool) -> dict[str, str]:
    """One order of a list as ``{prefix}Type``, ``{prefix}Price``...; ``shared``: its side
    and quantity are the list's (an OCO pair), else its own."""
    params = {f"{prefix}Type": order.type.value, f"{prefix}ClientOrderId": order.client_order_id}
    if not shared:
        params[f"{prefix}Side"] = order.side.value
        params[f"{prefix}Quantity"] = wire_decimal(order.quantity or Decimal(0))
    if order.price is not None:
        params[f"{prefix}Price"] = wire_decimal(order.price)
    if order.stop_price is not None:
        params[f"{prefix}StopPrice"] = wire_decimal(order.stop_price)
    if order.trailing_delta is not None:
        params[f"{prefix}TrailingDelta"] = str(order.trailing_delta)
    if order.time_in_force is not None:
        params[f"{prefix}TimeInForce"] = order.time_in_force.value
    return params


def order_ref(symbol: str, client_order_id: str | None, order_id: int | None) -> dict[str, str]:
    """One order of ``symbol`` by its client id and/or its order id (at least one)."""
    if client_order_id is None and order_id is None:
        raise ValueError("client_order_id or order_id is required")
    params = {"symbol": symbol}
    if client_order_id is not None:
        params["origClientOrderId"] = checked_id(client_order_id)
    if order_id is not None:
        params["orderId"] = str(int(order_id))
    return params


def list_ref(
    symbol: str, list_client_order_id: str | None, order_list_id: int | None
) -> dict[str, str]:
    """One order list of ``symbol`` (``DELETE /api/v3/orderList``), by either id."""
    if list_client_order_id is None and order_list_id is None:
        raise ValueError("list_client_order_id or order_list_id is required")
    params = {"symbol": symbol}
    if list_client_order_id is not None:
        params["listClientOrderId"] = checked_id(list_client_order_id)
    if order_list_id is not None:
        params["orderListId"] = str(int(order_list_id))
    return params


def list_query_params(
    symbol: str, list_client_order_id: str | None, order_list_id: int | None
) -> dict[str, str]:
    """``GET /api/v3/orderList``: takes no symbol, and names the list's client id
    origClientOrderId."""
    params = list_ref(symbol, list_client_order_id, order_list_id)
    del params["symbol"]
    if "listClientOrderId" in params:
        params["origClientOrderId"] = params.pop("listClientOrderId")
    return params


def checked_id(value: str) -> str:
    if not is_valid_client_order_id(value):
        raise ValueError(f"invalid client order id {value!r}")
    return value
