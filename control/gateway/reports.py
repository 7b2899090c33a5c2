"""Vigil's book as Binance shows it to a strategy: an ``OrdersQuery`` dict (or an
``"execution"`` event) as Binance's order JSON, trade JSON and ``executionReport``, and the
``"account"`` events as ``outboundAccountPosition`` / ``balanceUpdate``.

The strategy sees its own ids: ``clientOrderId`` is its ``strategy_order_id``; ``orderId``
is the exchange's. Amounts are Binance's fixed-point strings (8 places). Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

ZERO8 = "0.00000000"
#: the book's states as Binance's order status (in flight: Binance would say NEW)
STATUS = {
    "PENDING_NEW": "NEW",
    "UNKNOWN": "NEW",
    "NEW": "NEW",
    "PARTIALLY_FILLED": "PARTIALLY_FILLED",
    "FILLED": "FILLED",
    "CANCELED": "CANCELED",
    "REJECTED": "REJECTED",
    "EXPIRED": "EXPIRED",
}
OPEN_STATES = frozenset({"PENDING_NEW", "UNKNOWN", "NEW", "PARTIALLY_FILLED"})


def fmt(value: Any) -> str:
    """Binance's decimal string, eight places (None/"" → zero)."""
    if value is None or value == "":
        return ZERO8
    return f"{Decimal(str(value)):.8f}"


def _int(value: Any, default: int = 0) -> int:
    return default if value is None else int(value)


def list_id(order: Mapping[str, Any]) -> int:
    """The exchange's id of the order list the order is a leg of (-1: none, or not known)."""
    return _int(order.get("order_list_id"), -1)


def status(order: Mapping[str, Any]) -> str:
    return STATUS.get(str(order.get("state")), "NEW")


