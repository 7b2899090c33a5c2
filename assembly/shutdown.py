"""The graceful stop of a ``VigilSystem``: no new intents, cancel open orders when safe,
stop the timers, notifications, gateway, control API and actors, flush and close every
store, remove this process's control files, release the lock — each step in its own guard,
so one that fails is reported and the rest still run."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import pykka
from loguru import logger

from assembly.instance import remove_own_control_files
from runtime.clock import now_ms
from runtime.messages import CancelAll, PollNow

if TYPE_CHECKING:
    from assembly.system import VigilSystem


def stop(system: VigilSystem, *, cancel_open: bool, timeout: float) -> list[str]:
    """The steps of ``VigilSystem.stop`` (which see); returns the failed ones."""
    system.accepting = False
    failures = system.stop_failures

    def step(phase: str, action: Any) -> None:
        system.stop_phase = phase
        try:
            action()
        except Exception as exc:  # shutdown goes on; what failed is reported
            logger.error("shutdown: {} failed: {}: {}", phase, type(exc).__name__, exc)
            failures.append(f"{phase}: {type(exc).__name__}: {exc}")

    if system.demo is not None:
        step("stopping the demo order source", system.demo.stop)
    if cancel_open and hasattr(system, "directory"):
        step("cancelling open orders", lambda: cancel_open_orders(system, timeout))
    if hasattr(system, "timers"):
        step("stopping the timers", system.timers.stop)
    if hasattr(system, "notifier"):  # at most notify.shutdown_s; the rest is audited
        step("stopping the notifications", system.notifier.stop)
    if hasattr(system, "directory"):
        step("flushing the audit trail", system._flush_audit)
    if system.gateway is not None:
        step("stopping the strategy gateway", system.gateway.stop)
    if system.control is not None:
        step("stopping the control API", system.control.stop)
    if hasattr(system, "supervisor"):
        step("stopping the actors", system.supervisor.stop)
    if hasattr(system, "adapter"):
        step("closing the exchange connections", system.adapter.close)
    if hasattr(system, "trace"):
        step("closing the message trace", system.trace.close)
    if system._own_simulator and system.simulator is not None:
        step("stopping the embedded simulator", system.simulator.stop)
    if hasattr(system, "store"):  # written last: everything before it is flushed and closed
        step("writing the clean-stop mark", lambda: system.store.end_run(now_ms()))
    for durable, what in (
        ("journal", "closing the intent journal"),
        ("trail", "closing the audit trail"),
        ("store", "closing the store"),
    ):
        if hasattr(system, durable):
            step(what, getattr(system, durable).close)
    if system.instance is not None:  # only a process that held the lock wrote any
        step(
            "removing the control files",
            lambda: remove_own_control_files(system.data_dir, os.getpid()),
        )
        step("releasing the data directory's lock", system.instance.release)
    system.stop_phase = "stopped"
    return list(failures)


def cancel_open_orders(system: VigilSystem, timeout: float) -> None:
    """Cancel-all through the broker, then poll until none is open (or ``timeout``)."""
    try:
        sent = system.ask("order_broker", CancelAll(reason="shutdown"))
    except (pykka.Timeout, pykka.ActorDeadError):
        logger.error("shutdown: the broker did not take the cancel-all")
        return
    if not sent:
        return
    system.stop_phase = f"cancelling open orders ({sent} left)"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            system.directory.tell("rest_poller", PollNow(), sender="system")
            left = system.status().get("orders", {}).get("open", 1)
            system.stop_phase = f"cancelling open orders ({left} left)"
            if left == 0:
                return
        except Exception:  # status is best effort during shutdown
            pass
        time.sleep(0.2)
    logger.warning("shutdown: open orders may remain; see GET /_sim/state or the exchange")
