"""reconciler: every N seconds, the internal book against the exchange's state.

A cycle fetches the exchange's balances, open orders and trades since the opening (per
symbol, from a watermark below which everything is confirmed), asks the broker for its
book, and runs ``domain.reconciliation.reconcile``. The result goes to the gate (the
evidence trading needs) and the breaker (CRITICAL → RED). A CRITICAL result writes an
incident folder: both states as JSON, the findings, and a readable report. A cycle that
cannot complete reports FAILED (a breaker input).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pykka

from domain.breaker_rules import EvidenceKind
from domain.instance import other_instance
from domain.reconciliation import (
    ExchangeOrder,
    ExchangeSnapshot,
    ExchangeTrade,
    ListView,
    Result,
    Severity,
    Tolerances,
    reconcile,
)
from exchange.contract import ExchangeError, backing_off
from runtime.actor import VigilActor
from runtime.clock import mono_ms, now_ms
from runtime.crashpoints import crash_point
from runtime.incidents import exchange_state, internal_state, open_incident, update_incident
from runtime.messages import (
    BookSnapshotRequest,
    BreakerInput,
    ReconcileNow,
    ReconciliationDone,
    StatusRequest,
)
from storage import StoreError


@dataclass
class ReconcilerMemory:
    """What the reconciler keeps across restarts: when each difference was first seen (its
    grace runs from there), the trade marks, and the last cycle's result."""

    first_seen: dict[str, int] = field(default_factory=dict)
    trade_marks: dict[str, int] = field(default_factory=dict)
    last: dict[str, Any] | None = None
    cycles: int = 0  # cycles started: every ``account_wide_every``th looks at every symbol
    incident: OpenIncident | None = None  # the CRITICAL incident still going on


@dataclass
class OpenIncident:
    """A reconciliation incident that has not ended: CRITICAL cycles with no new finding
    update it (``keys``: every finding it opened with). A CRITICAL finding trips RED, and
    RED clears only by an operator's reset: a breaker that is not RED and changed after the
    incident opened was reset since, and the next CRITICAL is a new incident."""

    folder: Path
    incident_id: int
    keys: frozenset[str]
    first_ms: int
    last_seen_ms: int
    cycles: int = 1


