"""Where Vigil connects and listens: ``[exchange]`` (the exchange and the Binance adapter's
tunables), ``[control]`` (the control API) and ``[gateway]`` (the strategy gateway), with
the loopback rule that keeps a listener on this machine unless widened explicitly."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from config.sections.base import _Section


class ExchangeSettings(BaseModel):
    """Where the exchange is; every other key is a tunable of the Binance adapter
    (``exchange.binance.AdapterConfig``: recv_window_ms, read_timeout_s, throttle_share,
    ws_* ...), validated against it here so a typo or a bad value names the field."""

    model_config = ConfigDict(frozen=True, extra="allow")

    simulator: bool = True
    live: bool = False
    rest_url: str | None = None
    ws_api_url: str | None = None
    stream_url: str | None = None
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    # the broker's wire: how many orders may be on their way to the exchange at once (an
    # order and its cancels always share one lane: actors.order_broker.wire)
    wire_lanes: int = Field(default=4, ge=1, le=16)

    @model_validator(mode="after")
    def _adapter_options_are_known(self) -> ExchangeSettings:
        from exchange.binance.config import AdapterConfig

        options = self.adapter_options()
        unknown = sorted(set(options) - set(AdapterConfig.model_fields))
        if unknown or {"api_key", "api_secret"} & set(options):
            bad = unknown[0] if unknown else "api_key"
            raise ValueError(f"unknown or forbidden exchange setting {bad!r}")
        self._validated()
        return self

    def _validated(self) -> Any:
        from exchange.binance.config import AdapterConfig

        local = "http://127.0.0.1"
        return AdapterConfig(
            rest_url=local, ws_api_url=local, stream_url=local, **self.adapter_options()
        )

    def adapter_options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def option(self, name: str) -> Any:
        """An adapter tunable, validated (the profile's value or the adapter's default)."""
        return getattr(self._validated(), name)


MIN_TOKEN_CHARS = 32  # a bearer token shorter than this can be guessed


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ControlSettings(_Section):
    """The control API. It listens on loopback; serving anything wider needs
    ``allow_remote = true`` and then TLS (``tls_cert``/``tls_key``) or, explicitly,
    ``insecure_http = true``. A token set here (or by ``VIGIL_CONTROL__TOKEN``) has at
    least 32 characters."""

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 = pick a free port")
    token: SecretStr | None = None
    allow_remote: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    auth_max_failures: int = Field(
        default=5,
        ge=1,
        description="failed authentications from one address within "
        "auth_window_s that block it (429) for auth_block_s",
    )
    auth_window_s: float = Field(default=60.0, gt=0)
    auth_block_s: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _safe(self) -> ControlSettings:
        if self.token is not None and len(self.token.get_secret_value()) < MIN_TOKEN_CHARS:
            raise ValueError(f"control.token: at least {MIN_TOKEN_CHARS} characters")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("control.tls_cert and control.tls_key: set both or neither")
        if not is_loopback(self.host):
            if not self.allow_remote:
                raise ValueError(
                    f"control.host: {self.host} is not loopback; serving the control API "
                    "beyond this machine needs control.allow_remote = true"
                )
            if self.tls_cert is None and not self.insecure_http:
                raise ValueError(
                    "control.host: a remote control API needs TLS (control.tls_cert and "
                    "control.tls_key) or an explicit control.insecure_http = true"
                )
        return self


class GatewaySettings(_Section):
    """The strategy gateway: Binance's Spot API for strategies (docs/gateway.md). It listens
    on loopback; anything wider needs ``allow_remote = true`` (requests are signed, but
    orders and answers travel in clear)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 = pick a free port")
    allow_remote: bool = False
    weight_share: float = Field(
        default=0.5,
        gt=0,
        le=0.9,
        description="share of the exchange's request-weight limit strategies' market data "
        "may take (Vigil's own calls included); past it: 429 -1003",
    )
    exchange_info_cache_s: float = Field(default=60.0, ge=0)
    order_ack_timeout_s: float = Field(
        default=10.0, gt=0, le=60, description="how long POST /api/v3/order waits"
    )

    @model_validator(mode="after")
    def _safe(self) -> GatewaySettings:
        if not is_loopback(self.host) and not self.allow_remote:
            raise ValueError(
                f"gateway.host: {self.host} is not loopback; serving the gateway beyond this "
                "machine needs gateway.allow_remote = true"
            )
        return self
