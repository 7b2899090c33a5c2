"""The whole Vigil process: store, gate, adapter, six supervised actors, timers, control API.

``CHILDREN`` is the supervisor's child-spec table, in start order (dependencies first);
shutdown runs in reverse. ``VigilSystem.start()`` brings everything up; ``stop()`` is the
graceful shutdown: no new intents, cancel open orders when safe, flush the audit trail.
"""

from __future__ import annotations

import gc
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pykka
from loguru import logger
from pydantic import SecretStr

from actors.audit_logger import AuditLogger
from actors.breaker import Breaker
from actors.order_broker import BookHolder, OrderBroker, intent_record
from actors.reconciler import Reconciler
from actors.rest_poller import RestPoller
from actors.ws_listener import WsListener
from config.settings import VigilSettings, exchange_credentials
from domain.book import Book, Market
from domain.breaker import BreakerState, Level
from domain.breaker_rules import BreakerBoard
from domain.replay import fill_entry, order_entry, replay
from exchange.binance import AdapterConfig, BinanceSpotAdapter
from exchange.contract import AuditRecord, MalformedPayload, RateLimitEvent
from exchange.simulator import SimulatedExchange
from runtime.actor import ActorContext
from runtime.clock import now_ms
from runtime.directory import Directory
from runtime.gate import TradingGate
from runtime.messages import (
    AuditEvent,
    BreakerChanged,
    BreakerInput,
    CancelAll,
    Flush,
    PollNow,
    ReconcileNow,
    StatusRequest,
    StreamFrame,
)
from runtime.trace import MessageTrace
from storage import AuditTrail, Journal, Store, StoreError
from storage.journal import Entry
from supervision.supervisor import ChildSpec, Failure, Supervisor


