"""Request authentication as Binance does it: the API key, the timestamp and its
``recvWindow`` (-1021), and the HMAC-SHA256 signature (-1022), for REST and the WebSocket API.
The signing checks are :mod:`exchange.protocol.signing`'s (shared with the strategy
gateway); the key check is the simulator's own (one account, one key)."""

from __future__ import annotations

from exchange.protocol.signing import (
    check_signature,
    check_timing,
    hmac_hex,
    rest_payloads,
    ws_payload,
)
from exchange.simulator.errors import ApiError

__all__ = [
    "check_api_key",
    "check_signature",
    "check_timing",
    "hmac_hex",
    "rest_payloads",
    "ws_payload",
]


def check_api_key(expected: str, api_key: str | None) -> None:
    """-2014 for a missing or malformed key, -2015 for a wrong one (HTTP 401)."""
    if not api_key:
        raise ApiError(-2014, "API-key format invalid.", 401)
    if api_key != expected:
        raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
