"""The sections of Vigil's settings: one validated, frozen model per TOML table
(``[exchange]``, ``[control]``, ``[policy]``, ``[breaker]``, ``[notify]`` ...), each with its
documented defaults and the checks that refuse a setting that is unsafe or would silently
switch a protection off. ``config.settings`` assembles them and loads the profile.

By area: ``base`` (the shared model and a limit's "off"), ``endpoints`` (exchange, control
API, gateway), ``risk`` (policy, breaker), ``operations`` (supervision, reconciliation,
broker, poller, demo, audit, journal, trace) and ``notify`` (webhooks, instance); every
name is exported here."""

from config.sections.base import (
    LIVE_LIMITS,
    OFF,
    NonNegativeAmount,
    Off,
    OffSwitch,
    PositiveAmount,
    PositiveCount,
    limit_value,
)
from config.sections.endpoints import (
    MIN_TOKEN_CHARS,
    ControlSettings,
    ExchangeSettings,
    GatewaySettings,
    is_loopback,
)
from config.sections.notify import InstanceSettings, NotifySettings, WebhookSettings
from config.sections.operations import (
    AuditSettings,
    BrokerSettings,
    DemoSettings,
    JournalSettings,
    PollerSettings,
    ReconciliationSettings,
    SupervisionSettings,
    TraceSettings,
)
from config.sections.risk import BreakerSettings, PolicySettings, TriggerSettings

__all__ = [
    "LIVE_LIMITS",
    "MIN_TOKEN_CHARS",
    "OFF",
    "AuditSettings",
    "BreakerSettings",
    "BrokerSettings",
    "ControlSettings",
    "DemoSettings",
    "ExchangeSettings",
    "GatewaySettings",
    "InstanceSettings",
    "JournalSettings",
    "NonNegativeAmount",
    "NotifySettings",
    "Off",
    "OffSwitch",
    "PolicySettings",
    "PollerSettings",
    "PositiveAmount",
    "PositiveCount",
    "ReconciliationSettings",
    "SupervisionSettings",
    "TraceSettings",
    "TriggerSettings",
    "WebhookSettings",
    "is_loopback",
    "limit_value",
]
