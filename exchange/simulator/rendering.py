"""Binance's JSON shapes of the exchange's records.

Orders (query, new-order ACK/RESULT/FULL and cancel shapes), order lists, trades and
fills, the user data events (``executionReport``, ``listStatus``,
``outboundAccountPosition``, ``balanceUpdate``), the account and a book ticker, each
rendered from plain records with no state of its own.
Decimals are written as Binance writes them: fixed point, eight places.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from exchange.simulator.market import Market
from exchange.simulator.model import (
    STOP_TYPES,
    ZERO,
    Balance,
    SimOrder,
    SimOrderList,
    SimTrade,
)


def fmt(value: Decimal) -> str:
    """Binance's decimal string: fixed point, eight places."""
    return f"{value:.8f}"


# ---------------------------------------------------------------------------- orders


def order_json(order: SimOrder, *, query: bool = True) -> dict[str, Any]:
    """The order as the REST API shows it (query shape, or new-order RESULT shape)."""
    out: dict[str, Any] = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id,
        "price": fmt(order.price),
        "origQty": fmt(order.orig_qty),
        "executedQty": fmt(order.executed_qty),
        "origQuoteOrderQty": fmt(order.orig_quote_qty),
        "cummulativeQuoteQty": fmt(order.cum_quote),
        "status": order.status,
        "timeInForce": order.time_in_force,
        "type": order.type,
        "side": order.side,
    }
    if query:
        out["stopPrice"] = fmt(order.stop_price)
        out["icebergQty"] = fmt(ZERO)
        out["time"] = order.time
        out["updateTime"] = order.update_time
        out["isWorking"] = order.is_working
    elif order.type in STOP_TYPES:
        out["stopPrice"] = fmt(order.stop_price)
    if order.trailing_delta is not None:  # trailing stops only (rest-api.md)
        out["trailingDelta"] = order.trailing_delta
        out["trailingTime"] = order.trailing_time
    out["workingTime"] = order.working_time
    out["selfTradePreventionMode"] = "NONE"
    if order.expiry_reason is not None:
        out["expiryReason"] = order.expiry_reason
    return out


def order_response(order: SimOrder, trades: list[SimTrade], resp_type: str) -> dict[str, Any]:
    """``POST /api/v3/order``'s answer for ``newOrderRespType`` ACK, RESULT or FULL."""
    ack = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id,
        "transactTime": order.time,
    }
    if resp_type == "ACK":
        return ack
    result = order_json(order, query=False)
    result.pop("clientOrderId")
    body = {**ack, **{k: v for k, v in result.items() if k not in ack}}
    if resp_type == "FULL":
        body["fills"] = [fill_json(t) for t in trades]
    return body


def cancel_json(order: SimOrder, cancel_id: str) -> dict[str, Any]:
    """A cancel's answer: the order, with the cancel's own id as ``clientOrderId``."""
    body = order_json(order, query=False)
    return {
        "symbol": order.symbol,
        "origClientOrderId": order.client_order_id,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "clientOrderId": cancel_id,
        "transactTime": order.update_time,
        **{
            k: v
            for k, v in body.items()
            if k not in ("symbol", "orderId", "orderListId", "clientOrderId", "workingTime")
        },
    }


# ---------------------------------------------------------------------------- order lists


