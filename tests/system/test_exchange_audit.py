"""Every exchange request and response is in the audit trail by default (issue 18), as the
adapter scrubbed it: an order's request (its parameters) and response (status, weight,
latency) are in ``audit.db``, and neither the API key, nor the secret, nor a signature is
anywhere in the trail — not in a record, not in the file's bytes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tests.conftest import Vigil, audited, wait_for

HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")  # an HMAC-SHA256 signature, hex
SIGNATURE_FIELD = re.compile(r"signature[\"']?\s*[=:]\s*[\"']?(?!\*\*\*)[^&\"'\s,}]+", re.I)


def credentials(vigil: Vigil) -> tuple[str, str]:
    config = vigil.system.simulator.config  # type: ignore[union-attr]
    secret = config.api_secret
    return config.api_key, getattr(secret, "get_secret_value", lambda: secret)()


def for_order(vigil: Vigil, kind: str, cid: str) -> list[dict[str, Any]]:
    return [
        r
        for r in audited(vigil, kind, operation="new_order")
        if r.get("params", {}).get("newClientOrderId") == cid
    ]


def test_an_orders_request_and_response_are_audited_without_key_secret_or_signature(
    vigil: Vigil,
) -> None:
    cid = "audited-order-1"
    assert vigil.submit(type="LIMIT", price="59000", quantity="0.002", client_order_id=cid).accepted
    response = wait_for(lambda: for_order(vigil, "exchange_response", cid), timeout=5)[0]
    (request,) = for_order(vigil, "exchange_request", cid)
    assert request["method"] == "POST" and request["path"].endswith("/order")
    assert request["params"] == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "newClientOrderId": cid,
        "newOrderRespType": "FULL",
        "quantity": "0.00200000",
        "price": "59000.00000000",
        "timeInForce": "GTC",
    }
    assert response["status"] == 200 and response["latency_ms"] >= 0 and response["weight"] > 0
    assert response["seq"] > request["seq"]
    # the reads are audited too (the reconciler's and the poller's), and so are start-up's,
    # made before the actors run
    assert audited(vigil, "exchange_request", operation="exchange_info")
    assert audited(vigil, "exchange_request", operation="account")
    assert audited(vigil, "exchange_response", operation="open_orders")

    key, secret = credentials(vigil)
    assert len(key) >= 16 and len(secret) >= 16
    vigil.system.trail.flush()
    everything = json.dumps(vigil.system.trail.query(limit=10**6), default=str)
    raw = (vigil.system.data_dir / "audit.db").read_bytes()
    for text in (everything, raw.decode("latin-1")):
        assert key not in text and secret not in text
        assert not SIGNATURE_FIELD.search(text)
        assert not HEX_SIGNATURE.search(text)
    assert all(
        not {"signature", "apiKey", "X-MBX-APIKEY"} & set(r.get("params", {}))
        for r in vigil.system.trail.query(kind="exchange_request", limit=10**6)
    )


def test_the_requests_can_be_left_out_of_the_trail_on_purpose(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = vigil_factory(audit={"exchange_requests": False})
    vigil.wait_green()
    assert vigil.submit(client_order_id="not-audited-1").accepted
    wait_for(lambda: vigil.status()["fills"] >= 1)
    assert audited(vigil, "exchange_request") == []
    assert audited(vigil, "exchange_response") == []
