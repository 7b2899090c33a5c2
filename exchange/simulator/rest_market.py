"""REST market-data endpoints: ping, time, exchangeInfo, depth, tickers, avgPrice, klines
and the 24-hour ticker (the last two from the price process's path:
:mod:`exchange.simulator.candles`).

Unsigned, read-only views of the engine's markets, in Binance's shapes.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from exchange.simulator.candles import interval_ms, klines, ticker_24hr, tz_offset_ms
from exchange.simulator.engine import Engine
from exchange.simulator.errors import ApiError
from exchange.simulator.limits import RateLimiter
from exchange.simulator.params import Request, Route, illegal
from exchange.simulator.rendering import book_ticker, fmt


class MarketDataEndpoints:
    """The public endpoints under ``/api/v3``."""

    def __init__(self, engine: Engine, limiter: RateLimiter) -> None:
        self.engine = engine
        self.limiter = limiter

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/api/v3/ping", 1, False, lambda r: {}),
            Route("GET", "/api/v3/time", 1, False, self.time),
            Route("GET", "/api/v3/exchangeInfo", 20, False, self.exchange_info),
            Route("GET", "/api/v3/depth", 5, False, self.depth),
            Route("GET", "/api/v3/ticker/bookTicker", 2, False, self.book_ticker),
            Route("GET", "/api/v3/ticker/price", 2, False, self.ticker_price),
            Route("GET", "/api/v3/avgPrice", 2, False, self.avg_price),
            Route("GET", "/api/v3/klines", 2, False, self.klines),
            Route("GET", "/api/v3/ticker/24hr", 2, False, self.ticker_24hr),
        ]

    def time(self, request: Request) -> dict[str, Any]:
        return {"serverTime": self.engine.server_time()}

    def exchange_info(self, request: Request) -> dict[str, Any]:
        wanted: list[str] | None = None
        if request.get("symbol"):
            wanted = [request.require("symbol")]
        elif request.get("symbols"):
            try:
                wanted = [str(s) for s in json.loads(request.require("symbols"))]
            except (ValueError, TypeError):
                raise ApiError(-1135, "JSON sent for parameter 'symbols' is not valid") from None
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
        limit = request.integer("limit")
        limit = 100 if limit is None else min(limit, 5000)  # "if limit > 5000, only 5000"
        if limit < 1:
            raise illegal("limit", "1-5000")
        with self.engine.lock:
            return {
                "lastUpdateId": market.update_id,
                "bids": [[fmt(p), fmt(q)] for p, q in market.levels("SELL")[:limit]],
                "asks": [[fmt(p), fmt(q)] for p, q in market.levels("BUY")[:limit]],
            }

    def book_ticker(self, request: Request) -> Any:
        def one(symbol: str) -> dict[str, Any]:
            with self.engine.lock:
                t = book_ticker(self.engine.market(symbol))
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

    def klines(self, request: Request) -> list[list[object]]:
        symbol = request.require("symbol")
        interval = request.require("interval")
        market = self.engine.market(symbol)
        interval_ms(interval)
        limit = request.integer("limit")
        limit = 500 if limit is None else limit
        if not 1 <= limit <= 1000:
            raise illegal("limit", "1-1000")
        start, end = request.integer("startTime"), request.integer("endTime")
        if start is not None and end is not None and start > end:
            raise ApiError(-1128, "Combination of optional parameters invalid.")
        offset = tz_offset_ms(request.get("timeZone"))
        with self.engine.lock:
            return klines(
                list(market.history),
                list(self.engine.trades[symbol]),
                interval=interval,
                now_ms=self.engine.server_time(),
                start_ms=start,
                end_ms=end,
                limit=limit,
                offset_ms=offset,
            )

    def ticker_24hr(self, request: Request) -> Any:
        kind = request.get("type") or "FULL"
        if kind not in ("FULL", "MINI"):
            raise ApiError(-1100, "Illegal characters found in parameter 'type'.")
        symbol, symbols = request.get("symbol"), request.get("symbols")
        if symbol and symbols:
            raise ApiError(-1128, "Combination of optional parameters invalid.")

        def one(name: str) -> dict[str, object]:
            market = self.engine.market(name)
            with self.engine.lock:
                bids, asks = market.levels("SELL"), market.levels("BUY")
                return ticker_24hr(
                    name,
                    list(market.history),
                    list(self.engine.trades[name]),
                    now_ms=self.engine.server_time(),
                    bid=bids[0] if bids else (Decimal(0), Decimal(0)),
                    ask=asks[0] if asks else (Decimal(0), Decimal(0)),
                    mini=kind == "MINI",
                )

        if symbol:
            return one(symbol)
        if symbols:
            try:
                wanted = [str(s) for s in json.loads(symbols)]
            except (ValueError, TypeError):
                raise ApiError(-1135, "JSON sent for parameter 'symbols' is not valid") from None
            return [one(s) for s in wanted]
        return [one(s) for s in self.engine.markets]
