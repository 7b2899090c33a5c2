"""Checkpoints: the book's state as one JSON-able document, and back (pure).

A checkpoint stands for every journal entry before it: recovery restores the book from the
latest valid one (``restore``) and replays only the entries after it
(``replay(..., start=...)``). It holds whatever ``replay()`` builds, so a restored book
that goes on with the same entries equals the book replayed from the first entry:

* every order the book still holds whole (live, and closed ones not compacted yet), with
  what the book accounted of its fills; of the orders compacted away
  (``domain.book._compaction``), their client order ids, trade ids and fill counts;
* every execution still held and those kept apart (``foreign``): fills are deduplicated by
  ``(symbol, trade_id)`` across the checkpoint (compacted ones by their trade ids);
* the balances (``totals``, zeros included), positions at average cost, the day's mark and
  peak, the intents' creation times, the trade floors, whether the book was opened, the
  duplicates counted.

Orders and executions are rows under a header of field names, written and read by
``RowCodec`` from the dataclass's own fields and type hints (Decimal as its exact string,
an enum as its value, optional values as null): a field added to ``BookOrder`` round-trips
without a change here, a field missing from an older checkpoint takes its default, and a
field this version does not know is refused (its state would be lost).

What is derived is rebuilt, not stored: ``by_order_id`` (from the orders' exchange ids),
``trade_ids`` (sorted), ``live``, ``closed`` and the commitments (``Book.rebuild_live``,
as at the end of a replay). Market data (prices) and anomalies are not state.
"""

from __future__ import annotations

import dataclasses
import enum
import operator
import types
import typing
from collections import defaultdict
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Generic, TypeVar

from domain.book import (
    Book,
    BookOrder,
    BookOrderList,
    Compacted,
    DayMark,
    Execution,
    Market,
    Position,
)

VERSION = 1

_T = TypeVar("_T")
Convert = Callable[[Any], Any]


class CheckpointInvalid(ValueError):
    """A checkpoint document that cannot be restored (wrong version or shape)."""


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class _Shared:
    """One object per distinct amount: a history repeats many of them."""

    def __init__(self) -> None:
        self._decimals: dict[str, Decimal] = {}

    def dec(self, text: str) -> Decimal:
        value = self._decimals.get(text)
        if value is None:
            value = self._decimals[text] = Decimal(text)
        return value


