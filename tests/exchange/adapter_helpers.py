"""Shared pieces of the adapter tests: an AdapterConfig pointed at a running simulator."""

from __future__ import annotations

import itertools
from typing import Any

from pydantic import SecretStr

from exchange.binance import AdapterConfig, BinanceSpotAdapter
from exchange.contract import AuditRecord, OrderRequest
from tests.conftest import SimHandle

_ids = itertools.count(1)


def adapter_config(sim: SimHandle, **overrides: Any) -> AdapterConfig:
    """Small timeouts and fast reconnects so that fault tests stay quick."""
    values: dict[str, Any] = {
        "simulator": True,
        "rest_url": sim.rest,
        "ws_api_url": sim.ws_api,
        "stream_url": sim.streams,
        "api_key": SecretStr(sim.api_key),
        "api_secret": SecretStr(sim.api_secret),
        "symbols": ("BTCUSDT", "ETHUSDT"),
        "connect_timeout_s": 1.0,
        "read_timeout_s": 0.5,
        "retry_backoff_s": 0.01,
        "ws_connect_timeout_s": 1.0,
        "ws_request_timeout_s": 1.0,
        "ws_ping_interval_s": 0.2,
        "ws_stale_after_s": 1.0,
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.5,
        "close_timeout_s": 2.0,
    }
    values.update(overrides)
    return AdapterConfig(**values)


class Recorder:
    """Collects audit records (and anything else handed to it)."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def __call__(self, item: Any) -> None:
        self.items.append(item)

    def of_kind(self, kind: str) -> list[AuditRecord]:
        return [r for r in self.items if isinstance(r, AuditRecord) and r.kind == kind]


def make_adapter(sim: SimHandle, **overrides: Any) -> tuple[BinanceSpotAdapter, Recorder]:
    audit = Recorder()
    return BinanceSpotAdapter(adapter_config(sim, **overrides), audit=audit), audit


def client_id(prefix: str = "t") -> str:
    return f"{prefix}-{next(_ids)}"


def limit_buy(
    symbol: str = "BTCUSDT", qty: str = "0.01", price: str = "59000", cid: str | None = None
) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side="BUY",
        type="LIMIT",
        quantity=qty,
        price=price,
        client_order_id=cid or client_id("buy"),
    )


def sim_orders(sim: SimHandle, cid: str) -> list[dict[str, Any]]:
    return [o for o in sim.state()["orders"] if o["clientOrderId"] == cid]
