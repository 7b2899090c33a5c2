"""The gateway's WebSocket API keeps one user data stream subscription per key per
connection, as Binance does (``-2035 SUBSCRIPTION_ACTIVE`` for another): a bot that
subscribes again on a long-lived connection (after each reconnect of its own logic, on a
timer) must not pile up subscriptions — each one held in the session for its lifetime and
each sending every event once more."""

from __future__ import annotations

import json
import time
from typing import Any

import websocket

from exchange.protocol.signing import hmac_hex, ws_payload
from tests.gateway.conftest import Gateway


def test_a_second_subscription_for_the_same_key_is_refused(gateway: Gateway) -> None:
    api_key, secret = gateway.add_key("resubscriber")
    ws = websocket.create_connection(gateway.ws_api, timeout=5)
    try:

        def call(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
            body: dict[str, Any] = {"id": method, "method": method}
            if params is not None:
                body["params"] = params
            ws.send(json.dumps(body))
            return json.loads(ws.recv())  # type: ignore[no-any-return]

        def subscribe() -> dict[str, Any]:
            params: dict[str, Any] = {"apiKey": api_key, "timestamp": int(time.time() * 1000)}
            params["signature"] = hmac_hex(secret, ws_payload(params))
            return call("userDataStream.subscribe.signature", params)

        first = subscribe()
        assert first["status"] == 200, first
        for _ in range(20):
            again = subscribe()
            assert again["status"] == 400 and again["error"]["code"] == -2035, again
        assert call("session.subscriptions")["result"] == [
            {"subscriptionId": first["result"]["subscriptionId"]}
        ]
        # once it is ended, the key may subscribe again on the same connection
        assert call("userDataStream.unsubscribe", {})["status"] == 200
        assert subscribe()["status"] == 200
    finally:
        ws.close()
