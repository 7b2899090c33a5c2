"""rest_poller: the mandatory REST backup of the WebSocket path.

Each poll (``PollNow``, from the timer, faster while the user stream is down): open
orders, the status of every order the book has open or in flight (by client order id),
the account's trades since a watermark for each symbol, the order lists whose placement
answer was lost (by listClientOrderId, never sending them again), and a ping. It emits the same
messages the listener does, so missed, late or duplicated events converge to the same book.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pykka

from domain.breaker_rules import EvidenceKind
from exchange.contract import ExchangeError, OrderNotFound, backing_off
from runtime.actor import VigilActor
from runtime.messages import (
    BreakerInput,
    InFlightRequest,
    ListSnapshot,
    ListsToResolve,
    OrderAbsent,
    OrderSnapshot,
    PollNow,
    StatusRequest,
    TradesSeen,
)

MAX_QUERIES = 10  # order queries per poll (weight 4 each)


@dataclass
class PollerMemory:
    """What the poller keeps across restarts: the last trade id fetched per symbol, valid
    for the book it was fetched for (``book_rebuilds``: a book replayed for a restarted
    broker has only the journal's fills, so the trades since the opening are fetched again)."""

    watermarks: dict[str, int] = field(default_factory=dict)
    book_rebuilds: int = 0


class RestPoller(VigilActor):
    name = "rest_poller"
    memory: PollerMemory
    handlers = {PollNow: "poll", StatusRequest: "status"}

    def started(self) -> None:
        self.settings = self.ctx.services.settings
        self.adapter = self.ctx.services.adapter
        self.last_poll_ms: int | None = None
        self.failures = 0
        self.overdue_s = 10 * self.settings.poller.interval_s
        self.trades_polled = 0.0

    def poll(self, message: PollNow) -> None:
        if not self.in_background(self._poll_once) and self.busy_for > self.overdue_s:
            self.tell(
                "breaker",
                BreakerInput(
                    kind=EvidenceKind.POLL_OVERDUE,
                    detail=f"a REST poll has been running for {self.busy_for:.1f}s",
                ),
            )

    def _poll_once(self) -> None:
        """Runs on the worker thread; tells the broker what it found."""
        ask_timeout = self.settings.supervision.ask_timeout_s
        try:
            self._poll(ask_timeout)
        except (pykka.ActorDeadError, pykka.Timeout):
            return  # the broker is being restarted: the supervisor has it, skip this poll
        except ExchangeError as exc:
            self.failures += 1
            # held back by our own gate after a 429/418: the refusal is the evidence (the
            # rate-limit rules count it), each poll it stops is not one more API error
            held_back = backing_off(exc)
            self.tell(
                "breaker",
                BreakerInput(
                    kind=EvidenceKind.POLL_HELD_BACK if held_back else EvidenceKind.POLL_FAILED,
                    detail=f"{type(exc).__name__}: {exc}",
                ),
            )
            return
        self.failures = 0
        self.last_poll_ms = int(time.time() * 1000)

    def _poll(self, ask_timeout: float) -> None:
        health = self.adapter.ping()  # never raises: reachable or not, with the error
        if not health.held_back:  # a ping our own gate kept back says nothing of the venue
            self.tell(
                "breaker",
                BreakerInput(
                    kind=EvidenceKind.PING_OK if health.reachable else EvidenceKind.PING_FAILED,
                    detail=health.error or f"{health.latency_ms} ms",
                ),
            )
        tracked = self.ask("order_broker", InFlightRequest(), ask_timeout)
        symbols = self.settings.exchange.symbols
        open_now = {
            o.client_order_id: o for symbol in symbols for o in self.adapter.get_open_orders(symbol)
        }  # per symbol: weight 6 each, where all symbols at once weighs 80
        for status in open_now.values():
            self.tell("order_broker", OrderSnapshot(status=status))
        # orders the book holds open that the exchange no longer lists: one allOrders call
        # per symbol (from the oldest such exchange id) brings all their final states
        stale: dict[str, list[tuple[str, int]]] = {}
        unknown: list[tuple[str, str]] = []
        for symbol, cid, state, order_id in tracked:
            if cid in open_now or state == "PENDING_NEW":
                continue  # PENDING_NEW: the wire has not answered yet (the reconciler ages it)
            if order_id is None:
                unknown.append((symbol, cid))
            else:
                stale.setdefault(symbol, []).append((cid, order_id))
        for symbol, items in stale.items():
            wanted = {cid for cid, _ in items}
            history = self.adapter.get_all_orders(symbol, from_order_id=min(i for _, i in items))
            for status in history:
                if status.client_order_id in wanted:
                    self.tell("order_broker", OrderSnapshot(status=status))
        for symbol, cid in unknown[:MAX_QUERIES]:  # outcome unknown: find it by client id
            try:
                status = self.adapter.get_order(symbol, client_order_id=cid)
            except OrderNotFound:
                self.tell("order_broker", OrderAbsent(symbol=symbol, client_order_id=cid))
                continue
            self.tell("order_broker", OrderSnapshot(status=status))
        # order lists whose placement answer was lost: each read back by its client id
        waiting = self.ask("order_broker", ListsToResolve(), ask_timeout)
        for symbol, list_cid in waiting[:MAX_QUERIES]:
            try:
                found = self.adapter.get_order_list(symbol, list_client_order_id=list_cid)
            except OrderNotFound:
                continue  # never placed: its orders are resolved absent one by one
            self.tell("order_broker", ListSnapshot(status=found))
        now = time.monotonic()
        if now - self.trades_polled < self.settings.poller.interval_s:
            return  # fast polling (stream down) repeats the cheap calls, not myTrades (weight 20)
        self.trades_polled = now
        book = self.ctx.services.book
        memory = self.memory
        if memory.book_rebuilds != book.rebuilds:  # fills only the old book held are lost
            memory.watermarks.clear()
            memory.book_rebuilds = book.rebuilds
        opening = book.trade_floor  # trades up to here predate this run
        for symbol in symbols:
            floor = memory.watermarks.get(symbol, opening.get(symbol))
            if floor is None:
                continue  # the book has not opened yet
            trades = self.adapter.get_trades(symbol, from_id=floor + 1)
            if trades:
                self.tell("order_broker", TradesSeen(symbol=symbol, trades=tuple(trades)))
                memory.watermarks[symbol] = max(t.trade_id for t in trades)

    def status(self, message: StatusRequest) -> dict[str, Any]:
        return {"last_poll_ms": self.last_poll_ms, "failures": self.failures}
