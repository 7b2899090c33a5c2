"""Binance's own SDK (binance-sdk-spot), unmodified, through the gateway: its REST client
places, queries and cancels, and its response models read the answers; the WebSocket API's
user data stream (``userDataStream.subscribe.signature`` with a strategy key) relays that
strategy's executionReports — and no other strategy's — and the account's
outboundAccountPosition / balanceUpdate, which the SDK's event models parse."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import websocket

from exchange.protocol.signing import hmac_hex, ws_payload
from storage.strategy_keys import keys_path, revoke_key
from tests.conftest import UserStream
from tests.exchange.test_sim_sdk_models import read
from tests.gateway.conftest import Gateway

spot = pytest.importorskip("binance_sdk_spot.spot")
models = pytest.importorskip("binance_sdk_spot.rest_api.models")
events = pytest.importorskip("binance_sdk_spot.websocket_api.models")
common = pytest.importorskip("binance_common.configuration")


@dataclass
class Endpoint:
    """What ``UserStream`` needs: the WebSocket API's URL and a key to sign with."""

    ws_api: str
    api_key: str
    api_secret: str


def test_sdk_rest_client_trades_through_the_gateway(gateway: Gateway) -> None:
    api_key, secret = gateway.add_key("sdk")
    config = common.ConfigurationRestAPI(
        api_key=api_key, api_secret=secret, base_path=gateway.rest, timeout=10_000, retries=0
    )
    rest = spot.Spot(config_rest_api=config).rest_api
    placed = rest.new_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        time_in_force="GTC",
        quantity=0.001,
        price=59000,
        new_client_order_id="sdk-1",
    ).data()
    assert placed.client_order_id == "sdk-1" and placed.status == "NEW"
    on_exchange = next(
        o for o in gateway.vigil.sim.state()["orders"] if o["orderId"] == placed.order_id
    )
    assert on_exchange["status"] == "NEW"
    got = rest.get_order(symbol="BTCUSDT", orig_client_order_id="sdk-1").data()
    assert got.order_id == placed.order_id
    cancelled = rest.delete_order(symbol="BTCUSDT", orig_client_order_id="sdk-1").data()
    assert cancelled.status == "CANCELED"
    filled = rest.new_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=0.001).data()
    assert filled.status == "FILLED" and filled.fills


def test_sdk_models_read_the_gateway_answers(gateway: Gateway) -> None:
    client = gateway.client("models")
    read(models.NewOrderResponse, client.create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001"))  # fmt: skip
    placed = client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
        price="59000", newClientOrderId="m-1",
    )  # fmt: skip
    read(models.NewOrderResponse, placed)
    read(models.GetOrderResponse, client.get_order(symbol="BTCUSDT", origClientOrderId="m-1"))
    for item in client.get_open_orders(symbol="BTCUSDT"):
        read(models.GetOpenOrdersResponseInner, item)
    for item in client.get_all_orders(symbol="BTCUSDT"):
        read(models.AllOrdersResponseInner, item)
    for item in client.get_my_trades(symbol="BTCUSDT"):
        read(models.MyTradesResponseInner, item)
    read(
        models.DeleteOrderResponse, client.cancel_order(symbol="BTCUSDT", orderId=placed["orderId"])
    )
    read(models.GetAccountResponse, client.get_account())


def test_user_stream_relays_one_strategys_events(gateway: Gateway) -> None:
    api_key, secret = gateway.add_key("streamer")
    stream = UserStream(Endpoint(gateway.ws_api, api_key, secret))  # type: ignore[arg-type]
    try:
        client = gateway.client_for(api_key, secret)
        other = gateway.client("someone-else")
        other.create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
            price="58000", newClientOrderId="not-yours",
        )  # fmt: skip
        client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        client.create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
            price="59000", newClientOrderId="ours",
        )  # fmt: skip
        client.cancel_order(symbol="BTCUSDT", origClientOrderId="ours")
        resp = requests.post(  # a deposit: balanceUpdate
            f"{gateway.vigil.sim.rest}/_sim/deposit",
            json={"asset": "USDT", "amount": "5"},
            timeout=5,
        )
        assert resp.status_code == 200
        seen: list[dict[str, Any]] = []

        def complete() -> bool:
            return any(e["e"] == "balanceUpdate" for e in seen) and any(
                e.get("x") == "CANCELED" and e.get("c") == "ours" for e in seen
            )

        deadline = time.monotonic() + 5
        while not complete():
            assert time.monotonic() < deadline, f"events missing: {seen}"
            seen.append(stream.next_event())
        seen += stream.drain(0.3)
    finally:
        stream.close()
    kinds = {e["e"] for e in seen}
    assert "executionReport" in kinds and "outboundAccountPosition" in kinds
    for event in seen:
        body = {k: v for k, v in event.items() if k != "e"}
        model = {
            "executionReport": events.ExecutionReport,
            "outboundAccountPosition": events.OutboundAccountPosition,
            "balanceUpdate": events.BalanceUpdate,
        }[event["e"]]
        read(model, body)
    reports = [e for e in seen if e["e"] == "executionReport"]
    assert all(e["c"] != "not-yours" for e in reports)
    assert [e["x"] for e in reports if e["c"] == "ours"] == ["NEW", "CANCELED"]
    assert {e["x"] for e in reports if e["o"] == "MARKET"} >= {"NEW", "TRADE"}


def test_ws_api_ping_time_and_bad_signature(gateway: Gateway) -> None:
    api_key, secret = gateway.add_key("ws")
    ws = websocket.create_connection(gateway.ws_api, timeout=5)
    try:

        def call(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
            body: dict[str, Any] = {"id": method, "method": method}
            if params is not None:
                body["params"] = params
            ws.send(json.dumps(body))
            return json.loads(ws.recv())  # type: ignore[no-any-return]

        assert call("ping")["result"] == {}
        assert isinstance(call("time")["result"]["serverTime"], int)
        params: dict[str, Any] = {"apiKey": api_key, "timestamp": int(time.time() * 1000)}
        params["signature"] = hmac_hex("wrong" * 13, ws_payload(params))
        assert call("userDataStream.subscribe.signature", params)["error"]["code"] == -1022
        params = {"apiKey": "Z" * 64, "timestamp": int(time.time() * 1000)}
        params["signature"] = hmac_hex(secret, ws_payload(params))
        assert call("userDataStream.subscribe.signature", params)["error"]["code"] == -2015
        assert call("order.place", {})["error"]["code"] == -1020
    finally:
        ws.close()


def test_a_revoked_keys_stream_ends(gateway: Gateway) -> None:
    api_key, secret = gateway.add_key("revoked-streamer")
    stream = UserStream(Endpoint(gateway.ws_api, api_key, secret))  # type: ignore[arg-type]
    try:
        revoke_key(keys_path(gateway.vigil.system.data_dir), "revoked-streamer")
        gateway.server.ring.reload()
        other = gateway.client("still-here")  # any event: the revoked stream ends on it
        other.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        ended = stream.wait_event(lambda e: e["e"] == "eventStreamTerminated")
        assert isinstance(ended["E"], int)
        assert all(e["e"] != "executionReport" for e in stream.drain(0.3))
    finally:
        stream.close()
