"""What the order broker answers about its book: the snapshot the reconciler compares with
the exchange, and its part of the status (orders, balances, positions, counters,
execution quality, risk). Read-only: nothing here changes the book."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from actors.order_broker.memory import BrokerMemory
from domain.book import Book, BookOrder, BookOrderList, Execution
from domain.money import for_people, plain
from domain.reconciliation import InternalOrder, InternalSnapshot, ListView
from domain.risk import equity_quote
from runtime.messages import ListsQuery, OrdersQuery


def summary(o: BookOrder) -> InternalOrder:
    return InternalOrder(
        o.client_order_id, o.symbol, o.order_id, o.state.value, o.executed_qty, o.updated_ms
    )


def snapshot(memory: BrokerMemory, trade_marks: Mapping[str, int]) -> dict[str, Any]:
    """The book as plain, immutable data. Cost grows with the open orders and the
    executions above the marks, not with the history: closed orders never change, so
    their summaries are made once."""
    book, state, floors = memory.book, memory.state, memory.trade_floor
    for cid in book.closed[state.closed_index :]:
        state.closed_summaries[cid] = summary(book.orders[cid])
    state.closed_index = len(book.closed)
    # closed summaries and exchange ids never change once written, so the snapshot may
    # look them up in place (no copy of the history); the live part is copied
    live = {cid: summary(o) for cid, o in book.live.items()}
    orders = ChainMap(live, state.closed_summaries)
    marks = {s: max(floors.get(s, 0), trade_marks.get(s, 0)) for s in book.markets}
    return {
        "internal": InternalSnapshot(
            totals=dict(book.totals),
            locked=dict(book.locked()),
            orders=orders,
            order_ids=MappingProxyType(book.by_order_id),
            trades=book.trades_above(marks),
            markets={s: (m.base, m.quote) for s, m in book.markets.items()},
            live=frozenset(book.live),
            order_lists={
                ol.list_client_order_id: ListView(
                    ol.list_client_order_id, ol.symbol, ol.order_list_id, tuple(ol.leg_ids)
                )
                for ol in book.order_lists.values()
                if not ol.done and book.list_is_open(ol)
            },
            list_legs={k: tuple(ol.leg_ids) for k, ol in book.order_lists.items()},
        ),
        "trade_floor": dict(floors),
    }


def status(memory: BrokerMemory, now_ms: int, *, red: bool) -> dict[str, Any]:
    book, state = memory.book, memory.state
    quote = equity_quote(book) if book.markets else None
    equity, unvalued = book.equity(quote) if quote is not None else (None, [])
    fills = book.fill_counts()  # compacted orders' fills included
    fills_by_symbol: dict[str, dict[str, int]] = {}
    for (symbol, side), count in sorted(fills.items()):
        fills_by_symbol.setdefault(symbol, {})[side] = count
    return {
        "fills_by_symbol": fills_by_symbol,
        # while RED: our orders still open (cancel-on-RED keeps at them), in flight or unknown
        "orders_open_under_red": sum(1 for _ in book.open_orders()) if red else 0,
        "orders": {
            cid: {
                "symbol": o.symbol,
                "side": o.side,
                "type": o.type,
                "quantity": plain(o.quantity),
                "price": None if o.price is None else plain(o.price),
                "state": o.state.value,
                "order_id": o.order_id,
                "executed_qty": plain(o.executed_qty),
                "cumulative_quote": plain(o.cumulative_quote),
            }
            for cid, o in book.orders.items()
        },
        "balances": {a: plain(v) for a, v in sorted(book.totals.items())},
        "locked": {a: plain(v) for a, v in sorted(book.locked().items())},
        "positions": {
            s: {
                "quantity": str(p.quantity),
                "average_entry": None if p.average_entry is None else for_people(p.average_entry),
                "realized_pnl": for_people(p.realized_pnl),
                "unrealized_pnl": for_people(p.unrealized(book.prices.get(s))),
            }
            for s, p in book.positions.items()
        },
        "fills": sum(fills.values()),
        # closed orders compacted away: no longer in "orders" (their ids are still refused)
        "compacted_orders": len(book.compacted.ids),
        "counters": dict(state.counters),
        "anomalies": len(book.anomalies),
        "duplicates": book.duplicates,
        "execution": state.evidence.execution.summary(),
        "risk": {
            "day_start_ms": book.day.start_ms if book.day else None,
            # null while today cannot be valued (not marked: a position has no price)
            "daily_pnl": for_people(book.daily_pnl(now_ms)) if book.day_marked(now_ms) else None,
            "peak_equity": None
            if book.day is None or book.day.peak_equity is None
            else for_people(book.day.peak_equity),
            "unknown_orders": len(state.unknown_since),
            # held but not in the equity (no {asset}{quote} price): dust, a fee asset
            "unvalued_assets": unvalued,
            # the balances valued in the first symbol's quote asset at the mids
            "equity": None if equity is None else for_people(equity),
            "equity_quote": quote,
        },
    }


def order_view(o: BookOrder) -> dict[str, Any]:
    """One order as ``OrdersQuery`` answers it (Decimals as plain strings)."""
    return {
        "client_order_id": o.client_order_id,
        "strategy": o.strategy,
        "strategy_order_id": o.strategy_order_id,
        "order_id": o.order_id,
        "symbol": o.symbol,
        "side": o.side,
        "type": o.type,
        "time_in_force": o.time_in_force,
        "quantity": plain(o.quantity),
        "price": None if o.price is None else plain(o.price),
        "stop_price": None if o.stop_price is None else plain(o.stop_price),
        "trailing_delta": o.trailing_delta,
        "order_list": o.order_list,
        "state": o.state.value,
        "executed_qty": plain(o.executed_qty),
        "cumulative_quote": plain(o.cumulative_quote),
        "created_ms": o.created_ms,
        "updated_ms": o.updated_ms,
    }


def fill_view(e: Execution) -> dict[str, Any]:
    """One fill of an order, as ``OrdersQuery(with_fills=True)`` lists it."""
    return {
        "trade_id": e.trade_id,
        "price": plain(e.price),
        "qty": plain(e.qty),
        "quote_qty": plain(e.price * e.qty),
        "commission": plain(e.commission),
        "commission_asset": e.commission_asset,
        "time_ms": e.time_ms,
        "is_maker": e.is_maker,
        "is_buyer": e.side == "BUY",
    }


def orders(book: Book, q: OrdersQuery) -> tuple[dict[str, Any], ...]:
    """The orders ``q`` selects, newest last (by creation time). A lookup by one id costs
    one order; a list of open orders costs the live ones; the rest scans the history."""
    candidates: list[BookOrder]
    if q.client_order_id is not None:
        one = book.orders.get(q.client_order_id)
        candidates = [] if one is None else [one]
    elif q.strategy_order_id is not None:
        one = book.find_strategy(q.strategy or "", q.strategy_order_id)
        candidates = [] if one is None else [one]
    elif q.order_id is not None:
        if q.symbol is not None:
            one = book.find(q.symbol, None, q.order_id)
            candidates = [] if one is None else [one]
        else:
            candidates = [o for o in book.orders.values() if o.order_id == q.order_id]
    elif q.open_only:
        candidates = list(book.live.values())
    else:
        candidates = list(book.orders.values())
    selected = [
        o
        for o in candidates
        if (q.strategy is None or o.strategy == q.strategy)
        and (q.symbol is None or o.symbol == q.symbol)
        and (q.order_id is None or o.order_id == q.order_id)
        and (not q.open_only or o.is_open)
    ]
    selected.sort(key=lambda o: o.created_ms)
    fills: dict[str, list[dict[str, Any]]] = {}
    if q.with_fills and selected:
        wanted = {o.client_order_id for o in selected}
        keys = {(o.symbol, o.order_id) for o in selected if o.order_id is not None}
        mine: list[tuple[str, Execution]] = []
        for e in book.executions.values():
            cid = e.client_order_id if e.client_order_id in wanted else None
            if cid is None and (e.symbol, e.order_id) in keys:
                cid = book.by_order_id.get((e.symbol, e.order_id))
            if cid is not None:
                mine.append((cid, e))
        mine.sort(key=lambda pair: (pair[1].time_ms, pair[1].trade_id))
        for cid, e in mine:
            fills.setdefault(cid, []).append(fill_view(e))
    out = []
    for o in selected:
        view = order_view(o)
        if o.order_list is not None and (ol := book.order_lists.get(o.order_list)) is not None:
            view["order_list_id"] = ol.order_list_id  # the exchange's id of its list
        if q.with_fills:
            view["fills"] = fills.get(o.client_order_id, [])
        out.append(view)
    return tuple(out)


def list_view(book: Book, ol: BookOrderList) -> dict[str, Any]:
    """One order list as ``ListsQuery`` answers it, its legs in Binance's order."""
    return {
        "list_client_order_id": ol.list_client_order_id,
        "strategy": ol.strategy,
        "strategy_list_id": ol.strategy_list_id,
        "order_list_id": ol.order_list_id,
        "symbol": ol.symbol,
        "list_type": ol.list_type,
        "contingency_type": ol.contingency_type,
        "list_status_type": ol.list_status_type,
        "list_order_status": ol.list_order_status,
        "created_ms": ol.created_ms,
        "updated_ms": ol.updated_ms,
        "open": not ol.done and book.list_is_open(ol),
        "orders": [order_view(book.orders[cid]) for cid in ol.leg_ids if cid in book.orders],
    }


def order_lists(book: Book, q: ListsQuery) -> tuple[dict[str, Any], ...]:
    """The order lists ``q`` selects, oldest first."""
    selected = [
        ol
        for ol in book.order_lists.values()
        if (q.strategy is None or ol.strategy == q.strategy)
        and (q.list_client_order_id is None or ol.list_client_order_id == q.list_client_order_id)
        and (q.strategy_list_id is None or ol.strategy_list_id == q.strategy_list_id)
        and (q.order_list_id is None or ol.order_list_id == q.order_list_id)
    ]
    selected.sort(key=lambda ol: ol.created_ms)
    views = [list_view(book, ol) for ol in selected]
    return tuple(v for v in views if v["open"] or not q.open_only)
