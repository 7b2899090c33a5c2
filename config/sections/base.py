"""What every settings section shares: the frozen base model that refuses unknown keys, and
a risk limit's three-way value — a number, "off" (switched off on purpose), or unset (None),
with the limits a live profile must name (``LIVE_LIMITS``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

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
