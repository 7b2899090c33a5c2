"""Breaker rules as pure state: evidence in, verdicts out, and YELLOW's cool-down.

Every subsystem reports *evidence* (``Evidence``: a kind, a time, maybe a number); each
rule of the ``CATALOG`` measures the evidence of its kinds one way (``Measure``) and
compares the measure with its ``Trigger`` (threshold, window, YELLOW or RED, and an
optional higher threshold that means RED). ``BreakerRules`` holds the state of every rule
and answers, at any time, which rules fire now. No threads, no I/O, no clock: every call
takes ``now_ms``.

Edges, exactly:

- ``COUNT``: fires when at least ``threshold`` events fell in the last ``window_s``.
- ``CONSECUTIVE``: fires when at least ``threshold`` failures came with no success between.
- ``ABOVE`` / ``BELOW``: fires when a sample taken in the last ``window_s`` is strictly
  above (below) ``threshold``; a value equal to the threshold is within the limit. A
  *gauge* rule (``RuleSpec.gauge``: a number that says how things are now, such as the
  orders in unknown state or free disk) judges its latest sample, however old: a gauge
  reported only when it changes stays true until it changes.
- ``SILENCE``: fires when more than ``threshold`` seconds passed since the last event (or
  since the rules started, if none came yet).

A threshold of 0 switches a trigger off. RED is latched elsewhere (the gate); YELLOW
clears when no YELLOW cause has been seen for ``cool_down_s`` (``YellowCoolDown``).

Times are the caller's monotonic milliseconds: a wall-clock jump must neither trip a
silence nor hide one. ``BreakerRules.afresh`` starts the counting over (an operator's
reset acknowledges the evidence so far) but keeps what describes the present: silences
and gauges (``conditions``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from domain.breaker import Level


class Measure(StrEnum):
    COUNT = "count"  # events in a sliding window
    CONSECUTIVE = "consecutive"  # failures in a row, reset by a success
    ABOVE = "above"  # a sample in the window above the threshold
    BELOW = "below"  # a sample in the window below the threshold
    SILENCE = "silence"  # seconds since the last event


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation from a subsystem: ``kind`` names it, ``value`` is its number (samples)."""

    kind: str
    at_ms: int
    value: Decimal | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Trigger:
    """When a rule fires and what it means. ``red_threshold`` (optional) is a second, farther
    threshold at which the rule means RED whatever ``level`` says; 0 switches a trigger off."""

    threshold: Decimal
    level: Level = Level.YELLOW
    window_s: float = 60.0
    red_threshold: Decimal | None = None

    @property
    def enabled(self) -> bool:
        return self.threshold != 0 or (self.red_threshold is not None and self.red_threshold != 0)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A catalogue entry: what a rule measures and which evidence feeds it."""

    name: str
    area: str  # exchange | reconciliation | execution | infrastructure | risk | liveness
    measure: Measure
    kinds: frozenset[str]
    ok_kinds: frozenset[str] = frozenset()  # CONSECUTIVE: evidence that ends a run
    default: Trigger = Trigger(Decimal(0))
    unit: str = ""
    gauge: bool = False  # ABOVE/BELOW: the latest sample is the state now (no window)

    @property
    def windowed(self) -> bool:
        """Whether ``Trigger.window_s`` means anything for this rule."""
        return self.measure is Measure.COUNT or (
            self.measure in (Measure.ABOVE, Measure.BELOW) and not self.gauge
        )

    @property
    def condition(self) -> bool:
        """Describes the present (a silence, a gauge) rather than counting past evidence."""
        return self.measure is Measure.SILENCE or self.gauge


def _spec(
    name: str,
    area: str,
    measure: Measure,
    kinds: Iterable[str],
    default: Trigger,
    *,
    ok: Iterable[str] = (),
    unit: str = "",
    gauge: bool = False,
) -> RuleSpec:
    return RuleSpec(name, area, measure, frozenset(kinds), frozenset(ok), default, unit, gauge)


D = Decimal
Y, R = Level.YELLOW, Level.RED

CATALOG: tuple[RuleSpec, ...] = (
    # exchange
    _spec(
        "api_errors",
        "exchange",
        Measure.COUNT,
        ["poll_failed", "reconciliation_failed"],
        Trigger(D(5), Y, 30, D(20)),
        unit="errors",
    ),
    _spec(
        "ping_failures",
        "exchange",
        Measure.CONSECUTIVE,
        ["ping_failed"],
        Trigger(D(3), Y, 0, D(10)),
        ok=["ping_ok"],
        unit="pings",
    ),
    _spec(
        "rejects",
        "exchange",
        Measure.COUNT,
        ["order_rejected"],
        Trigger(D(5), Y, 60),
        unit="rejects",
    ),
    _spec(
        "timeouts",
        "exchange",
        Measure.COUNT,
        ["unknown_outcome"],
        Trigger(D(3), Y, 60, D(10)),
        unit="timeouts",
    ),
    _spec(
        "rate_limited",
        "exchange",
        Measure.COUNT,
        ["rate_limit_http_429", "rate_limit_order_rate"],
        Trigger(D(1), Y, 60),
        unit="refusals",
    ),
    _spec(
        "ban",
        "exchange",
        Measure.COUNT,
        ["rate_limit_http_418"],
        Trigger(D(1), R, 600),
        unit="bans",
    ),
    # reconciliation (defaults derived from [reconciliation] by the settings)
    _spec(
        "reconciliation_failures",
        "reconciliation",
        Measure.CONSECUTIVE,
        ["reconciliation_failed", "reconciliation_held_back"],
        Trigger(D(3), R, 0),
        ok=["reconciliation_ok", "reconciliation_critical"],
        unit="cycles",
    ),
    _spec(
        "reconciliation_stale",
        "reconciliation",
        Measure.SILENCE,
        ["reconciliation_ok"],
        Trigger(D(15), Y, 0, D(30)),
        unit="s",
    ),
    # execution
    _spec(
        "slippage",
        "execution",
        Measure.ABOVE,
        ["slippage_bps"],
        Trigger(D(50), Y, 60, D(500)),
        unit="bps",
    ),
    _spec(
        "partial_fills",
        "execution",
        Measure.COUNT,
        ["partial_fill"],
        Trigger(D(50), Y, 60),
        unit="partial fills",
    ),
    _spec(
        "unknown_orders",
        "execution",
        Measure.ABOVE,
        ["unknown_orders"],
        Trigger(D(2), Y, 0, D(5)),
        unit="orders",
        gauge=True,
    ),
    _spec(
        "order_latency",
        "execution",
        Measure.ABOVE,
        ["order_latency_p95_ms"],
        Trigger(D(2000), Y, 60),  # sent on acks only: it must age out when orders stop
        unit="ms",
    ),
    # infrastructure
    _spec(
        "memory",
        "infrastructure",
        Measure.ABOVE,
        ["memory_mb"],
        Trigger(D(2048), Y, 0, D(4096)),
        unit="MB",
        gauge=True,
    ),
    _spec(
        "cpu",
        "infrastructure",
        Measure.ABOVE,
        ["cpu_pct"],
        Trigger(D(95), Y, 0),
        unit="%",
        gauge=True,
    ),
    _spec(
        "disk_free",
        "infrastructure",
        Measure.BELOW,
        ["disk_free_mb"],
        Trigger(D(1024), Y, 0, D(100)),
        unit="MB",
        gauge=True,
    ),
    _spec(
        "actor_restarts",
        "infrastructure",
        Measure.COUNT,
        ["actor_restart"],
        Trigger(D(3), R, 300),
        unit="restarts",
    ),
    _spec(
        "inbox_backlog",
        "infrastructure",
        Measure.ABOVE,
        ["inbox_backlog"],
        Trigger(D(20000), Y, 0),
        unit="messages",
        gauge=True,
    ),
    _spec(
        "reconnects",
        "infrastructure",
        Measure.COUNT,
        ["stream_disconnected"],
        Trigger(D(5), Y, 60),
        unit="disconnects",
    ),
    # risk (off until the book reports them; the policy guard has its own limits)
    _spec(
        "daily_loss",
        "risk",
        Measure.ABOVE,
        ["daily_loss"],
        Trigger(D(0), R, 0),
        unit="quote",
        gauge=True,
    ),
    _spec(
        "drawdown",
        "risk",
        Measure.ABOVE,
        ["drawdown_pct"],
        Trigger(D(0), R, 0),
        unit="%",
        gauge=True,
    ),
    _spec(
        "consecutive_losses",
        "risk",
        Measure.CONSECUTIVE,
        ["losing_trade"],
        Trigger(D(5), Y, 0),
        ok=["winning_trade"],
        unit="trades",
    ),
    _spec(
        "position_invariant",
        "risk",
        Measure.COUNT,
        ["position_invariant"],
        Trigger(D(1), R, 86400),
        unit="breaks",
    ),
    # dead man's switches
    _spec(
        "market_data",
        "liveness",
        Measure.SILENCE,
        ["market_data"],
        Trigger(D(30), Y, 0, D(120)),
        unit="s",
    ),
    _spec(
        "operator_heartbeat",
        "liveness",
        Measure.SILENCE,
        ["operator_heartbeat"],
        Trigger(D(0), Y, 0),
        unit="s",
    ),
)

SPECS: dict[str, RuleSpec] = {s.name: s for s in CATALOG}
DEFAULT_TRIGGERS: dict[str, Trigger] = {s.name: s.default for s in CATALOG}

# evidence that says "still alive": not audited one by one (the transitions are)
LIVENESS_KINDS = frozenset({"market_data", "ping_ok", "operator_heartbeat", "reconciliation_ok"})


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """A rule that fires now: its level, its measure and why."""

    rule: str
    level: Level
    value: Decimal
    reason: str


class Rule:
    """The running state of one catalogue entry under one trigger."""

    def __init__(self, spec: RuleSpec, trigger: Trigger, started_ms: int) -> None:
        self.spec = spec
        self.trigger = trigger
        self.events: deque[tuple[int, Decimal]] = deque()  # COUNT, ABOVE, BELOW
        self.run = 0  # CONSECUTIVE
        self.last_ms = started_ms  # SILENCE
        self.last_detail = ""

    def observe(self, ev: Evidence) -> None:
        m = self.spec.measure
        if ev.kind in self.spec.ok_kinds:
            self.run = 0
            return
        if ev.kind not in self.spec.kinds:
            return
        self.last_detail = ev.detail
        if m is Measure.CONSECUTIVE:
            self.run += 1
        elif m is Measure.SILENCE:
            self.last_ms = max(self.last_ms, ev.at_ms)
        elif m is Measure.COUNT:
            self.events.append((ev.at_ms, Decimal(1)))
        elif ev.value is not None:
            if self.spec.gauge:
                self.events.clear()  # only the latest sample counts
            self.events.append((ev.at_ms, ev.value))

    def measure(self, now_ms: int) -> Decimal | None:
        """The rule's number now (None: no sample in the window)."""
        m = self.spec.measure
        if m is Measure.CONSECUTIVE:
            return Decimal(self.run)
        if m is Measure.SILENCE:
            return Decimal(max(0, now_ms - self.last_ms)) / 1000
        if self.spec.gauge:
            return self.events[-1][1] if self.events else None
        horizon = now_ms - int(self.trigger.window_s * 1000)
        while self.events and self.events[0][0] <= horizon:
            self.events.popleft()
        if m is Measure.COUNT:
            return Decimal(len(self.events))
        if not self.events:
            return None
        values = [v for _, v in self.events]
        return max(values) if m is Measure.ABOVE else min(values)

    def _crosses(self, value: Decimal, threshold: Decimal | None) -> bool:
        if threshold is None or threshold == 0:
            return False
        m = self.spec.measure
        if m in (Measure.COUNT, Measure.CONSECUTIVE):
            return value >= threshold
        if m is Measure.BELOW:
            return value < threshold
        return value > threshold  # ABOVE, SILENCE

    def verdict(self, now_ms: int) -> RuleVerdict | None:
        value = self.measure(now_ms)
        if value is None:
            return None
        t = self.trigger
        if self._crosses(value, t.red_threshold):
            level, limit = Level.RED, t.red_threshold
        elif self._crosses(value, t.threshold):
            level, limit = t.level, t.threshold
        else:
            return None
        return RuleVerdict(self.spec.name, level, value, self._reason(value, limit))

    def _reason(self, value: Decimal, limit: Decimal | None) -> str:
        s, t = self.spec, self.trigger
        unit = f" {s.unit}" if s.unit else ""
        places = Decimal("0.1") if s.measure is Measure.SILENCE else Decimal("0.01")
        shown = value if value == value.to_integral_value() else value.quantize(places)
        above = "now above" if s.gauge else "above"
        below = "now below" if s.gauge else "below"
        text = {
            Measure.COUNT: f"{shown}{unit} in {t.window_s:g}s (limit {limit})",
            Measure.CONSECUTIVE: f"{shown}{unit} in a row (limit {limit})",
            Measure.ABOVE: f"{shown}{unit} {above} {limit}",
            Measure.BELOW: f"{shown}{unit} {below} {limit}",
            Measure.SILENCE: f"nothing for {shown}s (limit {limit}s)",
        }[s.measure]
        return f"{s.name}: {text}" + (f" — {self.last_detail}" if self.last_detail else "")


