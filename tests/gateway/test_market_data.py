"""Market data through the gateway with an unmodified python-binance: relayed from the
exchange (the simulator), ``exchangeInfo`` cached, every call inside Vigil's own weight
budget (429 -1003 past it, nothing sent); control.json names the gateway's URLs."""

from __future__ import annotations

import json

import pytest
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException

from tests.gateway.conftest import Gateway


def test_control_json_names_the_gateway(gateway: Gateway) -> None:
    document = json.loads((gateway.vigil.system.data_dir / "control.json").read_text())
    assert document["gateway"] == gateway.server.urls()
    assert set(document["gateway"]) == {"rest", "ws_api", "streams"}
    assert document["gateway"]["ws_api"].endswith("/ws-api/v3")


def test_public_endpoints_through_python_binance(gateway: Gateway) -> None:
    client = Client(None, None, ping=False)
    client.API_URL = f"{gateway.rest}/api"
    assert client.ping() == {}
    assert abs(client.get_server_time()["serverTime"] - gateway.server.server_time()) < 5000
    info = client.get_exchange_info()
    assert {s["symbol"] for s in info["symbols"]} >= {"BTCUSDT", "ETHUSDT"}
    book = client.get_order_book(symbol="BTCUSDT", limit=5)
    assert book["bids"] and book["asks"]
    assert float(book["bids"][0][0]) < float(book["asks"][0][0])
    assert client.get_symbol_ticker(symbol="BTCUSDT")["symbol"] == "BTCUSDT"
    assert set(client.get_orderbook_ticker(symbol="ETHUSDT")) >= {"bidPrice", "askQty"}
    assert "price" in client.get_avg_price(symbol="BTCUSDT")
    with pytest.raises(BinanceAPIException) as bad:
        client.get_symbol_ticker(symbol="NOPEUSDT")
    assert bad.value.code == -1121
    # klines and the 24-hour ticker: the exchange's own answer, relayed unchanged
    direct = gateway.vigil.sim.client()
    assert client.get_klines(symbol="BTCUSDT", interval="1m", limit=3) == direct.get_klines(
        symbol="BTCUSDT", interval="1m", limit=3
    )
    relayed = client.get_ticker(symbol="ETHUSDT")
    assert relayed["symbol"] == "ETHUSDT" and isinstance(relayed["count"], int)
    with pytest.raises(BinanceAPIException) as interval:
        client.get_klines(symbol="BTCUSDT", interval="7m")
    assert interval.value.code == -1120


def test_exchange_info_is_cached(gateway: Gateway) -> None:
    before = gateway.server.relay.sent
    for _ in range(5):
        resp = requests.get(f"{gateway.rest}/api/v3/exchangeInfo", timeout=5)
        assert resp.status_code == 200
        assert int(resp.headers["X-MBX-USED-WEIGHT-1M"]) >= 20
    assert gateway.server.relay.sent - before <= 1


def test_a_chatty_bot_gets_429_not_the_account(gateway: Gateway) -> None:
    """Past the gateway's share of the weight limit: 429 -1003 and nothing sent."""
    relay = gateway.server.relay
    limits = gateway.vigil.system.adapter.limits
    # a budget this minute's usage (Vigil's own calls count too) has already spent
    relay.share = 1 / (limits.weight_limit_1m * 10)
    sent = gateway.server.relay.sent
    resp = requests.get(f"{gateway.rest}/api/v3/depth?symbol=BTCUSDT", timeout=5)
    assert resp.status_code == 429
    assert resp.json()["code"] == -1003
    assert gateway.server.relay.sent == sent


def test_unknown_endpoint_and_oversized_body(gateway: Gateway) -> None:
    resp = requests.get(f"{gateway.rest}/api/v3/nope", timeout=5)
    assert resp.status_code == 404 and resp.json()["code"] == -1000
    resp = requests.post(f"{gateway.rest}/api/v3/order", data="a=" + "x" * (70 * 1024), timeout=5)
    assert resp.status_code == 413 and resp.json()["code"] == -1101
