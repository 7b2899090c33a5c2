"""The supervisor: child specs, start order, liveness, restarts, escalation to RED.

Modelled on Erlang/OTP's supervisor: a table of child specs started in order and stopped
in reverse order, the one_for_one strategy, and a restart intensity (at most
``max_restarts`` restarts in ``max_seconds``; past it the supervisor stops restarting and
trading stays RED). Vigil adds one rule: **every failure trips RED first**, before the
restart, and writes an incident.

Failures are detected three ways: a crash report from the actor itself (any exception in
a handler, ask or tell, or in ``on_start``), liveness (the actor stopped without the
supervisor asking), and a heartbeat ask that misses its deadline (a hung actor). A hung
actor's thread cannot be killed in Python: it is fenced (the directory points at its
replacement, and the gate is RED) and told to stop when it wakes.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka
from loguru import logger

from runtime.actor import ActorContext, Services, VigilActor
from runtime.clock import now_ms
from runtime.directory import Directory
from runtime.gate import TradingGate
from runtime.messages import AuditEvent, Heartbeat
from runtime.trace import MessageTrace
from storage import Store, StoreError


@dataclass(frozen=True)
class ChildSpec:
    """One supervised actor: its name, its class, how to restart it, and its memory — what
    the role keeps across restarts, owned here and handed to each of its instances (and to
    no other actor)."""

    name: str
    actor_class: type[VigilActor]
    restart: str = "permanent"  # permanent | temporary
    shutdown_timeout: float = 3.0
    hang_timeout: float | None = None  # longer than its slowest legitimate handler
    memory: Any = None


@dataclass
class Child:
    spec: ChildSpec
    ref: pykka.ActorRef[Any] | None = None
    generation: int = 0
    restarts: int = 0
    given_up: bool = False


@dataclass(frozen=True)
class Failure:
    name: str
    generation: int
    kind: str  # crash | dead | hung
    detail: str
    at: float


class Supervisor:
    def __init__(
        self,
        specs: list[ChildSpec],
        *,
        directory: Directory,
        trace: MessageTrace,
        services: Services,
        gate: TradingGate,
        store: Store,
        heartbeat_interval: float = 0.5,
        hang_timeout: float = 1.0,
        max_restarts: int = 3,
        max_seconds: float = 60.0,
        on_failure: Callable[[Failure], None] | None = None,
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate child names in {names}")
        self.children: dict[str, Child] = {s.name: Child(s) for s in specs}
        self.ctx = ActorContext(directory, gate, trace, services, self.report_crash)
        self.gate = gate
        self.store = store
        self.heartbeat_interval = heartbeat_interval
        self.hang_timeout = hang_timeout
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self._restart_times: deque[float] = deque()
        self._failures: queue.Queue[Failure | None] = queue.Queue()
        self._stopping = threading.Event()
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._on_failure = on_failure
        self.failures: list[Failure] = []

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start every child in spec order, then the monitor."""
        for child in self.children.values():
            self._start_child(child)
        self._thread = threading.Thread(target=self._monitor, name="supervisor", daemon=True)
        self._thread.start()

    def _start_child(self, child: Child) -> None:
        child.generation += 1
        ref = child.spec.actor_class.start(self.ctx, child.generation, child.spec.memory)
        child.ref = ref
        self.ctx.directory.register(child.spec.name, ref)

    def stop(self) -> None:
        """Stop the monitor, then every child in reverse start order."""
        self._stopping.set()
        self._failures.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)
        for child in reversed(list(self.children.values())):
            ref = child.ref
            if ref is None:
                continue
            try:
                ref.stop(block=True, timeout=child.spec.shutdown_timeout)
            except (pykka.Timeout, pykka.ActorDeadError):
                logger.warning("supervisor: {} did not stop in time", child.spec.name)
            self.ctx.directory.unregister(child.spec.name, ref)

    @property
    def monitor_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def restart_monitor(self) -> None:
        """The main thread's remedy if the monitor itself died (after tripping RED)."""
        with self._lock:  # the main thread and the timer thread may both find it dead
            if self.monitor_alive or self._stopping.is_set():
                return
            self._thread = threading.Thread(target=self._monitor, name="supervisor", daemon=True)
            self._thread.start()

    def alive(self) -> dict[str, bool]:
        with self._lock:
            return {
                name: child.ref is not None and child.ref.is_alive() and not child.given_up
                for name, child in self.children.items()
            }

    def restarts(self) -> dict[str, int]:
        return {name: child.restarts for name, child in self.children.items()}

    # ---------------------------------------------------------------- detection

    def report_crash(self, name: str, generation: int, where: str, detail: str) -> None:
        """Called from a crashing actor's own thread; never blocks."""
        self._failures.put(Failure(name, generation, "crash", f"{where}: {detail}", time.time()))

    def _monitor(self) -> None:
        next_check = time.monotonic()
        while not self._stopping.is_set():
            timeout = max(0.0, next_check - time.monotonic())
            try:
                failure = self._failures.get(timeout=timeout)
            except queue.Empty:
                failure = None
            if self._stopping.is_set():
                return
            if failure is not None:
                self._handle(failure)
                continue
            for found in self._check_children():
                self._handle(found)
            next_check = time.monotonic() + self.heartbeat_interval

    def _check_children(self) -> list[Failure]:
        """Liveness and heartbeats: one ask per live child, all waited on together."""
        found: list[Failure] = []
        pending: list[tuple[Child, int, pykka.Future[Any]]] = []
        with self._lock:
            children = [c for c in self.children.values() if c.ref is not None and not c.given_up]
        for child in children:
            ref = child.ref
            assert ref is not None
            if not ref.is_alive():
                found.append(
                    Failure(child.spec.name, child.generation, "dead", "actor stopped", time.time())
                )
                continue
            try:
                pending.append(
                    (child, child.generation, ref.ask(Heartbeat(sender="supervisor"), block=False))
                )
            except pykka.ActorDeadError:
                found.append(
                    Failure(child.spec.name, child.generation, "dead", "actor stopped", time.time())
                )
        start = time.monotonic()
        for child, generation, future in pending:
            limit = child.spec.hang_timeout or self.hang_timeout
            try:
                future.get(timeout=max(0.0, start + limit - time.monotonic()))
            except pykka.Timeout:
                detail = f"no heartbeat answer within {limit:.2f}s"
                found.append(Failure(child.spec.name, generation, "hung", detail, time.time()))
            except pykka.ActorDeadError:
                found.append(
                    Failure(child.spec.name, generation, "dead", "actor stopped", time.time())
                )
            except Exception:  # the heartbeat itself failed: a crash already reported
                continue
        return found

    # ---------------------------------------------------------------- reaction

    def _handle(self, failure: Failure) -> None:
        with self._lock:
            if self._stopping.is_set():
                return  # shutting down: children stop on purpose, nothing is restarted
            child = self.children.get(failure.name)
            if child is None or failure.generation != child.generation or child.given_up:
                return  # stale report about an instance already replaced
            reason = f"actor {failure.name} {failure.kind}: {failure.detail}"
            # 1. RED first: from this instant the gate refuses every order.
            try:
                self.gate.trip_red(reason, "supervisor")
            except StoreError as exc:
                logger.error("supervisor: RED is in memory but not durable: {}", exc)
            self.failures.append(failure)
            logger.error("supervisor: {}", reason)
            # 2. the incident and the audit record
            restart = self._may_restart(child)
            detail = {
                "actor": failure.name,
                "kind": failure.kind,
                "detail": failure.detail,
                "generation": failure.generation,
                "restart": restart,
                "restarts_so_far": child.restarts,
            }
            try:
                self.store.add_incident(now_ms(), f"actor_{failure.kind}", reason, detail)
            except StoreError as exc:
                logger.error("supervisor: incident not recorded: {}", exc)
            self.ctx.directory.tell(
                "audit_logger", AuditEvent(kind="actor_failure", data=detail), sender="supervisor"
            )
            # 3. restart (one_for_one) or give up
            old = child.ref
            self.ctx.directory.unregister(failure.name, old)
            if old is not None:
                try:
                    old.stop(block=False)  # a hung instance stops whenever it wakes
                except pykka.ActorDeadError:
                    pass
            if restart:
                child.restarts += 1
                self._restart_times.append(time.monotonic())
                try:
                    self._start_child(child)
                except Exception as exc:  # a failing start is one more failure
                    logger.error("supervisor: restart of {} failed: {}", failure.name, exc)
            else:
                child.given_up = True
                child.ref = None
                logger.critical(
                    "supervisor: restart intensity exceeded for {}; staying RED", failure.name
                )
        if self._on_failure is not None:
            self._on_failure(failure)

    def _may_restart(self, child: Child) -> bool:
        if child.spec.restart == "temporary":
            return False
        now = time.monotonic()
        while self._restart_times and now - self._restart_times[0] > self.max_seconds:
            self._restart_times.popleft()
        return len(self._restart_times) < self.max_restarts
