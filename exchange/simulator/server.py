"""The simulated exchange's aiohttp server: Binance REST, WebSocket API, market streams.

One server on 127.0.0.1 serves Binance's own paths:

* REST at ``/api/v3/...`` (``rest`` = ``http://127.0.0.1:PORT``, a drop-in base URL),
* the WebSocket API at ``/ws-api/v3`` (user data stream subscriptions),
* market streams at ``/ws/<stream>`` and ``/stream?streams=a/b``,
* the fault API at ``/_sim/...`` (never rate limited, never affected by faults).

:class:`SimulatedExchange` runs it on its own event loop thread, for ``run.py``
and tests.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web
from loguru import logger

from exchange.simulator.auth import rest_payloads, signature_matches, ws_payload
from exchange.simulator.config import SimulatorConfig
from exchange.simulator.engine import ApiError, Engine, SimOrder, SimTrade, fmt
from exchange.simulator.faults import Fault, FaultBook, FaultError
from exchange.simulator.limits import RateLimited, RateLimiter

DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
CLIENT_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
JSON_HEADERS = {"Content-Type": "application/json;charset=UTF-8"}

Params = dict[str, str]
Handler = Callable[["Request"], Any]


@dataclass
class Request:
    params: Params
    http: web.Request | None = None
    read: set[str] = field(default_factory=set)

    def get(self, name: str) -> str | None:
        value = self.params.get(name)
        if value == "":
            raise ApiError(-1105, f"Parameter '{name}' was empty.")
        return value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise ApiError(
                -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
            )
        return value

    def decimal(self, name: str) -> Decimal | None:
        value = self.get(name)
        if value is None:
            return None
        if not DECIMAL_RE.match(value):
            raise ApiError(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is "
                "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
            )
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the regex already guards this
            raise ApiError(-1100, f"Illegal characters found in parameter '{name}'.") from None

    def integer(self, name: str) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if not re.fullmatch(r"-?[0-9]{1,19}", value):
            raise ApiError(
                -1100,
                f"Illegal characters found in parameter '{name}'; "
                "legal range is '^-?[0-9]{1,19}$'.",
            )
        return int(value)

    def client_id(self, name: str) -> str | None:
        value = self.get(name)
        if value is not None and not CLIENT_ID_RE.match(value):
            raise ApiError(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is "
                "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
            )
        return value


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    weight: int
    signed: bool
    handler: Handler
    is_order: bool = False


class SimServer:
    """Binance's protocol over the engine, with rate limits, auth and faults."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.engine = Engine(config, self.publish)
        self.faults = FaultBook()
        self.limiter = RateLimiter(
            config.request_weight_per_minute,
            config.orders_per_10s,
            config.orders_per_day,
            config.ban_after_violations,
            config.ban_seconds,
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.user_sockets: dict[web.WebSocketResponse, UserSession] = {}
        self.market_sockets: dict[web.WebSocketResponse, MarketSession] = {}
        self.request_count = 0
        self.app = self._build_app()

    # ------------------------------------------------------------------ app

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._not_found_middleware])
        routes = [
            Route("GET", "/api/v3/ping", 1, False, lambda r: {}),
            Route("GET", "/api/v3/time", 1, False, self.time),
            Route("GET", "/api/v3/exchangeInfo", 20, False, self.exchange_info),
            Route("GET", "/api/v3/depth", 5, False, self.depth),
            Route("GET", "/api/v3/ticker/bookTicker", 2, False, self.book_ticker),
            Route("GET", "/api/v3/ticker/price", 2, False, self.ticker_price),
            Route("GET", "/api/v3/avgPrice", 2, False, self.avg_price),
            Route("GET", "/api/v3/account", 20, True, self.account),
            Route("POST", "/api/v3/order", 1, True, self.new_order, is_order=True),
            Route("POST", "/api/v3/order/test", 1, True, self.test_order),
            Route("GET", "/api/v3/order", 4, True, self.query_order),
            Route("DELETE", "/api/v3/order", 1, True, self.cancel_order),
            Route("DELETE", "/api/v3/openOrders", 1, True, self.cancel_open_orders),
            Route("GET", "/api/v3/openOrders", 6, True, self.open_orders),
            Route("GET", "/api/v3/allOrders", 20, True, self.all_orders),
            Route("GET", "/api/v3/myTrades", 20, True, self.my_trades),
            Route("GET", "/api/v3/rateLimit/order", 40, True, self.rate_limit_order),
        ]
        for route in routes:
            app.router.add_route(route.method, route.path, self._endpoint(route))
        app.router.add_get("/ws-api/v3", self.ws_api)
        app.router.add_get("/ws/{streams:.*}", self.market_stream)
        app.router.add_get("/ws", self.market_stream)
        app.router.add_get("/stream", self.market_stream)
        app.router.add_post("/_sim/faults", self.sim_arm)
        app.router.add_delete("/_sim/faults", self.sim_clear)
        app.router.add_get("/_sim/faults", self.sim_faults)
        app.router.add_get("/_sim/state", self.sim_state)
        app.router.add_post("/_sim/deposit", self.sim_deposit)
        app.router.add_post("/_sim/tick", self.sim_tick)
        app.router.add_post("/_sim/price", self.sim_price)
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
            return self._json({"code": -1000, "msg": "Unknown endpoint."}, 404)
        except web.HTTPMethodNotAllowed:
            return self._json({"code": -1000, "msg": "Method not allowed."}, 405)

    async def _on_startup(self, app: web.Application) -> None:
        self.loop = asyncio.get_running_loop()
        if self.config.tick_interval > 0:
            app["ticker"] = asyncio.create_task(self._tick_forever())

    async def _on_shutdown(self, app: web.Application) -> None:
        task = app.get("ticker")
        if task is not None:
            task.cancel()
        for ws in list(self.user_sockets) + list(self.market_sockets):
            await ws.close()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_interval)
            self.engine.tick()
            self.push_book_tickers()

    def _outage(self) -> Fault | None:
        """The live outage: one with a ``count`` spends a trigger per refused request."""
        outage = self.faults.peek("outage")
        if outage is not None and outage.count is not None:
            return self.faults.take("outage")
        return outage

    @staticmethod
    def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            text=json.dumps(body, separators=(",", ":")),
            status=status,
            headers={**JSON_HEADERS, **(headers or {})},
        )

    # ------------------------------------------------------------------ REST pipeline

    def _endpoint(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def endpoint(http: web.Request) -> web.StreamResponse:
            self.request_count += 1
            outage = self._outage()
            if outage is not None:
                if outage.params.get("mode") == "refuse":
                    _drop_connection(http)
                    return web.Response(status=503)
                return self._json(
                    {"code": -1008, "msg": "Server is currently overloaded with other requests."},
                    503,
                )
            try:
                try:
                    body = (await http.read()).decode("utf-8")
                except UnicodeDecodeError:
                    raise ApiError(-1100, "Illegal characters found in a parameter.") from None
                params = self._parse_params(http, body)
                weight = route.weight
                if route.path == "/api/v3/openOrders" and "symbol" not in params:
                    weight = 80
                if route.path == "/api/v3/myTrades" and "orderId" in params:
                    weight = 5
                self.limiter.admit(weight, route.is_order)
                if route.signed:
                    self._authenticate(http, params, body)
                request = Request(params, http)
                result = route.handler(request)
                if asyncio.iscoroutine(result):
                    result = await result
                if isinstance(result, web.StreamResponse):
                    return result
                return self._json(result, headers=self.limiter.headers(route.is_order))
            except RateLimited as exc:
                headers = {**self.limiter.headers(False), "Retry-After": str(exc.retry_after)}
                return self._json(exc.body(), exc.http_status, headers)
            except ApiError as exc:
                return self._json(exc.body(), exc.http_status, self.limiter.headers(False))
            except Exception:  # never a traceback to the client
                logger.exception("simulator: internal error on {} {}", route.method, route.path)
                return self._json(
                    {
                        "code": -1000,
                        "msg": "An unknown error occurred while processing the request.",
                    },
                    500,
                )

        return endpoint

    @staticmethod
    def _parse_params(http: web.Request, body: str) -> Params:
        params: Params = {}
        sources = [parse_qsl(http.query_string, keep_blank_values=True)]
        if body and http.method in ("POST", "PUT", "DELETE"):
            if http.content_type not in ("application/x-www-form-urlencoded", "", "text/plain"):
                if http.content_type != "application/octet-stream":
                    raise ApiError(-1102, "Field value was empty or malformed.")
            sources.append(parse_qsl(body, keep_blank_values=True))
        for pairs in reversed(sources):  # query string wins over body
            seen: set[str] = set()
            for key, value in pairs:
                if key in seen:
                    raise ApiError(-1101, "Duplicate values for a parameter detected.")
                seen.add(key)
                params[key] = value
        return params

    def _authenticate(self, http: web.Request, params: Params, body: str) -> None:
        api_key = http.headers.get("X-MBX-APIKEY")
        self._check_api_key(api_key)
        self._check_timing(params)
        signature = params.get("signature")
        if not signature:
            raise ApiError(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        payloads = rest_payloads(http.query_string, body)
        if not signature_matches(self.config.api_secret.get_secret_value(), payloads, signature):
            raise ApiError(-1022, "Signature for this request is not valid.")

    def _check_api_key(self, api_key: str | None) -> None:
        if not api_key:
            raise ApiError(-2014, "API-key format invalid.", 401)
        if api_key != self.config.api_key:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)

    def _check_timing(self, params: dict[str, Any]) -> None:
        raw_ts = params.get("timestamp")
        if raw_ts is None or not re.fullmatch(r"[0-9]{1,19}", str(raw_ts)):
            raise ApiError(
                -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            )
        timestamp = int(raw_ts)
        if timestamp > 10**14:  # microseconds
            timestamp //= 1000
        recv_window = Decimal(5000)
        if params.get("recvWindow") is not None:
            try:
                recv_window = Decimal(str(params["recvWindow"]))
            except InvalidOperation:
                raise ApiError(
                    -1100, "Illegal characters found in parameter 'recvWindow'."
                ) from None
            if recv_window > self.config.max_recv_window_ms or recv_window <= 0:
                raise ApiError(
                    -1102,
                    f"'recvWindow' contains unexpected value. Cannot be greater than "
                    f"{self.config.max_recv_window_ms}.",
                )
        server_time = self.engine.server_time()
        if timestamp >= server_time + 1000:
            raise ApiError(
                -1021, "Timestamp for this request was 1000ms ahead of the server's time."
            )
        if server_time - timestamp > recv_window:
            raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")

    # ------------------------------------------------------------------ public endpoints

    def time(self, request: Request) -> dict[str, Any]:
        return {"serverTime": self.engine.server_time()}

    def exchange_info(self, request: Request) -> dict[str, Any]:
        wanted: list[str] | None = None
        if request.get("symbol"):
            wanted = [request.require("symbol")]
        elif request.get("symbols"):
            try:
                wanted = list(json.loads(request.require("symbols")))
            except ValueError:
                raise ApiError(-1100, "Illegal characters found in parameter 'symbols'.") from None
        specs = [m.spec for m in self.engine.markets.values()]
        if wanted is not None:
            for symbol in wanted:
                self.engine.market(symbol)
            specs = [s for s in specs if s.symbol in wanted]
        return {
            "timezone": "UTC",
            "serverTime": self.engine.server_time(),
            "rateLimits": [
                {k: v for k, v in limit.items() if k != "count"}
                for limit in self.limiter.rate_limits_json()
            ],
            "exchangeFilters": [],
            "symbols": [spec.exchange_info_entry() for spec in specs],
        }

    def depth(self, request: Request) -> dict[str, Any]:
        market = self.engine.market(request.require("symbol"))
        limit = request.integer("limit") or 100
        if limit < 1 or limit > 5000:
            raise ApiError(-1100, "Illegal characters found in parameter 'limit'.")
        with self.engine._lock:
            return {
                "lastUpdateId": market.update_id,
                "bids": [[fmt(p), fmt(q)] for p, q in market.levels("SELL")[:limit]],
                "asks": [[fmt(p), fmt(q)] for p, q in market.levels("BUY")[:limit]],
            }

    def book_ticker(self, request: Request) -> Any:
        def one(symbol: str) -> dict[str, Any]:
            t = self.engine.market(symbol).book_ticker()
            return {
                "symbol": symbol,
                "bidPrice": t["b"],
                "bidQty": t["B"],
                "askPrice": t["a"],
                "askQty": t["A"],
            }

        symbol = request.get("symbol")
        if symbol:
            return one(symbol)
        return [one(s) for s in self.engine.markets]

    def ticker_price(self, request: Request) -> Any:
        symbol = request.get("symbol")
        if symbol:
            return {"symbol": symbol, "price": fmt(self.engine.market(symbol).mid)}
        return [{"symbol": s, "price": fmt(m.mid)} for s, m in self.engine.markets.items()]

    def avg_price(self, request: Request) -> dict[str, Any]:
        market = self.engine.market(request.require("symbol"))
        return {"mins": 0, "price": fmt(market.mid), "closeTime": self.engine.server_time()}

    # ------------------------------------------------------------------ signed endpoints

    def account(self, request: Request) -> dict[str, Any]:
        return self.engine.account_json(omit_zero=request.get("omitZeroBalances") == "true")

    def _order_args(self, request: Request) -> dict[str, Any]:
        return {
            "symbol": request.require("symbol"),
            "side": request.require("side"),
            "order_type": request.require("type"),
            "time_in_force": request.get("timeInForce"),
            "quantity": request.decimal("quantity"),
            "quote_order_qty": request.decimal("quoteOrderQty"),
            "price": request.decimal("price"),
            "stop_price": request.decimal("stopPrice"),
        }

    def test_order(self, request: Request) -> dict[str, Any]:
        self.engine.place_order(**self._order_args(request), test_only=True)
        return {}

    async def new_order(self, request: Request) -> Any:
        args = self._order_args(request)
        client_order_id = request.client_id("newClientOrderId")
        resp_type = request.get("newOrderRespType")
        if resp_type is None:
            resp_type = "FULL" if args["order_type"] in ("LIMIT", "MARKET") else "ACK"
        if resp_type not in ("ACK", "RESULT", "FULL"):
            raise ApiError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
        reject = self.faults.take("reject_orders")
        if reject is not None:
            raise ApiError(
                int(reject.params.get("code", -2010)),
                str(reject.params.get("msg", "This action is disabled on this account.")),
                int(reject.params.get("http_status", 400)),
            )
        unknown = self.faults.take("unknown_status")
        if unknown is not None and not unknown.params.get("placed", True):
            raise ApiError(
                int(unknown.params.get("code", -1007)),
                "Timeout waiting for response from backend server. Send status unknown; "
                "execution status unknown.",
                int(unknown.params.get("status", 503)),
            )
        slippage = self.faults.take("slippage")
        if slippage is not None:
            args_market = self.engine.market(args["symbol"])
            bps = Decimal(str(slippage.params.get("bps", 100)))
            ticks = (args_market.mid * bps / Decimal(10000) / args_market.tick).to_integral_value()
            args_market.slippage_ticks = max(1, int(ticks))
        try:
            order, trades = self.engine.place_order(**args, client_order_id=client_order_id)
        finally:
            if slippage is not None:
                self.engine.market(args["symbol"]).slippage_ticks = 0
        assert order is not None
        body = self._order_response(order, trades, resp_type)
        if unknown is not None:
            raise ApiError(
                int(unknown.params.get("code", -1007)),
                "Timeout waiting for response from backend server. Send status unknown; "
                "execution status unknown.",
                int(unknown.params.get("status", 503)),
            )
        if self.faults.take("lost_response") is not None and request.http is not None:
            _drop_connection(request.http)
            return web.Response(status=500)
        delayed = self.faults.take("timeout_after_accept")
        if delayed is not None:
            await asyncio.sleep(float(delayed.params.get("delay", 30)))
        return body

    @staticmethod
    def _order_response(order: SimOrder, trades: list[SimTrade], resp_type: str) -> dict[str, Any]:
        ack = {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "transactTime": order.time,
        }
        if resp_type == "ACK":
            return ack
        result = order.as_json(query=False)
        result.pop("clientOrderId")
        body = {**ack, **{k: v for k, v in result.items() if k not in ack}}
        if resp_type == "FULL":
            body["fills"] = [t.fill_json() for t in trades]
        return body

    def _order_ref(self, request: Request) -> tuple[str, int | None, str | None]:
        symbol = request.require("symbol")
        order_id = request.integer("orderId")
        orig = request.get("origClientOrderId")
        if order_id is None and orig is None:
            raise ApiError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        return symbol, order_id, orig

    def query_order(self, request: Request) -> dict[str, Any]:
        return self.engine.find_order(*self._order_ref(request)).as_json()

    def cancel_order(self, request: Request) -> dict[str, Any]:
        symbol, order_id, orig = self._order_ref(request)
        new_id = request.client_id("newClientOrderId")
        order, cancel_id = self.engine.cancel_order(symbol, order_id, orig, new_id)
        return self._cancel_json(order, cancel_id)

    def _cancel_json(self, order: SimOrder, cancel_id: str) -> dict[str, Any]:
        body = order.as_json(query=False)
        return {
            "symbol": order.symbol,
            "origClientOrderId": order.client_order_id,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": cancel_id,
            "transactTime": order.update_time,
            **{
                k: v
                for k, v in body.items()
                if k not in ("symbol", "orderId", "orderListId", "clientOrderId", "workingTime")
            },
        }

    def cancel_open_orders(self, request: Request) -> list[dict[str, Any]]:
        cancelled = self.engine.cancel_open_orders(request.require("symbol"))
        return [self._cancel_json(order, cancel_id) for order, cancel_id in cancelled]

    def open_orders(self, request: Request) -> list[dict[str, Any]]:
        return [o.as_json() for o in self.engine.open_orders(request.get("symbol"))]

    def _limit(self, request: Request) -> int:
        limit = request.integer("limit") or 500
        if not 1 <= limit <= 1000:
            raise ApiError(-1100, "Illegal characters found in parameter 'limit'.")
        return limit

    def all_orders(self, request: Request) -> list[dict[str, Any]]:
        symbol = request.require("symbol")
        self.engine.market(symbol)
        limit = self._limit(request)
        from_id, start, end = (
            request.integer("orderId"),
            request.integer("startTime"),
            request.integer("endTime"),
        )
        with self.engine._lock:
            orders = list(self.engine.orders[symbol])
        if from_id is not None:
            orders = [o for o in orders if o.order_id >= from_id]
        if start is not None:
            orders = [o for o in orders if o.time >= start]
        if end is not None:
            orders = [o for o in orders if o.time <= end]
        chosen = orders[:limit] if (from_id is not None or start is not None) else orders[-limit:]
        return [o.as_json() for o in chosen]

    def my_trades(self, request: Request) -> list[dict[str, Any]]:
        symbol = request.require("symbol")
        self.engine.market(symbol)
        limit = self._limit(request)
        order_id, from_id = request.integer("orderId"), request.integer("fromId")
        start, end = request.integer("startTime"), request.integer("endTime")
        if from_id is not None and (start is not None or end is not None):
            raise ApiError(-1128, "Combination of optional parameters invalid.")
        with self.engine._lock:
            trades = list(self.engine.trades[symbol])
        if order_id is not None:
            trades = [t for t in trades if t.order_id == order_id]
        if from_id is not None:
            trades = [t for t in trades if t.trade_id >= from_id]
        if start is not None:
            trades = [t for t in trades if t.time >= start]
        if end is not None:
            trades = [t for t in trades if t.time <= end]
        chosen = trades[:limit] if (from_id is not None or start is not None) else trades[-limit:]
        return [t.as_json() for t in chosen]

    def rate_limit_order(self, request: Request) -> list[dict[str, Any]]:
        return [lim for lim in self.limiter.rate_limits_json() if lim["rateLimitType"] == "ORDERS"]

    # ------------------------------------------------------------------ user data stream

    def publish(self, event: dict[str, Any]) -> None:
        """Engine callback: fan one user data event out to every subscription (thread-safe)."""
        copies = 1
        delay = 0.0
        if self.faults.take("drop_events") is not None:
            return
        if self.faults.take("duplicate_events") is not None:
            copies = 2
        corrupt = self.faults.take_if(
            "malformed_events", lambda f: str(f.params.get("field", "z")) in event
        )
        if corrupt is not None:
            name = str(corrupt.params.get("field", "z"))
            event = {**event, name: corrupt.params.get("value", "garbage")}
        delayed = self.faults.take("delay_events")
        if delayed is not None:
            delay = float(delayed.params.get("delay_ms", 2000)) / 1000
        loop = self.loop
        if loop is None:
            return
        payloads = [event] * copies

        def deliver() -> None:
            for session in list(self.user_sockets.values()):
                for sub_id in sorted(session.subscriptions):
                    for payload in payloads:
                        session.queue.put_nowait({"subscriptionId": sub_id, "event": payload})

        def schedule() -> None:
            if delay > 0:
                loop.call_later(delay, deliver)
            else:
                deliver()

        if _running_loop() is loop:
            schedule()
        else:
            loop.call_soon_threadsafe(schedule)

    async def ws_api(self, http: web.Request) -> web.StreamResponse:
        outage = self._outage()
        if outage is not None and outage.params.get("scope") == "all":
            return self._json({"code": -1008, "msg": "Server is currently overloaded."}, 503)
        ws = web.WebSocketResponse(heartbeat=20.0, autoping=True)
        await ws.prepare(http)
        session = UserSession(connected_since=self.engine.server_time())
        self.user_sockets[ws] = session
        sender = asyncio.create_task(_pump(ws, session.queue))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                response = self._ws_request(session, msg.data)
                await ws.send_str(json.dumps(response, separators=(",", ":")))
        finally:
            self.user_sockets.pop(ws, None)
            sender.cancel()
        return ws

    def _ws_request(self, session: UserSession, text: str) -> dict[str, Any]:
        request_id: Any = None
        try:
            try:
                message = json.loads(text)
            except ValueError:
                raise ApiError(-1135, "Invalid JSON Request") from None
            if not isinstance(message, dict) or "method" not in message:
                raise ApiError(-1135, "Invalid JSON Request")
            request_id = message.get("id")
            params = message.get("params") or {}
            if not isinstance(params, dict):
                raise ApiError(-1135, "Invalid JSON Request")
            method = str(message["method"]).removeprefix("v3/")
            self.limiter.admit(2, False)
            result = self._ws_method(session, method, params)
            return {
                "id": request_id,
                "status": 200,
                "result": result,
                "rateLimits": [self.limiter.rate_limits_json()[0]],
            }
        except RateLimited as exc:
            return {
                "id": request_id,
                "status": exc.http_status,
                "error": {**exc.body(), "data": {"retryAfter": exc.retry_after}},
            }
        except ApiError as exc:
            return {"id": request_id, "status": exc.http_status, "error": exc.body()}
        except Exception:
            logger.exception("simulator: internal error in WebSocket API")
            return {
                "id": request_id,
                "status": 500,
                "error": {
                    "code": -1000,
                    "msg": "An unknown error occurred while processing the request.",
                },
            }

    def _ws_method(self, session: UserSession, method: str, params: dict[str, Any]) -> Any:
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": self.engine.server_time()}
        if method == "session.status":
            return {
                "apiKey": None,
                "authorizedSince": None,
                "connectedSince": session.connected_since,
                "returnRateLimits": True,
                "serverTime": self.engine.server_time(),
                "userDataStream": bool(session.subscriptions),
            }
        if method == "session.subscriptions":
            return [{"subscriptionId": s} for s in sorted(session.subscriptions)]
        if method == "userDataStream.subscribe.signature":
            for name in ("apiKey", "timestamp", "signature"):
                if params.get(name) in (None, ""):
                    raise ApiError(
                        -1102,
                        f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
                    )
            self._check_api_key(str(params["apiKey"]))
            self._check_timing(params)
            payload = ws_payload(params)
            secret = self.config.api_secret.get_secret_value()
            if not signature_matches(secret, [payload], str(params["signature"])):
                raise ApiError(-1022, "Signature for this request is not valid.")
            if session.subscriptions:
                raise ApiError(-2035, "User Data Stream subscription already active.")
            sub_id = session.next_subscription
            session.next_subscription += 1
            session.subscriptions.add(sub_id)
            return {"subscriptionId": sub_id}
        if method == "userDataStream.unsubscribe":
            sub = params.get("subscriptionId")
            ended = sorted(session.subscriptions) if sub is None else [int(sub)]
            for sub_id in ended:
                if sub_id in session.subscriptions:
                    session.subscriptions.discard(sub_id)
                    session.queue.put_nowait(
                        {
                            "subscriptionId": sub_id,
                            "event": {"e": "eventStreamTerminated", "E": self.engine.server_time()},
                        }
                    )
            return {}
        if method == "userDataStream.subscribe":
            raise ApiError(-1002, "You are not authorized to execute this request.", 401)
        raise ApiError(-1020, "This operation is not supported.")

    def terminate_streams(self) -> int:
        """stream_terminated fault: end every subscription with eventStreamTerminated."""
        ended = 0
        for session in list(self.user_sockets.values()):
            for sub_id in sorted(session.subscriptions):
                session.queue.put_nowait(
                    {
                        "subscriptionId": sub_id,
                        "event": {"e": "eventStreamTerminated", "E": self.engine.server_time()},
                    }
                )
                ended += 1
            session.subscriptions.clear()
        return ended

    # ------------------------------------------------------------------ market streams

    async def market_stream(self, http: web.Request) -> web.StreamResponse:
        combined = http.path == "/stream"
        raw = http.query.get("streams", "") if combined else http.match_info.get("streams", "")
        ws = web.WebSocketResponse(heartbeat=20.0, autoping=True)
        await ws.prepare(http)
        session = MarketSession(combined=combined)
        session.streams.update(s for s in raw.split("/") if s)
        self.market_sockets[ws] = session
        sender = asyncio.create_task(_pump(ws, session.queue))
        for symbol in self.engine.markets:
            self._push_book_ticker(session, symbol)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await ws.send_str(json.dumps(self._stream_control(session, msg.data)))
        finally:
            self.market_sockets.pop(ws, None)
            sender.cancel()
        return ws

    @staticmethod
    def _stream_control(session: MarketSession, text: str) -> dict[str, Any]:
        try:
            message = json.loads(text)
            method, request_id = message["method"], message.get("id")
        except (ValueError, KeyError, TypeError):
            return {"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}
        params = message.get("params") or []
        if method == "SUBSCRIBE":
            session.streams.update(params)
            return {"result": None, "id": request_id}
        if method == "UNSUBSCRIBE":
            session.streams.difference_update(params)
            return {"result": None, "id": request_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(session.streams), "id": request_id}
        return {
            "error": {"code": 2, "msg": f"Invalid request: unknown method {method}"},
            "id": request_id,
        }

    def push_book_tickers(self, symbols: list[str] | None = None) -> None:
        for session in list(self.market_sockets.values()):
            for symbol in symbols or self.engine.markets:
                self._push_book_ticker(session, symbol)

    def _push_book_ticker(self, session: MarketSession, symbol: str) -> None:
        stream = f"{symbol.lower()}@bookTicker"
        if stream not in session.streams:
            return
        data = self.engine.markets[symbol].book_ticker()
        session.queue.put_nowait({"stream": stream, "data": data} if session.combined else data)

    # ------------------------------------------------------------------ fault API

    async def sim_arm(self, http: web.Request) -> web.Response:
        try:
            spec = await http.json()
            if not isinstance(spec, dict) or "kind" not in spec:
                raise FaultError("body must be a JSON object with a 'kind'")
            kind = spec["kind"]
            params = spec.get("params") or {}
            fault = self.faults.arm(kind, params, spec.get("count"), spec.get("duration"))
            await self._one_shot(kind, params)
            if kind == "rate_limit_storm":
                self.limiter.storm(
                    int(params.get("count_429", 3)),
                    int(params.get("ban_seconds", 10)),
                    int(params.get("retry_after", 1)),
                )
            if kind == "clock_skew":
                self.engine.clock_offset_ms = int(params.get("offset_ms", 10000))
            return self._json({"armed": fault.as_json()})
        except (FaultError, ValueError, KeyError, TypeError, ApiError) as exc:
            msg = exc.msg if isinstance(exc, ApiError) else str(exc)
            return self._json({"error": msg}, 400)

    async def _one_shot(self, kind: str, params: dict[str, Any]) -> None:
        if kind == "ghost_order":
            symbol = str(params.get("symbol", next(iter(self.engine.markets))))
            market = self.engine.market(symbol)
            side = str(params.get("side", "BUY"))
            far = market.mid * (Decimal("0.5") if side == "BUY" else Decimal("1.5"))
            price = Decimal(str(params.get("price", far.quantize(market.tick))))
            qty = Decimal(str(params.get("quantity", market.spec.min_qty * 100)))
            self.engine.place_order(
                symbol=symbol,
                side=side,
                order_type="LIMIT",
                time_in_force="GTC",
                quantity=qty,
                price=price,
                client_order_id=str(params.get("client_order_id", f"ghost-{time.time_ns()}"))[:36],
                owner="ghost",
            )
        elif kind == "balance_drift":
            self.engine.drift(
                str(params.get("asset", "USDT")), Decimal(str(params.get("delta", "-1")))
            )
        elif kind == "ws_disconnect":
            target = params.get("target", "all")
            sockets = []
            if target in ("user", "all"):
                sockets += list(self.user_sockets)
            if target in ("market", "all"):
                sockets += list(self.market_sockets)
            for ws in sockets:
                if params.get("mode") == "close":
                    await ws.close(code=1001, message=b"going away")
                else:
                    _abort_ws(ws)
        elif kind == "stream_terminated":
            self.terminate_streams()

    async def sim_clear(self, http: web.Request) -> web.Response:
        kind = http.query.get("kind")
        cleared = self.faults.clear(kind)
        if kind in (None, "clock_skew"):
            self.engine.clock_offset_ms = 0
        if kind in (None, "rate_limit_storm"):
            self.limiter.forced_429 = 0
            self.limiter.banned_until_ms = 0
        return self._json({"cleared": cleared})

    async def sim_faults(self, http: web.Request) -> web.Response:
        return self._json({"armed": self.faults.armed(), "history": self.faults.history})

    async def sim_state(self, http: web.Request) -> web.Response:
        state = self.engine.state_json()
        state["faults"] = self.faults.armed()
        state["subscriptions"] = sum(len(s.subscriptions) for s in self.user_sockets.values())
        state["rate_limits"] = self.limiter.rate_limits_json()
        return self._json(state)

    async def sim_deposit(self, http: web.Request) -> web.Response:
        try:
            body = await http.json()
            amount = Decimal(str(body["amount"]))
            if not amount.is_finite() or amount == 0:
                raise ValueError("amount must be a non-zero decimal (negative: a withdrawal)")
            self.engine.deposit(str(body["asset"]), amount)
        except (ValueError, KeyError, TypeError, InvalidOperation) as exc:
            return self._json({"error": f"bad deposit: {exc}"}, 400)
        return self._json({"ok": True})

    async def sim_tick(self, http: web.Request) -> web.Response:
        try:
            body = await http.json() if http.can_read_body else {}
            steps = int(body.get("steps", 1))
        except (ValueError, TypeError, AttributeError) as exc:
            return self._json({"error": f"bad tick: {exc}"}, 400)
        self.engine.tick(steps)
        self.push_book_tickers()
        return self._json({"prices": self.engine.state_json()["prices"]})

    async def sim_price(self, http: web.Request) -> web.Response:
        try:
            body = await http.json()
            symbol = str(body["symbol"])
            self.engine.set_price(symbol, Decimal(str(body["price"])))
        except (ValueError, KeyError, TypeError, InvalidOperation, ApiError) as exc:
            return self._json({"error": f"bad price: {exc}"}, 400)
        self.push_book_tickers([symbol])  # only this book moved
        return self._json({"prices": self.engine.state_json()["prices"]})


@dataclass
class UserSession:
    connected_since: int
    subscriptions: set[int] = field(default_factory=set)
    next_subscription: int = 0
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)


@dataclass
class MarketSession:
    combined: bool
    streams: set[str] = field(default_factory=set)
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)


