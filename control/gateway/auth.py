"""Who is calling: a signed gateway request checked as Binance checks it, against the
strategy keys (:class:`storage.strategy_keys.KeyRing`).

The API key header first (-2014 malformed, -2015 unknown or revoked), then the timestamp
within ``recvWindow`` of Vigil's estimate of the exchange's clock (-1021), then the
HMAC-SHA256 signature with that strategy's secret (-1022). API-key-only endpoints (the
user data stream's listen key) check the key alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exchange.protocol.errors import rejected_api_key
from exchange.protocol.signing import (
    check_api_key_format,
    check_signature,
    check_timing,
    rest_payloads,
    ws_payload,
)
from storage.strategy_keys import KeyRing, StrategyKey


def key_for(ring: KeyRing, api_key: str | None) -> StrategyKey:
    """The live strategy key for this ``X-MBX-APIKEY`` (-2014 / -2015)."""
    key = ring.lookup(check_api_key_format(api_key))
    if key is None:
        raise rejected_api_key()
    return key


def signed_rest(
    ring: KeyRing,
    api_key: str | None,
    params: Mapping[str, str],
    query: str,
    body: str,
    server_time: int,
) -> StrategyKey:
    """A signed REST request's strategy key; ApiError with Binance's code otherwise."""
    key = key_for(ring, api_key)
    check_timing(params, server_time)
    check_signature(key.secret, rest_payloads(query, body), params.get("signature"))
    return key


def signed_ws(ring: KeyRing, params: Mapping[str, Any], server_time: int) -> StrategyKey:
    """A signed WebSocket API request (``apiKey`` among its params)."""
    raw = params.get("apiKey")
    key = key_for(ring, raw if isinstance(raw, str) else None)
    check_timing(params, server_time)
    signature = params.get("signature")
    check_signature(
        key.secret, [ws_payload(params)], signature if isinstance(signature, str) else None
    )
    return key
