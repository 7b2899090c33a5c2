"""Vigil's settings: a TOML profile plus environment overrides (pydantic-settings).

Environment variables win over the profile: prefix ``VIGIL_``, nested keys joined by
``__`` (``VIGIL_CONTROL__PORT``, ``VIGIL_CONTROL__TOKEN``, ``VIGIL_DATA_DIR``,
``VIGIL_EXCHANGE__SIMULATOR=false`` with ``VIGIL_EXCHANGE__REST_URL`` ...). Exchange
credentials come only from ``BINANCE_API_KEY`` / ``BINANCE_API_SECRET``. A bad file or
value raises ``SettingsError`` naming the field; ``run.py`` exits 2 with it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from config.sections import (
    LIVE_LIMITS,
    AuditSettings,
    BreakerSettings,
    BrokerSettings,
    ControlSettings,
    DemoSettings,
    ExchangeSettings,
    GatewaySettings,
    InstanceSettings,
    JournalSettings,
    NotifySettings,
    PolicySettings,
    PollerSettings,
    ReconciliationSettings,
    SupervisionSettings,
    TraceSettings,
    TriggerSettings,
)
from exchange.simulator.config import SimulatorConfig

DEFAULT_PROFILE = Path(__file__).resolve().parent / "sim.toml"


class SettingsError(ValueError):
    """A profile or an override Vigil refuses; the message names the field."""


class VigilSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VIGIL_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,  # a webhook URL is a secret: no error repeats an input
    )

    data_dir: Path = Path("var")
    exchange: ExchangeSettings = ExchangeSettings()
    simulator: SimulatorConfig = SimulatorConfig()
    control: ControlSettings = ControlSettings()
    gateway: GatewaySettings = GatewaySettings()
    supervision: SupervisionSettings = SupervisionSettings()
    reconciliation: ReconciliationSettings = ReconciliationSettings()
    broker: BrokerSettings = BrokerSettings()
    policy: PolicySettings = PolicySettings()
    breaker: BreakerSettings = BreakerSettings()
    poller: PollerSettings = PollerSettings()
    demo: DemoSettings = DemoSettings()
    trace: TraceSettings = TraceSettings()
    audit: AuditSettings = AuditSettings()
    journal: JournalSettings = JournalSettings()
    notify: NotifySettings = NotifySettings()
    instance: InstanceSettings = InstanceSettings()

    @model_validator(mode="after")
    def _live_limits_are_set(self) -> VigilSettings:
        """Fail closed for real money: a live profile names every risk limit."""
        if self.exchange.live:
            missing = self.missing_live_limits()
            if missing:
                raise ValueError(
                    'a live profile must set every risk limit (a number, or "off" to '
                    f"switch one off on purpose); missing: {', '.join(missing)}"
                )
        return self

    @model_validator(mode="after")
    def _gateway_leaves_room(self) -> VigilSettings:
        """Strategies' market data stops short of the share where Vigil throttles itself."""
        share = self.exchange.option("throttle_share")
        if self.gateway.weight_share >= share:
            raise ValueError(
                f"gateway.weight_share ({self.gateway.weight_share}) must be below "
                f"exchange.throttle_share ({share}): Vigil's own calls need the rest"
            )
        return self

    def missing_live_limits(self) -> list[str]:
        """The keys of ``LIVE_LIMITS`` this profile leaves unset."""
        drawdown = self.breaker.triggers.get("drawdown") or TriggerSettings()
        values = {
            "policy.max_daily_loss": self.policy.max_daily_loss,
            "policy.max_position_notional": self.policy.max_position_notional,
            "policy.max_total_exposure": self.policy.max_total_exposure,
            "policy.max_orders_per_minute": self.policy.max_orders_per_minute,
            "policy.max_orders_per_day": self.policy.max_orders_per_day,
            "breaker.triggers.drawdown.threshold": drawdown.threshold,
            "breaker.triggers.drawdown.red_threshold": drawdown.red_threshold,
        }
        return [key for key in LIVE_LIMITS if values[key] is None]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_PROFILE.get("path"))
        return (init_settings, env_settings, toml)


_PROFILE: dict[str, Path | None] = {"path": None}


def load_settings(profile: Path = DEFAULT_PROFILE, **overrides: Any) -> VigilSettings:
    """Profile + environment (+ explicit overrides); ``SettingsError`` names what is wrong."""
    try:
        with profile.open("rb") as fh:
            tomllib.load(fh)  # a clear error for a broken file before pydantic sees it
    except OSError as exc:
        raise SettingsError(f"cannot read profile {profile}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"profile {profile} is not valid TOML: {exc}") from None
    unknown = unknown_environment(os.environ)
    if unknown:
        raise SettingsError(
            f"unknown setting in the environment: {', '.join(unknown)} "
            "(VIGIL_<SECTION>__<KEY>; see docs/configuration.md)"
        )
    _PROFILE["path"] = profile
    try:
        settings = VigilSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            if err["loc"]
            else err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise SettingsError(
            f"bad configuration ({profile} / VIGIL_* environment): {problems}"
        ) from None
    finally:
        _PROFILE["path"] = None
    if not settings.exchange.simulator:
        for name, value in zip(CREDENTIALS, exchange_credentials(), strict=True):
            if 0 < len(value.get_secret_value()) < MIN_CREDENTIAL_CHARS:
                raise SettingsError(
                    f"{name}: shorter than {MIN_CREDENTIAL_CHARS} characters (no real key "
                    "is; a short one could not be kept out of the logs)"
                )
    return settings


CREDENTIALS = ("BINANCE_API_KEY", "BINANCE_API_SECRET")
MIN_CREDENTIAL_CHARS = 8  # as the adapter's redaction (exchange.binance.redact)
NOT_SETTINGS = frozenset({"VIGIL_CRASH_AT"})  # the crash drills' hook (runtime.crashpoints)


def unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """``VIGIL_*`` variables whose first part names no setting: a typo there would be
    ignored in silence (a mistyped key inside a section is refused by the section)."""
    fields = set(VigilSettings.model_fields)
    unknown = []
    for name in sorted(environ):
        if not name.startswith("VIGIL_") or name in NOT_SETTINGS:
            continue
        first = name.removeprefix("VIGIL_").split("__", 1)[0].lower()
        if first not in fields:
            unknown.append(name)
    return unknown


def exchange_credentials() -> tuple[SecretStr, SecretStr]:
    """Real exchange credentials: only from the environment, never from a file."""
    return (
        SecretStr(os.environ.get("BINANCE_API_KEY", "")),
        SecretStr(os.environ.get("BINANCE_API_SECRET", "")),
    )


def external_exchange_problem(settings: VigilSettings) -> str | None:
    """What keeps ``settings`` from trading on an external exchange (the credentials from
    the environment, the three URLs), or None: checked before anything is opened."""
    if settings.exchange.simulator:
        return None
    key, secret = exchange_credentials()
    if not key.get_secret_value() or not secret.get_secret_value():
        return (
            "BINANCE_API_KEY and BINANCE_API_SECRET must be set for an external exchange "
            "(credentials come from the environment only)"
        )
    ex = settings.exchange
    missing = [n for n in ("rest_url", "ws_api_url", "stream_url") if getattr(ex, n) is None]
    if missing:
        return f"exchange.{missing[0]} is required when exchange.simulator is false"
    return None
