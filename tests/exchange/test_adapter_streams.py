"""User data and market streams: delivery, reconnect, resubscribe, malformed frames."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from exchange.binance import BinanceSpotAdapter
from exchange.contract import (
    AccountPosition,
    BookTicker,
    ExecutionReport,
    MalformedPayload,
    StreamState,
    StreamStatus,
    StreamTerminated,
    UserEvent,
)
from tests.conftest import SimHandle, wait_for
from tests.exchange.adapter_helpers import adapter_config, limit_buy, make_adapter


class Collected:
    def __init__(self) -> None:
        self.events: list[UserEvent] = []
        self.statuses: list[StreamStatus] = []

    def reports(self, cid: str) -> list[ExecutionReport]:
        return [
            e for e in self.events if isinstance(e, ExecutionReport) and e.order_client_id == cid
        ]

    def subscribed(self) -> int:
        return sum(1 for s in self.statuses if s.state is StreamState.SUBSCRIBED)


@pytest.fixture
def streaming(sim: SimHandle) -> Iterator[tuple[BinanceSpotAdapter, Collected]]:
    adapter, _ = make_adapter(sim)
    seen = Collected()
    adapter.start_user_stream(seen.events.append, seen.statuses.append)
    wait_for(lambda: seen.subscribed() == 1 and sim.state()["subscriptions"] == 1, timeout=5)
    yield adapter, seen
    adapter.close()


def test_order_events_arrive_typed(
    streaming: tuple[BinanceSpotAdapter, Collected], sim: SimHandle
) -> None:
    adapter, seen = streaming
    request = limit_buy()
    adapter.place_order(request)
    wait_for(lambda: seen.reports(request.client_order_id), timeout=5)
    wait_for(lambda: any(isinstance(e, AccountPosition) for e in seen.events), timeout=5)
    adapter.cancel_order("BTCUSDT", client_order_id=request.client_order_id)
    cancel = wait_for(
        lambda: [
            r for r in seen.reports(request.client_order_id) if r.execution_type == "CANCELED"
        ],
        timeout=5,
    )[0]
    assert cancel.orig_client_order_id == request.client_order_id  # C
    assert cancel.client_order_id != request.client_order_id  # c: the cancel's own id


def test_ws_disconnect_is_recovered_and_later_events_arrive(
    streaming: tuple[BinanceSpotAdapter, Collected], sim: SimHandle
) -> None:
    adapter, seen = streaming
    sim.arm("ws_disconnect", params={"target": "user"})
    wait_for(lambda: seen.subscribed() == 2 and sim.state()["subscriptions"] == 1, timeout=5)
    assert any(s.state is StreamState.DISCONNECTED and s.gap for s in seen.statuses)
    assert seen.statuses[-1].gap  # the consumer is told to catch up by REST
    request = limit_buy()
    adapter.place_order(request)
    wait_for(lambda: seen.reports(request.client_order_id), timeout=5)
    # events + REST catch-up match the exchange's true state
    open_ids = {o.client_order_id for o in adapter.get_open_orders()}
    assert open_ids == {o["clientOrderId"] for o in sim.state()["open_orders"]}


def test_stream_termination_resubscribes_without_losing_later_events(
    streaming: tuple[BinanceSpotAdapter, Collected], sim: SimHandle
) -> None:
    adapter, seen = streaming
    sim.arm("stream_terminated")
    wait_for(lambda: any(isinstance(e, StreamTerminated) for e in seen.events), timeout=5)
    wait_for(lambda: seen.subscribed() == 2 and sim.state()["subscriptions"] == 1, timeout=5)
    assert adapter.user_stream is not None and adapter.user_stream.reconnects == 0  # same socket
    request = limit_buy()
    adapter.place_order(request)
    wait_for(lambda: seen.reports(request.client_order_id), timeout=5)


def test_planned_reconnect_before_the_connection_age_limit(sim: SimHandle) -> None:
    adapter, _ = make_adapter(sim, ws_max_connection_age_s=0.5)
    seen = Collected()
    adapter.start_user_stream(seen.events.append, seen.statuses.append)
    wait_for(lambda: seen.subscribed() >= 2, timeout=5)
    assert any("planned reconnect" in s.reason for s in seen.statuses)
    wait_for(lambda: adapter.user_stream is not None and adapter.user_stream.connected, timeout=5)
    adapter.close()


def test_close_is_clean_and_bounded(
    streaming: tuple[BinanceSpotAdapter, Collected], sim: SimHandle
) -> None:
    adapter, seen = streaming
    adapter.close()
    assert adapter.user_stream is not None and not adapter.user_stream.alive
    assert seen.statuses[-1].state is StreamState.CLOSED
    wait_for(lambda: sim.state()["subscriptions"] == 0, timeout=5)


def test_market_stream_delivers_book_tickers_and_reconnects(sim: SimHandle) -> None:
    adapter, _ = make_adapter(sim)
    tickers: list[BookTicker] = []
    statuses: list[StreamStatus] = []
    adapter.start_market_stream(["BTCUSDT"], tickers.append, statuses.append)
    wait_for(lambda: tickers, timeout=5)
    assert adapter.reference_price("BTCUSDT") is not None
    sim.arm("ws_disconnect", params={"target": "market"})
    wait_for(lambda: sum(s.state is StreamState.SUBSCRIBED for s in statuses) == 2, timeout=5)
    before = len(tickers)
    sim.set_price("BTCUSDT", "61000")
    wait_for(lambda: len(tickers) > before and tickers[-1].bid_price > 60000, timeout=5)
    adapter.close()


# --- malformed frames from a scripted WebSocket API ---------------------------------------------

GOOD_EVENT = {
    "e": "balanceUpdate", "E": 1, "a": "USDT", "d": "10.00000000", "T": 1,
}  # fmt: skip
LIST_STATUS = {
    "e": "listStatus", "E": 1, "s": "BTCUSDT", "g": 2, "c": "OCO", "l": "EXEC_STARTED",
    "L": "EXECUTING", "r": "NONE", "C": "list-1", "T": 1,
    "O": [{"s": "BTCUSDT", "i": 17, "c": "a"}, {"s": "BTCUSDT", "i": 18, "c": "b"}],
}  # fmt: skip
BAD_FRAMES: list[Any] = [
    "{not json",
    json.dumps({"subscriptionId": 0, "event": {"e": "executionReport", "E": 1}}),  # missing fields
    json.dumps(
        {"subscriptionId": 0, "event": {**GOOD_EVENT, "d": 10.5}}  # float amount: wrong type
    ),
    json.dumps({"subscriptionId": 0, "event": {"e": "executionReport", "E": "x", "s": 5}}),
    json.dumps([1, 2, 3]),
    json.dumps({"subscriptionId": 0, "event": {**LIST_STATUS, "g": "2"}}),  # list id a string
    json.dumps({"subscriptionId": 0, "event": {**LIST_STATUS, "L": "BOGUS"}}),  # unknown status
    json.dumps({"subscriptionId": 0, "event": {**LIST_STATUS, "O": [{"s": "BTCUSDT"}]}}),
]


class ScriptedWsApi:
    """Answers the subscribe request, then sends the bad frames and one good event."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.url = ""
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            body = json.loads(msg.data)
            await ws.send_str(
                json.dumps({"id": body["id"], "status": 200, "result": {"subscriptionId": 0}})
            )
            for frame in BAD_FRAMES:
                await ws.send_str(frame)
            await ws.send_str(json.dumps({"subscriptionId": 0, "event": GOOD_EVENT}))
        return ws

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/ws-api/v3", self._handler)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}/ws-api/v3"
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> ScriptedWsApi:
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def test_malformed_frames_are_typed_counted_reported_and_survived(sim: SimHandle) -> None:
    server = ScriptedWsApi().start()
    reported: list[MalformedPayload] = []
    adapter = BinanceSpotAdapter(
        adapter_config(sim, ws_api_url=server.url), on_malformed=reported.append
    )
    seen = Collected()
    adapter.start_user_stream(seen.events.append, seen.statuses.append)
    try:
        wait_for(lambda: seen.events, timeout=5)
        assert [e.kind for e in seen.events] == ["balanceUpdate"]
        assert adapter.malformed_count == len(BAD_FRAMES)
        assert len(reported) == len(BAD_FRAMES)
        assert all(isinstance(r, MalformedPayload) for r in reported)
        assert adapter.user_stream is not None and adapter.user_stream.alive
        assert adapter.user_stream.reconnects == 0  # the reader never died
    finally:
        adapter.close()
        server.stop()


def test_a_raising_consumer_does_not_kill_the_reader(sim: SimHandle) -> None:
    adapter, _ = make_adapter(sim)
    calls: list[UserEvent] = []

    def consumer(event: UserEvent) -> None:
        calls.append(event)
        raise RuntimeError("consumer bug")

    adapter.start_user_stream(consumer)
    wait_for(lambda: adapter.user_stream is not None and adapter.user_stream.connected, timeout=5)
    adapter.place_order(limit_buy())
    wait_for(lambda: len(calls) >= 2, timeout=5)
    assert adapter.user_stream is not None and adapter.user_stream.alive
    assert adapter.user_stream.callback_errors >= 2
    adapter.close()
