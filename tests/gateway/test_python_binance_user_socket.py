"""python-binance's own user data socket (``BinanceSocketManager.user_socket``, which
subscribes with ``userDataStream.subscribe.signature`` on the WS API) pointed at the
gateway: it receives the strategy's executionReports for an order placed through the
gateway."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from binance import AsyncClient, BinanceSocketManager
from binance.ws.websocket_api import WebsocketAPI

from tests.gateway.conftest import Gateway


def test_user_socket_through_the_gateway(gateway: Gateway) -> None:
    api_key, secret = gateway.add_key("socket")

    async def run() -> list[dict[str, Any]]:
        client = AsyncClient(api_key, secret)
        client.API_URL = f"{gateway.rest}/api"
        client.ws_api = WebsocketAPI(url=gateway.ws_api)
        received: list[dict[str, Any]] = []
        try:
            async with BinanceSocketManager(client).user_socket() as socket:
                await client.create_order(
                    symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001",
                    newClientOrderId="socket-1",
                )  # fmt: skip
                while not any(e.get("X") == "FILLED" for e in received):
                    received.append(await asyncio.wait_for(socket.recv(), timeout=5))
        finally:  # python-binance's close waits 10 s for its WS API reader (on Binance too)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.close_connection(), timeout=0.5)
        return received

    events = asyncio.run(run())
    reports = [e for e in events if e.get("e") == "executionReport"]
    assert {e["c"] for e in reports} == {"socket-1"}
    assert next(e["x"] for e in reports) == "NEW" and reports[-1]["X"] == "FILLED"
