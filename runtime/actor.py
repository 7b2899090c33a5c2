"""The base of every Vigil actor: a pykka ThreadingActor with a control-aware inbox,
traced message handling, heartbeats, fault injection, and crash reporting on every path.

pykka reports only an exception in a ``tell``-delivered message (``on_failure``); an
exception in an ``ask`` goes back to the caller and one in ``on_start`` stops the actor
silently. Here every one of them is reported to the supervisor (``CrashReporter``), which
trips RED and restarts the actor. Handlers do not defend against their own bugs: let it
crash. Subclasses declare ``handlers`` (message type → method name).
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Protocol

import pykka

from config.settings import VigilSettings
from domain.book import Market
from domain.breaker_rules import BreakerBoard
from exchange.contract import ExchangeAdapter
from runtime.directory import Directory
from runtime.events import EventBus
from runtime.gate import TradingGate
from runtime.inbox import ControlAwareInbox
from runtime.messages import AuditEvent, Heartbeat, InjectFault, Message
from runtime.timings import Timings
from runtime.trace import MessageTrace
from storage import AuditTrail, Journal, Store

CrashReporter = Callable[[str, int, str, str], None]  # name, generation, where, detail


class InjectedFault(RuntimeError):
    """Raised on purpose by an ``InjectFault(kind="raise")`` message."""


class BookView(Protocol):
    """What others may read of the order broker's memory."""

    @property
    def trade_floor(self) -> Mapping[str, int]:
        """The last trade id per symbol that predates this run."""

    @property
    def rebuilds(self) -> int:
        """How many times the book was replayed for a restarted broker."""


@dataclass(frozen=True)
class Services:
    """What the assembly hands every actor, fixed for the life of the process. Each
    actor's own memory (what survives its restarts) comes separately (``memory``)."""

    settings: VigilSettings
    adapter: ExchangeAdapter
    store: Store
    journal: Journal
    trail: AuditTrail
    data_dir: Path
    markets: Mapping[str, Market]
    book: BookView  # the broker's memory, read-only for the others
    board: Callable[[], BreakerBoard]  # what the breaker publishes now (YELLOW's causes)
    instance: str = ""  # this data dir's tag in every client order id (domain.instance)
    timings: Timings = field(default_factory=Timings)  # latency histograms (the metrics)
    events: EventBus = field(default_factory=EventBus)  # live order/fill/breaker view (UI)


@dataclass(frozen=True)
class ActorContext:
    """What every actor gets from the supervisor: peers, the gate, the trace, the services,
    and where to report its own crash."""

    directory: Directory
    gate: TradingGate
    trace: MessageTrace
    services: Services
    report_crash: CrashReporter


class VigilActor(pykka.ThreadingActor):
    use_daemon_thread = True  # a hung actor never keeps the process alive
    name: ClassVar[str] = "actor"
    handlers: ClassVar[dict[type[Message], str]] = {}

    def __init__(self, ctx: ActorContext, generation: int = 0, memory: Any = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.generation = generation
        self.memory = memory  # what this role keeps across restarts (its ``ChildSpec``'s)
        self.inbox_ref: ControlAwareInbox = self.actor_inbox  # type: ignore[assignment]
        self._crashed = threading.Event()
        self._worker: concurrent.futures.ThreadPoolExecutor | None = None
        self._work: concurrent.futures.Future[None] | None = None
        self.busy_since = 0.0

    @staticmethod
    def _create_actor_inbox() -> ControlAwareInbox:
        return ControlAwareInbox()

    # ---------------------------------------------------------------- lifecycle

    def on_start(self) -> None:
        try:
            self.started()
        except Exception as exc:
            self._report("on_start", exc)
            raise

    def started(self) -> None:
        """Subclass hook: initialise (from durable state) in the actor's own thread."""

    def on_stop(self) -> None:
        self.stopping()
        if self._worker is not None:
            self._worker.shutdown(wait=False, cancel_futures=True)

    def stopping(self) -> None:
        """Subclass hook: release resources on a normal stop."""

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping()

    # ---------------------------------------------------------------- messages

    def on_receive(self, message: Any) -> Any:
        started = time.time()
        try:
            result = self._dispatch(message)
        except Exception as exc:
            self.ctx.trace.record(self.name, message, started, time.time(), f"error: {exc!r}")
            self._report("handler", exc, message)
            raise
        self.ctx.trace.record(self.name, message, started, time.time())
        return result

    def _dispatch(self, message: Any) -> Any:
        if isinstance(message, Heartbeat):
            return self.generation
        if isinstance(message, InjectFault):
            if message.kind == "raise":
                raise InjectedFault(f"fault injected into {self.name}")
            if message.kind == "hang":
                time.sleep(message.seconds)
                return None
            raise ValueError(f"unknown fault kind {message.kind!r}")
        method = self.handlers.get(type(message))
        if method is None:
            raise TypeError(f"{self.name} has no handler for {type(message).__name__}")
        return getattr(self, method)(message)

    def _report(self, where: str, exc: BaseException, message: Any = None) -> None:
        if self._crashed.is_set():
            return
        self._crashed.set()
        what = type(message).__name__ if message is not None else where
        detail = f"{type(exc).__name__}: {exc} (while handling {what})"
        try:  # RED from this very thread: no hand-off before trading stops
            self.ctx.gate.trip_red(f"actor {self.name} crash: {where}: {detail}", "supervisor")
        except Exception as err:  # the supervisor trips it again, or knows the disk failed
            self.ctx.report_crash(self.name, self.generation, "gate", repr(err))
        self.ctx.report_crash(self.name, self.generation, where, detail)

    # ---------------------------------------------------------------- helpers

    def in_background(self, work: Callable[[], object]) -> bool:
        """Run blocking I/O on this actor's one worker thread, so the actor itself keeps
        answering (heartbeats, halts) while the exchange is slow. Returns False (and runs
        nothing) while earlier work is still going: slow work is skipped, never queued.
        An exception in the work is a crash of this actor."""
        if self._work is not None and not self._work.done():
            return False
        if self._worker is None:
            self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=self.name)

        def guarded() -> None:
            try:
                work()
            except Exception as exc:
                self._report("worker", exc)

        self.busy_since = time.monotonic()
        self._work = self._worker.submit(guarded)
        return True

    @property
    def busy_for(self) -> float:
        """Seconds the current background work has been running (0 when idle)."""
        if self._work is None or self._work.done():
            return 0.0
        return time.monotonic() - self.busy_since

    def tell(self, receiver: str, message: Message) -> bool:
        return self.ctx.directory.tell(receiver, message, sender=self.name)

    def ask(self, receiver: str, message: Message, timeout: float) -> Any:
        return self.ctx.directory.ask(receiver, message, timeout, sender=self.name)

    def audit(self, kind: str, **data: Any) -> None:
        event = AuditEvent(kind=kind, data={"actor": self.name, **data}, sender=self.name)
        self.tell("audit_logger", event)

    @staticmethod
    def format_exc() -> str:
        return traceback.format_exc(limit=3)
