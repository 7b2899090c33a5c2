"""The child-spec table: Vigil's six supervised actors, in start order (dependencies
first; shutdown runs in reverse), each with its restart policy, hang deadline and memory."""

from __future__ import annotations

from actors.audit_logger import AuditLogger
from actors.breaker import Breaker, BreakerMemory
from actors.order_broker import BrokerMemory, OrderBroker
from actors.reconciler import Reconciler, ReconcilerMemory
from actors.rest_poller import PollerMemory, RestPoller
from actors.ws_listener import WsListener
from config.settings import VigilSettings
from supervision.supervisor import ChildSpec


def io_hang_timeout(settings: VigilSettings) -> float:
    """How long an I/O actor may legitimately block: a REST call and its retries."""
    ex = settings.exchange
    return settings.supervision.io_hang_timeout_s or (
        ex.option("read_timeout_s") * (ex.option("read_retries") + 1)
        + ex.option("connect_timeout_s")
        + 2.0
    )


def children(
    settings: VigilSettings, *, book: BrokerMemory, breaker: BreakerMemory, streams: dict[str, str]
) -> list[ChildSpec]:
    """The table, each role with its memory (owned by the supervisor from here on). The
    assembly builds the memories it also reads: the book, the breaker's board, the streams."""
    io = io_hang_timeout(settings)
    return [
        ChildSpec("audit_logger", AuditLogger),
        ChildSpec("breaker", Breaker, memory=breaker),
        ChildSpec("order_broker", OrderBroker, hang_timeout=io, memory=book),  # opening: REST
        ChildSpec("reconciler", Reconciler, memory=ReconcilerMemory()),  # REST on its worker
        ChildSpec("rest_poller", RestPoller, memory=PollerMemory()),
        ChildSpec("ws_listener", WsListener, memory=streams),
    ]
