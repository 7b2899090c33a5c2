"""The risk limits: ``[policy]`` (the pre-trade policy guard's limits) and ``[breaker]``
(the breaker's rules, each trigger's overrides of the catalogue in
``domain.breaker_rules``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, model_validator

from config.sections.base import (
    OFF,
    NonNegativeAmount,
    Off,
    OffSwitch,
    PositiveAmount,
    PositiveCount,
    _Section,
    limit_value,
)
from domain.policy import PolicyLimits

if TYPE_CHECKING:
    from config.sections.operations import ReconciliationSettings


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
