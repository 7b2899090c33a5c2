"""The journal's entries: how each is written from the book, and how the book is rebuilt
from them (pure: entries in, book out).

Every entry writer is here, beside ``replay()`` that reads them back, so the two cannot
drift apart. Entries are ``(kind, body)`` pairs in journal order (see ``storage.journal``).
An intent without any later order entry may or may not have reached the exchange before the crash:
it comes back as UNKNOWN, to be resolved by querying the exchange by its client order id,
never by sending it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from domain.book import Book, BookOrder, BookOrderList, DayMark, Execution, Market, OrderState


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _order(body: dict[str, Any], default_source: str) -> BookOrder:
    """A book order from an intent or order entry (intents carry their creation time)."""
    created = int(body.get("created_ms", 0))
    return BookOrder(
        client_order_id=body["client_order_id"],
        symbol=body["symbol"],
        side=body["side"],
        type=body["type"],
        quantity=Decimal(body["quantity"]),
        price=_dec(body.get("price")),
        created_ms=created,
        updated_ms=created,
        source=body.get("source", default_source),
        # absent in journals written before the gateway
        strategy=body.get("strategy", ""),
        strategy_order_id=body.get("strategy_order_id"),
        time_in_force=body.get("time_in_force"),
        # absent in journals written before stops and order lists
        stop_price=_dec(body.get("stop_price")),
        trailing_delta=body.get("trailing_delta"),
        order_list=body.get("order_list"),
        triggered=bool(body.get("triggered", False)),
    )


def _order_list(body: dict[str, Any]) -> BookOrderList:
    created = int(body.get("created_ms", 0))
    return BookOrderList(
        list_client_order_id=body["list_client_order_id"],
        symbol=body["symbol"],
        list_type=body["list_type"],
        legs=dict(body["legs"]),
        created_ms=created,
        updated_ms=created,
        source=body.get("source", ""),
        strategy=body.get("strategy", ""),
        strategy_list_id=body.get("strategy_list_id"),
    )


def _update_list(order_list: BookOrderList, body: dict[str, Any]) -> None:
    if body.get("order_list_id") is not None:
        order_list.order_list_id = int(body["order_list_id"])
    order_list.contingency_type = body.get("contingency_type", "")
    order_list.list_status_type = body.get("list_status_type", "")
    order_list.list_order_status = body.get("list_order_status", "")
    order_list.updated_ms = int(body.get("updated_ms", 0))
    order_list.expiry_expected = {c: int(t) for c, t in body.get("expiry_expected", {}).items()}


def intent_order(body: dict[str, Any]) -> BookOrder:
    """The order an intent entry describes, as it was accepted."""
    return _order(body, default_source="")


class Replayer:
    """Applies entries one by one to a book (``replay`` in steps): the book may start
    from a checkpoint (``domain.checkpoint.restore``) and go on with the entries after it."""

    def __init__(self, book: Book, floors: dict[str, int] | None = None) -> None:
        self.book = book
        self.floors: dict[str, int] = dict(floors or {})

    def apply(self, kind: str, body: dict[str, Any]) -> None:
        book, floors = self.book, self.floors
        if kind == "opening":
            book.open({a: Decimal(v) for a, v in body["totals"].items()})
            floors.update({s: int(t) for s, t in body.get("trade_floor", {}).items()})
        elif kind == "resync":
            book.resync({a: Decimal(v) for a, v in body["totals"].items()})
            floors.update({s: int(t) for s, t in body.get("trade_floor", {}).items()})
        elif kind == "intent":
            if not book.knows_id(body["client_order_id"]):
                book.add_intent(_order(body, default_source=""))
        elif kind == "list_intent":
            if body["list_client_order_id"] not in book.order_lists:
                legs = [_order(leg, default_source="") for leg in body["orders"]]
                book.add_list_intent(_order_list(body), legs)
        elif kind == "order_list":
            order_list = book.order_lists.get(body["list_client_order_id"])
            if order_list is None:
                return  # (never written without its intent first)
            _update_list(order_list, body)
            if order_list.order_list_id is not None:
                key = (order_list.symbol, order_list.order_list_id)
                book.list_by_id[key] = order_list.list_client_order_id
        elif kind == "order":
            self._order_state(body)
        elif kind == "fill":
            book.apply_execution(
                Execution(
                    symbol=body["symbol"],
                    trade_id=int(body["trade_id"]),
                    order_id=int(body["order_id"]),
                    client_order_id=body.get("client_order_id"),
                    side=body["side"],
                    price=Decimal(body["price"]),
                    qty=Decimal(body["qty"]),
                    commission=Decimal(body["commission"]),
                    commission_asset=body.get("commission_asset"),
                    time_ms=int(body.get("time_ms", 0)),
                    is_maker=bool(body.get("is_maker", False)),
                    via="journal",
                    fee_quote=_dec(body.get("fee_quote")),  # absent in older journals
                )
            )
        elif kind == "compact":  # closed orders compacted away (``Book.compact``)
            book.compact(body["ids"], int(body.get("forget_before_ms", 0)))
        elif kind == "external":
            book.apply_external(body["asset"], Decimal(body["delta"]))
        elif kind == "day_mark":
            book.day = DayMark(int(body["start_ms"]), Decimal(body["pnl_base"]))
        elif kind == "day_peak":  # the day's highest equity so far (to 1 bp), or the peak
            day = book.day  # moved by a deposit or withdrawal: the latest entry holds
            if day is not None and day.start_ms == int(body["start_ms"]):
                day.peak_equity = Decimal(body["peak"])
        # "checkpoint" (read by recovery, not replayed), "audited": nothing to apply

    def _order_state(self, body: dict[str, Any]) -> None:
        book = self.book
        cid = body["client_order_id"]
        order = book.orders.get(cid)
        if order is None:
            if book.late_report(cid):
                return  # compacted away before (a book never journals one so; kept safe)
            book.add_intent(_order(body, default_source="adopted"))
            order = book.orders[cid]
        order.state = OrderState(body["state"])
        order.executed_qty = Decimal(body["executed_qty"])
        order.cumulative_quote = Decimal(body.get("cumulative_quote", "0"))
        order.updated_ms = int(body.get("updated_ms", 0))
        order.triggered = bool(body.get("triggered", False))
        if body.get("order_id") is not None:
            learned = order.order_id is None
            order.order_id = int(body["order_id"])
            book.by_order_id[(order.symbol, order.order_id)] = order.client_order_id
            if learned:  # fills kept apart until now are this order's (as they were live)
                book.claim_foreign(order)

    def finish(self) -> tuple[Book, dict[str, int]]:
        """The book as recovery hands it on: an intent never answered may have reached the
        exchange (UNKNOWN); the live orders and their commitments rebuilt."""
        book = self.book
        for order in book.orders.values():
            if order.state is OrderState.PENDING_NEW:
                order.state = OrderState.UNKNOWN  # it may have reached the exchange
        book.rebuild_live()
        return book, self.floors


def replay(
    entries: Iterable[tuple[str, dict[str, Any]]],
    markets: Mapping[str, Market],
    *,
    start: tuple[Book, dict[str, int]] | None = None,
) -> tuple[Book, dict[str, int]]:
    """The book and the trade floors (last trade id per symbol before the first opening);
    from ``start`` (a book and floors restored from a checkpoint) when given, else from
    an empty book."""
    replayer = Replayer(Book(dict(markets))) if start is None else Replayer(*start)
    for kind, body in entries:
        replayer.apply(kind, body)
    return replayer.finish()


def order_entry(order: BookOrder) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "quantity": str(order.quantity),
        "price": None if order.price is None else str(order.price),
        "state": order.state.value,
        "order_id": order.order_id,
        "executed_qty": str(order.executed_qty),
        "cumulative_quote": str(order.cumulative_quote),
        "updated_ms": order.updated_ms,
        "source": order.source,
        **_strategy_fields(order),
    }


def _strategy_fields(order: BookOrder) -> dict[str, Any]:
    """Whose order it is and how it was sent; only when set (native orders' entries stay
    as they were)."""
    out: dict[str, Any] = {}
    if order.strategy:
        out["strategy"] = order.strategy
    if order.strategy_order_id is not None:
        out["strategy_order_id"] = order.strategy_order_id
    if order.time_in_force is not None:
        out["time_in_force"] = order.time_in_force
    if order.stop_price is not None:
        out["stop_price"] = str(order.stop_price)
    if order.trailing_delta is not None:
        out["trailing_delta"] = order.trailing_delta
    if order.order_list is not None:
        out["order_list"] = order.order_list
    if order.triggered:
        out["triggered"] = True
    return out


def list_intent_entry(
    order_list: BookOrderList,
    legs: list[BookOrder],
    correlation_id: str,
    audit_seq: int,
    gates: list[str],
) -> dict[str, Any]:
    """An accepted order list, whole (the list and every leg's intent) in one entry, durable
    before any of it can reach the wire."""
    return {
        "list_client_order_id": order_list.list_client_order_id,
        "symbol": order_list.symbol,
        "list_type": order_list.list_type,
        "legs": dict(order_list.legs),
        "created_ms": order_list.created_ms,
        "source": order_list.source,
        "strategy": order_list.strategy,
        **(
            {"strategy_list_id": order_list.strategy_list_id}
            if order_list.strategy_list_id is not None
            else {}
        ),
        "orders": [intent_entry(leg, correlation_id, audit_seq, gates) for leg in legs],
        "correlation_id": correlation_id,
        "audit_seq": audit_seq,
        "gates": gates,
    }


def order_list_entry(order_list: BookOrderList) -> dict[str, Any]:
    """An order list's venue-side state (its id, list statuses, the expiries it expects)."""
    return {
        "list_client_order_id": order_list.list_client_order_id,
        "order_list_id": order_list.order_list_id,
        "contingency_type": order_list.contingency_type,
        "list_status_type": order_list.list_status_type,
        "list_order_status": order_list.list_order_status,
        "updated_ms": order_list.updated_ms,
        "expiry_expected": dict(order_list.expiry_expected),
    }


def fill_entry(ex: Execution) -> dict[str, Any]:
    return {
        "symbol": ex.symbol,
        "trade_id": ex.trade_id,
        "order_id": ex.order_id,
        "client_order_id": ex.client_order_id,
        "side": ex.side,
        "price": str(ex.price),
        "qty": str(ex.qty),
        "commission": str(ex.commission),
        "commission_asset": ex.commission_asset,
        "time_ms": ex.time_ms,
        "is_maker": ex.is_maker,
        "fee_quote": None if ex.fee_quote is None else str(ex.fee_quote),
    }


def intent_entry(
    order: BookOrder, correlation_id: str, audit_seq: int, gates: list[str]
) -> dict[str, Any]:
    """An accepted intent, durable before it can reach the wire; ``audit_seq`` numbers its
    audit record (recovery re-writes a record a crash took from the trail)."""
    return {
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "quantity": str(order.quantity),
        "price": None if order.price is None else str(order.price),
        "created_ms": order.created_ms,
        "source": order.source,
        **_strategy_fields(order),
        "correlation_id": correlation_id,
        "audit_seq": audit_seq,
        "gates": gates,
    }


def compact_entry(client_order_ids: list[str], forget_before_ms: int) -> dict[str, Any]:
    """Closed orders compacted away, and what older than ``forget_before_ms`` is forgotten
    (``Book.compact``: applied by the broker as it writes this, and by a replay)."""
    return {"ids": client_order_ids, "forget_before_ms": forget_before_ms}


def audited_entry(client_order_id: str, audit_seq: int) -> dict[str, Any]:
    """An intent's audit record re-written by recovery under a new number."""
    return {"client_order_id": client_order_id, "audit_seq": audit_seq}


def external_entry(asset: str, delta: Decimal) -> dict[str, Any]:
    """A balance change from outside (deposit, withdrawal)."""
    return {"asset": asset, "delta": str(delta)}


def totals_entry(totals: Mapping[str, Decimal], trade_floor: Mapping[str, int]) -> dict[str, Any]:
    """The exchange's balances and trade floors, for an ``opening`` or a ``resync``."""
    return {"totals": {a: str(v) for a, v in totals.items()}, "trade_floor": dict(trade_floor)}


def day_mark_entry(day: DayMark) -> dict[str, Any]:
    return {"start_ms": day.start_ms, "pnl_base": str(day.pnl_base)}


def day_peak_entry(day: DayMark) -> dict[str, Any]:
    return {"start_ms": day.start_ms, "peak": str(day.peak_equity)}


def change_entry(kind: str, payload: Any) -> tuple[str, dict[str, Any]] | None:
    """The journal entry for a change the book reports (``Book.on_change``)."""
    if kind == "order":
        return "order", order_entry(payload)
    if kind == "fill":
        return "fill", fill_entry(payload)
    if kind == "external":
        asset, delta = payload
        return "external", external_entry(asset, delta)
    if kind == "order_list":
        return "order_list", order_list_entry(payload)
    return None
