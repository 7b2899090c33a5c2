"""Execution quality: slippage in basis points (exact Decimal) and latency percentiles."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.execution import (
    ExecutionTracker,
    LatencyStats,
    average_price,
    execution_quality,
    percentile,
    slippage_bps,
)

D = Decimal


@pytest.mark.parametrize(
    ("side", "reference", "fill", "bps"),
    [
        ("BUY", "60000", "60600", "100"),  # paid 1% more: 100 bps worse
        ("BUY", "60000", "59400", "-100"),  # better than the mid
        ("SELL", "60000", "59400", "100"),  # sold 1% lower: worse
        ("SELL", "60000", "60600", "-100"),
        ("BUY", "60000", "60000", "0"),
        ("BUY", "60000", "60000.06", "0.01"),  # the smallest step that shows at 2 places
        ("SELL", "0.00000001", "0.00000002", "-10000"),
    ],
)
def test_slippage_bps_is_exact_and_positive_when_worse(
    side: str, reference: str, fill: str, bps: str
) -> None:
    assert slippage_bps(side, D(reference), D(fill)) == D(bps)


@pytest.mark.parametrize(("side", "reference"), [("BUY", "0"), ("BUY", "-1"), ("HOLD", "1")])
def test_slippage_refuses_nonsense(side: str, reference: str) -> None:
    with pytest.raises(ValueError):
        slippage_bps(side, D(reference), D("1"))


def test_average_price_is_quantity_weighted() -> None:
    assert average_price([(D("100"), D("1")), (D("103"), D("2"))]) == D("102")
    assert average_price([]) is None
    assert average_price([(D("100"), D("0"))]) is None


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 95, None),
        ([7.0], 50, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),  # nearest rank: ceil(0.5 * 4) = 2nd
        ([1.0, 2.0, 3.0, 4.0], 75, 3.0),
        ([1.0, 2.0, 3.0, 4.0], 76, 4.0),
        ([float(i) for i in range(1, 101)], 95, 95.0),
        ([float(i) for i in range(1, 101)], 100, 100.0),
        ([5.0, 1.0, 3.0], 100, 5.0),  # order does not matter
    ],
)
def test_percentile_nearest_rank(values: list[float], p: float, expected: float | None) -> None:
    assert percentile(values, p) == expected


@pytest.mark.parametrize("p", [0, -1, 100.1])
def test_percentile_refuses_p_out_of_range(p: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0], p)


def test_latency_stats_per_symbol_and_leg_keep_the_newest_samples() -> None:
    stats = LatencyStats(size=3)
    for ms in (100, 1, 2, 3):
        stats.add("BTCUSDT", "place_ack", ms)
    stats.add("BTCUSDT", "place_ack", -5)  # two clocks: ignored
    stats.add("ETHUSDT", "place_fill", 40)
    assert stats.percentile("BTCUSDT", "place_ack", 100) == 3  # 100 fell out
    assert stats.percentile("BTCUSDT", "place_fill", 95) is None
    summary = stats.summary()
    assert summary["BTCUSDT"]["place_ack"] == {
        "count": 3,
        "p50": 2,
        "p95": 3,
        "p99": 3,
        "max": 3,
    }
    assert summary["ETHUSDT"]["place_fill"]["p95"] == 40


def test_execution_quality_of_an_order() -> None:
    q = execution_quality(
        client_order_id="c1",
        symbol="BTCUSDT",
        side="BUY",
        reference_price=D("60000"),
        fills=[(D("60060"), D("0.5")), (D("60120"), D("0.5"))],
        placed_ms=1000,
        acked_ms=1012,
        filled_ms=1015,
    )
    assert q is not None
    assert q.fill_price == D("60090") and q.filled_qty == D("1.0")
    assert q.slippage_bps == D("15")
    assert q.as_dict()["slippage_bps"] == "15.00"
    assert (q.place_to_ack_ms, q.place_to_fill_ms) == (12.0, 15.0)
    assert (
        execution_quality(
            client_order_id="c2",
            symbol="BTCUSDT",
            side="BUY",
            reference_price=D("1"),
            fills=[],
        )
        is None
    )


def test_the_tracker_measures_latency_and_slippage_and_closes_an_order_once_answered() -> None:
    tracker = ExecutionTracker()
    tracker.accepted("c1", "BTCUSDT", "BUY", Decimal("100"))
    tracker.sent("c1", 10.0)
    # the fill event overtakes the REST answer: the order is done but not yet answered
    assert tracker.fill("c1", Decimal("101"), Decimal("1"), 10.05) == Decimal("100")
    assert not tracker.settled("c1")
    assert tracker.answered("c1", 10.2, acked=True) == pytest.approx(200.0)
    assert tracker.settled("c1")
    quality = tracker.finished("c1")
    assert quality is not None
    assert quality.slippage_bps == Decimal("100") and quality.fill_price == Decimal("101")
    assert quality.place_to_ack_ms == pytest.approx(200.0)
    assert quality.place_to_fill_ms == pytest.approx(50.0)
    assert tracker.p95_ack_ms("BTCUSDT") == pytest.approx(200.0)
    summary = tracker.summary()["BTCUSDT"]
    assert set(summary) == {"place_ack", "place_fill", "slippage_bps"}
    assert "c1" not in tracker.orders


def test_the_tracker_ignores_what_it_does_not_track_and_orders_without_a_reference() -> None:
    tracker = ExecutionTracker()
    assert tracker.fill("x", Decimal("1"), Decimal("1"), 1.0) is None
    assert tracker.answered("x", 1.0, acked=True) is None and tracker.settled("x")
    tracker.accepted("c2", "BTCUSDT", "SELL", None)  # no mid yet: no slippage to measure
    assert tracker.fill("c2", Decimal("1"), Decimal("1"), 1.0) is None
    assert tracker.finished("c2") is None


def test_a_symbols_p95_needs_enough_acks() -> None:
    tracker = ExecutionTracker()
    for _ in range(19):
        tracker.latency.add("BTCUSDT", "place_ack", 10.0)
    tracker.latency.add("ETHUSDT", "place_ack", 5000.0)  # one slow first order: no trend
    assert tracker.p95_ack_ms("ETHUSDT", 20) is None
    assert tracker.p95_ack_ms("BTCUSDT", 20) is None  # 19 acks
    tracker.latency.add("BTCUSDT", "place_ack", 900.0)  # the 20th: p95 is the 19th value
    assert tracker.p95_ack_ms("BTCUSDT", 20) == 10.0
    tracker.latency.add("BTCUSDT", "place_ack", 950.0)
    assert tracker.p95_ack_ms("BTCUSDT", 20) == 900.0
    assert tracker.p95_ack_ms("ETHUSDT") == 5000.0  # no minimum asked


@given(
    st.lists(st.sampled_from([0.0, 1.5, 2.0, 7.25, 100.0]) | st.floats(0, 1e4), max_size=60),
    st.booleans(),
)
def test_the_summary_kept_sorted_says_what_percentile_says(
    values: list[float], other: bool
) -> None:
    """The sorted copy kept beside each window (values leave it as the window drops them,
    repeated values too) gives the figures percentile() gives on the window itself."""
    stats = LatencyStats(size=7)
    for v in values:
        stats.add("BTCUSDT", "place_ack", v)
    if other:
        stats.add("ETHUSDT", "place_ack", 1.0)
    figures = stats.summary("BTCUSDT").get("BTCUSDT", {}).get("place_ack")
    if not values:
        assert figures is None
        return
    values = values[-7:]  # what the window holds
    assert stats.ordered[("BTCUSDT", "place_ack")] == sorted(values)  # kept in step
    assert stats.percentile("BTCUSDT", "place_ack", 95) == percentile(values, 95)
    assert figures == {
        "count": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values),
    }
    assert set(stats.summary("BTCUSDT")) == {"BTCUSDT"}
    assert stats.summary()["BTCUSDT"]["place_ack"] == figures
