"""Binance Spot order lists (OCO, OTO, OTOCO) to contract types: the REST ``orderList``
answers and the user stream's ``listStatus`` event, whose orders are the same references
under different keys.
"""

from __future__ import annotations

from exchange.binance.parse.answers import order_status
from exchange.binance.parse.reader import Reader, as_list, build
from exchange.contract import ListOrderRef, ListStatus, OrderListStatus

__all__ = ["list_status", "order_list_status", "order_list_statuses"]


def order_list_status(data: object) -> OrderListStatus:
    """An order list (``orderList`` answers; ``orderReports`` when the answer has them)."""
    r = Reader(data, "orderList")
    refs = tuple(
        _list_ref(item, f"orderList.orders[{i}]") for i, item in enumerate(r.items("orders"))
    )
    reports = tuple(
        order_status(item) for item in (r.items("orderReports") if "orderReports" in r.data else [])
    )
    return build(  # type: ignore[no-any-return]
        OrderListStatus,
        "orderList",
        order_list_id=r.integer("orderListId"),
        contingency_type=r.text("contingencyType"),
        list_status_type=r.text("listStatusType"),
        list_order_status=r.text("listOrderStatus"),
        list_client_order_id=r.text("listClientOrderId"),
        transaction_time_ms=r.integer("transactionTime"),
        symbol=r.text("symbol"),
        orders=refs,
        order_reports=reports,
    )


def _list_ref(
    data: object, what: str, keys: tuple[str, str, str] = ("symbol", "orderId", "clientOrderId")
) -> ListOrderRef:
    r = Reader(data, what)
    return build(  # type: ignore[no-any-return]
        ListOrderRef,
        what,
        symbol=r.text(keys[0]),
        order_id=r.integer(keys[1]),
        client_order_id=r.text(keys[2]),
    )


def list_status(r: Reader) -> ListStatus:
    r.what = "listStatus"
    refs = tuple(
        _list_ref(item, f"listStatus.O[{i}]", ("s", "i", "c"))
        for i, item in enumerate(r.items("O"))
    )
    return build(  # type: ignore[no-any-return]
        ListStatus,
        r.what,
        event_time_ms=r.integer("E"),
        symbol=r.text("s"),
        order_list_id=r.integer("g"),
        contingency_type=r.text("c"),
        list_status_type=r.text("l"),
        list_order_status=r.text("L"),
        list_reject_reason=r.text("r"),
        list_client_order_id=r.text("C"),
        transaction_time_ms=r.integer("T"),
        orders=refs,
    )


def order_list_statuses(data: object) -> list[OrderListStatus]:
    """A list of order lists (``openOrderList``, ``allOrderList``)."""
    return [order_list_status(item) for item in as_list(data)]
