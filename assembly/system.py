"""The whole Vigil process: store, gate, adapter, six supervised actors, timers, control API.

``VigilSystem.start()`` brings everything up in order — storage, the gate, the adapter and
the exchange's rules, recovery (``assembly.recovery``), the supervised actors
(``supervision.children``), the streams and the timers (``assembly.timers``), and wires
their callbacks together; ``stop()`` is the graceful shutdown (``assembly.shutdown``): no new
intents, cancel open orders when safe, flush the audit trail. The control files for the
operator's tools are ``assembly.control_files``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from loguru import logger
from pydantic import SecretStr

from actors.breaker import BreakerMemory
from actors.order_broker import BrokerMemory
from assembly import control_files, shutdown
from assembly import status as status_view
from assembly.control_files import control_paths as control_paths  # (imported from here)
from assembly.instance import InstanceLock, make_private
from assembly.notifications import Context, Notifier, watch_incidents
from assembly.recovery import previous_run, recover
from assembly.timers import Timers
from config.settings import VigilSettings, exchange_credentials, external_exchange_problem
from domain.book import DAY_MS, Market
from domain.breaker import BreakerState
from domain.breaker_rules import EvidenceKind
from domain.instance import new_tag
from domain.notification import MAX_IDS
from exchange.binance import AdapterConfig, BinanceSpotAdapter
from exchange.contract import (
    AuditRecord,
    MalformedPayload,
    RateLimitEvent,
    UnsafeApiKey,
    check_api_key,
)
from exchange.simulator import SimulatedExchange
from runtime.actor import Services
from runtime.directory import Directory
from runtime.events import EventBus, breaker_event
from runtime.gate import TradingGate
from runtime.messages import (
    AuditEvent,
    BreakerChanged,
    BreakerInput,
    Flush,
    ReconcileNow,
    StreamFrame,
)
from runtime.trace import MessageTrace
from storage import AuditTrail, Store, StoreError
from supervision.children import children
from supervision.supervisor import Failure, Supervisor


class VigilSystem:
    def __init__(
        self, settings: VigilSettings, *, simulator: SimulatedExchange | None = None
    ) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.simulator = simulator
        self._own_simulator = False
        self.accepting = False
        self._stopped = False
        self.start_phase = "starting"
        self.control: Any = None
        self.gateway: Any = None  # the strategy gateway (control.gateway), when it runs
        self.demo: Any = None
        self.started_at = time.time()
        self.instance: InstanceLock | None = None
        #: what ``stop()`` is doing now (said when an impatient operator presses Ctrl-C again)
        self.stop_phase = ""
        #: the steps of ``stop()`` that failed, each with its reason
        self.stop_failures: list[str] = []
        self.events = EventBus()  # the live view (GET /v1/events): orders, fills, breaker

    # ------------------------------------------------------------------ start

    def start(self) -> VigilSystem:
        settings = self.settings
        # one instance per data directory: locked before anything in it is opened or written
        # (raises AlreadyRunning, having written nothing), then made private
        self.start_phase = "opening the data directory"
        self.instance = InstanceLock.acquire(self.data_dir)
        make_private(self.data_dir)
        self.store = Store(self.data_dir / "vigil.db")
        self.trail = AuditTrail(
            self.data_dir / "audit.db",
            flush_interval=settings.audit.flush_interval_s,
            on_failure=self._storage_failed,
            max_pages=settings.audit.max_pages,
        )
        r = settings.reconciliation
        self.gate = TradingGate(
            self.store, reconciliation_max_age_s=r.interval_s * r.max_age_intervals
        )
        self.notifier = Notifier(
            settings.notify,
            settings.instance.name,
            audit=self._notify_audit,
            context=self._notify_context,
            summary=self._daily_figures,
            level=self.gate.state.level.value,
        ).start()
        if self.notifier.enabled:  # from here on, every breaker change and incident row
            self.gate.subscribe(self.notifier.breaker_changed)
            watch_incidents(self.store, self.notifier)
        self.trace = MessageTrace(
            self.data_dir / "trace" / "trace.jsonl",
            settings.trace.level,
            settings.trace.rotation,
            settings.trace.retention,
        )
        if settings.exchange.simulator and self.simulator is None:
            self.simulator = SimulatedExchange(settings.simulator).start()
            self._own_simulator = True
        self.adapter = BinanceSpotAdapter(
            self._adapter_config(),
            audit=self._adapter_audit,
            on_rate_limit=self._on_rate_limit,
            on_malformed=self._on_malformed,
        )
        if self.simulator is None:  # an external exchange: the key may trade spot, no more
            try:
                key = check_api_key(self.adapter, live=settings.exchange.live)
            except UnsafeApiKey as exc:
                refusal = {"reason": str(exc), "permissions": list(exc.permissions)}
                self.trail.append("key_refused", refusal, actor="system", durable=True)
                raise
            for warning in key.warnings:
                logger.warning("exchange key: {}", warning)
                self.trail.append("key_warning", {"warning": warning}, actor="system")
        self.start_phase = "reading the exchange's rules"
        filters = self._exchange_info()
        markets = {
            s: Market(s, f.base_asset, f.quote_asset)
            for s, f in filters.items()
            if s in settings.exchange.symbols
        }
        self.markets = markets
        self.start_phase = "replaying the journal"
        recovered = recover(
            self.data_dir,
            markets,
            store=self.store,
            trail=self.trail,
            gate=self.gate,
            on_failure=self._storage_failed,
        )
        self.journal = recovered.journal
        self.book: BrokerMemory = recovered.memory
        previous_run(
            self.data_dir,
            store=self.store,
            trail=self.trail,
            gate=self.gate,
            journal_tail=recovered.tail,
            on_unclean=settings.broker.on_unclean_restart,
            pid=os.getpid(),
        )
        self.recovered = {"entries": recovered.entries, "orders": recovered.orders}
        if self.gate.state.is_red:  # latched from before this start: still nobody's all-clear
            self.notifier.still_red(self.gate.state)
        self.breaker_memory = BreakerMemory()
        self.stream_health: dict[str, str] = {}
        self.directory = Directory()
        self.directory.on_dropped = self._dropped
        breaker_memory = self.breaker_memory
        services = Services(
            settings=settings,
            adapter=self.adapter,
            store=self.store,
            journal=self.journal,
            trail=self.trail,
            data_dir=self.data_dir,
            markets=markets,
            book=self.book,
            board=lambda: breaker_memory.board,
            instance=self.store.instance_tag(new_tag),
            events=self.events,
        )
        s = settings.supervision
        self.supervisor = Supervisor(
            children(settings, book=self.book, breaker=breaker_memory, streams=self.stream_health),
            directory=self.directory,
            trace=self.trace,
            services=services,
            gate=self.gate,
            store=self.store,
            heartbeat_interval=s.heartbeat_interval_s,
            hang_timeout=s.hang_timeout_s,
            max_restarts=s.max_restarts,
            max_seconds=s.max_seconds,
            on_failure=self._on_actor_failure,
        )
        self.ctx = self.supervisor.ctx
        self.gate.subscribe(self._on_breaker_change)
        self.start_phase = "starting the actors"
        self.supervisor.start()
        self.adapter.start_user_stream(self._stream_frame, self._stream_frame)
        self.adapter.start_market_stream(list(markets), self._stream_frame, self._stream_frame)
        self.timers = Timers(
            settings, self.directory, self.supervisor, self.gate, self.stream_health, self.store
        )
        self.timers.start()
        self.directory.tell("reconciler", ReconcileNow(), sender="system")
        self.accepting = True
        self.timers.watching = True
        self.audit("system_started", pid=os.getpid(), breaker=self.gate.state.level.value)
        return self

    def _adapter_config(self) -> AdapterConfig:
        ex = self.settings.exchange
        common: dict[str, Any] = {"symbols": ex.symbols, **ex.adapter_options()}
        if self.simulator is not None:
            sim = self.simulator
            return AdapterConfig(
                simulator=True,
                rest_url=sim.rest_url,
                ws_api_url=sim.ws_api_url,
                stream_url=sim.streams_url,
                api_key=SecretStr(sim.config.api_key),
                api_secret=sim.config.api_secret,
                **common,
            )
        problem = external_exchange_problem(self.settings)  # (run.py checked it first)
        if problem is not None:
            raise RuntimeError(problem)
        key, secret = exchange_credentials()
        return AdapterConfig(
            simulator=False,
            live=ex.live,
            rest_url=str(ex.rest_url),
            ws_api_url=str(ex.ws_api_url),
            stream_url=str(ex.stream_url),
            api_key=key,
            api_secret=secret,
            **common,
        )

    def _dropped(self, receiver: str, message: Any) -> None:
        now = time.time()
        self.trace.record(receiver, message, now, now, "dropped: receiver not running")

    def _storage_failed(self, reason: str) -> None:
        """The journal or the audit trail cannot be written: trading must stop."""
        logger.critical("durable storage failed: {}", reason)
        if hasattr(self, "store"):  # in red.latch: the next start is RED even if no
            self.store.note_failure(reason)  # other write of this RED succeeds
        if hasattr(self, "gate"):
            self.gate.trip_red(f"durable storage failed: {reason}", "storage")

    def _exchange_info(self) -> Any:
        deadline = time.monotonic() + 15
        while True:
            try:
                return self.adapter.exchange_info()
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cannot read the exchange's rules: {exc}") from None
                time.sleep(0.5)

    # ------------------------------------------------------------------ wiring

    def _stream_frame(self, event: Any) -> None:
        """Adapter stream threads → the current ws_listener (whichever instance that is)."""
        self.directory.tell("ws_listener", StreamFrame(event=event, sender="adapter"))

    def _adapter_audit(self, record: AuditRecord) -> None:
        """Every exchange request and response (``audit.exchange_requests``), error and stream
        incident into the trail, as the adapter scrubbed it (no key, secret or signature);
        fields without a value are left out to keep the trail small."""
        if record.kind in ("request", "response") and not self.settings.audit.exchange_requests:
            return
        kind, data = (
            f"exchange_{record.kind}",
            record.model_dump(exclude_none=True, exclude={"kind"}),
        )
        directory = getattr(self, "directory", None)  # none yet: start-up's first requests
        event = AuditEvent(kind=kind, data=data)
        if directory is None or not directory.tell("audit_logger", event, sender="adapter"):
            self.trail.append(kind, data, actor="adapter")  # (or the audit logger restarts)

    def _on_rate_limit(self, event: RateLimitEvent) -> None:
        """Evidence only: the breaker's rules decide (429 → YELLOW, 418 ban → RED)."""
        self.directory.tell(
            "breaker",
            BreakerInput(kind=EvidenceKind(f"rate_limit_{event.kind}"), detail=event.message),
            sender="adapter",
        )

    def _on_malformed(self, exc: MalformedPayload) -> None:
        self.directory.tell(
            "breaker",
            BreakerInput(kind=EvidenceKind.MALFORMED_PAYLOAD, detail=str(exc)),
            sender="adapter",
        )

    def _on_breaker_change(self, state: BreakerState) -> None:
        self.events.publish("breaker", breaker_event(state))  # the live view, at once
        try:  # a state change of the breaker is on disk before the trip returns
            self.trail.append(
                "breaker_state",
                {"level": state.level.value, "reason": state.reason, "source": state.source},
                actor="gate",
                durable=True,
            )
        except StoreError as exc:
            logger.error("breaker change not in the audit trail: {}", exc)
        self.directory.tell(
            "order_broker",
            BreakerChanged(level=state.level, reason=state.reason),
            sender="gate",
        )

    def _on_actor_failure(self, failure: Failure) -> None:
        logger.error("actor failure handled: {} {}", failure.name, failure.kind)
        child = self.supervisor.children.get(failure.name)
        restarted = child is not None and not child.given_up
        self.notifier.restart(failure.name, failure.kind, failure.detail, restarted)
        self.directory.tell(
            "breaker",
            BreakerInput(kind=EvidenceKind.ACTOR_RESTART, detail=f"{failure.name} {failure.kind}"),
            sender="supervisor",
        )

    # ------------------------------------------------------------------ notifications

    def _notify_audit(self, kind: str, data: dict[str, Any]) -> None:
        directory = getattr(self, "directory", None)  # none yet: recovery's incidents
        event = AuditEvent(kind=kind, data=data)
        if directory is None or not directory.tell("audit_logger", event, sender="notifier"):
            self.trail.append(kind, data, actor="notifier")

    def _notify_context(self) -> Context:
        """The breaker, the last reconciliation and our open orders, for a message."""
        gate, state = self.gate, self.gate.state
        count: int | None = None
        ids: tuple[str, ...] = ()
        memory = getattr(self, "book", None)
        if memory is not None:
            live = list(memory.book.live)  # one C-level copy of another thread's dict
            count, ids = len(live), tuple(live[:MAX_IDS])
        return Context(
            level=state.level.value,
            reason=state.reason,
            since_ms=state.since_ms,
            reconciliation=gate.last_result,
            reconciliation_ms=gate.last_result_ms,
            open_orders=count,
            open_order_ids=ids,
        )

    def _daily_figures(self, at_ms: int) -> dict[str, Any]:
        """The UTC day of ``at_ms`` so far: its P&L (the broker's), orders, fills."""
        book = self.book.book
        start = at_ms - at_ms % DAY_MS
        fills = book.fills_since(start)  # compacted orders' fills included
        try:
            pnl = self.status().get("risk", {}).get("daily_pnl")
        except Exception:
            pnl = None
        return {"pnl": pnl, "orders": book.intents_since(start), "fills": fills}

    def watch(self) -> None:
        """Who watches the watchers: called by the main thread (``run.py``). The supervisor's
        monitor and the timer thread (which also watches the monitor) must be alive; if
        either died, trading goes RED and it is started again."""
        if self.accepting:
            self.timers.watch()

    def audit(self, kind: str, **data: Any) -> None:
        self.directory.tell("audit_logger", AuditEvent(kind=kind, data=data), sender="system")

    # ------------------------------------------------------------------ status

    def ask(self, actor: str, message: Any, timeout: float | None = None) -> Any:
        return self.directory.ask(
            actor, message, timeout or self.settings.supervision.ask_timeout_s, sender="control"
        )

    @property
    def heartbeat_armed(self) -> bool:
        """Whether the operator heartbeat's absence pauses trading (its trigger is on)."""
        s = self.settings
        return bool(s.breaker.resolved_triggers(s.reconciliation)["operator_heartbeat"].enabled)

    def trading(self) -> str:
        return status_view.trading(self)

    def status(self) -> dict[str, Any]:
        return status_view.status(self)

    # ------------------------------------------------------------------ control files

    def write_control_files(self, url: str, token: str) -> None:
        """``control.token`` and ``control.json`` (``assembly.control_files``)."""
        control_files.write_control_files(self, url, token)

    def exchange_urls(self) -> dict[str, str | None]:
        """The exchange's ``rest``, ``ws_api`` and ``streams`` URLs (the embedded
        simulator's when it runs one)."""
        return control_files.exchange_urls(self)

    @staticmethod
    def new_token() -> str:
        return control_files.new_token()

    # ------------------------------------------------------------------ stop

    def stop(self, *, cancel_open: bool = True, timeout: float = 10.0) -> list[str]:
        """Graceful: no new intents, cancel open orders when safe, flush audit and trace,
        close the stores, remove this process's control files, release the lock. Each step
        runs in its own guard: one that fails (a broken trace, audit sink or store) is
        logged and the rest still run. Returns the failed steps with their reasons (also in
        ``stop_failures``); a second call does nothing and returns []."""
        if self._stopped:
            return []
        self._stopped = True
        return shutdown.stop(self, cancel_open=cancel_open, timeout=timeout)

    def _flush_audit(self) -> None:
        self.directory.ask("audit_logger", Flush(), timeout=3, sender="system")