async def _pump(ws: web.WebSocketResponse, queue: asyncio.Queue[dict[str, Any]]) -> None:
    """Send queued events in order; stops when the socket goes away."""
    while True:
        item = await queue.get()
        try:
            await ws.send_str(json.dumps(item, separators=(",", ":")))
        except (ConnectionError, RuntimeError):
            return


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _drop_connection(http: web.Request) -> None:
    transport = http.transport
    if transport is not None:
        transport.abort()


def _abort_ws(ws: web.WebSocketResponse) -> None:
    writer = getattr(ws, "_writer", None)
    transport = getattr(writer, "transport", None) if writer is not None else None
    if transport is None:
        req = getattr(ws, "_req", None)
        transport = getattr(req, "transport", None)
    if transport is not None:
        transport.abort()


class SimulatedExchange:
    """The simulator on its own event-loop thread. Use as a context manager or start/stop."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.server = SimServer(self.config)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.port = 0

    @property
    def engine(self) -> Engine:
        return self.server.engine

    @property
    def faults(self) -> FaultBook:
        return self.server.faults

    @property
    def rest_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_api_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/ws-api/v3"

    @property
    def streams_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}"

    def info(self) -> dict[str, str]:
        """The JSON line ``run.py sim`` prints: URLs and the demo account's local credentials."""
        return {
            "rest": self.rest_url,
            "ws_api": self.ws_api_url,
            "streams": self.streams_url,
            "api_key": self.config.api_key,
            "api_secret": self.config.api_secret.get_secret_value(),
        }

    def start(self, timeout: float = 10.0) -> SimulatedExchange:
        self._thread = threading.Thread(target=self._run, name="sim-exchange", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("simulated exchange did not start in time")
        if self._error is not None:
            raise RuntimeError(f"simulated exchange failed to start: {self._error}")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        runner = web.AppRunner(self.server.app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, reuse_address=True)
        await site.start()
        self.port = int(runner.addresses[0][1])
        self._stopped = asyncio.Event()
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            await runner.cleanup()

    def stop(self, timeout: float = 10.0) -> None:
        loop = self.server.loop
        if loop is not None and self._stopped is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def call(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run ``fn`` on the simulator's loop thread and return its result."""
        loop = self.server.loop
        assert loop is not None

        async def run() -> Any:
            result = fn()
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def __enter__(self) -> SimulatedExchange:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