def children(settings: VigilSettings) -> list[ChildSpec]:
    """The child-spec table. I/O actors may legitimately block for a REST call or three."""
    ex = settings.exchange
    io = settings.supervision.io_hang_timeout_s or (
        ex.option("read_timeout_s") * (ex.option("read_retries") + 1)
        + ex.option("connect_timeout_s")
        + 2.0
    )
    return [
        ChildSpec("audit_logger", AuditLogger),
        ChildSpec("breaker", Breaker),
        ChildSpec("order_broker", OrderBroker, hang_timeout=io),  # opening reads the exchange
        ChildSpec("reconciler", Reconciler),  # REST on its worker thread: stays responsive
        ChildSpec("rest_poller", RestPoller),
        ChildSpec("ws_listener", WsListener),
    ]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Loading and replaying a journal build millions of objects: the collector would
    halve their speed, and none of them is garbage."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class VigilSystem:
    def __init__(
        self, settings: VigilSettings, *, simulator: SimulatedExchange | None = None
    ) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.simulator = simulator
        self._own_simulator = False
        self.accepting = False
        self._stop_timers = threading.Event()
        self._timer: threading.Thread | None = None
        self.control: Any = None
        self.demo: Any = None
        self.started_at = time.time()

    # ------------------------------------------------------------------ start

    def start(self) -> VigilSystem:
        settings = self.settings
        self.data_dir.mkdir(parents=True, exist_ok=True)
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
        filters = self._exchange_info()
        markets = {
            s: Market(s, f.base_asset, f.quote_asset)
            for s, f in filters.items()
            if s in settings.exchange.symbols
        }
        self.markets = markets
        self._rebuild_lock = threading.Lock()
        self.book = self._recover()
        self.directory = Directory()
        self.directory.on_dropped = self._dropped
        self.stream_health: dict[str, str] = {}
        self.ctx = ActorContext(
            directory=self.directory,
            gate=self.gate,
            trace=self.trace,
            report_crash=lambda *a: None,
            services={
                "settings": settings,
                "adapter": self.adapter,
                "book": self.book,
                "store": self.store,
                "journal": self.journal,
                "trail": self.trail,
                "data_dir": self.data_dir,
                "stream_health": self.stream_health,
                "poll_watermarks": {},
                "breaker_board": BreakerBoard(),
                "reconciler_memory": {},
                "rebuild_book": self.rebuild_book,
            },
        )
        s = settings.supervision
        self.supervisor = Supervisor(
            children(settings),
            self.ctx,
            self.gate,
            self.store,
            heartbeat_interval=s.heartbeat_interval_s,
            hang_timeout=s.hang_timeout_s,
            max_restarts=s.max_restarts,
            max_seconds=s.max_seconds,
            on_failure=self._on_actor_failure,
        )
        self.gate.subscribe(self._on_breaker_change)
        self.supervisor.start()
        self.adapter.start_user_stream(self._stream_frame, self._stream_frame)
        self.adapter.start_market_stream(list(markets), self._stream_frame, self._stream_frame)
        self._timer = threading.Thread(target=self._timers, name="vigil-timers", daemon=True)
        self._timer.start()
        self.directory.tell("reconciler", ReconcileNow(), sender="system")
        self.accepting = True
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
        key, secret = exchange_credentials()
        if not key.get_secret_value() or not secret.get_secret_value():
            raise RuntimeError(
                "BINANCE_API_KEY and BINANCE_API_SECRET must be set for an external exchange"
            )
        missing = [n for n in ("rest_url", "ws_api_url", "stream_url") if getattr(ex, n) is None]
        if missing:
            raise RuntimeError(
                f"exchange.{missing[0]} is required when exchange.simulator is false"
            )
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

    def _recover(self) -> BookHolder:
        """The book from the journal: replayed if it checks out; if it does not, the damaged
        journal is kept aside as evidence, trading goes RED, and the book starts empty."""
        path = self.data_dir / "journal.db"
        journal: Journal | None = None
        try:
            journal = Journal(path, on_failure=self._storage_failed)
            with collector_paused():
                entries = journal.load()
        except StoreError as exc:  # JournalCorrupt, or a file SQLite cannot even open
            if journal is not None:
                journal.close()
            kept = path.with_name(f"journal.db.corrupt-{now_ms()}")
            for suffix in ("", "-wal", "-shm"):
                source = Path(f"{path}{suffix}")
                if source.exists():
                    source.rename(Path(f"{kept}{suffix}"))
            reason = f"journal corrupt, not replayed ({exc}); kept as {kept.name}"
            self.store.add_incident(now_ms(), "journal_corrupt", reason, {"kept": str(kept)})
            self.trail.append("journal_corrupt", {"reason": reason}, actor="recovery", durable=True)
            self.gate.trip_red(reason, "recovery")
            journal, entries = Journal(path, on_failure=self._storage_failed), []
        self.journal = journal
        book, floors = self._replayed(entries)
        self._backfill_intent_audit(entries, book)
        holder = BookHolder(book)
        holder.trade_floor.update(floors)
        self.recovered = {"entries": len(entries), "orders": len(book.orders)}
        return holder

    def _replayed(self, entries: list[Entry]) -> tuple[Book, dict[str, int]]:
        """The book the journal's entries describe, journaling its changes from here on."""
        with collector_paused():
            book, floors = replay(((e.kind, e.body) for e in entries), self.markets)
        book.on_change = self._journal_change
        return book, floors

    def _dropped(self, receiver: str, message: Any) -> None:
        now = time.time()
        self.trace.record(receiver, message, now, now, "dropped: receiver not running")

    def rebuild_book(self, generation: int) -> None:
        """Called by each broker instance as it starts; from then on it owns the book.

        A restarted broker starts from durable state, not from what the instance that failed
        left in memory (it may have failed halfway through a change): the book is replayed
        from the journal, as at start-up. The old book is cut off from the journal first,
        and ownership moves to the new instance, so a replaced instance that wakes up later
        can neither write the journal nor send (``OwnedJournal``, the wire's check).
        Rebuilds are serialised: a newer instance waits for an older one's replay."""
        with self._rebuild_lock:
            holder = self.book
            if generation <= holder.owner:
                return  # a newer instance owns it already
            if holder.owner == 0:  # the first broker: the book was just replayed at start-up
                holder.owner = generation
                return
            old = holder.book
            old.on_change = None
            try:
                self.journal.flush()
                with collector_paused():
                    entries = self.journal.load()
            except StoreError as exc:
                # keep the book in memory (the best there is) and stay RED: a journal that
                # cannot be read now is set aside by the next process start
                old.on_change = self._journal_change
                holder.owner = generation
                reason = f"journal unreadable on a broker restart ({exc}): restart the process"
                self.store.add_incident(now_ms(), "journal_unreadable", reason, {})
                self.gate.trip_red(reason, "recovery")
                return
            book, floors = self._replayed(entries)
            book.prices.update(old.prices)  # market data, not state: the latest mids carry over
            book.price_ms.update(old.price_ms)  # with when each was seen
            holder.trade_floor.update(floors)
            holder.closed_summaries = {}  # summaries follow the new book's closing order
            holder.closed_index = 0
            holder.book = book
            holder.owner = generation
            # fills only the old memory held (seen before their order's answer) are not in
            # the journal: the poller fetches the trades since the opening again
            self.ctx.services["poll_watermarks"].clear()
        logger.info("book replayed for broker {}: {} entries", generation, len(entries))

    def _backfill_intent_audit(self, entries: list[Entry], book: Book) -> None:
        """An accepted intent's audit record is group-committed; its journal entry is what
        is flushed before the wire, and it names the record's sequence number. A record
        numbered above what the trail held when it opened was lost in a crash: it is written
        again from the journal (marked ``recovered``), durably, and an ``audited`` journal
        entry records its new number, so a later recovery does not mistake another record
        that took the old number for it."""
        numbered: dict[str, tuple[int, dict[str, Any]]] = {}
        for e in entries:
            if e.kind == "intent" and "audit_seq" in e.body:
                numbered[e.body["client_order_id"]] = (int(e.body["audit_seq"]), e.body)
            elif e.kind == "audited" and e.body["client_order_id"] in numbered:
                _, body = numbered[e.body["client_order_id"]]
                numbered[e.body["client_order_id"]] = (int(e.body["audit_seq"]), body)
        opened = self.trail.opened_seq
        lost = [(cid, seq, body) for cid, (seq, body) in numbered.items() if seq > opened]
        if not lost:
            return
        renumbered = []
        for cid, seq, body in lost:
            verdicts = [{"gate": g, "passed": True, "reason": ""} for g in body.get("gates", [])]
            record = intent_record(book.orders[cid], verdicts)
            record.update(recovered=True, lost_seq=seq, created_ms=body.get("created_ms"))
            new_seq = self.trail.append(
                "intent_accepted", record, cid=body.get("correlation_id"), actor="recovery"
            )
            renumbered.append((cid, new_seq))
        self.trail.flush()
        for cid, new_seq in renumbered:
            self.journal.append("audited", {"client_order_id": cid, "audit_seq": new_seq})
        self.journal.flush()
        logger.warning("recovery: {} intent audit records rewritten from the journal", len(lost))

    def _journal_change(self, kind: str, payload: Any) -> None:
        if kind == "order":
            self.journal.append("order", order_entry(payload))
        elif kind == "fill":
            self.journal.append("fill", fill_entry(payload))
        elif kind == "external":
            asset, delta = payload
            self.journal.append("external", {"asset": asset, "delta": str(delta)})

    def _storage_failed(self, reason: str) -> None:
        """The journal or the audit trail cannot be written: trading must stop."""
        logger.critical("durable storage failed: {}", reason)
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
        self.directory.tell("ws_listener", StreamFrame(event=event), sender="adapter")

    def _adapter_audit(self, record: AuditRecord) -> None:
        if record.kind in ("request", "response") and self.settings.trace.level != "detail":
            return  # every request is in the adapter's structured log; the trail keeps outcomes
        self.directory.tell(
            "audit_logger",
            AuditEvent(kind=f"exchange_{record.kind}", data=record.model_dump()),
            sender="adapter",
        )

    def _on_rate_limit(self, event: RateLimitEvent) -> None:
        """Evidence only: the breaker's rules decide (429 → YELLOW, 418 ban → RED)."""
        severity = "INFO"
        self.directory.tell(
            "breaker",
            BreakerInput(kind=f"rate_limit_{event.kind}", severity=severity, detail=event.message),
            sender="adapter",
        )

    def _on_malformed(self, exc: MalformedPayload) -> None:
        self.directory.tell(
            "breaker",
            BreakerInput(kind="malformed_payload", severity="YELLOW", detail=str(exc)),
            sender="adapter",
        )

    def _on_breaker_change(self, state: BreakerState) -> None:
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
            BreakerChanged(level=state.level.value, reason=state.reason),
            sender="gate",
        )

    def _on_actor_failure(self, failure: Failure) -> None:
        logger.error("actor failure handled: {} {}", failure.name, failure.kind)
        self.directory.tell(
            "breaker",
            BreakerInput(
                kind="actor_restart", severity="INFO", detail=f"{failure.name} {failure.kind}"
            ),
            sender="supervisor",
        )

    def _timers(self) -> None:
        r = self.settings.reconciliation.interval_s
        p = self.settings.poller
        next_recon = time.monotonic() + r
        next_poll = time.monotonic()
        while not self._stop_timers.wait(0.05):
            now = time.monotonic()
            if now >= next_recon:
                self.directory.tell("reconciler", ReconcileNow(), sender="timer")
                next_recon = now + r
            if now >= next_poll:
                self.directory.tell("rest_poller", PollNow(), sender="timer")
                stream_up = self.stream_health.get("user") == "subscribed"
                next_poll = now + (p.interval_s if stream_up else p.fast_interval_s)
            self._watch_monitor()

    def _watch_monitor(self) -> None:
        if not self.supervisor.monitor_alive and self.accepting:
            self.gate.trip_red("the supervisor's monitor died", "main")
            self.supervisor.restart_monitor()

    def watch(self) -> None:
        """Who watches the watchers: called by the main thread (``run.py``). The supervisor's
        monitor and the timer thread (which also watches the monitor) must be alive; if
        either died, trading goes RED and it is started again."""
        if not self.accepting or self._stop_timers.is_set():
            return
        self._watch_monitor()
        if self._timer is not None and not self._timer.is_alive():
            self.gate.trip_red("the timer thread died", "main")
            self._timer = threading.Thread(target=self._timers, name="vigil-timers", daemon=True)
            self._timer.start()

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
        """Whether new orders may go, as the order path decides it: the gate's refusal, or
        YELLOW's pause while one of its pausing causes is active, else "allowed" (YELLOW's
        other limits are per order)."""
        refusal = self.gate.refusal()
        if refusal is not None:
            return refusal
        board: BreakerBoard = self.ctx.services["breaker_board"]
        paused = sorted(c for c in board.causes if c in board.limits.pause_on)
        if self.gate.state.level is Level.YELLOW and paused:
            return f"YELLOW: trading paused ({', '.join(paused)})"
        return "allowed"

    def status(self) -> dict[str, Any]:
        state = self.gate.state
        out: dict[str, Any] = {
            "breaker": state.level.value,
            "reason": state.reason,
            "since_ms": state.since_ms,
            "trading": self.trading(),
            "reconciliation": {
                "result": self.gate.last_result,
                "at_ms": self.gate.last_result_ms,
                "last_healthy_ms": self.gate.last_healthy_ms,
            },
            "actors": self.supervisor.alive(),
            "restarts": self.supervisor.restarts(),
            "streams": dict(self.stream_health),
            "malformed_payloads": self.adapter.malformed_count,
            "pid": os.getpid(),
        }
        try:
            book = self.ask("order_broker", StatusRequest())
            orders = book["orders"].values()
            out["orders"] = {
                "total": len(book["orders"]),
                "open": sum(
                    1
                    for o in orders
                    if o["state"] in ("NEW", "PARTIALLY_FILLED", "PENDING_NEW", "UNKNOWN")
                ),
                "filled": sum(1 for o in orders if o["state"] == "FILLED"),
                "unknown": sum(1 for o in orders if o["state"] == "UNKNOWN"),
            }
            out["fills"] = book["fills"]
            out["balances"] = book["balances"]
            out["counters"] = book["counters"]
            out["execution"] = book["execution"]
            out["risk"] = book["risk"]
        except (pykka.Timeout, pykka.ActorDeadError) as exc:
            out["book_error"] = f"{type(exc).__name__}"
        return out

    # ------------------------------------------------------------------ control files

    def write_control_files(self, url: str, token: str) -> None:
        """``control.json`` (URL, pid, exchange URLs) and ``control.token`` (mode 0600)."""
        token_path = self.data_dir / "control.token"
        fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token)
        os.chmod(token_path, 0o600)
        tmp = self.data_dir / "control.json.tmp"
        document = {"url": url, "pid": os.getpid(), "exchange": self.exchange_urls()}
        tmp.write_text(json.dumps(document))
        tmp.replace(self.data_dir / "control.json")

    def exchange_urls(self) -> dict[str, str | None]:
        """The exchange's ``rest``, ``ws_api`` and ``streams`` URLs (the embedded
        simulator's when it runs one)."""
        if self.simulator is not None:
            sim = self.simulator
            return {"rest": sim.rest_url, "ws_api": sim.ws_api_url, "streams": sim.streams_url}
        ex = self.settings.exchange
        return {"rest": ex.rest_url, "ws_api": ex.ws_api_url, "streams": ex.stream_url}

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    # ------------------------------------------------------------------ stop

    def stop(self, *, cancel_open: bool = True, timeout: float = 10.0) -> None:
        """Graceful: no new intents, cancel open orders when safe, flush audit and trace."""
        self.accepting = False
        if self.demo is not None:
            self.demo.stop()
        if cancel_open and hasattr(self, "directory"):
            self._cancel_open(timeout)
        self._stop_timers.set()
        if self._timer is not None:
            self._timer.join(timeout=2)
        if hasattr(self, "directory"):
            try:
                self.directory.ask("audit_logger", Flush(), timeout=3, sender="system")
            except Exception as exc:  # shutdown goes on; what is not durable is reported
                logger.error("audit trail flush did not complete: {}", exc)
        if self.control is not None:
            self.control.stop()
        if hasattr(self, "supervisor"):
            self.supervisor.stop()
        if hasattr(self, "adapter"):
            self.adapter.close()
        if hasattr(self, "trace"):
            self.trace.close()
        if self._own_simulator and self.simulator is not None:
            self.simulator.stop()
        for durable in ("journal", "trail", "store"):
            if hasattr(self, durable):
                getattr(self, durable).close()
        for name in ("control.json",):
            try:
                (self.data_dir / name).unlink()
            except FileNotFoundError:
                pass

    def _cancel_open(self, timeout: float) -> None:
        try:
            sent = self.ask("order_broker", CancelAll(reason="shutdown"))
        except (pykka.Timeout, pykka.ActorDeadError):
            logger.error("shutdown: the broker did not take the cancel-all")
            return
        if not sent:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.directory.tell("rest_poller", PollNow(), sender="system")
                if self.status().get("orders", {}).get("open", 1) == 0:
                    return
            except Exception:  # status is best effort during shutdown
                pass
            time.sleep(0.2)
        logger.warning("shutdown: open orders may remain; see GET /_sim/state or the exchange")


def control_paths(data_dir: Path) -> tuple[Path, Path]:
    return data_dir / "control.json", data_dir / "control.token"
