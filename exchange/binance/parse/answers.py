"""Binance Spot REST answers to contract types: orders (status, ack, cancel, cancel-replace),
trades, the account's balances, the order book, the server time and the key's restrictions.

Strict (see ``reader``); unknown extra fields are ignored (Binance adds fields without notice).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchange.binance.parse.reader import Reader, as_list, build, list_id, tif
from exchange.contract import (
    ApiRestrictions,
    Balance,
    CancelAck,
    Fill,
    OrderAck,
    OrderBookDepth,
    OrderStatus,
    ReplaceAck,
    Trade,
)

__all__ = [
    "api_restrictions",
    "balances",
    "cancel_ack",
    "depth",
    "order_ack",
    "order_status",
    "order_statuses",
    "replace_ack",
    "server_time",
    "trade",
    "trades",
]


#: permissions every apiRestrictions answer carries (Binance's documented example)
_RESTRICTION_FLAGS = (
    "ipRestrict",
    "enableReading",
    "enableSpotAndMarginTrading",
    "enableWithdrawals",
    "enableInternalTransfer",
    "permitsUniversalTransfer",
    "enableMargin",
    "enableFutures",
    "enableVanillaOptions",
)
#: permissions Binance added later: absent means not granted
_OPTIONAL_RESTRICTION_FLAGS = (
    "enablePortfolioMarginTrading",
    "enableFixApiTrade",
    "enableFixReadOnly",
)


def api_restrictions(data: object) -> ApiRestrictions:
    """``GET /sapi/v1/account/apiRestrictions``: every documented permission a boolean."""
    r = Reader(data, "apiRestrictions")
    fields: dict[str, Any] = {_snake(k): r.flag(k) for k in _RESTRICTION_FLAGS}
    for key in _OPTIONAL_RESTRICTION_FLAGS:
        if r.data.get(key) is not None:
            fields[_snake(key)] = r.flag(key)
    fields["create_time"] = r.opt_integer("createTime")
    fields["trading_authority_expiration_time"] = r.opt_integer("tradingAuthorityExpirationTime")
    return build(ApiRestrictions, "apiRestrictions", **fields)  # type: ignore[no-any-return]


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def server_time(data: object) -> int:
    return Reader(data, "time").integer("serverTime")


def order_status(data: object) -> OrderStatus:
    r = Reader(data, "order")
    stop = r.opt_amount("stopPrice")
    return build(  # type: ignore[no-any-return]
        OrderStatus,
        "order",
        symbol=r.text("symbol"),
        order_id=r.integer("orderId"),
        client_order_id=r.text("clientOrderId"),
        side=r.text("side"),
        type=r.text("type"),
        state=r.text("status"),
        price=r.amount("price"),
        orig_qty=r.amount("origQty"),
        executed_qty=r.amount("executedQty"),
        cumulative_quote_qty=r.amount("cummulativeQuoteQty"),
        stop_price=stop if stop else None,
        time_in_force=tif(r.opt_text("timeInForce"), r.text("type")),
        time_ms=r.opt_integer("time") or r.opt_integer("transactTime"),
        update_time_ms=r.opt_integer("updateTime"),
        order_list_id=list_id(r.opt_integer("orderListId")),
        trailing_delta=r.opt_integer("trailingDelta"),
    )


def order_ack(data: object) -> OrderAck:
    r = Reader(data, "newOrder")
    fills = tuple(_fill(item, i) for i, item in enumerate(r.data.get("fills") or []))
    state = r.opt_text("status")
    return build(  # type: ignore[no-any-return]
        OrderAck,
        "newOrder",
        symbol=r.text("symbol"),
        order_id=r.integer("orderId"),
        client_order_id=r.text("clientOrderId"),
        transact_time_ms=r.integer("transactTime"),
        state=state,
        executed_qty=r.opt_amount("executedQty"),
        cumulative_quote_qty=r.opt_amount("cummulativeQuoteQty"),
        fills=fills,
    )


def _fill(data: object, index: int) -> Fill:
    r = Reader(data, f"newOrder.fills[{index}]")
    return build(  # type: ignore[no-any-return]
        Fill,
        r.what,
        trade_id=r.integer("tradeId"),
        price=r.amount("price"),
        qty=r.amount("qty"),
        commission=r.amount("commission"),
        commission_asset=r.opt_text("commissionAsset"),
    )


def cancel_ack(data: object) -> CancelAck:
    r = Reader(data, "cancel")
    return build(  # type: ignore[no-any-return]
        CancelAck,
        "cancel",
        symbol=r.text("symbol"),
        order_id=r.integer("orderId"),
        orig_client_order_id=r.text("origClientOrderId"),
        client_order_id=r.text("clientOrderId"),
        state=r.text("status"),
        executed_qty=r.amount("executedQty"),
    )


def replace_ack(data: object) -> ReplaceAck:
    """A cancel-replace whose halves both succeeded."""
    r = Reader(data, "cancelReplace")
    if r.text("cancelResult") != "SUCCESS" or r.text("newOrderResult") != "SUCCESS":
        raise r.fail("cancelResult", "a 200 answer with a failed half")
    return build(  # type: ignore[no-any-return]
        ReplaceAck,
        "cancelReplace",
        cancel=cancel_ack(r.raw("cancelResponse")),
        new_order=order_ack(r.raw("newOrderResponse")),
    )


def trade(data: object) -> Trade:
    r = Reader(data, "trade")
    return build(  # type: ignore[no-any-return]
        Trade,
        "trade",
        symbol=r.text("symbol"),
        trade_id=r.integer("id"),
        order_id=r.integer("orderId"),
        price=r.amount("price"),
        qty=r.amount("qty"),
        quote_qty=r.amount("quoteQty"),
        commission=r.amount("commission"),
        commission_asset=r.text("commissionAsset"),
        time_ms=r.integer("time"),
        is_buyer=r.flag("isBuyer"),
        is_maker=r.flag("isMaker"),
    )


def depth(data: object, symbol: str) -> OrderBookDepth:
    r = Reader(data, "depth")

    def side(key: str) -> tuple[tuple[Decimal, Decimal], ...]:
        levels = []
        for i, level in enumerate(r.items(key)):
            if not (isinstance(level, list) and len(level) >= 2):
                raise r.fail(f"{key}[{i}]", "expected [price, quantity]")
            price = Reader({"price": level[0], "qty": level[1]}, f"depth.{key}[{i}]")
            levels.append((price.amount("price"), price.amount("qty")))
        return tuple(levels)

    return build(  # type: ignore[no-any-return]
        OrderBookDepth,
        "depth",
        symbol=symbol,
        update_id=r.integer("lastUpdateId"),
        bids=side("bids"),
        asks=side("asks"),
    )


def balances(account: object) -> dict[str, Balance]:
    r = Reader(account, "account")
    out: dict[str, Balance] = {}
    for i, item in enumerate(r.items("balances")):
        b = Reader(item, f"account.balances[{i}]")
        asset = b.text("asset")
        out[asset] = build(
            Balance, b.what, asset=asset, free=b.amount("free"), locked=b.amount("locked")
        )
    return out


def order_statuses(data: object) -> list[OrderStatus]:
    """A list of orders (``openOrders``, ``allOrders``)."""
    return [order_status(item) for item in as_list(data)]


def trades(data: object) -> list[Trade]:
    """A page of ``myTrades``."""
    return [trade(item) for item in as_list(data)]