def order_json(order: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /api/v3/order``'s shape."""
    created = _int(order.get("created_ms"))
    updated = _int(order.get("updated_ms"), created)
    return {
        "symbol": order["symbol"],
        "orderId": _int(order.get("order_id"), -1),
        "orderListId": list_id(order),
        "clientOrderId": order.get("strategy_order_id") or order["client_order_id"],
        "price": fmt(order.get("price")),
        "origQty": fmt(order.get("quantity")),
        "executedQty": fmt(order.get("executed_qty")),
        "cummulativeQuoteQty": fmt(order.get("cumulative_quote")),
        "status": status(order),
        "timeInForce": order.get("time_in_force") or "GTC",
        "type": order["type"],
        "side": order["side"],
        "stopPrice": fmt(order.get("stop_price")),
        "icebergQty": ZERO8,
        "time": created,
        "updateTime": updated,
        "isWorking": status(order) in ("NEW", "PARTIALLY_FILLED"),
        "workingTime": created,
        "origQuoteOrderQty": ZERO8,
        "selfTradePreventionMode": "NONE",
    }


def fill_json(fill: Mapping[str, Any]) -> dict[str, Any]:
    """One fill as the FULL answer's ``fills`` entry."""
    return {
        "price": fmt(fill.get("price")),
        "qty": fmt(fill.get("qty")),
        "commission": fmt(fill.get("commission")),
        "commissionAsset": fill.get("commission_asset") or "",
        "tradeId": _int(fill.get("trade_id"), -1),
    }


def new_order_json(order: Mapping[str, Any], resp_type: str) -> dict[str, Any]:
    """``POST /api/v3/order``'s answer: ACK, RESULT or FULL."""
    created = _int(order.get("created_ms"))
    ack = {
        "symbol": order["symbol"],
        "orderId": _int(order.get("order_id"), -1),
        "orderListId": list_id(order),
        "clientOrderId": order.get("strategy_order_id") or order["client_order_id"],
        "transactTime": _int(order.get("updated_ms"), created),
    }
    if resp_type == "ACK":
        return ack
    full = order_json(order)
    result = {
        **ack,
        "price": full["price"],
        "origQty": full["origQty"],
        "executedQty": full["executedQty"],
        "origQuoteOrderQty": ZERO8,
        "cummulativeQuoteQty": full["cummulativeQuoteQty"],
        "status": full["status"],
        "timeInForce": full["timeInForce"],
        "type": full["type"],
        "side": full["side"],
    }
    if order.get("stop_price") is not None:  # a stop's answer shows its trigger
        result["stopPrice"] = full["stopPrice"]
    result["workingTime"] = created
    result["selfTradePreventionMode"] = "NONE"
    if resp_type == "FULL":
        result["fills"] = [fill_json(f) for f in order.get("fills") or []]
    return result


def trade_json(order: Mapping[str, Any], fill: Mapping[str, Any]) -> dict[str, Any]:
    """One ``GET /api/v3/myTrades`` entry."""
    return {
        "symbol": order["symbol"],
        "id": _int(fill.get("trade_id"), -1),
        "orderId": _int(order.get("order_id"), -1),
        "orderListId": list_id(order),
        "price": fmt(fill.get("price")),
        "qty": fmt(fill.get("qty")),
        "quoteQty": fmt(fill.get("quote_qty")),
        "commission": fmt(fill.get("commission")),
        "commissionAsset": fill.get("commission_asset") or "",
        "time": _int(fill.get("time_ms")),
        "isBuyer": bool(fill.get("is_buyer", order.get("side") == "BUY")),
        "isMaker": bool(fill.get("is_maker")),
        "isBestMatch": True,
    }


def execution_report(event: Mapping[str, Any], order_list_id: int = -1) -> dict[str, Any]:
    """An ``"execution"`` event as Binance's ``executionReport`` (``g``: the exchange's id of
    the order's list, -1 for none)."""
    created = _int(event.get("created_ms"))
    event_ms = _int(event.get("event_ms"), _int(event.get("updated_ms"), created))
    own_id = event.get("strategy_order_id") or event["client_order_id"]
    execution_type = str(event.get("execution_type") or "NEW")
    order_status = status(event)
    trade_id = event.get("trade_id")
    return {
        "e": "executionReport",
        "E": event_ms,
        "s": event["symbol"],
        "c": own_id,
        "S": event["side"],
        "o": event["type"],
        "f": event.get("time_in_force") or "GTC",
        "q": fmt(event.get("quantity")),
        "p": fmt(event.get("price")),
        "P": fmt(event.get("stop_price")),
        "F": ZERO8,
        "g": order_list_id,
        "C": own_id if execution_type == "CANCELED" else "",
        "x": execution_type,
        "X": order_status,
        "r": event.get("reject_reason") or "NONE",
        "i": _int(event.get("order_id"), -1),
        "l": fmt(event.get("last_qty")),
        "z": fmt(event.get("executed_qty")),
        "L": fmt(event.get("last_price")),
        "n": fmt(event.get("commission")),
        "N": event.get("commission_asset") or None,
        "T": event_ms,
        "t": -1 if trade_id is None else int(trade_id),
        "I": 0,
        "w": order_status in ("NEW", "PARTIALLY_FILLED"),
        "m": bool(event.get("is_maker")),
        "M": False,
        "O": created,
        "Z": fmt(event.get("cumulative_quote")),
        "Y": fmt(event.get("last_quote_qty")),
        "Q": ZERO8,
        "W": created,
        "V": "NONE",
    }


def account_event(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """An ``"account"`` event as Binance's ``outboundAccountPosition`` / ``balanceUpdate``."""
    kind = data.get("event")
    if kind == "outboundAccountPosition":
        return {
            "e": "outboundAccountPosition",
            "E": _int(data.get("event_ms")),
            "u": _int(data.get("update_ms"), _int(data.get("event_ms"))),
            "B": [
                {"a": b["asset"], "f": fmt(b.get("free")), "l": fmt(b.get("locked"))}
                for b in data.get("balances") or []
            ],
        }
    if kind == "balanceUpdate":
        return {
            "e": "balanceUpdate",
            "E": _int(data.get("event_ms")),
            "a": data["asset"],
            "d": fmt(data.get("delta")),
            "T": _int(data.get("clear_ms"), _int(data.get("event_ms"))),
        }
    return None


def list_status_event(found: Mapping[str, Any], event_ms: int) -> dict[str, Any]:
    """An order list (a ``ListsQuery`` dict) as Binance's ``listStatus`` event, with the
    strategy's own ids."""
    return {
        "e": "listStatus",
        "E": event_ms,
        "s": found["symbol"],
        "g": _int(found.get("order_list_id"), -1),
        "c": found.get("contingency_type") or "OCO",
        "l": found.get("list_status_type") or "EXEC_STARTED",
        "L": found.get("list_order_status") or "EXECUTING",
        "r": "NONE",
        "C": found.get("strategy_list_id") or found["list_client_order_id"],
        "T": _int(found.get("updated_ms"), event_ms),
        "O": [
            {
                "s": o["symbol"],
                "i": _int(o.get("order_id"), -1),
                "c": o.get("strategy_order_id") or o["client_order_id"],
            }
            for o in found.get("orders") or []
        ],
    }
