"""Breaker rules as pure state: evidence in, verdicts out, and YELLOW's cool-down."""

from __future__ import annotations

from domain.breaker_rules._catalog import (
    CATALOG,
    DEFAULT_TRIGGERS,
    LIVENESS_KINDS,
    SPECS,
    Assessment,
    BreakerBoard,
    BreakerRules,
    Evidence,
    Measure,
    Rule,
    RuleSpec,
    RuleVerdict,
    Trigger,
    YellowCoolDown,
    YellowLimits,
    yellow_refusal,
)

__all__ = [
    "CATALOG",
    "DEFAULT_TRIGGERS",
    "LIVENESS_KINDS",
    "SPECS",
    "Assessment",
    "BreakerBoard",
    "BreakerRules",
    "Evidence",
    "Measure",
    "Rule",
    "RuleSpec",
    "RuleVerdict",
    "Trigger",
    "YellowCoolDown",
    "YellowLimits",
    "yellow_refusal",
]
