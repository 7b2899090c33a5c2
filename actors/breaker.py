"""breaker: GREEN / YELLOW / RED and the rules that move it; the RED latch lives in the gate.

Inputs: reconciliation results, evidence from every subsystem (``BreakerInput``, and
numbers as ``BreakerSample``), stream health, operator halts, heartbeats and resets, and
its own timer (``BreakerTick``: windows, silences, infrastructure samples, YELLOW's
cool-down). The rules are pure (``domain.breaker_rules``); this actor feeds them evidence,
applies their verdicts to the gate and audits every transition.

RED is latched and durable (``TradingGate``); nothing here clears it: only an operator's
``ResetRequest`` with a reason, after a fresh HEALTHY reconciliation, and not while a
condition rule (a silence, a gauge) still means RED. A successful reset acknowledges the
evidence seen so far (the counting starts afresh; the conditions carry over). YELLOW
clears by itself once none of its causes has been seen for ``breaker.yellow_cool_down_s``.

The rules run on the monotonic clock (``runtime.clock.mono_ms``): a wall-clock step
(NTP, an operator) neither trips a silence nor hides one, nor empties a window early.

What YELLOW allows is published as a ``BreakerBoard`` in the breaker's memory (active
causes and ``YellowLimits``), which the order path reads for ``yellow_refusal``.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka

from domain.breaker import Level, ResetRefused
from domain.breaker_rules import (
    LIVENESS_KINDS,
    BreakerBoard,
    BreakerRules,
    Evidence,
    YellowCoolDown,
    YellowLimits,
)
from exchange.contract import StreamState
from runtime.actor import VigilActor
from runtime.clock import mono_ms
from runtime.messages import (
    BreakerEvidence,
    BreakerInput,
    BreakerSample,
    BreakerTick,
    Halt,
    ReconciliationDone,
    ResetRequest,
    StatusRequest,
    StreamHealth,
)

SAMPLE_EVERY_MS = 1000  # infrastructure samples


@dataclass
class BreakerMemory:
    """What the breaker keeps across restarts: its rules (a restarted breaker keeps their
    conditions) and the board it publishes for the order path and the status."""

    rules: BreakerRules | None = None
    board: BreakerBoard = field(default_factory=BreakerBoard)


class Breaker(VigilActor):
    name = "breaker"
    memory: BreakerMemory
    handlers = {
        BreakerInput: "on_input",
        BreakerSample: "on_sample",
        BreakerEvidence: "on_evidence",
        BreakerTick: "on_tick",
        ReconciliationDone: "on_reconciliation",
        Halt: "on_halt",
        ResetRequest: "on_reset",
        StreamHealth: "on_stream",
        StatusRequest: "status",
    }

    def started(self) -> None:
        settings = self.ctx.services.settings
        self.config = settings.breaker
        self.triggers = self.config.resolved_triggers(settings.reconciliation)
        now = mono_ms()
        # a restarted breaker keeps the failed one's conditions (a silence in progress, the
        # latest gauges); its counts start over (the crash itself tripped RED)
        previous = self.memory.rules
        self.rules = previous.afresh(now) if previous else BreakerRules(self.triggers, now)
        self.memory.rules = self.rules
        self.cool_down = YellowCoolDown(self.config.yellow_cool_down_s)
        state = self.ctx.gate.state
        if state.level is Level.YELLOW:  # from before a restart: its cause must cool down too
            self.cool_down.note("restart", state.reason, now)
        self.limits = YellowLimits(
            max_orders_per_minute=self.config.yellow_max_orders_per_minute,
            reduce_only=self.config.yellow_reduce_only,
            pause_on=frozenset(self.config.yellow_pause_on),
        )
        self.board = BreakerBoard(limits=self.limits)
        self.memory.board = self.board
        self.infrastructure = InfrastructureProbe(self.ctx.services.data_dir, self.ctx.directory)
        self.last_sample_ms = 0
        self._stop_timer = threading.Event()
        self._timer = threading.Thread(target=self._tick_forever, name="breaker-timer", daemon=True)
        self._timer.start()

    def stopping(self) -> None:
        stop = getattr(self, "_stop_timer", None)
        if stop is not None:
            stop.set()

    def _tick_forever(self) -> None:
        ref = self.actor_ref
        while not self._stop_timer.wait(self.config.tick_s):
            try:
                ref.tell(BreakerTick(sender="breaker-timer"))
            except pykka.ActorDeadError:
                return

    # ---------------------------------------------------------------- evidence

    def on_input(self, message: BreakerInput) -> None:
        if message.kind not in LIVENESS_KINDS:
            self.audit(
                "breaker_input",
                input=message.kind,
                detail=message.detail,
                source=message.sender,
            )
        now = mono_ms()
        self.rules.observe(Evidence(message.kind, now, detail=message.detail))
        self._assess(now, (message.kind,))

    def on_sample(self, message: BreakerSample) -> None:
        now = mono_ms()
        self.rules.observe(Evidence(message.kind, now, message.value, message.detail))
        self._assess(now, (message.kind,))

    def on_evidence(self, message: BreakerEvidence) -> None:
        """Each piece in turn, as its own input or sample: observed, audited (an event not
        of liveness) and judged by the rules it feeds, so a rule crossing on any piece
        acts as it would have (RED at once), whatever follows it in the batch; YELLOW's
        causes, noted per piece, are published once at the end."""
        now = mono_ms()
        for s in message.signals:
            if s.value is None and s.kind not in LIVENESS_KINDS:
                self.audit("breaker_input", input=s.kind, detail=s.detail, source=message.sender)
            self.rules.observe(Evidence(s.kind, now, s.value, s.detail))
            self._judge(now, (s.kind,))
        self._publish(now)  # (YELLOW's causes: once, as they stand after the batch)

    def on_tick(self, message: BreakerTick) -> None:
        now = mono_ms()
        if self.config.sample_infrastructure and now - self.last_sample_ms >= SAMPLE_EVERY_MS:
            self.last_sample_ms = now
            for kind, value in self.infrastructure.sample().items():
                self.rules.observe(Evidence(kind, now, value))
        self._assess(now)

    def on_reconciliation(self, message: ReconciliationDone) -> None:
        now = mono_ms()
        kind = {
            "FAILED": "reconciliation_held_back" if message.held_back else "reconciliation_failed",
            "CRITICAL": "reconciliation_critical",
        }.get(message.result, "reconciliation_ok")
        self.rules.observe(Evidence(kind, now, detail=f"reconciliation {message.result}"))
        if message.result == "CRITICAL":
            kinds = sorted(
                {f.get("kind", "?") for f in message.findings if f.get("severity") == "CRITICAL"}
            )
            first = next((f for f in message.findings if f.get("severity") == "CRITICAL"), {})
            self._red(
                f"reconciliation CRITICAL ({', '.join(kinds)}): {first.get('detail', '')}",
                "reconciler",
            )
        self._assess(now)

    def on_stream(self, message: StreamHealth) -> None:
        status = message.status
        self.audit("stream", stream=status.stream, state=status.state.value, reason=status.reason)
        if status.state is StreamState.DISCONNECTED:
            detail = f"{status.stream} stream: {status.reason}"
            self.rules.observe(Evidence("stream_disconnected", mono_ms(), detail=detail))
        self._assess(mono_ms())

    # ---------------------------------------------------------------- verdicts

    def _red(self, reason: str, source: str) -> None:
        if self.ctx.gate.trip_red(reason, source):
            self.audit("breaker_red", reason=reason, source=source)

    def _assess(self, now: int, kinds: tuple[str, ...] | None = None) -> None:
        """Apply the rules' verdicts: RED when a rule starts to mean RED, YELLOW while a
        YELLOW cause is active, GREEN again once every cause has cooled down. Evidence of
        ``kinds`` re-judges the rules it feeds; the tick (``kinds`` None) judges them all."""
        self._judge(now, kinds)
        self._publish(now)

    def _judge(self, now: int, kinds: tuple[str, ...] | None) -> None:
        """The verdicts: rules that start or stop firing audited, RED tripped at once, the
        YELLOW causes seen noted for the cool-down."""
        a = self.rules.evaluate(now, kinds)
        for v in a.started:
            level, value = v.level.value, str(v.value)
            self.audit("breaker_rule", rule=v.rule, level=level, value=value, reason=v.reason)
        for name in a.stopped:
            self.audit("breaker_rule_quiet", rule=name)
        for v in a.started:
            if v.level is Level.RED:
                self._red(v.reason, f"rule:{v.rule}")
        for v in a.yellow_seen:  # (a rule not judged now was noted when it last was)
            self.cool_down.note(v.rule, v.reason, now)

    def _publish(self, now: int) -> None:
        """YELLOW's causes as they stand: the board, then YELLOW set or cleared."""
        causes = self.cool_down.active(now)
        # what YELLOW allows is published before YELLOW itself: an intent that sees the
        # new level must also see its causes (a pause must not be skipped in between)
        board = self.board.with_causes(causes, self.rules.firing)
        if board != self.board:
            self.board = board
            self.memory.board = board
        gate = self.ctx.gate
        if causes and gate.state.level is Level.GREEN:
            cause = sorted(causes)[0]
            if gate.set_yellow(causes[cause], "breaker"):
                self.audit("breaker_yellow", cause=cause, reason=causes[cause], causes=causes)
        elif not causes and gate.state.level is Level.YELLOW:
            reason = gate.state.reason
            if gate.clear_yellow():
                self.audit(
                    "breaker_yellow_cleared",
                    was=reason,
                    cool_down_s=self.config.yellow_cool_down_s,
                )

    # ---------------------------------------------------------------- operator

    def on_halt(self, message: Halt) -> None:
        self.audit("halt", reason=message.reason, source=message.source)
        self._red(message.reason, message.source)

    def on_reset(self, message: ResetRequest) -> dict[str, Any]:
        now = mono_ms()
        try:
            # what is still wrong now is not forgiven: a feed still silent, a gauge still
            # past its RED line would trip again at once
            still = self.rules.red_conditions(now)
            if still:
                raise ResetRefused("still RED now: " + "; ".join(v.reason for v in still))
            self.ctx.gate.reset(message.reason, message.operator)
        except ResetRefused as exc:
            self.audit(
                "reset_refused", reason=message.reason, operator=message.operator, why=str(exc)
            )
            return {"ok": False, "reason": str(exc)}
        self.audit("reset", reason=message.reason, operator=message.operator)
        # the operator has seen the evidence so far: the counting starts afresh
        self.rules = self.rules.afresh(now)
        self.memory.rules = self.rules
        self.cool_down = YellowCoolDown(self.config.yellow_cool_down_s)
        # what still holds (a feed silent past its YELLOW line) applies at once, not at
        # the next tick: no moment of full GREEN it would not allow
        self._assess(now)
        return {"ok": True, "breaker": self.ctx.gate.state.level.value}

    def status(self, message: StatusRequest) -> dict[str, Any]:
        state = self.ctx.gate.state
        now = mono_ms()
        return {
            "breaker": state.level.value,
            "reason": state.reason,
            "since_ms": state.since_ms,
            "firing": {
                name: {"level": v.level.value, "reason": v.reason}
                for name, v in self.rules.firing.items()
            },
            "yellow_causes": self.cool_down.active(now),
            "yellow_limits": {
                "max_orders_per_minute": self.limits.max_orders_per_minute,
                "reduce_only": self.limits.reduce_only,
                "pause_on": sorted(self.limits.pause_on),
            },
            "measures": self.rules.measures(now),
        }


