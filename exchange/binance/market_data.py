"""Public market data relayed from the exchange for strategies (the gateway), inside Vigil's
own request-weight budget.

Each request costs Binance's weight for it (:func:`weight_of`) and is counted on the same
:class:`RateLimitTracker` as Vigil's own calls; a request that would take the minute's usage
past ``share`` of the limit, or one made while the gate is closed after a 429/418, is refused
locally with 429 -1003 and never sent, so a chatty bot cannot get the account banned and
Vigil's reconciliation keeps its head-room. ``exchangeInfo`` answers are cached
(``cache_s``). The exchange's answer (status and body) is passed on unchanged.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from exchange.binance.rate_limits import RateLimitTracker
from exchange.protocol.errors import ApiError, too_much_weight

__all__ = ["PATHS", "MarketDataRelay", "Relayed", "weight_of"]

#: the relayed paths under /api/v3 and their base weight
PATHS: dict[str, int] = {
    "exchangeInfo": 20,
    "depth": 5,
    "ticker/price": 2,
    "ticker/bookTicker": 2,
    "ticker/24hr": 2,
    "avgPrice": 2,
    "klines": 2,
    "trades": 25,
}
CACHED = frozenset({"exchangeInfo"})


def _symbols_count(params: dict[str, str]) -> int | None:
    raw = params.get("symbols")
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return 1  # the exchange refuses it; the weight of one
    return len(value) if isinstance(value, list) else 1


def weight_of(path: str, params: dict[str, str]) -> int:
    """Binance's request weight for ``GET /api/v3/<path>`` with these parameters."""
    if path == "depth":
        try:
            limit = int(params.get("limit", "100"))
        except ValueError:
            limit = 100
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
    if path == "ticker/24hr":
        count = _symbols_count(params)
        if "symbol" in params:
            return 2
        if count is None or count > 100:
            return 80
        return 2 if count <= 20 else 40
    if path in ("ticker/price", "ticker/bookTicker"):
        return 2 if "symbol" in params or _symbols_count(params) is not None else 4
    return PATHS.get(path, 1)


@dataclass(frozen=True, slots=True)
class Relayed:
    status: int
    body: bytes
    content_type: str
    cached: bool = False


class MarketDataRelay:
    """Thread-safe; one ``requests.Session`` (connection reuse) guarded by a lock per call."""

    def __init__(
        self,
        rest_url: str,
        limits: RateLimitTracker,
        *,
        share: float = 0.5,
        cache_s: float = 60.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.rest_url = rest_url.rstrip("/")
        self.limits = limits
        self.share = share
        self.cache_s = cache_s
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Relayed]] = {}
        self.sent = 0  # requests actually sent to the exchange

    def __repr__(self) -> str:
        return f"MarketDataRelay({self.rest_url!r})"

    def close(self) -> None:
        self._session.close()

    def admit(self, weight: int) -> None:
        """429 -1003 (nothing sent) unless ``weight`` fits this minute's budget."""
        blocked, _banned = self.limits.blocked_for()
        if blocked > 0:
            raise too_much_weight(int(self.share * self.limits.weight_limit_1m))
        budget = int(self.share * self.limits.weight_limit_1m)
        if self.limits.used_weight_1m + weight > budget:
            raise too_much_weight(budget)

    def get(self, path: str, query: str, params: dict[str, str]) -> Relayed:
        """``GET /api/v3/<path>?<query>`` on the exchange (or from the cache)."""
        if path not in PATHS:
            raise ApiError(-1000, "Unknown endpoint.", 404)
        key = f"{path}?{query}"
        if path in CACHED:
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < self.cache_s:
                return Relayed(hit[1].status, hit[1].body, hit[1].content_type, cached=True)
        weight = weight_of(path, params)
        self.admit(weight)
        self.limits.record_sent(weight, False)
        url = f"{self.rest_url}/api/v3/{path}" + (f"?{query}" if query else "")
        try:
            resp = self._session.get(url, timeout=self.timeout_s)
        except requests.RequestException:
            raise ApiError(
                -1001, "Internal error; unable to process your request. Please try again.", 503
            ) from None
        self.sent += 1
        self.limits.observe(resp.headers)
        if resp.status_code in (418, 429):
            retry = _retry_after(resp.headers.get("Retry-After"))
            self.limits.refused(
                http_status=resp.status_code, code=_code(resp.content), retry_after_s=retry
            )
        relayed = Relayed(
            resp.status_code, resp.content, resp.headers.get("Content-Type", "application/json")
        )
        if path in CACHED and resp.status_code == 200:
            now = time.monotonic()
            with self._lock:
                # an answer past cache_s is never served again: not kept either (the keys
                # are the clients' queries, as many as they care to make)
                for old in [k for k, (at, _) in self._cache.items() if now - at >= self.cache_s]:
                    del self._cache[old]
                self._cache[key] = (now, relayed)
        return relayed


def _retry_after(value: str | None) -> float:
    try:
        return max(float(value), 0.0) if value is not None else 1.0
    except ValueError:
        return 1.0


def _code(body: bytes) -> int | None:
    try:
        document: Any = json.loads(body)
    except ValueError:
        return None
    code = document.get("code") if isinstance(document, dict) else None
    return code if isinstance(code, int) else None