@dataclass
class Assessment:
    """What the rules say now, and what changed since the previous assessment."""

    firing: dict[str, RuleVerdict]
    started: tuple[RuleVerdict, ...]  # rules that began to fire (or moved YELLOW → RED)
    stopped: tuple[str, ...]  # rules that stopped firing

    @property
    def red(self) -> tuple[RuleVerdict, ...]:
        return tuple(v for v in self.firing.values() if v.level is Level.RED)

    @property
    def yellow(self) -> tuple[RuleVerdict, ...]:
        return tuple(v for v in self.firing.values() if v.level is Level.YELLOW)


class BreakerRules:
    """Every rule of the catalogue under its trigger (those switched off are left out)."""

    def __init__(self, triggers: Mapping[str, Trigger], started_ms: int) -> None:
        unknown = sorted(set(triggers) - set(SPECS))
        if unknown:
            raise KeyError(f"unknown breaker trigger {unknown[0]!r}")
        for name, trigger in triggers.items():
            if SPECS[name].windowed and trigger.enabled and trigger.window_s <= 0:
                raise ValueError(f"breaker trigger {name!r} counts over a window: window_s > 0")
        self.triggers = dict(triggers)
        self.rules = {
            name: Rule(spec, triggers.get(name, spec.default), started_ms)
            for name, spec in SPECS.items()
            if triggers.get(name, spec.default).enabled
        }
        self.firing: dict[str, RuleVerdict] = {}

    def observe(self, ev: Evidence) -> None:
        for rule in self.rules.values():
            rule.observe(ev)

    def afresh(self, now_ms: int) -> BreakerRules:
        """New rules for after an operator's reset: the counting starts over (the evidence
        so far is acknowledged), the conditions carry over (a feed still silent stays
        silent since its last event, a gauge keeps its latest sample)."""
        fresh = BreakerRules(self.triggers, now_ms)
        for name, rule in self.rules.items():
            if rule.spec.condition:
                kept = fresh.rules[name]
                kept.last_ms, kept.events = rule.last_ms, deque(rule.events)
                kept.last_detail = rule.last_detail
        return fresh

    def red_conditions(self, now_ms: int) -> list[RuleVerdict]:
        """The condition rules (silences, gauges) that mean RED now: a reset would not
        clear what they see."""
        out = []
        for rule in self.rules.values():
            if rule.spec.condition:
                v = rule.verdict(now_ms)
                if v is not None and v.level is Level.RED:
                    out.append(v)
        return out

    def evaluate(self, now_ms: int) -> Assessment:
        firing = {}
        for name, rule in self.rules.items():
            v = rule.verdict(now_ms)
            if v is not None:
                firing[name] = v
        started = tuple(
            v
            for name, v in firing.items()
            if name not in self.firing or self.firing[name].level is not v.level
        )
        stopped = tuple(name for name in self.firing if name not in firing)
        self.firing = firing
        return Assessment(firing, started, stopped)

    def measures(self, now_ms: int) -> dict[str, str | None]:
        """Every rule's current number, for the status output."""
        out: dict[str, str | None] = {}
        for name, rule in self.rules.items():
            value = rule.measure(now_ms)
            out[name] = None if value is None else str(value)
        return out


