"""The simulated exchange's aiohttp application: the endpoints assembled on one server.

One server on 127.0.0.1 serves Binance's own paths:

* REST at ``/api/v3/...`` (``rest`` = ``http://127.0.0.1:PORT``, a drop-in base URL),
* the WebSocket API at ``/ws-api/v3`` (user data stream subscriptions),
* market streams at ``/ws/<stream>`` and ``/stream?streams=a/b``,
* the fault API at ``/_sim/...`` (never rate limited, never affected by faults).

:class:`SimServer` owns the state (engine, faults, rate limits), wires the endpoint
modules to it, and runs every REST call through one pipeline: outage, rate limits,
authentication, the handler, Binance's error shape.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from loguru import logger

from exchange.simulator.auth import check_api_key, check_signature, check_timing, rest_payloads
from exchange.simulator.cancel_replace import CancelReplaceEndpoint
from exchange.simulator.config import SimulatorConfig
from exchange.simulator.connections import drop_connection, json_response
from exchange.simulator.control import ControlApi
from exchange.simulator.engine import Engine
from exchange.simulator.errors import ApiError
from exchange.simulator.faults import Fault, FaultBook
from exchange.simulator.limits import RateLimited, RateLimiter
from exchange.simulator.params import Request, Route, parse_params
from exchange.simulator.rest_market import MarketDataEndpoints
from exchange.simulator.rest_order_lists import OrderListEndpoints
from exchange.simulator.rest_trading import TradingEndpoints
from exchange.simulator.streams import MarketStreams
from exchange.simulator.ws_api import UserStreams

#: how long a closing WebSocket may wait for its peer's close frame at shutdown
CLOSE_TIMEOUT_S = 0.25


def wall_clock_ms() -> int:
    """The server's clock for the engine: the wall clock in milliseconds."""
    return int(time.time() * 1000)


