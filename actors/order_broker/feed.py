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
    """Turns the book's changes into ``execution`` events; remembers, per open order,
    whether its acknowledgment was published (so NEW goes out once)."""

    def __init__(self, open_orders: list[BookOrder]) -> None:
        # Vigil's ids of the open orders whose NEW was published (or known before a restart)
        self._acked: set[str] = {o.client_order_id for o in open_orders if o.order_id is not None}
        self.reject_reasons: dict[str, str] = {}  # set by the broker just before a REJECTED

    def order_changed(self, order: BookOrder, now_ms: int) -> list[dict[str, Any]]:
        """The events for an order the book just changed (state, quantity or exchange id)."""
        events: list[dict[str, Any]] = []
        cid = order.client_order_id
        if order.order_id is not None and cid not in self._acked:
            self._acked.add(cid)
            if order.state is not OrderState.REJECTED:
                events.append(_event(order, "NEW", now_ms))
        end = ENDS.get(order.state)
        if end is not None:
            reason = self.reject_reasons.pop(cid, "NONE") if end == "REJECTED" else "NONE"
            events.append(_event(order, end, now_ms, reject_reason=reason))
        if order.state.is_terminal:
            self._acked.discard(cid)
        return events

    def filled(self, order: BookOrder, fill: Execution, now_ms: int) -> dict[str, Any]:
        """The TRADE event of one fill just accounted; the order's figures as of this fill
        (what the book has accounted of it so far)."""
        if order.booked_qty >= order.quantity:
            state = OrderState.FILLED.value
        elif order.state.is_terminal and order.booked_qty >= order.executed_qty:
            state = order.state.value
        else:
            state = OrderState.PARTIALLY_FILLED.value
        event = _event(order, "TRADE", now_ms)
        event.update(
            state=state,
            executed_qty=plain(order.booked_qty),
            cumulative_quote=plain(order.booked_quote),
            last_qty=plain(fill.qty),
            last_price=plain(fill.price),
            last_quote_qty=plain(fill.price * fill.qty),
            commission=plain(fill.commission),
            commission_asset=fill.commission_asset,
            trade_id=fill.trade_id,
            is_maker=fill.is_maker,
        )
        return event


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
