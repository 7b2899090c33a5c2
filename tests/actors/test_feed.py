"""The execution feed on its own: the book's changes become Binance-ordered events (NEW,
each TRADE, then the end), an end reported before its fills waits for the last one."""

from __future__ import annotations

from decimal import Decimal

from actors.order_broker.feed import ExecutionFeed
from domain.book import BookOrder, Execution, OrderState


def ioc(qty: str = "1") -> BookOrder:
    return BookOrder("vgl-1", "BTCUSDT", "BUY", "LIMIT", Decimal(qty), Decimal("100"),
                     time_in_force="IOC", strategy="bot1", strategy_order_id="s1")  # fmt: skip


def fill(trade_id: int, qty: str) -> Execution:
    return Execution("BTCUSDT", trade_id, 7, "vgl-1", "BUY", Decimal("100"), Decimal(qty),
                     Decimal("0"), "BNB", 1, False, "ack")  # fmt: skip


def book(order: BookOrder, execution: Execution) -> None:
    """What the book does when it accounts a fill."""
    order.booked_qty += execution.qty
    order.booked_quote += execution.qty * execution.price


def test_an_ioc_partly_filled_then_expired_is_told_new_trades_then_expired() -> None:
    feed = ExecutionFeed([])
    order = ioc()
    order.order_id, order.state, order.executed_qty = 7, OrderState.EXPIRED, Decimal("0.6")
    first = feed.order_changed(order, 10)  # the answer: EXPIRED with 0.6 done, fills after
    # the order as the book knows it: already EXPIRED with 0.6 done
    assert [(e["execution_type"], e["state"], e["executed_qty"]) for e in first] == [
        ("NEW", "EXPIRED", "0.6")
    ]
    out = []
    for execution in (fill(1, "0.25"), fill(2, "0.35")):
        book(order, execution)
        out += feed.filled(order, execution, 11)
    assert [(e["execution_type"], e["last_qty"], e["trade_id"]) for e in out] == [
        ("TRADE", "0.25", 1),
        ("TRADE", "0.35", 2),
        ("EXPIRED", "0", None),  # after its fills, as Binance tells it
    ]
    assert out[1]["last_quote_qty"] == "35" and out[1]["strategy_order_id"] == "s1"


def test_a_rejection_carries_its_reason_and_no_new() -> None:
    feed = ExecutionFeed([])
    order = ioc()
    order.state = OrderState.REJECTED
    feed.reject_reasons[order.client_order_id] = "-2010 Order would immediately match and take."
    (event,) = feed.order_changed(order, 5)
    assert event["execution_type"] == "REJECTED" and "immediately match" in event["reject_reason"]
    assert feed.reject_reasons == {}


def test_an_order_acknowledged_before_a_restart_is_not_new_again() -> None:
    order = ioc()
    order.order_id, order.state = 7, OrderState.NEW
    feed = ExecutionFeed([order])
    order.state = OrderState.CANCELED
    assert [e["execution_type"] for e in feed.order_changed(order, 5)] == ["CANCELED"]
