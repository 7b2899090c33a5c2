"""The sections of Vigil's settings: one validated, frozen model per TOML table
(``[exchange]``, ``[control]``, ``[policy]``, ``[breaker]``, ``[notify]`` ...), each with its
documented defaults and the checks that refuse a setting that is unsafe or would silently
switch a protection off. ``config.settings`` assembles them and loads the profile."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.notification import DEFAULT_EVENTS, EVENTS, FORMATS, parse_hhmm
from domain.policy import PolicyLimits

# A risk limit is three-way: a number, "off" (switched off on purpose), or unset (None).
# Unset is off too, except in a live profile, which must name every limit in
# ``LIVE_LIMITS`` (a number or "off"): a limit is never switched off by an omission.
OFF: Literal["off"] = "off"
Off = Literal["off"]
_T = TypeVar("_T")


def _off_any_case(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() == OFF:
        return OFF
    return value


OffSwitch = BeforeValidator(_off_any_case)
PositiveAmount = Annotated[Decimal, Field(gt=0)]
PositiveCount = Annotated[int, Field(ge=1)]
NonNegativeAmount = Annotated[Decimal, Field(ge=0)]


def limit_value(value: _T | Off | None) -> _T | None:
    """The limit the guard applies: None (no limit) for "off" and for unset."""
    return None if value == OFF else value


# the keys a live profile must set (a number or "off"), as they are spelled in the TOML
LIVE_LIMITS = (
    "policy.max_daily_loss",
    "policy.max_position_notional",
    "policy.max_total_exposure",
    "policy.max_orders_per_minute",
    "policy.max_orders_per_day",
    "breaker.triggers.drawdown.threshold",
    "breaker.triggers.drawdown.red_threshold",
)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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


class SupervisionSettings(_Section):
    heartbeat_interval_s: float = Field(default=0.5, gt=0)
    hang_timeout_s: float = Field(default=1.0, gt=0)
    max_restarts: int = Field(default=3, ge=0)
    max_seconds: float = Field(default=60.0, gt=0)
    ask_timeout_s: float = Field(default=2.0, gt=0)
    io_hang_timeout_s: float | None = Field(
        default=None, gt=0, description="heartbeat deadline of actors that wait on REST calls"
    )


class ReconciliationSettings(_Section):
    interval_s: float = Field(default=5.0, gt=0)
    grace_s: float = Field(default=10.0, gt=0)
    balance_grace_s: float = Field(default=3.0, gt=0)
    unsettled_grace_s: float = Field(
        default=60.0, gt=0, description="a balance difference on an asset that never stops moving"
    )
    epsilon: Decimal = Decimal("0.00000001")
    max_age_intervals: float = Field(default=3.0, gt=0, description="older result: not fresh")
    account_wide_every: int = Field(
        default=12,
        ge=1,
        description="every Nth cycle lists the open orders of the whole account, every symbol",
    )


class BrokerSettings(_Section):
    cancel_on_red: bool = True
    on_start_existing: str = Field(default="halt", pattern="^(halt|adopt|cancel)$")
    unknown_query_interval_s: float = Field(default=0.5, gt=0)
    unknown_window_s: float = Field(default=15.0, gt=0)
    # an OCO order's expiry (its partner executed) not reported within this: confirm by REST
    list_expiry_grace_s: float = Field(default=2.0, gt=0)
    # a start after a crash, an OOM kill or a SIGKILL: RED until a person has looked
    on_unclean_restart: str = Field(default="red", pattern="^(red|resume)$")


class PolicySettings(_Section):
    """The pre-trade policy guard's limits (``domain.policy.PolicyLimits``); a limit set to
    "off", or left unset (None), is off and casts no verdict (a live profile must set the
    ones in ``LIVE_LIMITS``)."""

    max_order_notional: Decimal = Field(default=Decimal("5000"), gt=0)
    max_open_orders: int = Field(default=50, ge=1)
    fat_finger_pct: Decimal = Field(default=Decimal("5"), gt=0, le=100)
    denied_symbols: tuple[str, ...] = ()
    max_position_notional: Annotated[PositiveAmount | Off | None, OffSwitch] = Field(
        default=None, description="per symbol, in the quote asset, after the order"
    )
    max_total_exposure: Annotated[PositiveAmount | Off | None, OffSwitch] = Field(
        default=None, description="all positions and open buys, in the quote asset"
    )
    max_directional_notional: Decimal | None = Field(
        default=None,
        gt=0,
        description="|position + open buys - open sells| per symbol with the order, quote; "
        "an order that brings it nearer flat always passes",
    )
    max_orders_per_minute: Annotated[PositiveCount | Off | None, OffSwitch] = None
    max_orders_per_day: Annotated[PositiveCount | Off | None, OffSwitch] = None
    max_daily_loss: Annotated[PositiveAmount | Off | None, OffSwitch] = Field(
        default=None, description="new exposure refused once today's loss reaches it"
    )
    max_reference_age_s: float | None = Field(
        default=30.0, gt=0, description="a symbol's mid older than this is no reference price"
    )

    max_market_slippage_bps: Decimal | None = Field(
        default=Decimal(50),
        gt=0,
        description="a MARKET order whose expected average fill (from the order book) is "
        "further than this from the mid is refused; unset: not judged",
    )
    market_as_limit_ioc: bool = Field(
        default=False,
        description="send an admitted MARKET order as a LIMIT IOC at the protection price",
    )
    depth_cache_s: float = Field(default=1.0, gt=0, le=10, description="order book reuse")
    max_order_age_s: float | None = Field(
        default=None,
        gt=0,
        description="a resting order of ours open longer than this is cancelled by Vigil "
        "(stale-order cleanup); unset: off",
    )

    def limits(self, symbols: Iterable[str]) -> PolicyLimits:
        """The guard's limits for trading ``symbols``."""
        age = self.max_reference_age_s
        return PolicyLimits(
            symbols=frozenset(symbols),
            max_order_notional=self.max_order_notional,
            max_open_orders=self.max_open_orders,
            fat_finger_pct=self.fat_finger_pct,
            denied_symbols=frozenset(self.denied_symbols),
            max_position_notional=limit_value(self.max_position_notional),
            max_total_exposure=limit_value(self.max_total_exposure),
            max_directional_notional=self.max_directional_notional,
            max_orders_per_minute=limit_value(self.max_orders_per_minute),
            max_orders_per_day=limit_value(self.max_orders_per_day),
            max_daily_loss=limit_value(self.max_daily_loss),
            max_reference_age_ms=None if age is None else int(age * 1000),
        )