class InfrastructureProbe:
    """Cheap samples of this process and its machine: resident memory, CPU, free disk where
    the data directory (journal, audit trail) lives, and the longest actor inbox."""

    def __init__(self, data_dir: Path, directory: Any) -> None:
        self.data_dir = data_dir
        self.directory = directory
        self._cpu = (time.monotonic(), _cpu_seconds())

    def sample(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        rss = _rss_mb()
        if rss is not None:
            out["memory_mb"] = rss
        wall, cpu = time.monotonic(), _cpu_seconds()
        before_wall, before_cpu = self._cpu
        self._cpu = (wall, cpu)
        if wall > before_wall:
            out["cpu_pct"] = Decimal(round((cpu - before_cpu) / (wall - before_wall) * 100, 1))
        try:
            free = shutil.disk_usage(self.data_dir).free
            out["disk_free_mb"] = Decimal(free // (1024 * 1024))
        except OSError:
            pass
        backlog = 0
        for name in self.directory.names():
            ref = self.directory.ref(name)
            inbox = getattr(ref, "actor_inbox", None)
            size = getattr(inbox, "qsize", None)
            if size is not None:
                backlog = max(backlog, int(size()))
        out["inbox_backlog"] = Decimal(backlog)
        return out


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _rss_mb() -> Decimal | None:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return Decimal(pages * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024))
