"""BinanceSpotAdapter's REST methods against the simulator (happy paths and rejections)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pydantic import ValidationError

from exchange.binance import AdapterConfig, BinanceSpotAdapter
from exchange.contract import (
    DuplicateClientOrderId,
    FilterRejected,
    NotSent,
    OrderNotFound,
    OrderRequest,
    OrderState,
    Rejected,
)
from tests.conftest import SimHandle, wait_for
from tests.exchange.adapter_helpers import Recorder, client_id, limit_buy, make_adapter, sim_orders


@pytest.fixture
def adapter(sim: SimHandle) -> Iterator[BinanceSpotAdapter]:
    adapter, _ = make_adapter(sim)
    yield adapter
    adapter.close()


def test_constructor_makes_no_network_call() -> None:
    config = AdapterConfig(
        rest_url="http://127.0.0.1:9", ws_api_url="ws://127.0.0.1:9", stream_url="ws://127.0.0.1:9"
    )
    adapter = BinanceSpotAdapter(config)  # port 9 (discard): nothing listens; no error yet
    with pytest.raises(NotSent):
        adapter.rest.call(adapter_endpoint("ping"))
    adapter.close()


def adapter_endpoint(name: str):  # type: ignore[no-untyped-def]
    from exchange.binance.rest import ENDPOINTS

    return ENDPOINTS[name]


def test_limit_order_is_placed_queried_and_cancelled(
    adapter: BinanceSpotAdapter, sim: SimHandle
) -> None:
    request = limit_buy()
    ack = adapter.place_order(request)
    assert ack.client_order_id == request.client_order_id and ack.state is OrderState.NEW
    by_cid = adapter.get_order("BTCUSDT", client_order_id=request.client_order_id)
    by_id = adapter.get_order("BTCUSDT", order_id=ack.order_id)
    assert by_cid == by_id
    assert by_cid.price == Decimal("59000") and by_cid.orig_qty == Decimal("0.01")
    assert [o.client_order_id for o in adapter.get_open_orders("BTCUSDT")] == [
        request.client_order_id
    ]
    cancel = adapter.cancel_order(
        "BTCUSDT", client_order_id=request.client_order_id, cancel_client_order_id="cx-1"
    )
    assert cancel.state is OrderState.CANCELED
    assert cancel.orig_client_order_id == request.client_order_id
    assert cancel.client_order_id == "cx-1"
    assert adapter.get_open_orders() == []
    assert sim.state()["open_orders"] == []


def test_market_order_fills_and_trades_and_positions_follow(
    adapter: BinanceSpotAdapter, sim: SimHandle
) -> None:
    before = adapter.get_positions()["BTCUSDT"].quantity
    request = OrderRequest(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01", client_order_id=client_id()
    )
    ack = adapter.place_order(request)
    assert ack.state is OrderState.FILLED and ack.fills
    assert sum(f.qty for f in ack.fills) == Decimal("0.01")
    trades = adapter.get_trades("BTCUSDT", since_ms=0)
    assert {t.trade_id for t in trades} == {t["id"] for t in sim.state()["trades"]}
    assert adapter.get_trades("BTCUSDT", from_id=trades[0].trade_id) == trades
    position = adapter.get_positions()["BTCUSDT"]
    fees = sum(f.commission for f in ack.fills if f.commission_asset == "BTC")
    assert position.asset == "BTC" and position.quantity == before + Decimal("0.01") - fees
    balances = adapter.get_balances()
    true = sim.state()["balances"]
    for asset, balance in balances.items():
        assert balance.free == Decimal(true[asset]["free"])
        assert balance.locked == Decimal(true[asset]["locked"])


def test_exchange_info_gives_filters_and_is_cached(
    adapter: BinanceSpotAdapter, sim: SimHandle
) -> None:
    filters = adapter.symbol_filters("BTCUSDT")
    assert filters.tick_size == Decimal("0.01") and filters.base_asset == "BTC"
    count = sim.exchange.server.request_count
    adapter.symbol_filters("ETHUSDT")
    assert sim.exchange.server.request_count == count  # cached
    adapter.exchange_info(refresh=True)
    assert sim.exchange.server.request_count == count + 1
    assert adapter.limits.weight_limit_1m == 6000


def test_an_order_failing_a_filter_never_reaches_the_wire(
    adapter: BinanceSpotAdapter, sim: SimHandle
) -> None:
    adapter.symbol_filters("BTCUSDT")
    count = sim.exchange.server.request_count
    with pytest.raises(FilterRejected) as raised:
        adapter.place_order(limit_buy(price="59000.005"))  # off the tick
    assert raised.value.local and str(raised.value).startswith("new_order not sent: Filter failure")
    with pytest.raises(FilterRejected):
        adapter.place_order(limit_buy(qty="0.000001"))  # below minQty
    assert sim.exchange.server.request_count == count
    assert sim.state()["orders"] == []


def test_exchange_filter_rejection_marks_exchange_info_stale(
    adapter: BinanceSpotAdapter, sim: SimHandle
) -> None:
    adapter.symbol_filters("BTCUSDT")
    sim.arm("reject_orders", params={"code": -1013, "msg": "Filter failure: LOT_SIZE"})
    with pytest.raises(FilterRejected) as raised:
        adapter.place_order(limit_buy())
    assert raised.value.code == -1013 and not raised.value.local
    count = sim.exchange.server.request_count
    adapter.symbol_filters("BTCUSDT")
    assert sim.exchange.server.request_count == count + 1  # refetched


def test_duplicate_client_order_id_is_typed(adapter: BinanceSpotAdapter, sim: SimHandle) -> None:
    request = limit_buy()
    adapter.place_order(request)
    with pytest.raises(DuplicateClientOrderId) as raised:
        adapter.place_order(request)
    assert raised.value.code == -2010
    assert len(sim_orders(sim, request.client_order_id)) == 1


def test_unknown_order_is_order_not_found(adapter: BinanceSpotAdapter) -> None:
    with pytest.raises(OrderNotFound):
        adapter.get_order("BTCUSDT", client_order_id="never-sent")
    with pytest.raises(OrderNotFound):
        adapter.cancel_order("BTCUSDT", client_order_id="never-sent")


def test_exchange_rejection_is_rejected_with_code(
    adapter: BinanceSpotAdapter, sim: SimHandle
) -> None:
    with pytest.raises(Rejected) as raised:
        adapter.place_order(limit_buy(qty="100", price="59000"))  # 5.9M USDT: insufficient
    assert raised.value.code == -2010 and "insufficient balance" in str(raised.value)


@pytest.mark.parametrize("cid", ["", "has space", "x" * 37, "ümlaut", "semi;colon"])
def test_client_order_ids_are_validated(cid: str) -> None:
    with pytest.raises(ValidationError):
        OrderRequest(
            symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="1", price="1",
            client_order_id=cid,
        )  # fmt: skip


def test_order_request_shape_rules() -> None:
    with pytest.raises(ValidationError):  # float amounts are refused
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.1, client_order_id="a")
    with pytest.raises(ValidationError):  # LIMIT needs a price
        OrderRequest(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="1", client_order_id="a")
    with pytest.raises(ValidationError):  # MARKET takes none
        OrderRequest(
            symbol="BTCUSDT", side="BUY", type="MARKET", quantity="1", price="1",
            client_order_id="a",
        )  # fmt: skip
    assert limit_buy().time_in_force == "GTC"


def test_ping_reports_health(adapter: BinanceSpotAdapter) -> None:
    health = adapter.ping()
    assert health.reachable and health.latency_ms is not None and health.error is None


def test_every_request_and_response_is_audited(sim: SimHandle) -> None:
    adapter, audit = make_adapter(sim)
    adapter.place_order(limit_buy())
    requests = audit.of_kind("request")
    responses = audit.of_kind("response")
    assert [r.operation for r in requests] == ["exchange_info", "time", "new_order"]
    assert [r.operation for r in responses] == ["exchange_info", "time", "new_order"]
    assert all(r.latency_ms is not None and r.status == 200 for r in responses)
    assert responses[-1].weight is not None
    adapter.close()


def test_audit_sink_failure_does_not_change_an_outcome(sim: SimHandle) -> None:
    def broken(record: object) -> None:
        raise RuntimeError("sink down")

    adapter = BinanceSpotAdapter(make_adapter(sim)[0].config, audit=broken)
    assert adapter.place_order(limit_buy()).state is OrderState.NEW
    adapter.close()


def test_recorder_helper_filters_by_kind() -> None:
    recorder = Recorder()
    recorder("x")
    assert recorder.of_kind("request") == []


def test_the_environments_proxy_is_still_honoured(
    sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the environment is read once per client instead of on every request: a proxy set
    # there is still used (here one where nothing listens, so nothing reaches the exchange)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    proxied, _ = make_adapter(sim)
    with pytest.raises(NotSent):
        proxied.rest.call(adapter_endpoint("ping"))
    proxied.close()
    monkeypatch.delenv("HTTP_PROXY")
    direct, _ = make_adapter(sim)
    direct.rest.call(adapter_endpoint("ping"))
    direct.close()


def test_calls_from_several_threads_run_side_by_side(sim: SimHandle) -> None:
    # each thread has its own client: one call held by the exchange does not hold the next
    adapter, _ = make_adapter(sim, read_timeout_s=5.0)
    adapter.exchange_info()
    sim.arm("timeout_after_accept", params={"delay": 1.5}, count=1)
    cid = client_id()
    held = threading.Thread(target=adapter.place_order, args=(limit_buy(cid=cid),))
    held.start()
    wait_for(lambda: len(sim_orders(sim, cid)) == 1, timeout=5)
    started = time.monotonic()
    adapter.get_open_orders("BTCUSDT")  # while the order's answer is still held
    assert time.monotonic() - started < 1.0
    held.join()
    adapter.close()