def order_list_json(order_list: SimOrderList) -> dict[str, Any]:
    """An order list as queried (``GET /api/v3/orderList``): its status and its orders."""
    return {
        "orderListId": order_list.order_list_id,
        "contingencyType": order_list.contingency_type,
        "listStatusType": order_list.list_status_type,
        "listOrderStatus": order_list.list_order_status,
        "listClientOrderId": order_list.list_client_order_id,
        "transactionTime": order_list.transaction_time,
        "symbol": order_list.symbol,
        "orders": [
            {"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id}
            for o in order_list.orders
        ],
    }


def list_status(order_list: SimOrderList, *, event_time: int) -> dict[str, Any]:
    """The ``listStatus`` user data event."""
    return {
        "e": "listStatus",
        "E": event_time,
        "s": order_list.symbol,
        "g": order_list.order_list_id,
        "c": order_list.contingency_type,
        "l": order_list.list_status_type,
        "L": order_list.list_order_status,
        "r": "NONE",
        "C": order_list.list_client_order_id,
        "T": order_list.transaction_time,
        "O": [{"s": o.symbol, "i": o.order_id, "c": o.client_order_id} for o in order_list.orders],
    }


# ---------------------------------------------------------------------------- trades


def trade_json(trade: SimTrade) -> dict[str, Any]:
    """One element of ``myTrades``."""
    return {
        "symbol": trade.symbol,
        "id": trade.trade_id,
        "orderId": trade.order_id,
        "orderListId": trade.order_list_id,
        "price": fmt(trade.price),
        "qty": fmt(trade.qty),
        "quoteQty": fmt(trade.quote_qty),
        "commission": fmt(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": trade.time,
        "isBuyer": trade.is_buyer,
        "isMaker": trade.is_maker,
        "isBestMatch": True,
    }


def fill_json(trade: SimTrade) -> dict[str, Any]:
    """One element of a FULL new-order response's ``fills``."""
    return {
        "price": fmt(trade.price),
        "qty": fmt(trade.qty),
        "commission": fmt(trade.commission),
        "commissionAsset": trade.commission_asset,
        "tradeId": trade.trade_id,
    }


# ---------------------------------------------------------------------------- user data events


def execution_report(
    order: SimOrder,
    execution_type: str,
    *,
    event_time: int,
    execution_id: int,
    trade: SimTrade | None = None,
    client_order_id: str | None = None,
    reject_reason: str = "NONE",
) -> dict[str, Any]:
    """One executionReport; ``client_order_id`` is the cancel's own id on a cancel."""
    event: dict[str, Any] = {
        "e": "executionReport",
        "E": event_time,
        "s": order.symbol,
        "c": client_order_id or order.client_order_id,
        "S": order.side,
        "o": order.type,
        "f": order.time_in_force,
        "q": fmt(order.orig_qty),
        "p": fmt(order.price),
        "P": fmt(order.stop_price),
        "F": fmt(ZERO),
        "g": order.order_list_id,
        "C": order.client_order_id if client_order_id else "",
        "x": execution_type,
        "X": order.status,
        "r": reject_reason,
        "i": order.order_id,
        "l": fmt(trade.qty if trade else ZERO),
        "z": fmt(order.executed_qty),
        "L": fmt(trade.price if trade else ZERO),
        "n": fmt(trade.commission) if trade else "0",
        "N": trade.commission_asset if trade else None,
        "T": trade.time if trade else order.update_time,
        "t": trade.trade_id if trade else -1,
        "I": execution_id,
        "w": order.is_open and order.is_working,
        "m": trade.is_maker if trade else False,
        "M": False,
        "O": order.time,
        "Z": fmt(order.cum_quote),
        "Y": fmt(trade.quote_qty if trade else ZERO),
        "Q": fmt(order.orig_quote_qty),
        "V": "NONE",
    }
    if order.trailing_delta is not None:
        event["d"] = order.trailing_delta
        event["D"] = order.trailing_time
    if order.is_working:
        event["W"] = order.working_time
    if order.expiry_reason is not None and order.status == "EXPIRED":
        event["eR"] = order.expiry_reason
    return event


def account_position(
    balances: Mapping[str, Balance], assets: Iterable[str], *, event_time: int, update_time: int
) -> dict[str, Any]:
    """``outboundAccountPosition`` for the assets that changed."""
    return {
        "e": "outboundAccountPosition",
        "E": event_time,
        "u": update_time,
        "B": [
            {"a": asset, "f": fmt(balances[asset].free), "l": fmt(balances[asset].locked)}
            for asset in sorted(assets)
        ],
    }


def balance_update(asset: str, delta: Decimal, *, event_time: int) -> dict[str, Any]:
    """``balanceUpdate``: a deposit or a withdrawal."""
    return {"e": "balanceUpdate", "E": event_time, "a": asset, "d": fmt(delta), "T": event_time}


# ---------------------------------------------------------------------------- account, book


def account_json(
    balances: Mapping[str, Balance],
    *,
    maker: Decimal,
    taker: Decimal,
    update_time: int,
    omit_zero: bool = False,
) -> dict[str, Any]:
    """``GET /api/v3/account``."""
    return {
        "makerCommission": int(maker * 10000),
        "takerCommission": int(taker * 10000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": fmt(maker),
            "taker": fmt(taker),
            "buyer": fmt(ZERO),
            "seller": fmt(ZERO),
        },
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": update_time,
        "accountType": "SPOT",
        "balances": [
            {"asset": a, "free": fmt(b.free), "locked": fmt(b.locked)}
            for a, b in sorted(balances.items())
            if not (omit_zero and b.free == 0 and b.locked == 0)
        ],
        "permissions": ["SPOT"],
        "uid": 4242,
    }


def book_ticker(market: Market) -> dict[str, Any]:
    """The ``<symbol>@bookTicker`` stream payload: best bid and ask with their quantities."""
    bids = market.levels("SELL")
    asks = market.levels("BUY")
    bid, bid_qty = bids[0] if bids else (ZERO, ZERO)
    ask, ask_qty = asks[0] if asks else (ZERO, ZERO)
    return {
        "u": market.update_id,
        "s": market.spec.symbol,
        "b": fmt(bid),
        "B": fmt(bid_qty),
        "a": fmt(ask),
        "A": fmt(ask_qty),
    }


# ---------------------------------------------------------------------------- the true state


def prices_json(markets: Mapping[str, Market]) -> dict[str, dict[str, str]]:
    """Each symbol's mid, best bid and best ask."""
    return {
        s: {"mid": fmt(m.mid), "bid": fmt(m.best("BUY")), "ask": fmt(m.best("SELL"))}
        for s, m in markets.items()
    }


def state_json(
    *,
    server_time: int,
    balances: Mapping[str, Balance],
    deposits: Mapping[str, Decimal],
    markets: Mapping[str, Market],
    open_orders: Sequence[SimOrder],
    orders: Iterable[SimOrder],
    trades: Iterable[SimTrade],
    order_lists: Iterable[SimOrderList] = (),
) -> dict[str, Any]:
    """The exchange's true state, for tests and operators (``GET /_sim/state``)."""
    return {
        "server_time": server_time,
        "balances": {
            a: {"free": fmt(b.free), "locked": fmt(b.locked)} for a, b in sorted(balances.items())
        },
        "deposits": {a: fmt(v) for a, v in sorted(deposits.items())},
        "prices": prices_json(markets),
        "open_orders": [order_json(o) | {"owner": o.owner} for o in open_orders],
        "orders": [order_json(o) | {"owner": o.owner} for o in orders],
        "trades": [trade_json(t) for t in trades],
        "order_lists": [
            order_list_json(lst) | {"kind": lst.kind, "locked": fmt(lst.locked)}
            for lst in order_lists
        ],
    }
