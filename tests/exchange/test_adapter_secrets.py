"""A full adapter session with distinctive credentials leaves them in no log, record or error."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger
from pydantic import SecretStr

from exchange.binance import BinanceSpotAdapter
from exchange.contract import (
    ExchangeError,
    OrderRequest,
    RateLimitEvent,
    StreamStatus,
    UserEvent,
)
from exchange.simulator import SimulatedExchange, SimulatorConfig
from tests.conftest import SimHandle, wait_for
from tests.exchange.adapter_helpers import Recorder, adapter_config, client_id, limit_buy

KEY = "KEYzz9Distinctive4ApiKeyValueQQ"
SECRET = "SECRETzz9Distinctive4ApiSecretValueQQ"


@pytest.fixture
def secret_sim() -> Iterator[SimHandle]:
    exchange = SimulatedExchange(
        SimulatorConfig(tick_interval=0, seed=11, api_key=KEY, api_secret=SecretStr(SECRET))
    ).start()
    try:
        yield SimHandle(exchange)
    finally:
        exchange.stop()


def test_secrets_key_and_signatures_never_leak(
    secret_sim: SimHandle, caplog: pytest.LogCaptureFixture
) -> None:
    sim = secret_sim
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m) + repr(m.record["extra"])), level="TRACE")
    caplog.set_level(logging.DEBUG)
    audit = Recorder()
    extra: list[Any] = []
    errors: list[ExchangeError] = []
    adapter = BinanceSpotAdapter(
        adapter_config(sim, api_key=SecretStr(KEY), api_secret=SecretStr(SECRET)),
        audit=audit,
        on_rate_limit=extra.append,
        on_malformed=extra.append,
    )
    events: list[UserEvent] = []
    statuses: list[StreamStatus] = []

    def attempt(fn: Any, *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except ExchangeError as exc:
            errors.append(exc)

    try:
        adapter.start_user_stream(events.append, statuses.append)
        adapter.start_market_stream(["BTCUSDT"], extra.append, statuses.append)
        wait_for(lambda: sim.state()["subscriptions"] == 1, timeout=5)
        request = limit_buy()
        adapter.place_order(request)
        adapter.get_order("BTCUSDT", client_order_id=request.client_order_id)
        adapter.get_open_orders()
        adapter.get_balances()
        adapter.get_positions()
        adapter.get_trades("BTCUSDT", since_ms=0)
        adapter.ping()
        adapter.cancel_order("BTCUSDT", client_order_id=request.client_order_id)
        for kind, params in [
            ("timeout_after_accept", {"delay": 1.0}),
            ("lost_response", {}),
            ("unknown_status", {}),
            ("reject_orders", {}),
        ]:
            sim.arm(kind, params=params)
            attempt(adapter.place_order, limit_buy())
        attempt(adapter.place_order, limit_buy(price="59000.001"))
        attempt(adapter.get_order, "BTCUSDT", client_order_id="nope")
        attempt(adapter.cancel_order, "BTCUSDT", client_order_id="nope")
        sim.arm("clock_skew", params={"offset_ms": 10000})
        adapter.get_open_orders()
        sim.arm("ws_disconnect", params={"target": "all"})
        sim.arm("stream_terminated")
        wait_for(lambda: sim.state()["subscriptions"] == 1, timeout=5)
        sim.arm("rate_limit_storm", params={"count_429": 1, "ban_seconds": 1})
        attempt(adapter.get_open_orders)
        attempt(adapter.get_open_orders)
        wrong = BinanceSpotAdapter(
            adapter_config(sim, api_key=SecretStr(KEY), api_secret=SecretStr(SECRET + "x"))
        )
        sim.clear()  # lift the simulator's ban for the next clients
        attempt(wrong.get_balances)
        refused = BinanceSpotAdapter(
            adapter_config(
                sim, rest_url="http://127.0.0.1:9", api_key=SecretStr(KEY),
                api_secret=SecretStr(SECRET), read_retries=0,
            )
        )  # fmt: skip
        attempt(refused.get_order, "BTCUSDT", client_order_id="x")  # signed GET, refused
        attempt(refused.place_order, OrderRequest(
            symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01", price="59000",
            client_order_id=client_id(),
        ))  # fmt: skip
    finally:
        adapter.close()
        logger.remove(sink)

    assert len(errors) >= 10 and events and audit.items
    texts = lines + [r.getMessage() for r in caplog.records]
    texts += [repr(r) for r in audit.items] + [r.model_dump_json() for r in audit.items]
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [repr(x) for x in extra + events + statuses]
    texts += [repr(adapter), repr(adapter.config), str(adapter.config), repr(adapter.rest)]
    texts += [repr(adapter.user_stream), repr(adapter.market_stream)]
    assert any("new_order" in t for t in texts)
    blob = "\n".join(texts)
    assert KEY not in blob
    assert SECRET not in blob
    found = re.search(r".{120}signature=(?!\*\*\*).{20}", blob, re.IGNORECASE)
    assert not found, found
    # no HMAC of anything we sent: any 64-hex run is suspicious
    hexes = set(re.findall(r"\b[0-9a-f]{64}\b", blob))
    assert not hexes, hexes
    assert all(isinstance(x, RateLimitEvent | StreamStatus) or x is not None for x in extra)
    assert hmac.new(SECRET.encode(), b"", hashlib.sha256).hexdigest() not in blob


def test_redaction_masks_whole_secrets_only_and_ignores_short_ones() -> None:
    from exchange.binance.redact import Redactor

    redact = Redactor(["h", "a-real-secret-value"])
    assert redact("host a-real-secret-value here") == "host *** here"  # 'h' left alone
