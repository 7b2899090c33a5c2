"""Checkpoints: the book's full state as one JSON-able document, and back (pure).

A checkpoint stands for every journal entry before it: recovery restores the book from the
latest valid one (``restore``) and replays only the entries after it
(``replay(..., start=...)``). It holds whatever ``replay()`` builds, so a restored book
that goes on with the same entries equals the book replayed from the first entry:

* every order (live and closed: a client order id is never used twice, and the broker
  still answers for finished orders), with what the book accounted of its fills;
* every accounted execution and those kept apart (``foreign``): fills are deduplicated by
  ``(symbol, trade_id)`` across the checkpoint;
* the balances (``totals``, zeros included), positions at average cost, the day's mark and
  peak, the trade floors, whether the book was opened, the duplicates counted.

What is derived is rebuilt, not stored: ``by_order_id`` (from the orders' exchange ids),
``trade_ids`` and ``created`` (sorted), ``live``, ``closed`` and the commitments
(``Book.rebuild_live``, as at the end of a replay). Market data (prices) and anomalies are
not state. Every amount is an exact ``Decimal`` as its string (``str`` round-trips it,
exponent included). Rows are positional lists (compact: a million-entry history makes a
document of a few hundred thousand rows).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from domain.book import Book, BookOrder, DayMark, Execution, Market, OrderState, Position

VERSION = 1


class CheckpointInvalid(ValueError):
    """A checkpoint document that cannot be restored (wrong version or shape)."""


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _execution_row(ex: Execution) -> list[Any]:
    return [
        ex.symbol,
        ex.trade_id,
        ex.order_id,
        ex.client_order_id,
        ex.side,
        str(ex.price),
        str(ex.qty),
        str(ex.commission),
        ex.commission_asset,
        ex.time_ms,
        ex.is_maker,
        _s(ex.fee_quote),
    ]


def snapshot(book: Book, floors: Mapping[str, int]) -> dict[str, Any]:
    """The book (and the trade floors) as a checkpoint document."""
    orders = [
        [
            o.client_order_id,
            o.symbol,
            o.side,
            o.type,
            str(o.quantity),
            _s(o.price),
            o.state.value,
            o.order_id,
            str(o.executed_qty),
            str(o.cumulative_quote),
            o.created_ms,
            o.updated_ms,
            o.source,
            str(o.booked_qty),
        ]
        for o in book.orders.values()
    ]
    day = book.day
    return {
        "version": VERSION,
        "opened": book.opened,
        "totals": {a: str(v) for a, v in book.totals.items()},
        "floors": dict(floors),
        "orders": orders,
        "executions": [_execution_row(ex) for ex in book.executions.values()],
        "foreign": [_execution_row(ex) for ex in book.foreign_executions.values()],
        "positions": [
            [p.symbol, str(p.quantity), str(p.cost), str(p.realized_pnl), str(p.fees_quote)]
            for p in book.positions.values()
        ],
        "day": None if day is None else [day.start_ms, str(day.pnl_base), _s(day.peak_equity)],
        "duplicates": book.duplicates,
    }


class _Shared:
    """One object per distinct value: a history repeats its symbols, sides, states and
    many amounts, and a restored book of hundreds of thousands of rows shares them."""

    def __init__(self) -> None:
        self._decimals: dict[str, Decimal] = {}

    def dec(self, text: str) -> Decimal:
        value = self._decimals.get(text)
        if value is None:
            value = self._decimals[text] = Decimal(text)
        return value

    def opt(self, text: str | None) -> Decimal | None:
        return None if text is None else self.dec(text)


def _execution(row: list[Any], shared: _Shared) -> Execution:
    (symbol, trade_id, order_id, cid, side, price, qty, commission, asset, t, maker, fee) = row
    intern = sys.intern
    return Execution(
        symbol=intern(symbol),
        trade_id=int(trade_id),
        order_id=int(order_id),
        client_order_id=cid,
        side=intern(side),
        price=shared.dec(price),
        qty=shared.dec(qty),
        commission=shared.dec(commission),
        commission_asset=None if asset is None else intern(asset),
        time_ms=int(t),
        is_maker=bool(maker),
        via="journal",
        fee_quote=shared.opt(fee),
    )


def restore(doc: Mapping[str, Any], markets: Mapping[str, Market]) -> tuple[Book, dict[str, int]]:
    """The book and trade floors a checkpoint document holds (raises ``CheckpointInvalid``
    for a document this version cannot read). The book is as a replay leaves it before its
    end: go on with ``replay(entries_after, markets, start=...)``."""
    if not isinstance(doc, Mapping) or doc.get("version") != VERSION:
        raise CheckpointInvalid(f"checkpoint version {doc.get('version')!r} not readable")
    try:
        return _restore(doc, markets)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise CheckpointInvalid(f"checkpoint document malformed: {exc!r}") from exc


def _restore(doc: Mapping[str, Any], markets: Mapping[str, Market]) -> tuple[Book, dict[str, int]]:
    shared = _Shared()
    intern = sys.intern
    book = Book(dict(markets))
    book.opened = bool(doc["opened"])
    book.totals = defaultdict(Decimal, {a: Decimal(v) for a, v in doc["totals"].items()})
    orders = book.orders
    by_order_id = book.by_order_id
    for row in doc["orders"]:
        (cid, symbol, side, type_, qty, price, state, oid, executed, cumq, created, updated) = row[
            :12
        ]
        order = BookOrder(
            client_order_id=cid,
            symbol=intern(symbol),
            side=intern(side),
            type=intern(type_),
            quantity=shared.dec(qty),
            price=shared.opt(price),
            state=OrderState(state),
            order_id=None if oid is None else int(oid),
            executed_qty=shared.dec(executed),
            cumulative_quote=shared.dec(cumq),
            created_ms=int(created),
            updated_ms=int(updated),
            source=intern(row[12]),
            booked_qty=shared.dec(row[13]),
        )
        orders[cid] = order
        if order.order_id is not None:
            by_order_id[(order.symbol, order.order_id)] = cid
    book.created = sorted(o.created_ms for o in orders.values())
    trade_ids: dict[str, list[int]] = {}
    for row in doc["executions"]:
        ex = _execution(row, shared)
        book.executions[(ex.symbol, ex.trade_id)] = ex
        trade_ids.setdefault(ex.symbol, []).append(ex.trade_id)
    book.trade_ids = {symbol: sorted(ids) for symbol, ids in trade_ids.items()}
    for row in doc["foreign"]:
        ex = _execution(row, shared)
        book.foreign_executions[(ex.symbol, ex.trade_id)] = ex
    for symbol, qty, cost, realized, fees in doc["positions"]:
        book.positions[symbol] = Position(
            symbol, Decimal(qty), Decimal(cost), Decimal(realized), Decimal(fees)
        )
    day = doc["day"]
    if day is not None:
        book.day = DayMark(
            int(day[0]), Decimal(day[1]), None if day[2] is None else Decimal(day[2])
        )
    book.duplicates = int(doc["duplicates"])
    floors = {s: int(t) for s, t in doc["floors"].items()}
    return book, floors
