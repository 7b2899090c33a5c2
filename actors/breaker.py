"""breaker: GREEN / YELLOW / RED and the rules that move it; the RED latch lives in the gate.

Inputs: reconciliation results, evidence from every subsystem (``BreakerInput``), stream
health, operator halts and resets. RED is latched and durable (``TradingGate``); only an
operator's ``ResetRequest`` with a reason, after a fresh HEALTHY reconciliation, clears it.
"""

from __future__ import annotations

from typing import Any

from actors.messages import (
    BreakerInput,
    Halt,
    ReconciliationDone,
    ResetRequest,
    StatusRequest,
    StreamHealth,
)
from domain.breaker import ResetRefused
from supervision.actor import VigilActor


class Breaker(VigilActor):
    name = "breaker"
    handlers = {
        BreakerInput: "on_input",
        ReconciliationDone: "on_reconciliation",
        Halt: "on_halt",
        ResetRequest: "on_reset",
        StreamHealth: "on_stream",
        StatusRequest: "status",
    }

    def started(self) -> None:
        self.failed_cycles = 0
        self.max_failed_cycles = int(self.ctx.service("settings").reconciliation.max_age_intervals)

    def _red(self, reason: str, source: str) -> None:
        if self.ctx.gate.trip_red(reason, source):
            self.audit("breaker_red", reason=reason, source=source)

    def on_input(self, message: BreakerInput) -> None:
        self.audit(
            "breaker_input", input=message.kind, severity=message.severity, detail=message.detail
        )
        if message.severity == "RED":
            self._red(f"{message.kind}: {message.detail}", message.sender or "breaker")
        elif message.severity == "YELLOW":
            if self.ctx.gate.set_yellow(f"{message.kind}: {message.detail}", message.sender):
                self.audit("breaker_yellow", input=message.kind, detail=message.detail)

    def on_reconciliation(self, message: ReconciliationDone) -> None:
        if message.result == "FAILED":
            self.failed_cycles += 1
            if self.failed_cycles >= self.max_failed_cycles:
                self._red(
                    f"reconciliation could not complete {self.failed_cycles} times in a row",
                    "reconciler",
                )
            return
        self.failed_cycles = 0
        if message.result == "CRITICAL":
            kinds = sorted(
                {f.get("kind", "?") for f in message.findings if f.get("severity") == "CRITICAL"}
            )
            first = next((f for f in message.findings if f.get("severity") == "CRITICAL"), {})
            self._red(
                f"reconciliation CRITICAL ({', '.join(kinds)}): {first.get('detail', '')}",
                "reconciler",
            )

    def on_halt(self, message: Halt) -> None:
        self.audit("halt", reason=message.reason, source=message.source)
        self._red(message.reason, message.source)

    def on_reset(self, message: ResetRequest) -> dict[str, Any]:
        try:
            state = self.ctx.gate.reset(message.reason, message.operator)
        except ResetRefused as exc:
            self.audit(
                "reset_refused", reason=message.reason, operator=message.operator, why=str(exc)
            )
            return {"ok": False, "reason": str(exc)}
        self.audit("reset", reason=message.reason, operator=message.operator)
        return {"ok": True, "breaker": state.level.value}

    def on_stream(self, message: StreamHealth) -> None:
        status = message.status
        self.audit("stream", stream=status.stream, state=status.state.value, reason=status.reason)

    def status(self, message: StatusRequest) -> dict[str, Any]:
        state = self.ctx.gate.state
        return {"breaker": state.level.value, "reason": state.reason, "since_ms": state.since_ms}
