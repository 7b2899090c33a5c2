"""Cancel-on-RED's duty: confirmed-open orders only, at once, then with back-off."""

from __future__ import annotations

from decimal import Decimal

from domain.book import BookOrder, BookOrderList, OrderState
from domain.cancel_duty import CancelDuty, one_per_list, open_list_key


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


def leg(cid: str, order_list: str) -> BookOrder:
    o = order(cid, OrderState.NEW)
    o.order_list = order_list
    return o


def oco(status: str = "EXECUTING") -> dict[str, BookOrderList]:
    return {
        "L": BookOrderList(
            list_client_order_id="L",
            symbol="BTCUSDT",
            list_type="OCO",
            legs={"above": "a", "below": "b"},
            list_order_status=status,
        )
    }


def test_the_legs_of_an_open_list_are_one_target_the_exchange_cancels_the_rest() -> None:
    duty = CancelDuty(first_retry_ms=1000)
    orders = [leg("a", "L"), leg("b", "L"), order("x", OrderState.NEW)]
    key = open_list_key(oco())
    assert [(o.client_order_id, n) for o, n in duty.due(orders, 0, key)] == [("a", 1), ("x", 1)]
    # the retry goes to the leg already being cancelled, never to its sibling
    assert [(o.client_order_id, n) for o, n in duty.due(orders[::-1], 1000, key)] == [
        ("x", 2),
        ("a", 2),
    ]
    # "a" gone (its list's cancel ended it) while "b" is still reported open: "b" is next
    assert [(o.client_order_id, n) for o, n in duty.due(orders[1:], 1000, key)] == [("b", 1)]


def test_the_legs_of_a_done_list_are_cancelled_each_on_its_own() -> None:
    orders = [leg("a", "L"), leg("b", "L")]
    due = CancelDuty().due(orders, 0, open_list_key(oco("ALL_DONE")))
    assert [o.client_order_id for o, _ in due] == ["a", "b"]
    assert [o.client_order_id for o, _ in CancelDuty().due(orders, 0)] == ["a", "b"]


def test_one_per_list_names_the_covered_siblings() -> None:
    orders = [leg("a", "L"), leg("b", "L")]
    leaders, covered = one_per_list(orders, open_list_key(oco()), prefer=["b"])
    assert [o.client_order_id for o in leaders] == ["b"] and covered == {"a"}


def test_a_list_with_a_cancelled_leg_is_ending_its_siblings_are_no_target() -> None:
    a, b = leg("a", "L"), leg("b", "L")
    a.state = OrderState.CANCELED  # its report came; the sibling's is on the way
    orders = {"a": a, "b": b}
    duty = CancelDuty()
    assert duty.due([b], 0, open_list_key(oco(), orders)) == []
    # without the orders the list is not known to be ending: "b" is the target
    assert [o.client_order_id for o, _ in CancelDuty().due([b], 0, open_list_key(oco()))] == ["b"]
