"""The market-stream relay opens only stream paths on the exchange's stream server: a path
that climbs out of ``/ws/`` (``..``, plain or percent-encoded) is refused before anything is
opened upstream — it reached the exchange's own WebSocket API (unmetered by Vigil's weight
budget) where the stream server also serves it (the simulator)."""

from __future__ import annotations

import json

import pytest
from websocket import WebSocketBadStatusException, create_connection

from tests.gateway.conftest import Gateway


@pytest.mark.parametrize(
    "path", ["/ws/../ws-api/v3", "/ws/%2E%2E/ws-api/v3", "/ws/btcusdt@trade/%2e%2e/%2e%2e/api"]
)
def test_a_path_out_of_the_streams_is_refused(gateway: Gateway, path: str) -> None:
    with pytest.raises(WebSocketBadStatusException) as refused:
        ws = create_connection(gateway.streams + path, timeout=3)
        try:  # (reached here: show what answered)
            ws.send(json.dumps({"id": 1, "method": "ping"}))
            pytest.fail(f"{path} was relayed: {ws.recv()}")
        finally:
            ws.close()
    assert refused.value.status_code == 400


def test_stream_paths_still_relay(gateway: Gateway) -> None:
    for path in ("/ws/btcusdt@bookTicker", "/stream?streams=btcusdt@bookTicker/ethusdt@trade"):
        ws = create_connection(gateway.streams + path, timeout=3)
        ws.close()
