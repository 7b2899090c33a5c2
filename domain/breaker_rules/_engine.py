"""The breaker's engine: the running state of every rule of the catalogue, evidence in,
verdicts out. ``BreakerRules`` answers, at any time, which rules fire now. No threads, no
I/O, no clock: every call takes ``now_ms``.

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

A threshold of 0 switches a trigger off. RED is latched elsewhere (the gate).

Cost: observing evidence touches only the rules it feeds, a windowed sample measure keeps
its running max / min (amortised O(1) per sample, however many the window holds), and
``evaluate(now, kinds)`` re-judges only the rules fed by the evidence just observed — the
caller's periodic full ``evaluate(now)`` catches what time alone changes.

Times are the caller's monotonic milliseconds: a wall-clock jump must neither trip a
silence nor hide one. ``BreakerRules.afresh`` starts the counting over (an operator's
reset acknowledges the evidence so far) but keeps what describes the present: silences
and gauges (``conditions``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from domain.breaker import Level
from domain.breaker_rules._catalog import SPECS, Evidence, Measure, RuleSpec, Trigger

_ONE = Decimal(1)


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
        # COUNT: every event in the window; ABOVE / BELOW: the samples that can still be the
        # window's max / min (in time order, values falling / rising); a gauge: its latest
        self.events: deque[tuple[int, Decimal]] = deque()
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
            self.events.append((ev.at_ms, _ONE))
        elif ev.value is not None:
            events, value = self.events, ev.value
            if self.spec.gauge:
                events.clear()  # only the latest sample counts
            elif m is Measure.ABOVE:
                # a sliding-window maximum: a sample that a newer, larger (or equal) one
                # outlives can never be the measure again, so it is not kept
                while events and events[-1][1] <= value:
                    events.pop()
            else:
                while events and events[-1][1] >= value:
                    events.pop()
            events.append((ev.at_ms, value))

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
        return self.events[0][1]  # the window's max (ABOVE) or min (BELOW): see observe

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
    checked: tuple[RuleVerdict, ...] = ()  # the verdicts found firing by this evaluation

    @property
    def yellow_seen(self) -> tuple[RuleVerdict, ...]:
        """YELLOW verdicts this evaluation found (not those only carried over from before)."""
        return tuple(v for v in self.checked if v.level is Level.YELLOW)

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
        self._by_kind: dict[str, tuple[Rule, ...]] = {}

    def observe(self, ev: Evidence) -> None:
        for rule in self._readers(ev.kind):
            rule.observe(ev)

    def _readers(self, kind: str) -> tuple[Rule, ...]:
        """The rules that evidence of ``kind`` feeds (or ends a run of)."""
        readers = self._by_kind.get(kind)
        if readers is None:
            readers = tuple(
                r for r in self.rules.values() if kind in r.spec.kinds or kind in r.spec.ok_kinds
            )
            self._by_kind[kind] = readers
        return readers

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

    def evaluate(self, now_ms: int, kinds: Iterable[str] | None = None) -> Assessment:
        """Every rule's verdict now; or, given ``kinds`` (the evidence just observed), only
        the verdicts of the rules that evidence feeds — the others keep the verdict of
        their last evaluation (what changes them with time alone, a window emptying or a
        silence growing, is the next full evaluation's: the breaker's tick)."""
        if kinds is None:
            rules: Iterable[Rule] = self.rules.values()
            firing: dict[str, RuleVerdict] = {}
        else:
            rules = {r.spec.name: r for k in kinds for r in self._readers(k)}.values()
            firing = dict(self.firing)
        checked = []
        for rule in rules:
            v = rule.verdict(now_ms)
            if v is not None:
                firing[rule.spec.name] = v
                checked.append(v)
            else:
                firing.pop(rule.spec.name, None)
        started = tuple(
            v
            for name, v in firing.items()
            if name not in self.firing or self.firing[name].level is not v.level
        )
        stopped = tuple(name for name in self.firing if name not in firing)
        self.firing = firing
        return Assessment(firing, started, stopped, tuple(checked))

    def measures(self, now_ms: int) -> dict[str, str | None]:
        """Every rule's current number, for the status output."""
        out: dict[str, str | None] = {}
        for name, rule in self.rules.items():
            value = rule.measure(now_ms)
            out[name] = None if value is None else str(value)
        return out
