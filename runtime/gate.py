"""The trading gate: the one place that says whether an order may go to the exchange.

It holds the breaker state (with the durable RED latch) and the readiness evidence the
architecture requires: a HEALTHY reconciliation at start-up and recently. Every path that
trips RED (breaker rules, the supervisor on a crash, an operator) calls ``trip_red``
here; it is persisted before the call returns, and from that instant ``refusal()`` refuses,
whatever is still queued in any inbox. Thread-safe; no I/O but the store write.

How recent the reconciliation evidence is, and whether it came after a trip, is judged on
the monotonic clock (wall time only stamps the durable latch and the status): a step of
the wall clock must not make old evidence look fresh, nor a cycle from before the trip
look like one after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from loguru import logger

from domain.breaker import (
    BreakerState,
    Level,
    clear_yellow,
    reset_red,
    set_yellow,
    trip_red,
)
from runtime.clock import mono_ms, now_ms
from storage import Store

Listener = Callable[[BreakerState], None]
PUBLISH_WAIT_S = 5.0
Transition = Callable[[BreakerState], BreakerState]


class TradingGate:
    def __init__(self, store: Store, *, reconciliation_max_age_s: float) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._state = store.load_breaker() or BreakerState(since_ms=now_ms())
        self._listeners: list[Listener] = []
        self._tickets = 0  # changes made (under _lock) ...
        self._serving = 0  # ... and published, in that order (under _turn)
        self._turn = threading.Condition()
        self._max_age_ms = int(reconciliation_max_age_s * 1000)
        self._sending: set[str] = set()
        self.sending_at_red: frozenset[str] = frozenset()  # sends already on the wire at the trip
        self.last_healthy_ms: int | None = None
        self.last_result: str | None = None
        self.last_result_ms: int | None = None
        # when the last HEALTHY cycle, and the last HEALTHY or WARNING one (differences
        # within grace), began, on the monotonic clock; RED loaded from the store was
        # tripped before this process started, so any cycle of this process began after it
        self._healthy_mono: int | None = None
        self._ok_mono: int | None = None
        self._red_mono: int | None = mono_ms() if self._state.is_red else None

    @property
    def state(self) -> BreakerState:
        return self._state

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def _set(self, transition: Transition, *, leave_red: bool = False) -> BreakerState | None:
        """Work out the new state from the current one under the lock, apply, persist,
        publish: two threads' changes cannot interleave (a YELLOW computed before a trip
        must not land after it and clear RED). Only an operator's reset (``leave_red``) may
        move away from RED. Toward RED the state changes in memory first (refusing at once,
        fail closed) and is durable before the call returns; away from RED it is durable
        first. Callers hold no lock. Returns the new state, or None when nothing changed."""
        with self._lock:
            old = self._state
            new = transition(old)
            if new == old or (old.is_red and not new.is_red and not leave_red):
                return None
            if new.is_red:
                if not old.is_red:
                    self.sending_at_red = frozenset(self._sending)
                    self._red_mono = mono_ms()
                self._state = new
            self._store.save_breaker(new)  # raises StoreError: RED stays in memory anyway
            self._state = new
            listeners = list(self._listeners)
            ticket = self._tickets
            self._tickets += 1
        # listeners hear the changes in the order they were made (the audit trail's
        # breaker_state records must not show a RED before the YELLOW that preceded it);
        # a listener stuck past PUBLISH_WAIT_S (a stalled disk) does not hold up the rest
        with self._turn:
            if not self._turn.wait_for(lambda: self._serving >= ticket, PUBLISH_WAIT_S):
                logger.error("breaker change {} published out of turn", new.level.value)
        try:
            for listener in listeners:
                listener(new)
        finally:
            with self._turn:
                self._serving = max(self._serving, ticket + 1)
                self._turn.notify_all()
        return new

    def begin_send(self, client_order_id: str) -> str | None:
        """The wire's last check, atomic with every trip: None = go (call ``end_send``
        after), else the refusal. An order whose send began is in ``sending_at_red`` if
        RED trips before it finishes: it may still land, nothing after it can."""
        with self._lock:
            refusal = self.refusal()
            if refusal is None:
                self._sending.add(client_order_id)
            return refusal

    def end_send(self, client_order_id: str) -> None:
        with self._lock:
            self._sending.discard(client_order_id)

    def trip_red(self, reason: str, source: str) -> bool:
        return self._set(lambda state: trip_red(state, reason, source, now_ms())) is not None

    def set_yellow(self, reason: str, source: str) -> bool:
        return self._set(lambda state: set_yellow(state, reason, source, now_ms())) is not None

    def clear_yellow(self) -> bool:
        return self._set(lambda state: clear_yellow(state, now_ms())) is not None

    def reset(self, reason: str, operator: str) -> BreakerState:
        """Operator reset; raises ``ResetRefused`` when the rules do not allow it."""

        def transition(state: BreakerState) -> BreakerState:
            # the rules (domain.breaker.reset_red) judged on the monotonic clock: the trip,
            # the HEALTHY cycle and now, all in this process's mono_ms; the new state is
            # stamped with wall time for the durable latch
            # (_red_mono is set whenever the state is RED; were it not, only a cycle begun
            # from now on would do: fail closed)
            red = self._red_mono if self._red_mono is not None else mono_ms()
            judged = reset_red(
                replace(state, since_ms=red),
                reason=reason,
                operator=operator,
                healthy_reconciliation_ms=self._healthy_mono,
                now_ms=mono_ms(),
                max_age_ms=self._max_age_ms,
            )
            return replace(judged, since_ms=now_ms())

        return self._set(transition, leave_red=True) or self._state

    def record_reconciliation(self, result: str, at_ms: int, started_mono: int) -> None:
        """A cycle's result: ``at_ms`` (wall) and ``started_mono`` (``mono_ms()``) are when
        the cycle began: its evidence is as old as that."""
        with self._lock:
            self.last_result, self.last_result_ms = result, at_ms
            if result == "HEALTHY":
                self.last_healthy_ms, self._healthy_mono = at_ms, started_mono
            if result in ("HEALTHY", "WARNING"):
                self._ok_mono = started_mono

    def refusal(self) -> str | None:
        """Why an order may not be sent now, or None when it may (fail closed)."""
        state = self._state
        if state.level is Level.RED:
            return f"RED: {state.reason}"
        if self.last_healthy_ms is None:
            return "no HEALTHY reconciliation yet"  # start-up: the first one must be HEALTHY
        if self.last_result not in ("HEALTHY", "WARNING"):
            return f"last reconciliation was {self.last_result}"
        # afterwards, WARNING counts as evidence too: its differences are in flight and
        # within grace (past it they are CRITICAL, and CRITICAL is RED)
        if self._ok_mono is None or mono_ms() - self._ok_mono > self._max_age_ms:
            return "the last reconciliation is stale"
        return None
