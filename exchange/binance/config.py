"""Configuration of the Binance Spot adapter (the ``[exchange]`` table of a profile).

Credentials never come from a file in the repository: ``load_adapter_config`` takes them from
``BINANCE_API_KEY`` / ``BINANCE_API_SECRET`` and refuses a profile that carries them. A profile
that targets live Binance needs ``live = true`` in the file *and* ``allow_live=True`` (the
``--live`` flag); a live host without ``live = true`` is refused too.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = ["LIVE_HOSTS", "AdapterConfig", "ConfigError", "load_adapter_config"]

#: hosts that move real money
LIVE_HOSTS = frozenset(
    {
        "api.binance.com",
        "api1.binance.com",
        "api2.binance.com",
        "api3.binance.com",
        "api4.binance.com",
        "api-gcp.binance.com",
        "ws-api.binance.com",
        "stream.binance.com",
        "data-stream.binance.vision",
    }
)


class ConfigError(ValueError):
    """A profile the adapter refuses to run with."""


class AdapterConfig(BaseModel):
    """Everything the Binance Spot adapter needs. Defaults are Binance's documented values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    simulator: bool = False
    live: bool = Field(default=False, description="targets real money (needs --live)")
    rest_url: str = Field(description="base URL without /api, e.g. https://testnet.binance.vision")
    ws_api_url: str = Field(description="WebSocket API, e.g. wss://.../ws-api/v3")
    stream_url: str = Field(description="market streams base, e.g. wss://stream.binance.com:9443")
    api_key: SecretStr = SecretStr("")
    api_secret: SecretStr = SecretStr("")
    symbols: tuple[str, ...] = ("BTCUSDT",)

    # REST
    recv_window_ms: int = Field(default=5000, gt=0, le=60000)
    connect_timeout_s: float = Field(default=3.0, gt=0)
    read_timeout_s: float = Field(default=10.0, gt=0, description="after which: UnknownOutcome")
    read_retries: int = Field(default=2, ge=0, description="retries of idempotent reads")
    retry_backoff_s: float = Field(default=0.2, ge=0)
    exchange_info_ttl_s: float = Field(default=86400.0, gt=0)

    # rate limits (replaced by exchangeInfo's rateLimits once fetched)
    weight_limit_1m: int = Field(default=6000, gt=0)
    order_limit_10s: int = Field(default=100, gt=0)
    throttle_share: float = Field(default=0.8, gt=0, le=1, description="of a limit, then wait")
    throttle_max_wait_s: float = Field(default=2.0, ge=0, description="longer: RateLimited")

    # WebSocket streams
    ws_connect_timeout_s: float = Field(default=5.0, gt=0)
    ws_request_timeout_s: float = Field(default=5.0, gt=0)
    ws_ping_interval_s: float = Field(default=10.0, gt=0)
    ws_stale_after_s: float = Field(default=30.0, gt=0, description="no frame for this long")
    ws_max_connection_age_s: float = Field(
        default=23 * 3600.0, gt=0, description="planned reconnect before Binance's 24 h limit"
    )
    reconnect_initial_s: float = Field(default=0.2, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    reconnect_jitter: float = Field(default=0.25, ge=0, le=1, description="share of the delay")
    close_timeout_s: float = Field(default=3.0, gt=0)

    @model_validator(mode="after")
    def _live_needs_flag_in_profile(self) -> AdapterConfig:
        for url in (self.rest_url, self.ws_api_url, self.stream_url):
            host = urlparse(url).hostname or ""
            if host in LIVE_HOSTS and not self.live:
                raise ValueError(f"{host} is live Binance: the profile must say live = true")
        if self.ws_stale_after_s <= self.ws_ping_interval_s:
            raise ValueError("ws_stale_after_s must exceed ws_ping_interval_s")
        return self

    def __repr__(self) -> str:  # SecretStr already masks; keep the repr short
        return (
            f"AdapterConfig(rest_url={self.rest_url!r}, live={self.live}, symbols={self.symbols})"
        )


def load_adapter_config(
    path: Path,
    *,
    environ: Mapping[str, str] | None = None,
    allow_live: bool = False,
    **overrides: Any,
) -> AdapterConfig:
    """Read ``[exchange]`` from a TOML profile, credentials from the environment.

    Raises ``ConfigError`` for a simulator profile (its URLs exist only once it runs), for keys
    in the file, for a live profile without ``allow_live`` and for missing credentials.
    """
    env = os.environ if environ is None else environ
    with path.open("rb") as fh:
        table = dict(tomllib.load(fh).get("exchange", {}))
    if table.get("simulator", False):
        raise ConfigError(f"{path}: a simulator profile; build AdapterConfig from its URLs")
    for name in ("api_key", "api_secret"):
        if name in table:
            raise ConfigError(f"{path}: {name} in a file; credentials come from the environment")
    if table.get("live", False) and not allow_live:
        raise ConfigError(f"{path}: a live profile; refusing without --live")
    key, secret = env.get("BINANCE_API_KEY", ""), env.get("BINANCE_API_SECRET", "")
    if not key or not secret:
        raise ConfigError("BINANCE_API_KEY and BINANCE_API_SECRET must be set")
    table.update(overrides)
    table["api_key"], table["api_secret"] = SecretStr(key), SecretStr(secret)
    try:
        return AdapterConfig.model_validate(table)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