class Reconciler(VigilActor):
    """Cycles run one at a time on the actor's worker thread; the actor stays responsive."""

    name = "reconciler"
    memory: ReconcilerMemory
    handlers = {ReconcileNow: "run", StatusRequest: "status"}

    def started(self) -> None:
        self.settings = self.ctx.services.settings
        self.adapter = self.ctx.services.adapter
        self.cycle_started_ms = now_ms()
        self.cycle_started_mono = mono_ms()
        r = self.settings.reconciliation
        self.overdue_s = 3 * r.interval_s
        self.tolerances = Tolerances(
            epsilon=r.epsilon,
            grace_ms=int(r.grace_s * 1000),
            balance_grace_ms=int(r.balance_grace_s * 1000),
            unsettled_grace_ms=int(r.unsettled_grace_s * 1000),
            unknown_grace_ms=int((self.settings.broker.unknown_window_s + r.grace_s) * 1000),
        )

    def run(self, message: ReconcileNow) -> bool:
        """Start a cycle on the worker thread (skipped while the previous one still runs)."""
        started = self.in_background(self.cycle)
        if not started and self.busy_for > self.overdue_s:
            self._done("FAILED", (), detail=f"a cycle has been running for {self.busy_for:.1f}s")
        return started

    def cycle(self) -> str:
        """One reconciliation cycle (worker thread), timed (the cycle histogram)."""
        began = time.monotonic()
        try:
            return self._cycle()
        finally:
            self.ctx.services.timings.reconciliation_cycle.observe(time.monotonic() - began)

    def _cycle(self) -> str:
        """One reconciliation cycle: fetch, compare, report."""
        timeout = self.settings.supervision.ask_timeout_s * 3
        # the evidence is as old as its oldest read: a cycle that began before a RED trip
        # must not count as "a HEALTHY reconciliation after the trip"
        self.cycle_started_ms = now_ms()
        self.cycle_started_mono = mono_ms()
        try:  # journal.db deleted or replaced under us: reported (RED, an incident) by it
            self.ctx.services.journal.check_identity()
        except StoreError:
            pass  # the book is still compared with the exchange
        try:
            marks = dict(self.memory.trade_marks)
            before = self.ask("order_broker", BookSnapshotRequest(trade_marks=marks), timeout)
            exchange = self._exchange_snapshot(
                before["trade_floor"], bool(before["internal"].order_lists)
            )
            crash_point("during_reconciliation")
            after = self.ask("order_broker", BookSnapshotRequest(trade_marks=marks), timeout)
        except (ExchangeError, pykka.Timeout, pykka.ActorDeadError) as exc:
            self._done(
                "FAILED", (), detail=f"{type(exc).__name__}: {exc}", held_back=backing_off(exc)
            )
            return "FAILED"
        # The exchange was read between two views of the book; events that landed in
        # between make one of them match it. The better match counts (never hides a
        # difference that both views show).
        at, seen, tol = now_ms(), self.memory.first_seen, self.tolerances
        moving = changed_assets(before["internal"], after["internal"])
        candidates = [
            (
                reconcile(snap["internal"], exchange, at, tol, seen, moving_assets=moving),
                snap["internal"],
            )
            for snap in (before, after)
        ]
        result, internal = min(
            candidates, key=lambda c: (SEVERITY_RANK[c[0].severity], len(c[0].findings))
        )
        self.memory.first_seen = result.first_seen
        self._advance_marks(exchange, internal.trades)
        findings = tuple(f.as_dict() for f in result.findings)
        self._other_instances(internal, exchange)
        if result.severity is Severity.CRITICAL:
            self._incident(result, internal, exchange)
        self._done(result.severity.value, findings)
        return result.severity.value

    def _exchange_snapshot(self, floors: dict[str, int], book_lists: bool) -> ExchangeSnapshot:
        """The exchange's side of a cycle. Open order lists are read (weight 6) only when
        the book holds an open list or an open order on the exchange belongs to one: a
        foreign list's orders are open orders too, so it is never missed, and a cycle
        without lists keeps its weight for the reads every cycle needs."""
        balances = self.adapter.get_balances()
        symbols = self.settings.exchange.symbols
        every = self.settings.reconciliation.account_wide_every
        account_wide = self.memory.cycles % every == 0  # the first cycle too
        self.memory.cycles += 1
        if account_wide:  # any symbol: an order of ours or anyone's where we do not trade
            open_orders = self.adapter.get_open_orders(None)  # weight 80
        else:  # per symbol: weight 6 each
            open_orders = [o for s in symbols for o in self.adapter.get_open_orders(s)]
        trades: list[ExchangeTrade] = []
        marks = self.memory.trade_marks
        for symbol in self.settings.exchange.symbols:
            floor = max(floors.get(symbol, 0), marks.get(symbol, 0))
            for t in self.adapter.get_trades(symbol, from_id=floor + 1):
                trades.append(ExchangeTrade(t.symbol, t.trade_id, t.order_id))
        read_lists = book_lists or any(o.order_list_id is not None for o in open_orders)
        lists = self.adapter.get_open_order_lists() if read_lists else []  # weight 6
        return ExchangeSnapshot(
            balances={a: (b.free, b.locked) for a, b in balances.items()},
            open_orders=tuple(
                ExchangeOrder(
                    o.client_order_id, o.symbol, o.order_id, o.state.value, o.executed_qty
                )
                for o in open_orders
            ),
            trades=tuple(trades),
            open_lists=tuple(
                ListView(
                    ol.list_client_order_id,
                    ol.symbol,
                    ol.order_list_id,
                    tuple(o.client_order_id for o in ol.orders),
                )
                for ol in lists
            ),
        )

    def _advance_marks(self, exchange: ExchangeSnapshot, known: frozenset[tuple[str, int]]) -> None:
        """Below the mark every trade is confirmed: later cycles fetch only what is newer."""
        marks = self.memory.trade_marks
        by_symbol: dict[str, list[int]] = {}
        for t in exchange.trades:
            by_symbol.setdefault(t.symbol, []).append(t.trade_id)
        for symbol, ids in by_symbol.items():
            for trade_id in sorted(ids):
                if (symbol, trade_id) not in known:
                    break
                marks[symbol] = trade_id

    def _done(
        self,
        result: str,
        findings: tuple[dict[str, str], ...],
        detail: str = "",
        held_back: bool = False,
    ) -> None:
        at = now_ms()
        self.ctx.gate.record_reconciliation(result, self.cycle_started_ms, self.cycle_started_mono)
        self.memory.last = {
            "result": result,
            "at_ms": at,
            "findings": list(findings),
            "detail": detail,
        }
        self.tell(
            "breaker",
            ReconciliationDone(result=result, findings=findings, at_ms=at, held_back=held_back),
        )
        if result != "HEALTHY":
            self.audit("reconciliation", result=result, findings=list(findings), detail=detail)

    def _other_instances(self, internal: Any, exchange: ExchangeSnapshot) -> None:
        """An open order the book never placed whose client order id carries another Vigil
        instance's tag: two Vigils trade this account (the reason said before the CRITICAL
        it also is, so that RED names it)."""
        ours = self.ctx.services.instance
        for o in exchange.open_orders:
            other = other_instance(o.client_order_id, ours)
            if other is not None and o.client_order_id not in internal.orders:
                self.tell(
                    "breaker",
                    BreakerInput(
                        kind=EvidenceKind.ANOTHER_INSTANCE,
                        detail=f"another Vigil (instance {other}) trades this exchange "
                        f"account: {o.symbol} #{o.order_id} ({o.client_order_id})",
                    ),
                )

    def _incident(self, result: Result, internal: Any, exchange: ExchangeSnapshot) -> Path:
        """Freeze the evidence: both states, the findings, a readable report with traces —
        once per incident: while the same findings persist, the open one is updated."""
        critical = [f for f in result.findings if f.severity is Severity.CRITICAL]
        critical_keys = frozenset(f.key for f in critical)
        breaker = self.ctx.gate.state
        store = self.ctx.services.store
        reason = critical[0].detail if critical else ""
        report: dict[str, Any] = {
            "kind": "reconciliation",
            "result": result.severity.value,
            "at_ms": result.at_ms,
            "findings": [f.as_dict() for f in result.findings],
        }
        going_on = self.memory.incident
        reset_since = (
            going_on is not None and not breaker.is_red and breaker.since_ms > going_on.first_ms
        )
        if going_on is not None and critical_keys <= going_on.keys and not reset_since:
            going_on.cycles += 1
            going_on.last_seen_ms = result.at_ms
            report.update(
                at_ms=going_on.first_ms,
                first_seen_ms=going_on.first_ms,
                last_seen_ms=result.at_ms,
                cycles=going_on.cycles,
            )
            update_incident(going_on.folder, store, going_on.incident_id, reason, report)
            return going_on.folder
        lines = [f"Reconciliation CRITICAL at {result.at_ms} ms", ""]
        for f in critical:
            lines += [
                f"- {f.kind}: {f.detail}",
                f"    book:     {f.internal}",
                f"    exchange: {f.exchange}",
            ]
        lines += [
            "",
            "While these findings persist, report.json is updated (cycles, last_seen_ms).",
        ]
        affected = {k.split(":", 1)[1] for f in result.findings for k in [f.key] if ":" in k}
        report.update(first_seen_ms=result.at_ms, last_seen_ms=result.at_ms, cycles=1)
        folder, incident_id = open_incident(
            self.ctx.services.data_dir,
            store,
            kind="reconciliation",
            at_ms=result.at_ms,
            reason=reason,
            state={"internal": internal_state(internal), "exchange": exchange_state(exchange)},
            report=report,
            lines=lines,
            orders={cid for cid in affected if cid in internal.orders},
        )
        # every finding it opened with, WARNINGs too: a difference still in its grace that
        # turns CRITICAL (the balance a ghost order locks) is part of this incident
        keys = frozenset(f.key for f in result.findings)
        self.memory.incident = OpenIncident(folder, incident_id, keys, result.at_ms, result.at_ms)
        return folder

    def status(self, message: StatusRequest) -> dict[str, Any]:
        return {"last": self.memory.last}


def changed_assets(before: Any, after: Any) -> frozenset[str]:
    """Assets whose total or lock changed in the book while the exchange was being read."""
    assets = set(before.totals) | set(after.totals) | set(before.locked) | set(after.locked)
    return frozenset(
        a
        for a in assets
        if before.totals.get(a) != after.totals.get(a)
        or before.locked.get(a) != after.locked.get(a)
    )


SEVERITY_RANK = {Severity.HEALTHY: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
