"""``vigil_client`` against a running Vigil on the simulator: the native API's one-order
verbs (``GET``/``DELETE /v1/orders/{client_order_id}``), ``POST /v1/orders`` with
``time_in_force`` and ``LIMIT_MAKER``, refusals as exceptions, the event stream, status and
halt. The simulator's true state (``GET /_sim/state``) is the judge of what was sent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.conftest import Vigil, wait_audited, wait_for
from vigil_client import NotFound, Refused, VigilClient

RESTING = "59000"  # rests below the seeded simulator's BTCUSDT mid (about 60,000)


@pytest.fixture
def client(vigil: Vigil) -> VigilClient:
    return VigilClient.from_data_dir(vigil.system.data_dir)


def sim_orders(vigil: Vigil) -> dict[str, dict[str, Any]]:
    return {o["clientOrderId"]: o for o in vigil.sim.state()["orders"]}


def test_place_query_and_cancel_one_order(vigil: Vigil, client: VigilClient) -> None:
    placed = client.place("BTCUSDT", "BUY", "LIMIT", "0.001", RESTING, time_in_force="GTC")
    cid = placed.client_order_id
    assert placed.quantity == Decimal("0.001") and placed.price == Decimal(RESTING)
    wait_for(lambda: sim_orders(vigil).get(cid, {}).get("status") == "NEW")
    wait_for(lambda: client.order(cid)["state"] == "NEW")
    order = client.order(cid)
    exchange = sim_orders(vigil)[cid]
    assert order["order_id"] == exchange["orderId"] and order["time_in_force"] == "GTC"
    assert order["fills"] == [] and order["strategy"] == ""
    cancelled = client.cancel(cid, reason="changed my mind")
    assert cancelled.accepted and cancelled.client_order_id == cid
    wait_for(lambda: sim_orders(vigil)[cid]["status"] == "CANCELED")
    wait_for(lambda: client.order(cid)["state"] == "CANCELED")
    record = wait_audited(vigil, "cancel_requested", client_order_id=cid)
    assert record["reason"] == "changed my mind" and record["strategy"] == ""
    again = client.cancel(cid)
    assert not again.accepted and "already CANCELED" in again.reason
    with pytest.raises(NotFound):
        client.cancel("no-such-order")
    with pytest.raises(NotFound):
        client.order("no-such-order")


def test_a_filled_order_shows_its_fills(vigil: Vigil, client: VigilClient) -> None:
    placed = client.place("BTCUSDT", "BUY", "MARKET", "0.001")
    cid = placed.client_order_id
    wait_for(lambda: client.order(cid)["state"] == "FILLED")
    fills = client.order(cid)["fills"]
    order_id = sim_orders(vigil)[cid]["orderId"]
    trade_ids = {t["id"] for t in vigil.sim.state()["trades"] if t["orderId"] == order_id}
    assert fills and {f["trade_id"] for f in fills} <= trade_ids
    assert sum(Decimal(f["qty"]) for f in fills) == Decimal(sim_orders(vigil)[cid]["executedQty"])


def test_time_in_force_and_limit_maker_reach_the_exchange(
    vigil: Vigil, client: VigilClient
) -> None:
    ioc = client.place("BTCUSDT", "BUY", "LIMIT", "0.001", RESTING, time_in_force="IOC")
    wait_for(lambda: sim_orders(vigil).get(ioc.client_order_id, {}).get("status") == "EXPIRED")
    assert sim_orders(vigil)[ioc.client_order_id]["timeInForce"] == "IOC"
    wait_for(lambda: client.order(ioc.client_order_id)["state"] == "EXPIRED")
    mid = Decimal(vigil.sim.state()["prices"]["BTCUSDT"]["mid"])
    crossing = client.place("BTCUSDT", "BUY", "LIMIT_MAKER", "0.001", str(mid * Decimal("1.01")))
    wait_for(lambda: client.order(crossing.client_order_id)["state"] == "REJECTED")
    assert crossing.client_order_id not in sim_orders(vigil)  # the exchange refused it
    maker = client.place("BTCUSDT", "BUY", "LIMIT_MAKER", "0.001", RESTING)
    wait_for(lambda: sim_orders(vigil).get(maker.client_order_id, {}).get("status") == "NEW")
    assert sim_orders(vigil)[maker.client_order_id]["type"] == "LIMIT_MAKER"
    with pytest.raises(Refused) as bad:
        client.place("BTCUSDT", "BUY", "MARKET", "0.001", time_in_force="IOC")
    assert bad.value.status == 422


def test_refusals_raise_with_the_reason_and_send_nothing(vigil: Vigil, client: VigilClient) -> None:
    with pytest.raises(Refused) as policy:
        client.place("BTCUSDT", "BUY", "MARKET", "1")  # about 60,000 USDT
    assert policy.value.status == 422 and "max_order_notional" in policy.value.reason
    with pytest.raises(Refused) as lot:
        client.place("BTCUSDT", "BUY", "LIMIT", "0.0000001", RESTING)  # under the lot
    assert lot.value.status == 422 and "filters" in lot.value.reason
    halted = client.halt("client test")
    assert halted["breaker"] == "RED"
    with pytest.raises(Refused) as red:
        client.place("BTCUSDT", "BUY", "LIMIT", "0.001", RESTING)
    assert red.value.status == 409 and "RED" in red.value.reason
    assert client.status()["breaker"] == "RED"
    assert vigil.sim.state()["orders"] == []  # nothing ever reached the exchange


def test_events_stream_the_executions_of_an_order(vigil: Vigil, client: VigilClient) -> None:
    stream = client.events(timeout=15)
    assert next(stream).kind == "breaker"  # the stream is open: the state comes at once
    placed = client.place("BTCUSDT", "BUY", "MARKET", "0.001")
    seen: list[dict[str, Any]] = []
    for event in stream:
        if event.kind == "execution" and event.data["client_order_id"] == placed.client_order_id:
            seen.append(event.data)
            if event.data["state"] == "FILLED" and event.data["execution_type"] == "TRADE":
                break
    stream.close()
    kinds = [e["execution_type"] for e in seen]
    assert kinds[0] == "NEW" and kinds[-1] == "TRADE"
    trade_ids = [e["trade_id"] for e in seen if e["execution_type"] == "TRADE"]
    assert len(trade_ids) == len(set(trade_ids))  # each fill once
    exchange = sim_orders(vigil)[placed.client_order_id]
    assert Decimal(seen[-1]["executed_qty"]) == Decimal(exchange["executedQty"])


def test_the_one_order_verbs_need_the_token_and_a_sane_id(vigil: Vigil) -> None:
    for method in ("GET", "DELETE"):
        resp = requests.request(method, f"{vigil.url}/v1/orders/x", timeout=5)
        assert resp.status_code == 401
        bad = vigil.api(method, "/v1/orders/" + "a" * 40)
        assert bad.status_code == 422 and "bad client order id" in bad.json()["error"]


def test_a_cancel_is_told_once_while_the_stream_and_the_poller_keep_reporting(
    vigil: Vigil, client: VigilClient
) -> None:
    stream = client.events(kinds={"execution", "status"}, timeout=20)
    placed = client.place("BTCUSDT", "BUY", "LIMIT", "0.001", RESTING)
    cid = placed.client_order_id
    told: list[str] = []
    statuses_after_cancel = 0
    for event in stream:
        if event.kind == "execution" and event.data["client_order_id"] == cid:
            told.append(event.data["execution_type"])
            if event.data["execution_type"] == "NEW":
                assert client.cancel(cid).accepted
        elif event.kind == "status" and "CANCELED" in told:
            # a status a second: by the second one the poller (every 0.3 s here) has read
            # the exchange several times since; nothing it reads is told again
            statuses_after_cancel += 1
            if statuses_after_cancel == 2:
                break
    stream.close()
    assert told == ["NEW", "CANCELED"]
    assert sim_orders(vigil)[cid]["status"] == "CANCELED"
