"""Stale-order cleanup's decision: which resting orders of ours are older than the limit."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.book import BookOrder, OrderState
from domain.stale_orders import OrderAges, is_candidate, stale_orders

WALL = 1_700_000_000_000  # a wall-clock "now" (ms)


def order(
    cid: str,
    state: OrderState = OrderState.NEW,
    *,
    created_ms: int = WALL,
    source: str = "api",
    type: str = "LIMIT",
) -> BookOrder:
    return BookOrder(
        client_order_id=cid,
        symbol="BTCUSDT",
        side="BUY",
        type=type,
        quantity=Decimal("0.01"),
        price=Decimal("59000"),
        state=state,
        created_ms=created_ms,
        updated_ms=created_ms,
        source=source,
    )


def stale_ids(
    orders: list[BookOrder], ages: OrderAges, mono: int, wall: int, limit: int
) -> list[str]:
    found = stale_orders(orders, ages, now_mono_ms=mono, now_wall_ms=wall, max_age_ms=limit)
    return sorted(s.order.client_order_id for s in found)


def test_an_order_becomes_stale_when_its_age_reaches_the_limit() -> None:
    ages = OrderAges()
    rests = [order("a", created_ms=WALL)]
    assert stale_ids(rests, ages, 10_000, WALL, 5_000) == []  # age 0
    assert stale_ids(rests, ages, 14_999, WALL + 4_999, 5_000) == []
    found = stale_orders(rests, ages, now_mono_ms=15_000, now_wall_ms=WALL, max_age_ms=5_000)
    assert [(s.order.client_order_id, s.age_ms) for s in found] == [("a", 5_000)]


def test_the_age_counts_from_creation_when_first_seen_then_on_the_monotonic_clock() -> None:
    ages = OrderAges()
    rests = [order("a", created_ms=WALL - 3_000)]  # created 3 s before the first look
    assert stale_ids(rests, ages, 100_000, WALL, 5_000) == []
    assert ages.since["a"] == 97_000
    # the wall clock jumps an hour ahead: the order does not age with it
    assert stale_ids(rests, ages, 101_000, WALL + 3_600_000, 5_000) == []
    assert stale_ids(rests, ages, 102_000, WALL - 3_600_000, 5_000) == ["a"]
    # a creation time in the future (the wall clock stepped back) counts as age 0
    fresh = OrderAges()
    assert stale_ids([order("b", created_ms=WALL + 60_000)], fresh, 5, WALL, 1) == []
    assert fresh.since["b"] == 5


def test_only_confirmed_open_resting_orders_of_ours_are_candidates() -> None:
    old = WALL - 3_600_000
    orders = [
        order("new", OrderState.NEW, created_ms=old),
        order("part", OrderState.PARTIALLY_FILLED, created_ms=old),
        order("flight", OrderState.PENDING_NEW, created_ms=old),
        order("unknown", OrderState.UNKNOWN, created_ms=old),
        order("filled", OrderState.FILLED, created_ms=old),
        order("adopted", created_ms=old, source="adopted"),
        order("resync", created_ms=old, source="resync"),
        order("market", created_ms=old, type="MARKET"),
    ]
    assert stale_ids(orders, OrderAges(), 0, WALL, 1_000) == ["new", "part"]


def test_an_unknown_order_is_aged_only_from_when_it_is_confirmed_open() -> None:
    ages = OrderAges()
    unknown = order("u", OrderState.UNKNOWN, created_ms=WALL - 10_000)
    assert stale_ids([unknown], ages, 0, WALL, 1_000) == [] and ages.since == {}
    confirmed = order("u", OrderState.NEW, created_ms=WALL - 10_000)
    assert stale_ids([confirmed], ages, 500, WALL + 500, 1_000) == ["u"]  # created 10.5 s ago


def test_an_order_gone_from_the_book_is_forgotten() -> None:
    ages = OrderAges()
    stale_ids([order("a")], ages, 0, WALL, 1_000)
    assert "a" in ages.since
    stale_ids([], ages, 1, WALL, 1_000)
    assert ages.since == {}


@given(
    state=st.sampled_from(list(OrderState)),
    source=st.sampled_from(["api", "strategy", "adopted", "resync", "cancelled at start-up"]),
    type=st.sampled_from(["LIMIT", "MARKET"]),
    age=st.integers(min_value=0, max_value=10**9),
    limit=st.integers(min_value=1, max_value=10**9),
)
def test_stale_exactly_when_a_candidate_reaches_the_limit(
    state: OrderState, source: str, type: str, age: int, limit: int
) -> None:
    o = order("x", state, created_ms=WALL - age, source=source, type=type)
    found = stale_ids([o], OrderAges(), 10**10, WALL, limit)
    assert (found == ["x"]) == (is_candidate(o) and age >= limit)
    if found:
        assert state in (OrderState.NEW, OrderState.PARTIALLY_FILLED)


def test_the_orders_not_ours_are_the_brokers_adopted_ones() -> None:
    from actors.order_broker.cancels import ADOPTED
    from domain.stale_orders import NOT_OURS

    assert NOT_OURS == ADOPTED
