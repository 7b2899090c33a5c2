"""The book set from the exchange's state: the opening (balances, open orders and trade
floors, once per book), taking in orders found on the exchange (adopt, cancel or halt, as
``broker.on_start_existing`` says), and the operator's resync.

A resync rebuilds the book from the exchange only while RED, only when confirmed, and only
after a snapshot of both sides is on disk; every difference is recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.book import BookOrder, OrderState
from domain.breaker_rules import EvidenceKind
from domain.money import plain
from domain.replay import order_entry, totals_entry
from exchange.contract import OrderNotFound, OrderStatus
from runtime.clock import now_ms
from runtime.incidents import internal_state, write_incident
from runtime.messages import BookSnapshotRequest, ResyncRequest

if TYPE_CHECKING:
    from actors.order_broker.broker import OrderBroker


def ensure_opened(broker: OrderBroker) -> bool:
    """The opening state: exchange balances, open orders and trade floors (once)."""
    book = broker.book
    if book.opened:
        return True
    adapter = broker.adapter
    balances = adapter.get_balances()
    open_orders = adapter.get_open_orders(None)
    floors = {
        symbol: max((t.trade_id for t in adapter.get_trades(symbol)), default=0)
        for symbol in broker.settings.exchange.symbols
    }
    broker.memory.set_floors(floors)
    totals = {a: b.free + b.locked for a, b in balances.items()}
    broker.journal.append("opening", totals_entry(totals, broker.memory.trade_floor), durable=True)
    book.open(totals)
    if open_orders:
        _existing_orders(broker, open_orders)
    broker.audit("book_opened", assets=len(balances), open_orders=len(open_orders))
    return True


def adopt(broker: OrderBroker, o: OrderStatus, source: str) -> None:
    """Take an order found on the exchange into the book as it stands there."""
    state = o.state.value if o.state.value in OrderState.__members__ else "NEW"
    book = broker.book
    book.add_intent(
        BookOrder(
            client_order_id=o.client_order_id,
            symbol=o.symbol,
            side=o.side.value,
            type=o.type.value,
            quantity=o.orig_qty,
            price=o.price,
            state=OrderState(state),
            order_id=o.order_id,
            executed_qty=o.executed_qty,
            cumulative_quote=o.cumulative_quote_qty,
            created_ms=now_ms(),
            updated_ms=now_ms(),
            source=source,
            evidence_done=True,  # not placed by this Vigil: no per-order evidence
        )
    )
    book.by_order_id[(o.symbol, o.order_id)] = o.client_order_id
    broker.journal.append("order", order_entry(book.orders[o.client_order_id]), durable=True)


def _existing_orders(broker: OrderBroker, orders: list[OrderStatus]) -> None:
    mode = broker.settings.broker.on_start_existing
    ids = [o.client_order_id for o in orders]
    if mode == "adopt":
        for o in orders:
            adopt(broker, o, "adopted")
        broker.audit("existing_orders_adopted", orders=ids)
    elif mode == "cancel":
        for o in orders:  # known first, so their cancel reports are not "foreign"
            adopt(broker, o, "cancelled at start-up")
            broker.adapter.cancel_order(o.symbol, order_id=o.order_id)
        broker.audit("existing_orders_cancelled", orders=ids)
    else:
        broker.evidence(
            EvidenceKind.EXISTING_ORDERS,
            f"{len(orders)} open orders already on the exchange at start-up",
        )


def resync(broker: OrderBroker, message: ResyncRequest) -> dict[str, Any]:
    """Rebuild the book from the exchange (see the module's docstring)."""
    if not broker.ctx.gate.state.is_red:
        return {"ok": False, "reason": "resync is allowed only while RED"}
    if not message.confirmed:
        return {"ok": False, "reason": "resync needs --confirm"}
    adapter, book, state = broker.adapter, broker.book, broker.memory.state
    symbols = broker.settings.exchange.symbols
    balances = adapter.get_balances()
    open_orders = [o for s in symbols for o in adapter.get_open_orders(s)]
    latest = {s: max((t.trade_id for t in adapter.get_trades(s)), default=0) for s in symbols}
    at = now_ms()
    exchange = {
        "balances": {
            a: {"free": str(b.free), "locked": str(b.locked)} for a, b in balances.items()
        },
        "open_orders": [o.model_dump(mode="json") for o in open_orders],
        "latest_trade_ids": latest,
    }
    services = broker.ctx.services
    snapshot = write_incident(
        services.data_dir,
        services.store,
        kind="resync",
        at_ms=at,
        reason=f"operator resync: {message.reason}",
        state={
            "internal": internal_state(
                broker.on_snapshot_request(BookSnapshotRequest())["internal"]
            ),
            "exchange": exchange,
        },
        report={"kind": "resync", "at_ms": at, "reason": message.reason},
        lines=[f"Operator resync at {at} ms: {message.reason}", "State before the resync."],
    )
    changes: dict[str, Any] = {"snapshot": str(snapshot)}
    # the orders first: a snapshot that teaches an order's id claims the fills kept apart
    # for it, and the balances below (the exchange's, which include them) must come after,
    # or those fills would count twice
    adopted, updated = [], []
    for o in open_orders:
        known = book.find(o.symbol, o.client_order_id, o.order_id)
        if known is None:
            adopt(broker, o, "resync")
            adopted.append(o.client_order_id)
        else:
            broker.apply_status(o)
            updated.append(known.client_order_id)
    on_exchange = {o.client_order_id for o in open_orders}
    closed = []
    for order in book.open_orders():
        if order.client_order_id in on_exchange:
            continue
        try:
            broker.apply_status(
                adapter.get_order(order.symbol, client_order_id=order.client_order_id)
            )
        except OrderNotFound:
            book.mark(order.client_order_id, OrderState.REJECTED, now_ms())
        closed.append(order.client_order_id)
        state.unknown_since.pop(order.client_order_id, None)
    # the orders the resync rewrote: their fills before it are settled by it (some may
    # never be booked), so they give no per-order evidence and are not tracked on
    for cid in [*updated, *closed]:
        book.orders[cid].evidence_done = True
        state.evidence.forget(cid)
    broker.collect_evidence()  # what the snapshots claimed (no per-order evidence: done above)
    totals = {a: b.free + b.locked for a, b in balances.items()}
    broker.journal.append("resync", totals_entry(totals, latest), durable=True)
    diff = book.resync(totals)
    changes["balances"] = {
        a: {"book": plain(b), "exchange": plain(e)} for a, (b, e) in diff.items()
    }
    dropped = len(book.foreign_executions)
    book.foreign_executions.clear()
    broker.memory.set_floors(latest)  # older trades are settled by this resync
    changes.update(adopted=adopted, updated=updated, closed=closed, foreign_trades_dropped=dropped)
    broker.audit("resync", reason=message.reason, changes=changes)
    broker.report_unknown()
    return {"ok": True, "changes": changes}
