"""Cancel-on-RED's duty: confirmed-open orders only, at once, then with back-off."""

from __future__ import annotations

from decimal import Decimal

from domain.book import BookOrder, OrderState
from domain.cancel_duty import CancelDuty


def order(cid: str, state: OrderState) -> BookOrder:
    return BookOrder(
        client_order_id=cid,
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        quantity=Decimal("0.01"),
        price=Decimal("59000"),
        state=state,
        created_ms=0,
        updated_ms=0,
        source="test",
    )


def test_only_orders_the_exchange_confirms_open_are_targets() -> None:
    orders = [
        order("new", OrderState.NEW),
        order("part", OrderState.PARTIALLY_FILLED),
        order("flight", OrderState.PENDING_NEW),
        order("unknown", OrderState.UNKNOWN),
    ]
    due = CancelDuty().due(orders, 0)
    assert sorted(o.client_order_id for o, _ in due) == ["new", "part"]


def test_a_target_is_tried_again_with_back_off_until_it_is_gone() -> None:
    duty = CancelDuty(first_retry_ms=1000, max_retry_ms=3000)
    rests = [order("a", OrderState.NEW)]
    assert [n for _, n in duty.due(rests, 0)] == [1]
    assert duty.due(rests, 999) == []
    assert [n for _, n in duty.due(rests, 1000)] == [2]  # 1 s after the first
    assert duty.due(rests, 2999) == []
    assert [n for _, n in duty.due(rests, 3000)] == [3]  # 2 s after the second
    assert [n for _, n in duty.due(rests, 6000)] == [4]  # capped at 3 s
    assert duty.due([], 7000) == [] and duty.attempts == {}  # gone: the duty is done
