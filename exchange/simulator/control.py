"""The fault and control API under ``/_sim`` (loopback, simulator only).

``POST /_sim/faults`` arms a fault checked against :data:`~exchange.simulator.faults.FAULT_SCHEMA`;
``DELETE`` clears, ``GET`` lists; ``GET /_sim/state`` is the exchange's true state;
``POST /_sim/deposit``, ``/_sim/tick`` and ``/_sim/price`` move money and prices. Every
body is checked strictly (:mod:`exchange.simulator.schema`): anything unknown, mistyped,
non-finite or out of bounds is refused with 400 naming the field, and nothing changes.
Never rate limited and never affected by faults.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from exchange.simulator import rendering
from exchange.simulator.connections import json_response
from exchange.simulator.engine import Engine
from exchange.simulator.errors import ApiError
from exchange.simulator.faults import FAULT_SCHEMA, ArmRequest, FaultBook, parse_arm
from exchange.simulator.limits import RateLimiter
from exchange.simulator.schema import BadField, Field, check_object, read_body
from exchange.simulator.streams import MarketStreams
from exchange.simulator.ws_api import UserStreams

D = Decimal
#: the most price steps one POST /_sim/tick may ask for
MAX_TICK_STEPS = 10_000
#: steps done between two looks at the event loop (and at the stop flag)
TICK_CHUNK = 100

TICK_FIELDS = {"steps": Field("integer", 1, low=D(1), high=D(MAX_TICK_STEPS))}
PRICE_FIELDS = {
    "symbol": Field("string", None, low=D(1), high=D(20), required=True),
    "price": Field("decimal", None, low=D(0), low_open=True, high=D(10**12), required=True),
}
DEPOSIT_FIELDS = {
    "asset": Field("string", None, low=D(1), high=D(20), required=True),
    "amount": Field("decimal", None, low=D(-(10**15)), high=D(10**15), required=True),
}


async def _text(http: web.Request) -> str:
    try:
        return (await http.read()).decode("utf-8")
    except UnicodeDecodeError:
        raise BadField("body", "not UTF-8 text") from None


class ControlApi:
    """The ``/_sim`` handlers."""

    def __init__(
        self,
        engine: Engine,
        faults: FaultBook,
        limiter: RateLimiter,
        users: UserStreams,
        markets: MarketStreams,
        stopping: Callable[[], bool],
    ) -> None:
        self.engine = engine
        self.faults = faults
        self.limiter = limiter
        self.users = users
        self.markets = markets
        self.stopping = stopping

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/_sim/faults", self.arm)
        app.router.add_delete("/_sim/faults", self.clear)
        app.router.add_get("/_sim/faults", self.list_faults)
        app.router.add_get("/_sim/state", self.state)
        app.router.add_post("/_sim/deposit", self.deposit)
        app.router.add_post("/_sim/tick", self.tick)
        app.router.add_post("/_sim/price", self.price)

    @staticmethod
    def _bad(exc: BadField) -> web.Response:
        return json_response(exc.body(), 400)

    # ------------------------------------------------------------------ faults

    async def arm(self, http: web.Request) -> web.Response:
        try:
            request = parse_arm(read_body(await _text(http)))
            if FAULT_SCHEMA[request.kind].one_shot:
                await self._one_shot(request)
        except BadField as exc:
            return self._bad(exc)
        fault = self.faults.arm(request.kind, request.params, request.count, request.duration)
        params = request.params
        if request.kind == "rate_limit_storm":
            self.limiter.storm(params["count_429"], params["ban_seconds"], params["retry_after"])
        elif request.kind == "clock_skew":
            self.engine.clock_offset_ms = params["offset_ms"]
        return json_response({"armed": fault.as_json()})

    async def _one_shot(self, request: ArmRequest) -> None:
        """Carry out a fault that acts once, at arming time; BadField if it cannot."""
        params = request.params
        if request.kind == "ghost_order":
            self._ghost_order(params)
        elif request.kind == "balance_drift":
            self.engine.drift(params["asset"], params["delta"])
        elif request.kind == "ws_disconnect":
            if params["target"] in ("user", "all"):
                await self.users.disconnect(params["mode"])
            if params["target"] in ("market", "all"):
                await self.markets.disconnect(params["mode"])
        elif request.kind == "stream_terminated":
            self.users.terminate()

    def _ghost_order(self, params: dict[str, Any]) -> None:
        symbol = params.get("symbol", next(iter(self.engine.markets)))
        if symbol not in self.engine.markets:
            raise BadField("params.symbol", f"unknown symbol {symbol!r}")
        market = self.engine.markets[symbol]
        side = params["side"]
        far = market.mid * (D("0.5") if side == "BUY" else D("1.5"))
        try:
            self.engine.place_order(
                symbol=symbol,
                side=side,
                order_type="LIMIT",
                time_in_force="GTC",
                quantity=params.get("quantity", market.spec.min_qty * 100),
                price=params.get("price", far.quantize(market.tick)),
                client_order_id=params.get("client_order_id", f"ghost-{time.time_ns()}"),
                owner="ghost",
            )
        except ApiError as exc:
            raise BadField("params", f"the exchange refused the ghost order: {exc.msg}") from None

    async def clear(self, http: web.Request) -> web.Response:
        kind = http.query.get("kind")
        if kind is not None and kind not in FAULT_SCHEMA:
            return self._bad(BadField("kind", f"unknown fault kind {kind!r}"))
        cleared = self.faults.clear(kind)
        if kind in (None, "clock_skew"):
            self.engine.clock_offset_ms = 0
        if kind in (None, "rate_limit_storm"):
            self.limiter.forced_429 = 0
            self.limiter.banned_until_ms = 0
        return json_response({"cleared": cleared})

    async def list_faults(self, http: web.Request) -> web.Response:
        return json_response({"armed": self.faults.armed(), "history": self.faults.history})

    # ------------------------------------------------------------------ state, money, prices

    async def state(self, http: web.Request) -> web.Response:
        engine = self.engine
        with engine.lock:
            state = rendering.state_json(
                server_time=engine.server_time(),
                balances=engine.balances,
                deposits=engine.deposits,
                markets=engine.markets,
                open_orders=engine.open_orders(None),
                orders=[o for orders in engine.orders.values() for o in orders],
                trades=[t for trades in engine.trades.values() for t in trades],
                order_lists=engine.lists.lists,
            )
        state["faults"] = self.faults.armed()
        state["subscriptions"] = self.users.subscription_count()
        state["rate_limits"] = self.limiter.rate_limits_json()
        return json_response(state)

    async def deposit(self, http: web.Request) -> web.Response:
        try:
            body = check_object("", read_body(await _text(http)), DEPOSIT_FIELDS)
            if body["amount"] == 0:
                raise BadField("amount", "must not be 0 (negative: a withdrawal)")
            try:
                self.engine.deposit(body["asset"], body["amount"])
            except ValueError as exc:
                raise BadField("amount", str(exc)) from None
        except BadField as exc:
            return self._bad(exc)
        return json_response({"ok": True})

    def _prices(self) -> dict[str, dict[str, str]]:
        with self.engine.lock:
            return rendering.prices_json(self.engine.markets)

    async def tick(self, http: web.Request) -> web.Response:
        """Advance the price process ``steps`` times, in chunks that leave the event loop
        (and a stop) free to act between them."""
        try:
            body = check_object("", read_body(await _text(http), allow_empty=True), TICK_FIELDS)
        except BadField as exc:
            return self._bad(exc)
        steps: int = body["steps"]
        done = 0
        while done < steps and not self.stopping():
            done += self.engine.tick(min(TICK_CHUNK, steps - done), self.stopping)
            await asyncio.sleep(0)
        self.markets.push_book_tickers()
        return json_response({"steps": done, "prices": self._prices()})

    async def price(self, http: web.Request) -> web.Response:
        try:
            body = check_object("", read_body(await _text(http)), PRICE_FIELDS)
            symbol, price = body["symbol"], body["price"]
            market = self.engine.markets.get(symbol)
            if market is None:
                raise BadField("symbol", f"unknown symbol {symbol!r}")
            if price < market.tick:
                raise BadField("price", f"must be at least the tick size {market.tick}")
        except BadField as exc:
            return self._bad(exc)
        self.engine.set_price(symbol, price)
        self.markets.push_book_tickers([symbol])  # only this book moved
        return json_response({"prices": self._prices()})