def __getattr__(name: str) -> Any:
    """``SimulatedExchange`` moved to :mod:`exchange.simulator.runner`; still found here."""
    if name == "SimulatedExchange":
        from exchange.simulator.runner import SimulatedExchange

        return SimulatedExchange
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class SimServer:
    """Binance's protocol over the engine, with rate limits, auth and faults."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.stopping = threading.Event()
        self.faults = FaultBook()
        self.limiter = RateLimiter(
            config.request_weight_per_minute,
            config.orders_per_10s,
            config.orders_per_day,
            config.ban_after_violations,
            config.ban_seconds,
        )
        self.engine = Engine(config, clock=wall_clock_ms)
        self.users = UserStreams(config, self.engine, self.faults, self.limiter, self._outage)
        self.markets = MarketStreams(self.engine)
        self.engine.set_publisher(self.users.publish)
        self.control = ControlApi(
            self.engine, self.faults, self.limiter, self.users, self.markets, self.stopping.is_set
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.request_count = 0
        self.app = self._build_app()

    @property
    def user_sockets(self) -> dict[web.WebSocketResponse, Any]:
        return self.users.sockets

    @property
    def market_sockets(self) -> dict[web.WebSocketResponse, Any]:
        return self.markets.sockets

    def publish(self, event: dict[str, Any]) -> None:
        self.users.publish(event)

    def push_book_tickers(self, symbols: list[str] | None = None) -> None:
        self.markets.push_book_tickers(symbols)

    # ------------------------------------------------------------------ app

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._not_found_middleware])
        endpoints = MarketDataEndpoints(self.engine, self.limiter).routes()
        endpoints += TradingEndpoints(self.engine, self.faults, self.limiter).routes()
        endpoints += OrderListEndpoints(self.engine, self.faults).routes()
        endpoints += CancelReplaceEndpoint(self.engine, self.limiter).routes()
        for route in endpoints:
            app.router.add_route(route.method, route.path, self._endpoint(route))
        app.router.add_get("/ws-api/v3", self.users.handle)
        app.router.add_get("/ws/{streams:.*}", self.markets.handle)
        app.router.add_get("/ws", self.markets.handle)
        app.router.add_get("/stream", self.markets.handle)
        self.control.add_routes(app)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        return app

    @web.middleware
    async def _not_found_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return json_response({"code": -1000, "msg": "Unknown endpoint."}, 404)
        except web.HTTPMethodNotAllowed:
            return json_response({"code": -1000, "msg": "Method not allowed."}, 405)

    async def _on_startup(self, app: web.Application) -> None:
        self.loop = asyncio.get_running_loop()
        self.users.loop = self.loop
        if self.config.tick_interval > 0:
            app["ticker"] = asyncio.create_task(self._tick_forever())

    async def _on_shutdown(self, app: web.Application) -> None:
        """Stop the ticker and close every WebSocket, never waiting long for a peer."""
        self.stopping.set()
        task = app.get("ticker")
        if task is not None:
            task.cancel()
        sockets = list(self.users.sockets) + list(self.markets.sockets)
        closing = [asyncio.ensure_future(ws.close()) for ws in sockets]
        if closing:
            _, pending = await asyncio.wait(closing, timeout=CLOSE_TIMEOUT_S)
            for task in pending:
                task.cancel()

    async def _tick_forever(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(self.config.tick_interval)
            self.engine.tick()
            self.markets.push_book_tickers()

    def _outage(self) -> Fault | None:
        """The live outage: one with a ``count`` spends a trigger per refused request."""
        outage = self.faults.peek("outage")
        if outage is not None and outage.count is not None:
            return self.faults.take("outage")
        return outage

    # ------------------------------------------------------------------ REST pipeline

    def _endpoint(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def endpoint(http: web.Request) -> web.StreamResponse:
            self.request_count += 1
            outage = self._outage()
            if outage is not None:
                if outage.params["mode"] == "refuse":
                    drop_connection(http)
                    return web.Response(status=503)
                return json_response(
                    {"code": -1008, "msg": "Server is currently overloaded with other requests."},
                    503,
                )
            try:
                return await self._serve(route, http)
            except RateLimited as exc:
                headers = {**self.limiter.headers(False), "Retry-After": str(exc.retry_after)}
                return json_response(exc.body(), exc.http_status, headers)
            except ApiError as exc:
                return json_response(exc.body(), exc.http_status, self.limiter.headers(False))
            except Exception:  # never a traceback to the client
                logger.exception("simulator: internal error on {} {}", route.method, route.path)
                return json_response(
                    {
                        "code": -1000,
                        "msg": "An unknown error occurred while processing the request.",
                    },
                    500,
                )

        return endpoint

    async def _serve(self, route: Route, http: web.Request) -> web.StreamResponse:
        try:
            body = (await http.read()).decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(-1100, "Illegal characters found in a parameter.") from None
        # the query string as sent: signed as sent (percent-encoded), decoded exactly once
        query = http.raw_path.partition("?")[2]
        params = parse_params(query, http.method, http.content_type, body)
        weight = route.weight
        if route.path == "/api/v3/openOrders" and "symbol" not in params:
            weight = 80
        if route.path == "/api/v3/myTrades" and "orderId" in params:
            weight = 5
        if route.path == "/api/v3/ticker/24hr" and "symbol" not in params:
            weight = 80
        counts = route.is_order and not route.orders_by_handler
        self.limiter.admit(weight, counts, orders=route.unfilled)
        if route.signed:
            check_api_key(self.config.api_key, http.headers.get("X-MBX-APIKEY"))
            check_timing(params, self.engine.server_time(), self.config.max_recv_window_ms)
            check_signature(
                self.config.api_secret.get_secret_value(),
                rest_payloads(query, body),
                params.get("signature"),
            )
        result = route.handler(Request(params, http))
        if asyncio.iscoroutine(result):
            result = await result
        if isinstance(result, web.StreamResponse):
            return result
        return json_response(result, headers=self.limiter.headers(route.is_order))
