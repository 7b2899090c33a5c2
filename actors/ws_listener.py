"""ws_listener: turns the adapter's stream events into Vigil messages.

The user data stream (WebSocket API subscription) and the bookTicker market stream run
in the adapter's own threads; each frame arrives here as a ``StreamFrame`` (through the
directory, so a restarted listener receives them at once). Order updates, fills and
balances go to the broker; stream health goes to the breaker and the poller (which polls
faster while the stream is down, and catches up after a gap).

For the breaker it also reports that market data is alive (``market_data``, at most every
``breaker.market_data_report_s``: the dead man's switch) and, for every taker fill on the
stream, the slippage against the last mid it saw for the symbol (``slippage_bps``).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from actors.messages import (
    AccountEvent,
    BreakerInput,
    BreakerSample,
    MarketPrice,
    OrderEvent,
    PollNow,
    StatusRequest,
    StreamFrame,
    StreamHealth,
)
from domain.execution import slippage_bps
from exchange.contract import (
    AccountPosition,
    BalanceUpdate,
    BookTicker,
    ExecutionReport,
    StreamState,
    StreamStatus,
    StreamTerminated,
)
from supervision.actor import VigilActor


class WsListener(VigilActor):
    name = "ws_listener"
    handlers = {StreamFrame: "on_frame", StatusRequest: "status"}

    def started(self) -> None:
        self.health: dict[str, str] = self.ctx.service("stream_health")
        self.events = 0
        self.mids: dict[str, Decimal] = {}
        self.report_every = self.ctx.service("settings").breaker.market_data_report_s
        self.last_report = 0.0

    def on_frame(self, message: StreamFrame) -> None:
        event = message.event
        self.events += 1
        if isinstance(event, ExecutionReport):
            self.tell("order_broker", OrderEvent(report=event, via="ws"))
            self._slippage(event)
        elif isinstance(event, AccountPosition | BalanceUpdate):
            self.tell("order_broker", AccountEvent(event=event))
        elif isinstance(event, BookTicker):
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
        if ticker.bid_price > 0 and ticker.ask_price > 0:
            self.mids[ticker.symbol] = ticker.mid
        now = time.monotonic()
        if now - self.last_report >= self.report_every:
            self.last_report = now
            self.tell(
                "breaker", BreakerInput(kind="market_data", severity="INFO", detail=ticker.symbol)
            )

    def _slippage(self, r: ExecutionReport) -> None:
        """A taker fill against the last mid seen (makers fill at their own price)."""
        mid = self.mids.get(r.symbol)
        if r.execution_type != "TRADE" or r.is_maker or r.last_qty <= 0 or mid is None:
            return
        bps = slippage_bps(r.side.value, mid, r.last_price)
        self.tell(
            "breaker",
            BreakerSample(
                kind="slippage_bps",
                value=bps,
                detail=f"{r.symbol} {r.side.value} {r.order_client_id} filled at {r.last_price}"
                f" against the mid {mid}",
            ),
        )

    def status(self, message: StatusRequest) -> dict[str, Any]:
        return {"streams": dict(self.health), "events": self.events}
