"""One test per simulator fault kind: each behaves as the fault API documents.

Besides the hand-written tests with chosen parameters, every kind of the schema table is
armed with its defaults and its effect observed (``DEFAULT_EFFECTS``); a kind missing
from that table fails its parametrized case.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException

from exchange.simulator import FAULT_KINDS, FAULT_SCHEMA
from tests.conftest import SimHandle, UserStream, wait_for

LIMIT = dict(
    symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="50000"
)


def orders_named(sim: SimHandle, client_order_id: str) -> list[dict[str, object]]:
    return [o for o in sim.state()["orders"] if o["clientOrderId"] == client_order_id]


def test_timeout_after_accept_places_the_order_and_holds_the_response(sim: SimHandle) -> None:
    sim.arm("timeout_after_accept", params={"delay": 3})
    client = sim.client(timeout=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.create_order(**LIMIT, newClientOrderId="slow-1")
    assert len(orders_named(sim, "slow-1")) == 1
    assert client.get_order(symbol="BTCUSDT", origClientOrderId="slow-1")["status"] == "NEW"


def test_lost_response_places_the_order_and_drops_the_connection(
    sim: SimHandle, client: Client
) -> None:
    sim.arm("lost_response")
    with pytest.raises(requests.exceptions.ConnectionError):
        client.create_order(**LIMIT, newClientOrderId="lost-1")
    assert len(orders_named(sim, "lost-1")) == 1


@pytest.mark.parametrize("placed", [True, False])
def test_unknown_status_answers_503_minus_1007_whether_or_not_placed(
    sim: SimHandle, client: Client, placed: bool
) -> None:
    sim.arm("unknown_status", params={"placed": placed})
    with pytest.raises(BinanceAPIException) as exc:
        client.create_order(**LIMIT, newClientOrderId="unk-1")
    assert (exc.value.status_code, exc.value.code) == (503, -1007)
    assert len(orders_named(sim, "unk-1")) == (1 if placed else 0)


def test_reject_orders_rejects_with_the_given_code(sim: SimHandle, client: Client) -> None:
    sim.arm("reject_orders", params={"code": -2010, "msg": "Market is closed."}, count=2)
    for _ in range(2):
        with pytest.raises(BinanceAPIException) as exc:
            client.create_order(**LIMIT)
        assert exc.value.message == "Market is closed."
    assert client.create_order(**LIMIT)["status"] == "NEW"


def test_slippage_fills_worse_by_the_given_bps(sim: SimHandle, client: Client) -> None:
    ask = Decimal(sim.state()["prices"]["BTCUSDT"]["ask"])
    sim.arm("slippage", params={"bps": 50})
    order = client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    fill = Decimal(order["fills"][0]["price"])
    assert fill - ask == pytest.approx(ask * Decimal("0.005"), abs=Decimal("0.02"))
    normal = client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    assert Decimal(normal["fills"][0]["price"]) < fill


def test_duplicate_events_delivers_events_twice(
    sim: SimHandle, client: Client, user_stream: UserStream
) -> None:
    sim.arm("duplicate_events", count=1)
    client.create_order(**LIMIT, newClientOrderId="dup-ev")
    events = user_stream.drain()
    news = [e for e in events if e["e"] == "executionReport"]
    assert len(news) == 2 and news[0] == news[1]


def test_drop_events_never_delivers_them(
    sim: SimHandle, client: Client, user_stream: UserStream
) -> None:
    sim.arm("drop_events", count=1)
    client.create_order(**LIMIT, newClientOrderId="drop-ev")
    events = user_stream.drain()
    assert [e["e"] for e in events] == ["outboundAccountPosition"]
    assert len(orders_named(sim, "drop-ev")) == 1


def test_drop_list_expiry_drops_only_an_oco_orders_expiry_and_spends_a_trigger_each(
    sim: SimHandle, client: Client, user_stream: UserStream
) -> None:
    sim.arm("drop_list_expiry", count=1)
    client.create_order(  # an IOC that expires unfilled: not an order list's, delivered
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="IOC", quantity="0.01",
        price="50000",
    )  # fmt: skip
    expired = [e for e in user_stream.drain() if e.get("x") == "EXPIRED"]
    assert [e["eR"] for e in expired] == ["UNFILLED_IOC_QUANTITY_EXPIRED"]
    for _ in range(2):  # the first OCO's expiry is dropped, the second's delivered
        client.create_oco_order(**OCO)
        sim.set_price("BTCUSDT", "61100")
        sim.set_price("BTCUSDT", "60000")
    expired = [e for e in user_stream.drain() if e.get("x") == "EXPIRED"]
    assert [(e["g"], e["eR"]) for e in expired] == [(2, "OCO_TRIGGER")]
    states = [o["status"] for o in sim.state()["orders"] if o["type"] == "STOP_LOSS_LIMIT"]
    assert states == ["EXPIRED", "EXPIRED"], "REST tells the truth either way"


def test_malformed_events_corrupts_only_events_that_carry_the_field(
    sim: SimHandle, client: Client, user_stream: UserStream
) -> None:
    sim.arm("malformed_events", params={"field": "z", "value": "n/a"}, count=1)
    client.create_order(**LIMIT, newClientOrderId="bad-ev")
    client.create_order(**LIMIT, newClientOrderId="good-ev")
    events = [e for e in user_stream.drain() if e["e"] == "executionReport"]
    assert [(e["c"], e["z"]) for e in events] == [("bad-ev", "n/a"), ("good-ev", "0.00000000")]
    # the balance events between them carry no "z": they passed untouched and spent nothing
    assert sim.state()["faults"] == []


def test_delay_events_delivers_them_later(
    sim: SimHandle, client: Client, user_stream: UserStream
) -> None:
    sim.arm("delay_events", params={"delay_ms": 600}, count=1)
    client.create_order(**LIMIT, newClientOrderId="late-ev")
    first = user_stream.next_event()
    assert first["e"] == "outboundAccountPosition", "the undelayed event overtakes"
    late = user_stream.next_event(timeout=3)
    assert late["e"] == "executionReport" and late["c"] == "late-ev"


@pytest.mark.parametrize("mode", ["503", "refuse"])
def test_outage_fails_every_rest_call_for_its_duration(
    sim: SimHandle, client: Client, mode: str
) -> None:
    sim.arm("outage", params={"mode": mode}, duration=0.6)
    if mode == "503":
        with pytest.raises(BinanceAPIException) as exc:
            client.get_account()
        assert exc.value.status_code == 503
    else:
        with pytest.raises(requests.exceptions.ConnectionError):
            client.get_account()
    assert sim.state()["orders"] == []
    wait_for(lambda: sim.state()["faults"] == [], timeout=3)
    assert client.get_account()["canTrade"] is True


def test_rate_limit_storm_gives_429s_then_a_418_ban(sim: SimHandle) -> None:
    sim.arm("rate_limit_storm", params={"count_429": 2, "ban_seconds": 1})
    url = f"{sim.rest}/api/v3/ping"
    first = [requests.get(url, timeout=5) for _ in range(3)]
    assert [r.status_code for r in first] == [429, 429, 418]
    assert all(int(r.headers["Retry-After"]) >= 1 for r in first)
    wait_for(lambda: requests.get(url, timeout=5).status_code == 200, timeout=4, interval=0.1)


def test_clock_skew_gives_minus_1021_until_the_client_resyncs(
    sim: SimHandle, client: Client
) -> None:
    sim.arm("clock_skew", params={"offset_ms": 20000})
    with pytest.raises(BinanceAPIException) as exc:
        client.get_account()
    assert exc.value.code == -1021
    server = client.get_server_time()["serverTime"]
    client.timestamp_offset = server - int(time.time() * 1000)
    assert client.get_account()["canTrade"] is True


def test_ghost_order_appears_on_the_account(
    sim: SimHandle, client: Client, user_stream: UserStream
) -> None:
    sim.arm("ghost_order", params={"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01"})
    open_orders = client.get_open_orders(symbol="BTCUSDT")
    assert len(open_orders) == 1 and open_orders[0]["clientOrderId"].startswith("ghost-")
    assert sim.state()["open_orders"][0]["owner"] == "ghost"
    assert user_stream.next_event()["x"] == "NEW"
    assert sim.balance("BTC")["locked"] == "0.01000000"


def test_balance_drift_changes_a_balance_silently(
    sim: SimHandle, client: Client, user_stream: UserStream
) -> None:
    sim.arm("balance_drift", params={"asset": "USDT", "delta": "-12.5"})
    assert sim.balance("USDT")["free"] == "99987.50000000"
    balances = {b["asset"]: b for b in client.get_account()["balances"]}
    assert balances["USDT"]["free"] == "99987.50000000"
    assert user_stream.drain() == [], "no event tells anyone"
    assert sim.state()["deposits"]["USDT"] == "100000.00000000"


def test_ws_disconnect_cuts_the_user_stream(sim: SimHandle, user_stream: UserStream) -> None:
    sim.arm("ws_disconnect", params={"target": "user"})
    wait_for(lambda: user_stream.closed, timeout=3)
    assert sim.state()["subscriptions"] == 0
    again = UserStream(sim)
    try:
        assert again.subscription_id == 0
    finally:
        again.close()


def test_stream_terminated_ends_subscriptions(
    sim: SimHandle, client: Client, user_stream: UserStream
) -> None:
    sim.arm("stream_terminated")
    assert user_stream.next_event()["e"] == "eventStreamTerminated"
    client.create_order(**LIMIT)
    assert user_stream.drain() == []
    assert user_stream.subscribe() == 1, "resubscribing on the same connection works"
    client.create_order(**LIMIT)
    assert user_stream.next_event()["e"] == "executionReport"


def test_fault_api_rejects_unknown_kinds_and_lists_and_clears(sim: SimHandle) -> None:
    resp = requests.post(f"{sim.rest}/_sim/faults", json={"kind": "meteor"}, timeout=5)
    assert resp.status_code == 400 and "unknown fault kind" in resp.json()["error"]
    sim.arm("slippage", params={"bps": 10}, count=3)
    listed = requests.get(f"{sim.rest}/_sim/faults", timeout=5).json()["armed"]
    assert [f["kind"] for f in listed] == ["slippage"]
    sim.clear()
    assert sim.state()["faults"] == []


def test_outage_with_a_count_ends_after_that_many_requests(sim: SimHandle, client: Client) -> None:
    sim.arm("outage", count=2)
    for _ in range(2):
        with pytest.raises(BinanceAPIException) as exc:
            client.get_account()
        assert exc.value.status_code == 503
    assert client.get_account()["canTrade"] is True


# ---------------------------------------------------------------------------- every kind, defaults

Observer = Callable[[SimHandle, Client, UserStream], None]


def _order_placed(sim: SimHandle, client_order_id: str) -> bool:
    return len(orders_named(sim, client_order_id)) == 1


def _timeout_after_accept(sim: SimHandle, client: Client, stream: UserStream) -> None:
    with pytest.raises(requests.exceptions.ReadTimeout):  # held 30 s by default
        sim.client(timeout=0.5).create_order(**LIMIT, newClientOrderId="d-slow")
    assert _order_placed(sim, "d-slow")


def _lost_response(sim: SimHandle, client: Client, stream: UserStream) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        client.create_order(**LIMIT, newClientOrderId="d-lost")
    assert _order_placed(sim, "d-lost")


def _unknown_status(sim: SimHandle, client: Client, stream: UserStream) -> None:
    with pytest.raises(BinanceAPIException) as exc:
        client.create_order(**LIMIT, newClientOrderId="d-unk")
    assert (exc.value.status_code, exc.value.code) == (503, -1007)
    assert _order_placed(sim, "d-unk"), "placed defaults to true"


def _reject_orders(sim: SimHandle, client: Client, stream: UserStream) -> None:
    with pytest.raises(BinanceAPIException) as exc:
        client.create_order(**LIMIT, newClientOrderId="d-rej")
    assert (exc.value.status_code, exc.value.code) == (400, -2010)
    assert exc.value.message == "This action is disabled on this account."
    assert orders_named(sim, "d-rej") == []


def _slippage(sim: SimHandle, client: Client, stream: UserStream) -> None:
    ask = Decimal(sim.state()["prices"]["BTCUSDT"]["ask"])
    order = client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    fill = Decimal(order["fills"][0]["price"])
    assert fill - ask == pytest.approx(ask * Decimal("0.01"), abs=Decimal("0.02"))  # 100 bps


def _duplicate_events(sim: SimHandle, client: Client, stream: UserStream) -> None:
    client.create_order(**LIMIT, newClientOrderId="d-dup")
    news = [e for e in stream.drain() if e["e"] == "executionReport"]
    assert len(news) == 2 and news[0] == news[1]


def _drop_events(sim: SimHandle, client: Client, stream: UserStream) -> None:
    client.create_order(**LIMIT, newClientOrderId="d-drop")
    assert [e["e"] for e in stream.drain()] == ["outboundAccountPosition"]


OCO = {
    "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01",
    "aboveType": "LIMIT_MAKER", "abovePrice": "61000",
    "belowType": "STOP_LOSS_LIMIT", "belowStopPrice": "59000", "belowPrice": "58900",
    "belowTimeInForce": "GTC",
}  # fmt: skip


def _drop_list_expiry(sim: SimHandle, client: Client, stream: UserStream) -> None:
    placed = client.create_oco_order(**OCO)
    stream.drain()
    sim.set_price("BTCUSDT", "61100")  # the limit order fills; the stop loss expires, unheard
    events = [(e["e"], e.get("i"), e.get("x") or e.get("l")) for e in stream.drain()]
    stop_id, limit_id = (o["orderId"] for o in placed["orders"])
    assert events == [
        ("executionReport", limit_id, "TRADE"),
        ("listStatus", None, "ALL_DONE"),
        ("outboundAccountPosition", None, None),
    ]
    assert client.get_order(symbol="BTCUSDT", orderId=stop_id)["status"] == "EXPIRED"


def _malformed_events(sim: SimHandle, client: Client, stream: UserStream) -> None:
    client.create_order(**LIMIT, newClientOrderId="d-bad")
    report = stream.wait_event(lambda e: e["e"] == "executionReport")
    assert report["z"] == "garbage"


def _delay_events(sim: SimHandle, client: Client, stream: UserStream) -> None:
    sent = time.monotonic()
    client.create_order(**LIMIT, newClientOrderId="d-late")
    assert stream.next_event()["e"] == "outboundAccountPosition", "the undelayed event overtakes"
    late = stream.next_event(timeout=6)
    assert late["c"] == "d-late" and time.monotonic() - sent >= 1.9  # 2000 ms by default


def _outage(sim: SimHandle, client: Client, stream: UserStream) -> None:
    with pytest.raises(BinanceAPIException) as exc:
        client.get_account()
    assert (exc.value.status_code, exc.value.code) == (503, -1008)
    (armed,) = sim.state()["faults"]
    assert 4 < armed["seconds_left"] <= 5 and armed["count"] is None  # 5 s by default
    again = UserStream(sim)  # scope defaults to REST only: the WebSocket API still answers
    try:
        assert again.subscription_id == 0
    finally:
        again.close()


def _rate_limit_storm(sim: SimHandle, client: Client, stream: UserStream) -> None:
    url = f"{sim.rest}/api/v3/ping"
    answers = [requests.get(url, timeout=5) for _ in range(4)]
    assert [r.status_code for r in answers] == [429, 429, 429, 418]
    assert [r.headers["Retry-After"] for r in answers[:3]] == ["1", "1", "1"]
    assert 9 <= int(answers[3].headers["Retry-After"]) <= 10


def _clock_skew(sim: SimHandle, client: Client, stream: UserStream) -> None:
    skew = client.get_server_time()["serverTime"] - int(time.time() * 1000)
    assert 14000 <= skew <= 16000  # past python-binance's recvWindow (10,000 ms) it sends
    with pytest.raises(BinanceAPIException) as exc:
        client.get_account()
    assert exc.value.code == -1021


def _ghost_order(sim: SimHandle, client: Client, stream: UserStream) -> None:
    (ghost,) = sim.state()["open_orders"]
    mid = Decimal(sim.state()["prices"]["BTCUSDT"]["mid"])
    assert ghost["owner"] == "ghost" and ghost["side"] == "BUY" and ghost["symbol"] == "BTCUSDT"
    assert Decimal(ghost["origQty"]) == Decimal("0.001")  # 100 times minQty
    assert Decimal(ghost["price"]) == pytest.approx(mid / 2, abs=Decimal("0.01"))
    assert ghost["clientOrderId"].startswith("ghost-")


def _balance_drift(sim: SimHandle, client: Client, stream: UserStream) -> None:
    assert sim.balance("USDT")["free"] == "99999.00000000"
    assert stream.drain() == []


def _ws_disconnect(sim: SimHandle, client: Client, stream: UserStream) -> None:
    wait_for(lambda: stream.closed, timeout=3)  # target all, mode abort


def _stream_terminated(sim: SimHandle, client: Client, stream: UserStream) -> None:
    assert stream.next_event()["e"] == "eventStreamTerminated"


def _dangerous_key(sim: SimHandle, client: Client, stream: UserStream) -> None:
    client.MARGIN_API_URL = f"{sim.rest}/sapi"
    for _ in range(2):  # stays armed until cleared
        permissions = client.get_account_api_permissions()
        assert permissions["enableWithdrawals"] is True
        assert not any(v for k, v in permissions.items() if k.startswith("enable") and k not in (
            "enableWithdrawals", "enableReading", "enableSpotAndMarginTrading"))  # fmt: skip


DEFAULT_EFFECTS: dict[str, Observer] = {
    "timeout_after_accept": _timeout_after_accept,
    "lost_response": _lost_response,
    "unknown_status": _unknown_status,
    "reject_orders": _reject_orders,
    "slippage": _slippage,
    "duplicate_events": _duplicate_events,
    "drop_events": _drop_events,
    "drop_list_expiry": _drop_list_expiry,
    "malformed_events": _malformed_events,
    "delay_events": _delay_events,
    "outage": _outage,
    "rate_limit_storm": _rate_limit_storm,
    "clock_skew": _clock_skew,
    "ghost_order": _ghost_order,
    "balance_drift": _balance_drift,
    "ws_disconnect": _ws_disconnect,
    "stream_terminated": _stream_terminated,
    "dangerous_key": _dangerous_key,
}


def _schema_defaults(kind: str) -> dict[str, Any]:
    return {
        name: str(spec.default) if isinstance(spec.default, Decimal) else spec.default
        for name, spec in FAULT_SCHEMA[kind].params.items()
        if spec.default is not None
    }


@pytest.mark.parametrize("kind", sorted(FAULT_SCHEMA))
def test_every_fault_kind_armed_with_its_defaults_has_its_documented_effect(
    sim: SimHandle, client: Client, user_stream: UserStream, kind: str
) -> None:
    observe = DEFAULT_EFFECTS.get(kind)
    assert observe is not None, f"no observed effect for fault kind {kind!r}"
    armed = sim.arm(kind)["armed"]
    assert armed["params"] == _schema_defaults(kind), "every parameter filled from the table"
    observe(sim, client, user_stream)
    history = requests.get(f"{sim.rest}/_sim/faults", timeout=5).json()["history"]
    assert [h["kind"] for h in history] == [kind]


def test_the_effects_table_names_only_schema_kinds() -> None:
    assert set(DEFAULT_EFFECTS) == set(FAULT_SCHEMA) == set(FAULT_KINDS)
