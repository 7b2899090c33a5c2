"""ws_listener: turns the adapter's stream events into Vigil messages.

The user data stream (WebSocket API subscription) and the bookTicker market stream run
in the adapter's own threads; each frame arrives here as a ``StreamFrame`` (through the
directory, so a restarted listener receives them at once). Order updates, fills and
balances go to the broker; stream health goes to the breaker, and into this actor's memory,
where the timers read it (the poller polls faster while the user stream is down).

For the breaker it also reports that market data is alive (``market_data``, at most every
``breaker.market_data_report_s``: the dead man's switch). Slippage is the broker's: it
knows each order's arrival price and sees every fill once, whichever path brought it.
"""

from __future__ import annotations

import time
from typing import Any

from domain.breaker_rules import EvidenceKind
from exchange.contract import (
    AccountPosition,
    BalanceUpdate,
    BookTicker,
    ExecutionReport,
    ListStatus,
    StreamState,
    StreamStatus,
    StreamTerminated,
)
from runtime.actor import VigilActor
from runtime.messages import (
    AccountEvent,
    BreakerInput,
    ListEvent,
    MarketPrice,
    OrderEvent,
    PollNow,
    StatusRequest,
    StreamFrame,
    StreamHealth,
)


class WsListener(VigilActor):
    name = "ws_listener"
    memory: dict[str, str]  # stream name -> its state: kept across restarts, read by the timers
    handlers = {StreamFrame: "on_frame", StatusRequest: "status"}

    def started(self) -> None:
        self.health = self.memory
        self.events = 0
        self.report_every = self.ctx.services.settings.breaker.market_data_report_s
        self.last_report = 0.0
        self.book_updates: dict[str, int] = {}  # per symbol: the last bookTicker update id

    def on_frame(self, message: StreamFrame) -> None:
        event = message.event
        self.events += 1
        if isinstance(event, ExecutionReport):
            # (named as the sender at once: the directory need not copy it to stamp it)
            self.tell("order_broker", OrderEvent(report=event, via="ws", sender=self.name))
        elif isinstance(event, ListStatus):
            self.tell("order_broker", ListEvent(status=event, via="ws"))
        elif isinstance(event, AccountPosition | BalanceUpdate):
            self.tell("order_broker", AccountEvent(event=event))
        elif isinstance(event, BookTicker):
            # only a book that moved is news: the same update again (a snapshot sent on a
            # reconnect) must not make a frozen feed look alive or its price fresh
            if self.book_updates.get(event.symbol) == event.update_id:
                return
            self.book_updates[event.symbol] = event.update_id
            self.tell("order_broker", MarketPrice(ticker=event))
            self._market_alive(event)
        elif isinstance(event, StreamStatus):
            self._on_status(event)
        elif isinstance(event, StreamTerminated):
            self.audit("stream_terminated")
        else:
            self.audit("stream_event_ignored", event=type(event).__name__)

    def _on_status(self, status: StreamStatus) -> None:
        self.health[status.stream] = status.state.value
        self.tell("breaker", StreamHealth(status=status))
        if status.gap or status.state is not StreamState.SUBSCRIBED:
            self.tell("rest_poller", PollNow())  # catch up by REST now

    def _market_alive(self, ticker: BookTicker) -> None:
        now = time.monotonic()
        if now - self.last_report >= self.report_every:
            self.last_report = now
            self.tell("breaker", BreakerInput(kind=EvidenceKind.MARKET_DATA, detail=ticker.symbol))

    def status(self, message: StatusRequest) -> dict[str, Any]:
        return {"streams": dict(self.health), "events": self.events}
