"""Failure classification against the simulator's fault API, checked against its true state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from exchange.binance import BinanceSpotAdapter
from exchange.contract import (
    AuthError,
    NotSent,
    OrderNotFound,
    OrderState,
    RateLimited,
    RateLimitEvent,
    Rejected,
    UnknownOutcome,
)
from tests.conftest import SimHandle, wait_for
from tests.exchange.adapter_helpers import limit_buy, make_adapter, sim_orders


@pytest.fixture
def adapter(sim: SimHandle) -> Iterator[BinanceSpotAdapter]:
    adapter, _ = make_adapter(sim)
    adapter.symbol_filters("BTCUSDT")  # warm the cache and the clock
    adapter.sync_clock()
    yield adapter
    adapter.close()


def _resolves_to_one_order(adapter: BinanceSpotAdapter, sim: SimHandle, cid: str) -> None:
    status = adapter.get_order("BTCUSDT", client_order_id=cid)
    assert status.state is OrderState.NEW
    assert len(sim_orders(sim, cid)) == 1


def test_read_timeout_after_accept_is_unknown_outcome_resolved_by_query(
    adapter: BinanceSpotAdapter, sim: SimHandle
) -> None:
    sim.arm("timeout_after_accept", params={"delay": 1.0})
    request = limit_buy()
    with pytest.raises(UnknownOutcome) as raised:
        adapter.place_order(request)
    assert raised.value.client_order_id == request.client_order_id
    _resolves_to_one_order(adapter, sim, request.client_order_id)


def test_lost_response_is_unknown_outcome_resolved_by_query(
    adapter: BinanceSpotAdapter, sim: SimHandle
) -> None:
    sim.arm("lost_response")
    request = limit_buy()
    with pytest.raises(UnknownOutcome):
        adapter.place_order(request)
    _resolves_to_one_order(adapter, sim, request.client_order_id)


def test_unknown_status_placed_is_unknown_outcome_resolved_by_query(
    adapter: BinanceSpotAdapter, sim: SimHandle
) -> None:
    sim.arm("unknown_status", params={"placed": True, "status": 503, "code": -1007})
    request = limit_buy()
    with pytest.raises(UnknownOutcome) as raised:
        adapter.place_order(request)
    assert raised.value.code == -1007 and raised.value.http_status == 503
    _resolves_to_one_order(adapter, sim, request.client_order_id)


def test_unknown_status_not_placed_resolves_to_not_found(
    adapter: BinanceSpotAdapter, sim: SimHandle
) -> None:
    sim.arm("unknown_status", params={"placed": False, "status": 500, "code": -1006})
    request = limit_buy()
    with pytest.raises(UnknownOutcome):
        adapter.place_order(request)
    with pytest.raises(OrderNotFound):
        adapter.get_order("BTCUSDT", client_order_id=request.client_order_id)
    assert sim_orders(sim, request.client_order_id) == []


def test_order_placement_is_never_retried_but_reads_are(
    adapter: BinanceSpotAdapter, sim: SimHandle
) -> None:
    # (an outage's `count` is never spent by the simulator, so it is armed by duration)
    sim.arm("outage", params={"mode": 503}, duration=30)
    count = sim.exchange.server.request_count
    with pytest.raises(UnknownOutcome):
        adapter.place_order(limit_buy())
    assert sim.exchange.server.request_count == count + 1  # sent exactly once
    with pytest.raises(UnknownOutcome):
        adapter.get_open_orders("BTCUSDT")
    assert sim.exchange.server.request_count == count + 1 + 3  # read: 1 + read_retries (2)
    sim.clear()
    assert adapter.get_open_orders("BTCUSDT") == []


def test_outage_outlasting_retries_is_unknown_outcome_for_reads(
    adapter: BinanceSpotAdapter, sim: SimHandle
) -> None:
    sim.arm("outage", params={"mode": 503}, duration=5)
    with pytest.raises(UnknownOutcome) as raised:
        adapter.get_balances()
    assert raised.value.http_status == 503


def test_connection_refused_is_not_sent(sim: SimHandle) -> None:
    adapter, _ = make_adapter(sim, rest_url="http://127.0.0.1:9", read_retries=0)
    with pytest.raises(NotSent) as raised:
        adapter.get_open_orders()
    assert not isinstance(raised.value, RateLimited)
    health = adapter.ping()
    assert not health.reachable and not health.held_back  # it was tried: a real failure
    adapter.close()


def test_exchange_rejection_is_rejected(adapter: BinanceSpotAdapter, sim: SimHandle) -> None:
    sim.arm("reject_orders", params={"code": -2010, "msg": "This action is disabled."})
    with pytest.raises(Rejected) as raised:
        adapter.place_order(limit_buy())
    assert raised.value.code == -2010 and not raised.value.local
    assert sim.state()["orders"] == []


def test_bad_credentials_are_auth_error(sim: SimHandle) -> None:
    adapter, _ = make_adapter(sim, api_secret=SecretStr("wrong-secret"))
    with pytest.raises(AuthError) as raised:
        adapter.get_balances()
    assert raised.value.code == -1022
    adapter.close()


def test_clock_skew_is_corrected_and_the_request_then_succeeds(
    adapter: BinanceSpotAdapter, sim: SimHandle
) -> None:
    sim.arm("clock_skew", params={"offset_ms": 10000})
    request = limit_buy()
    ack = adapter.place_order(request)  # -1021, re-sync, one retry
    assert ack.client_order_id == request.client_order_id
    assert 9000 <= adapter.clock.offset_ms <= 11000
    assert len(sim_orders(sim, request.client_order_id)) == 1


def test_429_closes_the_gate_for_retry_after(sim: SimHandle) -> None:
    events: list[RateLimitEvent] = []
    adapter, _ = make_adapter(sim)
    adapter.add_rate_limit_listener(events.append)
    adapter.get_open_orders()  # clock synced
    sim.arm("rate_limit_storm", params={"count_429": 2, "ban_seconds": 2})
    with pytest.raises(RateLimited) as raised:
        adapter.get_open_orders()
    assert raised.value.http_status == 429 and raised.value.retry_after_s >= 1
    count = sim.exchange.server.request_count
    with pytest.raises(RateLimited) as gated:
        adapter.get_open_orders()
    assert gated.value.local and gated.value.backing_off
    assert sim.exchange.server.request_count == count  # nothing reached the simulator
    assert [e.kind for e in events] == ["http_429", "gate_closed"]
    # a ping the gate holds back says nothing of the venue: not a failed ping
    held = adapter.ping()
    assert not held.reachable and held.held_back and held.banned_for_s == 0
    assert sim.exchange.server.request_count == count
    adapter.close()


def test_418_ban_is_honoured_until_it_ends(sim: SimHandle) -> None:
    events: list[RateLimitEvent] = []
    adapter, _ = make_adapter(sim)
    adapter.add_rate_limit_listener(events.append)
    adapter.sync_clock()
    sim.arm("rate_limit_storm", params={"count_429": 1, "ban_seconds": 2})
    other, _ = make_adapter(sim)  # another client on the IP takes the 429; the ban follows
    with pytest.raises(RateLimited):
        other.get_open_orders()
    with pytest.raises(RateLimited) as raised:
        adapter.get_open_orders()
    assert raised.value.http_status == 418 and raised.value.banned
    count = sim.exchange.server.request_count
    for _ in range(3):
        with pytest.raises(RateLimited) as gated:
            adapter.get_open_orders()
        assert gated.value.local and gated.value.banned
    assert sim.exchange.server.request_count == count  # silent during the ban
    assert adapter.ping().banned_for_s > 0
    wait_for(lambda: adapter.limits.blocked_for()[0] == 0, timeout=4)
    assert adapter.get_open_orders() == []  # the ban ended: requests flow again
    assert "http_418" in [e.kind for e in events]
    adapter.close()
    other.close()


def test_pre_emptive_throttle_refuses_before_the_wire(sim: SimHandle) -> None:
    events: list[RateLimitEvent] = []
    adapter, _ = make_adapter(sim, throttle_max_wait_s=0.0)
    adapter.add_rate_limit_listener(events.append)
    adapter.get_open_orders()
    adapter.limits.set_limits(weight_limit_1m=10, order_limit_10s=None)
    count = sim.exchange.server.request_count
    with pytest.raises(RateLimited) as raised:
        adapter.get_open_orders()  # used weight is already above 80% of 10
    assert raised.value.local and not raised.value.banned
    assert not raised.value.backing_off  # our own throttle: the venue refused nothing
    assert sim.exchange.server.request_count == count
    assert events[-1].kind == "throttled"
    adapter.close()
