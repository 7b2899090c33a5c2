"""The gateway's ``exchangeInfo`` cache is keyed by the client's query string, so every
distinct query (one symbol, a list of them, in any order or encoding) adds an entry, each a
whole response body. An entry past ``cache_s`` is never served again and must not be kept:
over months of bots asking for their changing symbol lists the cache would otherwise grow
with every query ever made."""

from __future__ import annotations

import time

from exchange.binance.market_data import MarketDataRelay
from exchange.binance.rate_limits import RateLimitTracker
from exchange.protocol.params import parse_params
from tests.conftest import SimHandle, wait_for

QUERIES = [
    "symbol=BTCUSDT",
    "symbol=ETHUSDT",
    'symbols=["BTCUSDT"]',
    'symbols=["ETHUSDT"]',
    'symbols=["BTCUSDT","ETHUSDT"]',
    'symbols=["ETHUSDT","BTCUSDT"]',
]


def test_expired_exchange_info_answers_are_not_kept(sim: SimHandle) -> None:
    limits = RateLimitTracker(weight_limit_1m=6000, order_limit_10s=100, share=1.0)
    relay = MarketDataRelay(sim.rest, limits, cache_s=0.2)
    try:
        for query in QUERIES:
            answer = relay.get("exchangeInfo", query, parse_params(query, "GET", "", ""))
            assert answer.status == 200, answer.body
        assert relay.sent == len(QUERIES)
        filled = time.monotonic()
        wait_for(lambda: time.monotonic() - filled > relay.cache_s, timeout=5)
        relay.get("exchangeInfo", "", {})  # one more query, after all the others expired
        assert len(relay._cache) == 1, f"{len(relay._cache)} bodies kept, all but one expired"
    finally:
        relay.close()
