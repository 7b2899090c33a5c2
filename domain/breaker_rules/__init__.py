"""Breaker rules as pure state: evidence in, verdicts out, and YELLOW's cool-down.

- ``_catalog``: the rules as data (``CATALOG`` of ``RuleSpec``), the ``EvidenceKind``s
  that feed them, their ``Trigger``s;
- ``_engine``: ``BreakerRules``, every rule's running state and its verdicts now;
- ``_yellow``: YELLOW's cool-down, what it allows, and the ``BreakerBoard``.
"""

from __future__ import annotations

from domain.breaker_rules._catalog import (
    CATALOG,
    DEFAULT_TRIGGERS,
    LIVENESS_KINDS,
    SPECS,
    Evidence,
    EvidenceKind,
    Measure,
    RuleSpec,
    Trigger,
)
from domain.breaker_rules._engine import Assessment, BreakerRules, Rule, RuleVerdict
from domain.breaker_rules._yellow import BreakerBoard, YellowCoolDown, YellowLimits, yellow_refusal

__all__ = [
    "CATALOG",
    "DEFAULT_TRIGGERS",
    "LIVENESS_KINDS",
    "SPECS",
    "Assessment",
    "BreakerBoard",
    "BreakerRules",
    "Evidence",
    "EvidenceKind",
    "Measure",
    "Rule",
    "RuleSpec",
    "RuleVerdict",
    "Trigger",
    "YellowCoolDown",
    "YellowLimits",
    "yellow_refusal",
]
