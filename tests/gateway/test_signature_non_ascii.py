"""A signature that is not hex at all (non-ASCII characters, over REST percent-encoded or in
a WebSocket API request's JSON) is a bad signature: Binance's -1022 with HTTP 400, never a
500 "unknown error"."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
import requests
from websocket import create_connection

from tests.gateway.conftest import Gateway


def test_rest_non_ascii_signature_is_minus_1022(gateway: Gateway) -> None:
    api_key, _ = gateway.add_key("signer")
    query = urlencode({"timestamp": gateway.server.server_time()})
    answer = requests.get(
        f"{gateway.rest}/api/v3/account?{query}&signature={quote('é' * 64)}",
        headers={"X-MBX-APIKEY": api_key},
        timeout=5,
    )
    assert (answer.status_code, answer.json()["code"]) == (400, -1022), answer.text


@pytest.mark.parametrize(
    "extra",
    [{"signature": "é" * 64}, {"signature": "\ud800" * 64}, {"note": "\ud800"}],
    ids=["accented", "lone-surrogate", "surrogate-in-a-param"],
)
def test_ws_api_non_ascii_signature_is_minus_1022(gateway: Gateway, extra: dict[str, str]) -> None:
    api_key, _ = gateway.add_key("signer")
    params = {
        "apiKey": api_key,
        "timestamp": gateway.server.server_time(),
        "signature": "ab" * 32,
        **extra,
    }
    ws = create_connection(gateway.ws_api, timeout=5)
    try:  # json.dumps escapes a lone surrogate as \ud800, which the server's JSON reads back
        ws.send(
            json.dumps(
                {"id": "s1", "method": "userDataStream.subscribe.signature", "params": params}
            )
        )
        answer = json.loads(ws.recv())
    finally:
        ws.close()
    assert answer["status"] == 400 and answer["error"]["code"] == -1022, answer
