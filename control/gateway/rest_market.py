"""The gateway's market-data endpoints: ``ping`` and ``time`` answered by Vigil (``time`` is
its estimate of the exchange's clock, the one signed requests are checked against), the rest
(``exchangeInfo``, ``depth``, ``ticker/*``, ``avgPrice``, ``klines``) relayed from the
exchange inside Vigil's weight budget (:mod:`exchange.binance.market_data`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from control.gateway.errors import error_response, json_response
from exchange.binance.market_data import PATHS, MarketDataRelay
from exchange.protocol.errors import ApiError
from exchange.protocol.params import parse_params

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class MarketData:
    def __init__(self, relay: MarketDataRelay, server_time: Callable[[], int]) -> None:
        self.relay = relay
        self.server_time = server_time

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/v3/ping", self.ping)
        r.add_get("/api/v3/time", self.time)
        for path in PATHS:
            r.add_get(f"/api/v3/{path}", self._relay(path))

    async def ping(self, request: web.Request) -> web.StreamResponse:
        return json_response({})

    async def time(self, request: web.Request) -> web.StreamResponse:
        return json_response({"serverTime": self.server_time()})

    def _relay(self, path: str) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            query = request.raw_path.partition("?")[2]
            try:
                params = parse_params(query, "GET", "", "")
                loop = asyncio.get_running_loop()
                answer = await loop.run_in_executor(None, self.relay.get, path, query, params)
            except ApiError as exc:
                return error_response(exc)
            return web.Response(
                body=answer.body,
                status=answer.status,
                headers={
                    "Content-Type": answer.content_type,
                    # the account's usage this minute, Vigil's own calls included: a bot
                    # that paces itself by it stays inside the budget
                    "X-MBX-USED-WEIGHT-1M": str(self.relay.limits.used_weight_1m),
                },
            )

        return handler