def _converters(
    owner: str, name: str, hint: Any, shared: _Shared
) -> tuple[Convert | None, Convert]:
    """(to JSON, None when the value is written as it is; from JSON) for one field, by its
    type hint."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            enc, dec = _converters(owner, name, inner[0], shared)
            return (
                None if enc is None else (lambda v: None if v is None else enc(v)),
                lambda v: None if v is None else dec(v),
            )
    if hint is Decimal:
        return str, lambda v: shared.dec(str(v))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return (lambda v: v.value), hint
    if hint in (int, str, bool):
        return None, hint
    raise TypeError(f"{owner}.{name}: no checkpoint conversion for the type {hint!r}")


class RowCodec(Generic[_T]):
    """A dataclass's instances as positional rows under a header of field names, each
    field converted by its type hint. Fields left out of equality (``compare=False``: not
    state) are not written; ``fixed`` fields are not written and read back as given."""

    def __init__(self, cls: type[_T], fixed: Mapping[str, Any] | None = None) -> None:
        self.cls = cls
        self.fixed = dict(fixed or {})
        self.shared = _Shared()
        hints = typing.get_type_hints(cls)
        fields = [
            f
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.init and f.compare and f.name not in self.fixed
        ]
        self.names = [f.name for f in fields]
        self._defaults = {
            f.name
            for f in fields
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        }
        pairs = [_converters(cls.__name__, f.name, hints[f.name], self.shared) for f in fields]
        # None: written as it is (int, str, bool); one attrgetter reads every field at once
        self._encode: list[Convert | None] = [p[0] for p in pairs]
        get = operator.attrgetter(*self.names)
        self._get: Callable[[Any], Any] = get if len(self.names) > 1 else lambda i: (get(i),)
        self._decode = dict(zip(self.names, (p[1] for p in pairs), strict=True))

    def row(self, item: _T) -> list[Any]:
        values = self._get(item)
        return [v if enc is None else enc(v) for enc, v in zip(self._encode, values, strict=True)]

    def reader(self, header: list[str]) -> Callable[[list[Any]], _T]:
        """Reads rows written under ``header`` (an older or this version's field list)."""
        unknown = [name for name in header if name not in self._decode]
        if unknown:
            raise CheckpointInvalid(f"{self.cls.__name__} fields {unknown} unknown to this version")
        missing = [n for n in self.names if n not in header and n not in self._defaults]
        if missing:
            raise CheckpointInvalid(f"{self.cls.__name__} fields {missing} missing")
        decoders = [(name, self._decode[name]) for name in header]
        fixed, cls = self.fixed, self.cls

        def read(row: list[Any]) -> _T:
            if len(row) != len(decoders):
                raise CheckpointInvalid(f"a {cls.__name__} row of {len(row)} values")
            values = {name: dec(v) for (name, dec), v in zip(decoders, row, strict=True)}
            return cls(**values, **fixed)

        return read


def _order_codec() -> RowCodec[BookOrder]:
    return RowCodec(BookOrder)


def _execution_codec() -> RowCodec[Execution]:
    # ``via`` says how a fill arrived live; a replayed or restored one came from the journal
    return RowCodec(Execution, fixed={"via": "journal"})


# checked once, at import: a field of a type with no conversion fails here, not at runtime
_ORDER_FIELDS = _order_codec().names
_EXECUTION_FIELDS = _execution_codec().names


def snapshot(book: Book, floors: Mapping[str, int]) -> dict[str, Any]:
    """The book (and the trade floors) as a checkpoint document."""
    orders, executions = _order_codec(), _execution_codec()
    day = book.day
    kept = book.executions
    compacted = book.compacted
    return {
        "version": VERSION,
        "opened": book.opened,
        "totals": {a: str(v) for a, v in book.totals.items()},
        "floors": dict(floors),
        "order_fields": orders.names,
        "orders": [orders.row(o) for o in book.orders.values()],
        "execution_fields": executions.names,
        "executions": [executions.row(ex) for ex in kept.values()],
        "foreign": [executions.row(ex) for ex in book.foreign_executions.values()],
        "positions": [
            [p.symbol, str(p.quantity), str(p.cost), str(p.realized_pnl), str(p.fees_quote)]
            for p in book.positions.values()
        ],
        "day": None if day is None else [day.start_ms, str(day.pnl_base), _s(day.peak_equity)],
        "created": list(book.created),
        # (not derived: once the most recent order with a strategy's id is compacted, an
        # older one with the same id is no longer what that id finds)
        "by_strategy_id": [[s, sid, cid] for (s, sid), cid in book.by_strategy_id.items()],
        "duplicates": book.duplicates,
        "order_lists": [_list_row(ol) for ol in book.order_lists.values()],
        "compacted": {
            # text, one chunk per compaction ("id,id,..."; "trade id,trade id,...")
            "ids": compacted.id_chunks,
            "trades": compacted.trade_chunks,  # (every other accounted trade: an execution)
            "fills": [[s, side, n] for (s, side), n in compacted.fills.items()],
            "days": [[d, n] for d, n in compacted.fills_by_day.items()],
        },
    }


def _list_row(ol: BookOrderList) -> list[Any]:
    return [
        ol.list_client_order_id,
        ol.symbol,
        ol.list_type,
        dict(ol.legs),
        ol.order_list_id,
        ol.contingency_type,
        ol.list_status_type,
        ol.list_order_status,
        ol.created_ms,
        ol.updated_ms,
        ol.source,
        ol.strategy,
        dict(ol.expiry_expected),
        ol.strategy_list_id,
    ]


def _list_from_row(row: list[Any]) -> BookOrderList:
    (cid, symbol, list_type, legs, list_id, contingency, status_type, order_status,
     created, updated, source, strategy, expected) = row[:13]  # fmt: skip
    if len(row) > 14:
        raise CheckpointInvalid(f"an order list row of {len(row)} values")
    own = row[13] if len(row) == 14 else None  # (absent in older checkpoints)
    return BookOrderList(
        list_client_order_id=str(cid),
        symbol=str(symbol),
        list_type=str(list_type),
        legs={str(r): str(c) for r, c in legs.items()},
        order_list_id=None if list_id is None else int(list_id),
        contingency_type=str(contingency),
        list_status_type=str(status_type),
        list_order_status=str(order_status),
        created_ms=int(created),
        updated_ms=int(updated),
        source=str(source),
        strategy=str(strategy),
        expiry_expected={str(c): int(t) for c, t in expected.items()},
        strategy_list_id=None if own is None else str(own),
    )


def restore(doc: Mapping[str, Any], markets: Mapping[str, Market]) -> tuple[Book, dict[str, int]]:
    """The book and trade floors a checkpoint document holds (raises ``CheckpointInvalid``
    for a document this version cannot read). The book is as a replay leaves it before its
    end: go on with ``replay(entries_after, markets, start=...)``."""
    if not isinstance(doc, Mapping) or doc.get("version") != VERSION:
        version = doc.get("version") if isinstance(doc, Mapping) else None
        raise CheckpointInvalid(f"checkpoint version {version!r} not readable")
    try:
        return _restore(doc, markets)
    except CheckpointInvalid:
        raise
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise CheckpointInvalid(f"checkpoint document malformed: {exc!r}") from exc


def _restore(doc: Mapping[str, Any], markets: Mapping[str, Market]) -> tuple[Book, dict[str, int]]:
    book = Book(dict(markets))
    book.opened = bool(doc["opened"])
    book.totals = defaultdict(Decimal, {a: Decimal(v) for a, v in doc["totals"].items()})
    read_order = _order_codec().reader(doc["order_fields"])
    orders = book.orders
    by_order_id = book.by_order_id
    for row in doc["orders"]:
        order = read_order(row)
        orders[order.client_order_id] = order
        if order.order_id is not None:
            by_order_id[(order.symbol, order.order_id)] = order.client_order_id
    read_execution = _execution_codec().reader(doc["execution_fields"])
    compacted = doc["compacted"]
    kept = Compacted.from_text(
        list(compacted["ids"]),
        {s: list(chunks) for s, chunks in compacted["trades"].items()},
        {(s, side): int(n) for s, side, n in compacted["fills"]},
        {int(d): int(n) for d, n in compacted["days"]},
    )
    trade_ids = kept.trade_ids()
    for row in doc["executions"]:
        ex = read_execution(row)
        book.executions[(ex.symbol, ex.trade_id)] = ex
        trade_ids.setdefault(ex.symbol, []).append(ex.trade_id)
    book.trade_ids = {symbol: sorted(ids) for symbol, ids in trade_ids.items()}
    for row in doc["foreign"]:
        ex = read_execution(row)
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
    book.created = sorted(int(t) for t in doc["created"])
    book.by_strategy_id = {(s, sid): cid for s, sid, cid in doc["by_strategy_id"]}
    book.duplicates = int(doc["duplicates"])
    for row in doc.get("order_lists", []):  # (absent in checkpoints before order lists)
        order_list = _list_from_row(row)
        key = order_list.list_client_order_id
        book.order_lists[key] = order_list
        if order_list.order_list_id is not None:
            book.list_by_id[(order_list.symbol, order_list.order_list_id)] = key
        for cid in order_list.leg_ids:
            book.list_of_leg[cid] = key
    book.compacted = kept
    floors = {s: int(t) for s, t in doc["floors"].items()}
    return book, floors