@dataclass
class YellowCoolDown:
    """YELLOW's causes and when each was last seen; YELLOW may clear once none has been
    seen for ``cool_down_s``. RED is not this class's business: nothing here clears it."""

    cool_down_s: float
    last_seen: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def note(self, cause: str, reason: str, now_ms: int) -> None:
        self.last_seen[cause] = now_ms
        self.reasons[cause] = reason

    def active(self, now_ms: int) -> dict[str, str]:
        """Causes seen within the cool-down (the others are forgotten)."""
        limit = int(self.cool_down_s * 1000)
        for cause in [c for c, at in self.last_seen.items() if now_ms - at >= limit]:
            del self.last_seen[cause]
            self.reasons.pop(cause, None)
        return dict(self.reasons)

    def may_clear(self, now_ms: int) -> bool:
        return not self.active(now_ms)


# --- what YELLOW allows ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class YellowLimits:
    """Trading under YELLOW: a lower order rate, only orders that reduce exposure (if
    ``reduce_only``), and no new orders at all while a cause in ``pause_on`` is active."""

    max_orders_per_minute: int = 6
    reduce_only: bool = True
    pause_on: frozenset[str] = frozenset({"market_data", "operator_heartbeat"})


def yellow_refusal(
    limits: YellowLimits,
    causes: Iterable[str],
    *,
    reduces_exposure: bool,
    orders_last_minute: int,
) -> str | None:
    """Why YELLOW refuses this order, or None when it may go. Call only while YELLOW.

    ``orders_last_minute`` counts the orders already sent in the last 60 s (not this one).
    """
    active = sorted(causes)
    paused = [c for c in active if c in limits.pause_on]
    if paused:
        return f"YELLOW: trading paused ({', '.join(paused)})"
    if limits.reduce_only and not reduces_exposure:
        return "YELLOW: only orders that reduce exposure"
    if orders_last_minute >= limits.max_orders_per_minute:
        return (
            f"YELLOW: {orders_last_minute} orders in the last minute, "
            f"limit {limits.max_orders_per_minute}"
        )
    return None


@dataclass(frozen=True, slots=True)
class BreakerBoard:
    """What the breaker publishes for the order path and the status: the active YELLOW
    causes and the rules firing now. Replaced whole (never mutated) on every change."""

    causes: tuple[str, ...] = ()
    firing: tuple[str, ...] = ()
    limits: YellowLimits = YellowLimits()

    def with_causes(self, causes: Iterable[str], firing: Iterable[str]) -> BreakerBoard:
        return replace(self, causes=tuple(sorted(causes)), firing=tuple(sorted(firing)))
