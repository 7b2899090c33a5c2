"""Binance's IP rate limits seen from the client: usage tracking, pre-emptive throttle, backoff.

Binance counts request weight per wall-clock minute and orders per 10 s window, and reports the
current usage in ``X-MBX-USED-WEIGHT-1M`` / ``X-MBX-ORDER-COUNT-10S``. ``RateLimitTracker`` keeps
that usage (plus what was sent since the last answer), says how long to wait before a request
would take us over ``share`` of a limit, and closes the gate after a 429/-1015 (for Retry-After)
or a 418 (until the ban ends). Every such event goes to the listener. Pure logic with injected
clocks; thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from loguru import logger

from exchange.contract import RateLimitEvent

__all__ = ["RateLimitTracker"]

RateLimitListener = Callable[[RateLimitEvent], None]


class RateLimitTracker:
    def __init__(
        self,
        *,
        weight_limit_1m: int,
        order_limit_10s: int,
        share: float,
        listener: RateLimitListener | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self.weight_limit_1m = weight_limit_1m
        self.order_limit_10s = order_limit_10s
        self.share = share
        self._listeners: list[RateLimitListener] = [listener] if listener else []
        self._wall, self._mono = wall, monotonic
        self._weight_minute, self._weight_used = -1, 0
        self._order_window, self._orders_used = -1, 0
        self._blocked_until = 0.0
        self._banned = False

    def add_listener(self, listener: RateLimitListener) -> None:
        self._listeners.append(listener)

    def set_limits(self, *, weight_limit_1m: int | None, order_limit_10s: int | None) -> None:
        with self._lock:
            self.weight_limit_1m = weight_limit_1m or self.weight_limit_1m
            self.order_limit_10s = order_limit_10s or self.order_limit_10s

    # --- usage --------------------------------------------------------------------------------

    def _roll(self) -> None:
        now = self._wall()
        minute, window = int(now // 60), int(now // 10)
        if minute != self._weight_minute:
            self._weight_minute, self._weight_used = minute, 0
        if window != self._order_window:
            self._order_window, self._orders_used = window, 0

    @property
    def used_weight_1m(self) -> int:
        with self._lock:
            self._roll()
            return self._weight_used

    @property
    def order_count_10s(self) -> int:
        with self._lock:
            self._roll()
            return self._orders_used

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the venue's own count from a response's headers (authoritative)."""
        with self._lock:
            self._roll()
            weight = _int(
                headers.get("X-MBX-USED-WEIGHT-1M") or headers.get("x-mbx-used-weight-1m")
            )
            if weight is not None:
                self._weight_used = weight
            orders = _int(
                headers.get("X-MBX-ORDER-COUNT-10S") or headers.get("x-mbx-order-count-10s")
            )
            if orders is not None:
                self._orders_used = orders

    def record_sent(self, weight: int, is_order: bool) -> None:
        """Count a request we are about to send until the venue reports its own count."""
        with self._lock:
            self._roll()
            self._weight_used += weight
            if is_order:
                self._orders_used += 1

    # --- the gate -----------------------------------------------------------------------------

    def blocked_for(self) -> tuple[float, bool]:
        """(seconds the gate stays closed after a 429/418, whether it is a ban)."""
        with self._lock:
            left = self._blocked_until - self._mono()
            if left <= 0:
                self._banned = False
                return 0.0, False
            return left, self._banned

    def throttle_delay(self, weight: int, is_order: bool) -> float:
        """Seconds to wait so that this request stays within ``share`` of every limit (0 = go)."""
        with self._lock:
            self._roll()
            now = self._wall()
            delay = 0.0
            if self._weight_used + weight > self.share * self.weight_limit_1m:
                delay = max(delay, 60 - now % 60)
            if is_order and self._orders_used + 1 > self.share * self.order_limit_10s:
                delay = max(delay, 10 - now % 10)
            return delay

    def refused(self, *, http_status: int, code: int | None, retry_after_s: float) -> None:
        """The venue answered 429 / 418 / -1015: close the gate for ``retry_after_s``."""
        banned = http_status == 418
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._mono() + retry_after_s)
            self._banned = self._banned or banned
        kind = "http_418" if banned else ("order_rate" if code == -1015 else "http_429")
        self.emit(kind, retry_after_s, f"HTTP {http_status} code {code}")

    def emit(self, kind: str, retry_after_s: float | None, message: str = "") -> None:
        event = RateLimitEvent(
            kind=kind,  # type: ignore[arg-type]
            retry_after_s=retry_after_s,
            used_weight_1m=self.used_weight_1m,
            weight_limit_1m=self.weight_limit_1m,
            order_count_10s=self.order_count_10s,
            message=message,
        )
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a listener's bug must not change a request's outcome
                logger.exception("rate-limit listener failed")


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
