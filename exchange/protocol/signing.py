"""Request authentication as Binance does it: the API key (-2014/-2015), the ``timestamp``
and its ``recvWindow`` (-1021), and the HMAC-SHA256 signature (-1022), for REST (the query
string then the body, as sent) and the WebSocket API (the params sorted by name)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote_plus

from exchange.protocol.errors import ApiError, mandatory

API_KEY_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")
MAX_RECV_WINDOW_MS = 60000


def hmac_hex(secret: str, payload: str) -> str:
    # surrogatepass: a lone surrogate (JSON may carry one) signs as bytes, never raises
    return hmac.new(
        secret.encode(), payload.encode("utf-8", "surrogatepass"), hashlib.sha256
    ).hexdigest()


def _without_signature(raw: str) -> str:
    return "&".join(p for p in raw.split("&") if p and not p.startswith("signature="))


def rest_payloads(query_string: str, body: str) -> list[str]:
    """What a REST client may have signed: Binance's ``totalParams``, the query string
    followed by the body (no separator), as sent (percent-encoded) or decoded (clients
    differ), both accepted."""
    raw = _without_signature(query_string) + _without_signature(body)
    decoded = "&".join(
        "=".join(unquote_plus(part) for part in p.split("=", 1)) for p in raw.split("&") if p
    )
    return [raw] if raw == decoded else [raw, decoded]


def ws_payload(params: Mapping[str, object]) -> str:
    """WebSocket API: every param but ``signature``, sorted by name, ``k=v`` joined by ``&``."""
    return "&".join(
        f"{key}={_ws_value(value)}" for key, value in sorted(params.items()) if key != "signature"
    )


def _ws_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_api_key_format(api_key: str | None) -> str:
    """-2014 for a missing or malformed key."""
    if not api_key or not API_KEY_RE.match(api_key):
        raise ApiError(-2014, "API-key format invalid.", 401)
    return api_key


def check_timing(
    params: Mapping[str, Any], server_time: int, max_recv_window_ms: int = MAX_RECV_WINDOW_MS
) -> None:
    """``timestamp`` (ms, or µs) must be within ``recvWindow`` of the server's clock."""
    raw_ts = params.get("timestamp")
    if raw_ts is None or not re.fullmatch(r"[0-9]{1,19}", str(raw_ts)):
        raise mandatory("timestamp")
    timestamp = int(raw_ts)
    if timestamp > 10**14:  # microseconds
        timestamp //= 1000
    recv_window = Decimal(5000)
    if params.get("recvWindow") is not None:
        try:
            recv_window = Decimal(str(params["recvWindow"]))
        except InvalidOperation:
            raise ApiError(-1100, "Illegal characters found in parameter 'recvWindow'.") from None
        if not recv_window.is_finite() or recv_window > max_recv_window_ms or recv_window <= 0:
            raise ApiError(
                -1102,
                f"'recvWindow' contains unexpected value. Cannot be greater than "
                f"{max_recv_window_ms}.",
            )
    if timestamp >= server_time + 1000:
        raise ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if server_time - timestamp > recv_window:
        raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


def check_signature(secret: str, payloads: list[str], signature: str | None) -> None:
    """-1102 without a signature, -1022 if it matches none of the payloads."""
    if not signature:
        raise mandatory("signature")
    # bytes: compare_digest refuses a non-ASCII str
    given = signature.lower().encode("utf-8", "surrogatepass")
    if not any(hmac.compare_digest(hmac_hex(secret, p).encode(), given) for p in payloads):
        raise ApiError(-1022, "Signature for this request is not valid.")
