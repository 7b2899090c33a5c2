"""Signed requests checked as Binance checks them: a wrong signature -1022, a stale or
future timestamp -1021, a missing signature or timestamp -1102, an extra parameter -1104,
a duplicated one -1101; a signature over the query string then the body."""

from __future__ import annotations

from urllib.parse import urlencode

import requests

from exchange.protocol.signing import hmac_hex, rest_payloads
from tests.gateway.conftest import Gateway


def _get(gateway: Gateway, api_key: str, query: str) -> requests.Response:
    return requests.get(
        f"{gateway.rest}/api/v3/account?{query}",
        headers={"X-MBX-APIKEY": api_key},
        timeout=5,
    )


def _signed(secret: str, **params: object) -> str:
    query = urlencode(params)
    return f"{query}&signature={hmac_hex(secret, query)}"


def test_signature_and_timestamp(gateway: Gateway) -> None:
    api_key, secret = gateway.add_key("signer")
    now = gateway.server.server_time()
    ok = _get(gateway, api_key, _signed(secret, timestamp=now))
    assert ok.status_code == 200, ok.text
    assert {"balances", "canTrade", "accountType"} <= set(ok.json())

    wrong = _get(gateway, api_key, _signed("x" * 64, timestamp=now))
    assert (wrong.status_code, wrong.json()["code"]) == (400, -1022)

    stale = _get(gateway, api_key, _signed(secret, timestamp=now - 10_000))
    assert stale.json()["code"] == -1021
    ahead = _get(gateway, api_key, _signed(secret, timestamp=now + 5_000))
    assert ahead.json()["code"] == -1021
    wide = _get(gateway, api_key, _signed(secret, timestamp=now - 10_000, recvWindow=20_000))
    assert wide.status_code == 200

    unsigned = _get(gateway, api_key, f"timestamp={now}")
    assert unsigned.json()["code"] == -1102
    untimed = _get(gateway, api_key, _signed(secret, recvWindow=5000))
    assert untimed.json()["code"] == -1102


def test_extra_and_duplicate_parameters(gateway: Gateway) -> None:
    api_key, secret = gateway.add_key("params")
    now = gateway.server.server_time()
    extra = _get(gateway, api_key, _signed(secret, timestamp=now, colour="blue"))
    assert extra.json()["code"] == -1104
    query = f"timestamp={now}&timestamp={now}"
    dup = _get(gateway, api_key, f"{query}&signature={hmac_hex(secret, query)}")
    assert dup.json()["code"] == -1101


def test_rest_payloads_query_then_body() -> None:
    """What a client may have signed: Binance's totalParams, the query string then the body
    with no separator (as sent or percent-decoded); never the signature itself."""
    payloads = rest_payloads("symbol=BTCUSDT&signature=ab", "side=BUY&price=1%2C5")
    assert payloads == ["symbol=BTCUSDTside=BUY&price=1%2C5", "symbol=BTCUSDTside=BUY&price=1,5"]
    assert all("signature" not in p for p in payloads)
    assert rest_payloads("a=1", "") == ["a=1"]
