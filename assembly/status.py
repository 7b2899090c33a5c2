"""The status of one Vigil process, as ``GET /v1/status`` and ``run.py status`` show it:
the breaker, whether trading is allowed, the reconciliation, the actors, the streams and
the book's figures."""

from __future__ import annotations

import os
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
        out["orders"] = {
            "total": len(book["orders"]),
            "open": sum(1 for o in orders if o["state"] in OPEN_STATES),
            "filled": sum(1 for o in orders if o["state"] == "FILLED"),
            "unknown": sum(1 for o in orders if o["state"] == "UNKNOWN"),
        }
        out["orders_open_under_red"] = book["orders_open_under_red"]
        for key in ("fills", "balances", "counters", "execution", "risk"):
            out[key] = book[key]
    except (pykka.Timeout, pykka.ActorDeadError) as exc:
        out["book_error"] = f"{type(exc).__name__}"
    return out
