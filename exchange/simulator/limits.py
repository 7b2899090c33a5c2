"""Binance's IP rate limits as the simulator enforces them.

Fixed windows like Binance's: REQUEST_WEIGHT per minute, ORDERS per 10 seconds and per
day. A request over a limit gets 429 with ``Retry-After``; requests that keep coming
while limited count as violations, and past ``ban_after`` of them the IP is banned
(418) for ``ban_seconds``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from exchange.simulator.errors import ApiError


@dataclass
class Window:
    length_ms: int
    limit: int
    start: int = 0
    used: int = 0

    def roll(self, now_ms: int) -> None:
        start = now_ms - now_ms % self.length_ms
        if start != self.start:
            self.start, self.used = start, 0

    def retry_after(self, now_ms: int) -> int:
        return max(1, math.ceil((self.start + self.length_ms - now_ms) / 1000))


class RateLimited(ApiError):
    def __init__(self, code: int, msg: str, http_status: int, retry_after: int) -> None:
        super().__init__(code, msg, http_status)
        self.retry_after = retry_after


class RateLimiter:
    def __init__(
        self,
        weight_per_minute: int,
        orders_per_10s: int,
        orders_per_day: int,
        ban_after: int,
        ban_seconds: int,
    ) -> None:
        self._lock = threading.Lock()
        self.weight = Window(60_000, weight_per_minute)
        self.orders_10s = Window(10_000, orders_per_10s)
        self.orders_day = Window(86_400_000, orders_per_day)
        self.ban_after = ban_after
        self.ban_seconds = ban_seconds
        self.violations = 0
        self.banned_until_ms = 0
        self.forced_429 = 0  # rate_limit_storm: this many 429s before a ban
        self._storm_ban_seconds = ban_seconds
        self._storm_retry_after = 1

    def storm(self, count_429: int, ban_seconds: int, retry_after: int = 1) -> None:
        with self._lock:
            self.forced_429 = count_429
            self._storm_ban_seconds = ban_seconds
            self._storm_retry_after = retry_after

    def _ban(self, now_ms: int, seconds: int) -> RateLimited:
        self.banned_until_ms = now_ms + seconds * 1000
        self.violations = 0
        return self._banned(now_ms)

    def _banned(self, now_ms: int) -> RateLimited:
        return RateLimited(
            -1003,
            f"Way too much request weight used; IP banned until {self.banned_until_ms}. "
            "Please use WebSocket Streams for live updates to avoid bans.",
            418,
            max(1, math.ceil((self.banned_until_ms - now_ms) / 1000)),
        )

    def admit(
        self, weight: int, is_order: bool, now_ms: int | None = None, orders: int = 1
    ) -> None:
        """Count a request (``orders`` new orders, if ``is_order``); raise RateLimited
        (429/418) if it must be refused."""
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        with self._lock:
            if now_ms < self.banned_until_ms:
                raise self._banned(now_ms)
            if self.forced_429 > 0:
                self.forced_429 -= 1
                if self.forced_429 == 0:
                    self.banned_until_ms = now_ms + self._storm_ban_seconds * 1000
                storm = self._weight_429(now_ms)
                storm.retry_after = self._storm_retry_after  # the storm's 429s: a short back-off
                raise storm
            for window in (self.weight, self.orders_10s, self.orders_day):
                window.roll(now_ms)
            if self.weight.used + weight > self.weight.limit:
                self._violate(now_ms)
                raise self._weight_429(now_ms)
            self.weight.used += weight
            if is_order:
                for window in (self.orders_10s, self.orders_day):
                    if window.used + orders > window.limit:
                        self._violate(now_ms)
                        name = "10 SECOND" if window is self.orders_10s else "1 DAY"
                        raise RateLimited(
                            -1015,
                            f"Too many new orders; current limit is {window.limit} orders "
                            f"per {name}.",
                            429,
                            window.retry_after(now_ms),
                        )
                self.orders_10s.used += orders
                self.orders_day.used += orders

    def admit_orders(self, orders: int, now_ms: int | None = None) -> None:
        """Count new orders against the ORDERS limits only (their request was admitted)."""
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        with self._lock:
            for window in (self.orders_10s, self.orders_day):
                window.roll(now_ms)
                if window.used + orders > window.limit:
                    name = "10 SECOND" if window is self.orders_10s else "1 DAY"
                    raise RateLimited(
                        -1015,
                        f"Too many new orders; current limit is {window.limit} orders per {name}.",
                        429,
                        window.retry_after(now_ms),
                    )
            self.orders_10s.used += orders
            self.orders_day.used += orders

    def _violate(self, now_ms: int) -> None:
        self.violations += 1
        if self.violations > self.ban_after:
            raise self._ban(now_ms, self.ban_seconds)

    def _weight_429(self, now_ms: int) -> RateLimited:
        window = self.weight
        return RateLimited(
            -1003,
            f"Too much request weight used; current limit is {window.limit} request weight "
            "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling "
            "the API.",
            429,
            window.retry_after(now_ms),
        )

    def headers(self, include_orders: bool) -> dict[str, str]:
        with self._lock:
            out = {"X-MBX-USED-WEIGHT-1M": str(self.weight.used)}
            if include_orders:
                out["X-MBX-ORDER-COUNT-10S"] = str(self.orders_10s.used)
                out["X-MBX-ORDER-COUNT-1D"] = str(self.orders_day.used)
            return out

    def rate_limits_json(self) -> list[dict[str, object]]:
        """The ``rateLimits`` array of exchangeInfo and of WebSocket API responses."""
        with self._lock:
            return [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.weight.limit,
                    "count": self.weight.used,
                },
                {
                    "rateLimitType": "ORDERS",
                    "interval": "SECOND",
                    "intervalNum": 10,
                    "limit": self.orders_10s.limit,
                    "count": self.orders_10s.used,
                },
                {
                    "rateLimitType": "ORDERS",
                    "interval": "DAY",
                    "intervalNum": 1,
                    "limit": self.orders_day.limit,
                    "count": self.orders_day.used,
                },
            ]