class TriggerSettings(_Section):
    """One breaker trigger's overrides (``domain.breaker_rules.Trigger``); unset keys keep
    the catalogue's default. A threshold of 0 or "off" switches the trigger (or its RED step)
    off."""

    threshold: Annotated[NonNegativeAmount | Off | None, OffSwitch] = None
    level: str | None = Field(default=None, pattern="^(YELLOW|RED)$")
    window_s: float | None = Field(default=None, ge=0)
    red_threshold: Annotated[NonNegativeAmount | Off | None, OffSwitch] = None

    def threshold_value(self) -> Decimal | None:
        """The threshold to apply: 0 (off) for "off", None (the catalogue's) for unset."""
        return Decimal(0) if self.threshold == OFF else limit_value(self.threshold)

    def red_threshold_value(self) -> Decimal | None:
        return Decimal(0) if self.red_threshold == OFF else limit_value(self.red_threshold)


class BreakerSettings(_Section):
    """The breaker's rules: ``triggers`` overrides the catalogue in
    ``domain.breaker_rules.CATALOG`` by name (``[breaker.triggers.api_errors]``)."""

    tick_s: float = Field(default=0.25, gt=0, description="time-based rules run this often")
    yellow_cool_down_s: float = Field(default=30.0, gt=0)
    yellow_max_orders_per_minute: int = Field(default=6, ge=0)
    yellow_reduce_only: bool = True
    yellow_pause_on: tuple[str, ...] = ("market_data", "operator_heartbeat")
    market_data_report_s: float = Field(
        default=1.0, gt=0, description="how often the listener reports market data as alive"
    )
    sample_infrastructure: bool = True
    triggers: dict[str, TriggerSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _triggers_are_known(self) -> BreakerSettings:
        from domain.breaker_rules import SPECS

        for name in [*self.triggers, *self.yellow_pause_on]:
            if name not in SPECS:
                raise ValueError(f"unknown breaker trigger {name!r}")
        silence = self.triggers.get("market_data")
        threshold = SPECS["market_data"].default.threshold
        chosen = None if silence is None else silence.threshold_value()
        if chosen is not None:
            threshold = chosen
        if threshold and Decimal(str(self.market_data_report_s)) >= threshold:
            raise ValueError(
                f"market_data_report_s ({self.market_data_report_s}) must be below the "
                f"market_data silence threshold ({threshold} s), or a live feed looks silent"
            )
        for name, trigger in self.triggers.items():
            window = trigger.window_s
            if window is not None and window <= 0 and SPECS[name].windowed:
                raise ValueError(
                    f"triggers.{name}.window_s must be above 0: {name} counts over a window"
                )
        return self

    def resolved_triggers(self, reconciliation: ReconciliationSettings) -> dict[str, Any]:
        """Name → ``Trigger``: the catalogue's defaults (the reconciliation ones derived from
        ``[reconciliation]``: as many failed cycles as ``max_age_intervals``, a result older
        than that many intervals YELLOW, twice that RED), then these overrides."""
        from domain.breaker import Level
        from domain.breaker_rules import DEFAULT_TRIGGERS, Trigger

        out: dict[str, Trigger] = dict(DEFAULT_TRIGGERS)
        r = reconciliation
        age = Decimal(str(r.interval_s * r.max_age_intervals))
        out["reconciliation_failures"] = replace(
            out["reconciliation_failures"], threshold=Decimal(str(r.max_age_intervals))
        )
        out["reconciliation_stale"] = replace(
            out["reconciliation_stale"], threshold=age, red_threshold=2 * age
        )
        for name, o in self.triggers.items():
            t = out[name]
            threshold, red = o.threshold_value(), o.red_threshold_value()
            out[name] = Trigger(
                threshold=t.threshold if threshold is None else threshold,
                level=t.level if o.level is None else Level(o.level),
                window_s=t.window_s if o.window_s is None else o.window_s,
                red_threshold=t.red_threshold if red is None else red,
            )
        return out


class PollerSettings(_Section):
    interval_s: float = Field(default=2.0, gt=0)
    fast_interval_s: float = Field(default=0.5, gt=0, description="while the WebSocket is down")


class DemoSettings(_Section):
    enabled: bool = True
    interval_s: float = Field(default=1.0, gt=0)
    symbol: str = "BTCUSDT"
    quantity: Decimal = Decimal("0.001")


class AuditSettings(_Section):
    flush_interval_s: float = Field(default=0.05, gt=0, description="bounded flush delay")
    max_pages: int | None = Field(
        default=None, gt=0, description="storage quota of audit.db in SQLite pages (4 KiB)"
    )
    exchange_requests: bool = Field(
        default=True,
        description="every REST request and response to the exchange in the trail (redacted); "
        "false keeps only its errors, rate limits and stream incidents",
    )


class JournalSettings(_Section):
    checkpoint_every: int = Field(
        default=10_000,
        ge=100,
        description="journal entries between checkpoints of the book (recovery replays at "
        "most about this many after the latest one)",
    )
    keep_closed: int = Field(
        default=1_000,
        ge=0,
        description="closed orders kept whole in the book (the most recent); older ones are "
        "compacted at each checkpoint to their client order id, trade ids and fill counts",
    )
    archive: bool = Field(
        default=True,
        description="move the entries an older checkpoint covers to journal-archive-<seq>.db "
        "beside the journal (kept, never deleted); false keeps every entry in journal.db",
    )


class TraceSettings(_Section):
    level: str = Field(default="summary", pattern="^(off|summary|detail)$")
    rotation: str = "20 MB"
    retention: int = Field(default=5, ge=1)


def _int_as_text(value: Any) -> Any:
    """A Telegram chat id may be written as a number (``-1001234567890``)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class WebhookSettings(_Section):
    """One ``[[notify.webhooks]]`` entry. The URL is a secret (a Slack/Discord webhook's
    path, a Telegram bot token): it is never shown, not even in a validation error."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    url: SecretStr
    format: str = "json"
    events: tuple[str, ...] = DEFAULT_EVENTS
    chat_id: Annotated[str | None, BeforeValidator(_int_as_text)] = Field(
        default=None, validate_default=True, description="Telegram's chat id (format telegram)"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, url: SecretStr) -> SecretStr:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(url.get_secret_value())
            host = parts.hostname or ""
        except ValueError:
            raise ValueError("not a URL") from None
        if not host or not (
            parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))
        ):
            raise ValueError(
                "must be https://..., or http:// on loopback (127.0.0.1, ::1, localhost)"
            )
        return url

    @field_validator("format")
    @classmethod
    def _format(cls, fmt: str) -> str:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
        return fmt

    @field_validator("events")
    @classmethod
    def _events(cls, events: tuple[str, ...]) -> tuple[str, ...]:
        for event in events:
            if event not in EVENTS:
                raise ValueError(f"unknown event {event!r} (one of {', '.join(EVENTS)})")
        return events

    @field_validator("chat_id")
    @classmethod
    def _chat_id(cls, chat_id: str | None, info: ValidationInfo) -> str | None:
        fmt = info.data.get("format")
        if fmt == "telegram" and not chat_id:
            raise ValueError("required for format telegram")
        if fmt != "telegram" and chat_id is not None:
            raise ValueError(f"applies to format telegram only, not {fmt!r}")
        return chat_id

    def __repr__(self) -> str:
        return f"WebhookSettings(format={self.format!r}, events={self.events!r}, url=<secret>)"


class NotifySettings(_Section):
    """``[notify]``: webhooks told about breaker changes, incidents, restarts and the day."""

    webhooks: tuple[WebhookSettings, ...] = ()
    timeout_s: float = Field(default=3.0, gt=0, le=30, description="per request")
    attempts: int = Field(default=5, ge=1, le=20)
    backoff_s: float = Field(default=0.5, gt=0, description="first retry delay, then doubled")
    give_up_s: float = Field(default=30.0, gt=0, description="no retry starts after this")
    queue_size: int = Field(default=100, ge=1, description="per webhook; the oldest is dropped")
    shutdown_s: float = Field(default=2.0, ge=0, le=30, description="the queue's share of a stop")
    daily_summary_utc: str = Field(default="23:55", description="HH:MM UTC, once a day")

    @field_validator("daily_summary_utc")
    @classmethod
    def _summary_time(cls, text: str) -> str:
        parse_hhmm(text)
        return text

    @property
    def daily_summary_minute(self) -> int:
        return parse_hhmm(self.daily_summary_utc)


class InstanceSettings(_Section):
    """``[instance]``: how this Vigil names itself in notifications."""

    name: str = Field(default_factory=socket.gethostname, min_length=1)
