"""The status of one Vigil process, as ``GET /v1/status`` and ``run.py status`` show it:
the breaker, whether trading is allowed, the reconciliation, the actors, the streams and
the book's figures, and the process's own (inboxes, journal, audit trail, exchange weight)
that the metrics (``control.metrics``) expose too."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import pykka

from domain.breaker import Level
from runtime.messages import StatusRequest

if TYPE_CHECKING:
    from assembly.system import VigilSystem

OPEN_STATES = ("NEW", "PARTIALLY_FILLED", "PENDING_NEW", "UNKNOWN")


def trading(system: VigilSystem) -> str:
    """Whether new orders may go, as the order path decides it: the gate's refusal, or
    YELLOW's pause while one of its pausing causes is active, else "allowed" (YELLOW's
    other limits are per order)."""
    refusal = system.gate.refusal()
    if refusal is not None:
        return refusal
    board = system.breaker_memory.board
    paused = sorted(c for c in board.causes if c in board.limits.pause_on)
    if system.gate.state.level is Level.YELLOW and paused:
        return f"YELLOW: trading paused ({', '.join(paused)})"
    return "allowed"


def status(system: VigilSystem) -> dict[str, Any]:
    gate = system.gate
    state = gate.state
    out: dict[str, Any] = {
        "breaker": state.level.value,
        "reason": state.reason,
        "since_ms": state.since_ms,
        "trading": trading(system),
        "reconciliation": {
            "result": gate.last_result,
            "at_ms": gate.last_result_ms,
            "last_healthy_ms": gate.last_healthy_ms,
        },
        "actors": system.supervisor.alive(),
        "restarts": system.supervisor.restarts(),
        "streams": dict(system.stream_health),
        "malformed_payloads": system.adapter.malformed_count,
        "pid": os.getpid(),
    }
    try:
        book = system.ask("order_broker", StatusRequest())
        orders = book["orders"].values()
        compacted = book.get("compacted_orders", 0)
        out["orders"] = {
            "total": len(book["orders"]) + compacted,
            "compacted": compacted,  # closed for good, out of the book's order list
            "open": sum(1 for o in orders if o["state"] in OPEN_STATES),
            "filled": sum(1 for o in orders if o["state"] == "FILLED"),
            "unknown": sum(1 for o in orders if o["state"] == "UNKNOWN"),
        }
        out["orders_open_under_red"] = book["orders_open_under_red"]
        for key in ("fills", "fills_by_symbol", "balances", "counters", "execution", "risk"):
            out[key] = book[key]
    except (pykka.Timeout, pykka.ActorDeadError) as exc:
        out["book_error"] = f"{type(exc).__name__}"
    out.update(process_figures(system))
    return out


def process_figures(system: VigilSystem) -> dict[str, Any]:
    """The process's own figures: the reconciliation's age, the actors' inbox depths, the
    journal, the audit trail's durability lag and the exchange's request weight."""
    gate, now = system.gate, time.time()
    last = gate.last_result_ms / 1000 if gate.last_result_ms is not None else system.started_at
    inboxes = {}
    for name in system.directory.names():
        size = getattr(getattr(system.directory.ref(name), "actor_inbox", None), "qsize", None)
        if size is not None:
            inboxes[name] = int(size())
    limits = system.adapter.limits
    return {
        # seconds since the last reconciliation result (since the start, before the first)
        "reconciliation_age_s": round(max(0.0, now - last), 3),
        "inboxes": inboxes,
        "journal": {"entries": system.journal.last_seq, "pending": system.journal.pending},
        "audit": {"pending": system.trail.pending, "lag_s": round(audit_lag(system, now), 3)},
        "exchange_weight": {
            "used_1m": limits.used_weight_1m,
            "limit_1m": limits.weight_limit_1m,
        },
    }


def audit_lag(system: VigilSystem, now: float) -> float:
    """Seconds since the oldest audit record that is not durable yet was written (0 when
    every record is on disk)."""
    oldest = system.trail.oldest_pending_at()
    return 0.0 if oldest is None else max(0.0, now - oldest)
