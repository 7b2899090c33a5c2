"""An order list whose placement answer was lost (the wire's UNKNOWN outcome: a timeout or
a connection dropped after sending) re-learns its orderListId and status by REST, as a
single order does: the REST poller asks for the lists still waiting (``ListsToResolve``),
reads each by its listClientOrderId (``GET /api/v3/orderList``) and hands the answer back
(``ListSnapshot``). Nothing is ever sent again; a list the exchange never received is
left to its orders, each resolved absent by its client order id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.order_broker import lists
from domain.book import OrderState
from runtime.messages import ListSnapshot, ListsToResolve

if TYPE_CHECKING:
    from actors.order_broker.broker import OrderBroker


def to_resolve(broker: OrderBroker, message: ListsToResolve) -> list[tuple[str, str]]:
    """Our lists sent (no leg still waiting for the wire's answer) whose orderListId the
    book has not learned, while one of their orders may still be on the exchange."""
    book = broker.book
    out = []
    for order_list in book.order_lists.values():
        if order_list.order_list_id is not None or order_list.done:
            continue
        legs = [book.orders[c] for c in order_list.leg_ids if c in book.orders]
        if any(leg.state is OrderState.PENDING_NEW for leg in legs):
            continue  # the wire has not answered yet
        if all(leg.state.is_terminal and leg.order_id is None for leg in legs):
            continue  # none of it reached the exchange
        out.append((order_list.symbol, order_list.list_client_order_id))
    return out


def on_snapshot(broker: OrderBroker, message: ListSnapshot) -> None:
    status = message.status
    order_list = broker.book.order_lists.get(status.list_client_order_id)
    if order_list is None:
        return  # not ours: the reconciler's business (foreign lists)
    learned = order_list.order_list_id is None
    lists.apply_list(broker, status)
    if learned and order_list.order_list_id is not None:
        broker.audit(
            "list_resolved",
            list_client_order_id=order_list.list_client_order_id,
            order_list_id=order_list.order_list_id,
            list_status_type=order_list.list_status_type,
            list_order_status=order_list.list_order_status,
            via="rest",
        )
