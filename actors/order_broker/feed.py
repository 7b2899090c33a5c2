"""The live feed of what the book did to orders and what the exchange said of the account,
for the event bus (``GET /v1/events``, the gateway's user data stream).

``execution`` — one event for every change the book applies to an order: its
acknowledgment (NEW), each fill (TRADE), and its end (CANCELED, EXPIRED, REJECTED). The
book reports a change only when it is one (a duplicate report from the WebSocket and the
REST poller changes nothing), and each fill once by trade id, so each event is published
once. ``account`` — the exchange's outboundAccountPosition and balanceUpdate as the broker
books them. A view, never the record: the journal and the audit trail are.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.order_broker.queries import order_view
from domain.book import BookOrder, Execution, OrderState
from domain.money import plain
from exchange.contract import AccountPosition, BalanceUpdate

# the book's terminal states and Binance's executionType for them
ENDS = {
    OrderState.CANCELED: "CANCELED",
    OrderState.EXPIRED: "EXPIRED",
    OrderState.REJECTED: "REJECTED",
}


class ExecutionFeed:
    """Turns the book's changes into ``execution`` events in Binance's order: NEW, each
    TRADE, then the end; an end the exchange reports before all of its fills are accounted
    (an IOC's answer carries its fills after its state) waits for the last of them. Each
    event's order fields are the order as the book knows it at that moment (the
    ``OrdersQuery`` dict: its state and executed quantity may already be ahead of the
    fills told so far)."""

    def __init__(self, open_orders: list[BookOrder]) -> None:
        # Vigil's ids of the open orders whose NEW was published (or known before a restart)
        self._acked: set[str] = {o.client_order_id for o in open_orders if o.order_id is not None}
        self.reject_reasons: dict[str, str] = {}  # set by the broker just before a REJECTED
        self._ends: dict[str, str] = {}  # ends waiting for the order's last fills

    def order_changed(
        self, order: BookOrder, now_ms: int, *, wanted: bool = True
    ) -> list[dict[str, Any]]:
        """The events for an order the book just changed (state, quantity or exchange id);
        with ``wanted`` False (nobody listens) only what the feed remembers is kept."""
        events: list[dict[str, Any]] = []
        cid = order.client_order_id
        if order.order_id is not None and cid not in self._acked:
            self._acked.add(cid)
            if wanted and order.state is not OrderState.REJECTED:
                events.append(_event(order, "NEW", now_ms))
        end = ENDS.get(order.state)
        if end is not None:
            reason = self.reject_reasons.pop(cid, "NONE") if end == "REJECTED" else "NONE"
            if order.booked_qty < order.executed_qty:
                self._ends[cid] = reason  # after the fills it reports
            elif wanted:
                events.append(_event(order, end, now_ms, reject_reason=reason))
        if order.state.is_terminal:
            self._acked.discard(cid)
        return events

    def filled(self, order: BookOrder, fill: Execution, now_ms: int) -> list[dict[str, Any]]:
        """The TRADE event of one fill just accounted, and the order's end if it was
        waiting for this fill."""
        event = _event(order, "TRADE", now_ms)
        event.update(
            last_qty=plain(fill.qty),
            last_price=plain(fill.price),
            last_quote_qty=plain(fill.price * fill.qty),
            commission=plain(fill.commission),
            commission_asset=fill.commission_asset,
            trade_id=fill.trade_id,
            is_maker=fill.is_maker,
        )
        events = [event]
        cid = order.client_order_id
        if cid in self._ends and order.booked_qty >= order.executed_qty:
            reason = self._ends.pop(cid)
            end = ENDS.get(order.state)
            if end is not None:
                events.append(_event(order, end, now_ms, reject_reason=reason))
        return events

    def forget(self, client_order_id: str) -> None:
        """Nobody listened when the order's fills came: nothing waits for them."""
        self._ends.pop(client_order_id, None)


def _event(order: BookOrder, kind: str, now_ms: int, reject_reason: str = "NONE") -> dict[str, Any]:
    return {
        **order_view(order),
        "execution_type": kind,
        "last_qty": "0",
        "last_price": "0",
        "last_quote_qty": "0",
        "commission": "0",
        "commission_asset": None,
        "trade_id": None,
        "is_maker": False,
        "event_ms": now_ms,
        "reject_reason": reject_reason,
    }


def account_event(event: AccountPosition | BalanceUpdate) -> dict[str, Any]:
    """The ``account`` event of one of the exchange's account events."""
    if isinstance(event, AccountPosition):
        return {
            "event": "outboundAccountPosition",
            "event_ms": event.event_time_ms,
            "update_ms": event.update_time_ms,
            "balances": [
                {"asset": b.asset, "free": plain(b.free), "locked": plain(b.locked)}
                for b in event.balances
            ],
        }
    return {
        "event": "balanceUpdate",
        "event_ms": event.event_time_ms,
        "asset": event.asset,
        "delta": plain(Decimal(event.delta)),
        "clear_ms": event.clear_time_ms,
    }
