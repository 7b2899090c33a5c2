"""Request signing as Binance verifies it (HMAC-SHA256, hex)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import unquote_plus


def hmac_hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _without_signature(raw: str) -> str:
    return "&".join(p for p in raw.split("&") if p and not p.startswith("signature="))


def rest_payloads(query_string: str, body: str) -> list[str]:
    """What a REST client may have signed: the query string followed by the body.

    Binance signs the payload as sent; clients differ in whether they sign before or after
    percent-encoding, so both the raw and the decoded form are accepted.
    """
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


def signature_matches(secret: str, payloads: list[str], signature: str) -> bool:
    given = signature.lower()
    return any(hmac.compare_digest(hmac_hex(secret, p), given) for p in payloads)
