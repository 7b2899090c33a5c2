"""Market streams relayed by the gateway: a raw ``/ws/<stream>`` and a combined
``/stream?streams=`` connection get the simulator's bookTicker frames as it sends them, and a
client's SUBSCRIBE / LIST_SUBSCRIPTIONS reach the exchange and come back."""

from __future__ import annotations

import json
from typing import Any

import websocket

from tests.conftest import wait_for
from tests.gateway.conftest import Gateway


def frames_until(ws: websocket.WebSocket, predicate: Any, gateway: Gateway) -> dict[str, Any]:
    """Tick the simulator until a frame matching ``predicate`` arrives (5 s)."""
    found: list[dict[str, Any]] = []

    def arrived() -> bool:
        gateway.vigil.sim.tick()
        ws.settimeout(0.2)
        try:
            frame = json.loads(ws.recv())
        except websocket.WebSocketTimeoutException:
            return False
        if predicate(frame):
            found.append(frame)
        return bool(found)

    wait_for(arrived, timeout=5.0)
    return found[0]


def test_raw_and_combined_streams(gateway: Gateway) -> None:
    raw = websocket.create_connection(f"{gateway.streams}/ws/btcusdt@bookTicker", timeout=5)
    combined = websocket.create_connection(
        f"{gateway.streams}/stream?streams=ethusdt@bookTicker", timeout=5
    )
    try:
        tick = frames_until(raw, lambda f: f.get("s") == "BTCUSDT", gateway)
        assert set(tick) >= {"u", "s", "b", "B", "a", "A"}
        wrapped = frames_until(combined, lambda f: "stream" in f, gateway)
        assert wrapped["stream"] == "ethusdt@bookTicker" and wrapped["data"]["s"] == "ETHUSDT"

        raw.send(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@bookTicker"], "id": 7}))
        frames_until(raw, lambda f: f.get("id") == 7, gateway)
        raw.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}))
        listed = frames_until(raw, lambda f: f.get("id") == 8, gateway)
        assert sorted(listed["result"]) == ["btcusdt@bookTicker", "ethusdt@bookTicker"]
    finally:
        raw.close()
        combined.close()
    wait_for(lambda: gateway.server.streams.open == 0, timeout=5.0)
