"""ws_listener: turns the adapter's stream events into Vigil messages.

The user data stream (WebSocket API subscription) and the bookTicker market stream run
in the adapter's own threads; each frame arrives here as a ``StreamFrame`` (through the
directory, so a restarted listener receives them at once). Order updates, fills and
balances go to the broker; stream health goes to the breaker and the poller (which polls
faster while the stream is down, and catches up after a gap).
"""

from __future__ import annotations

from typing import Any

from actors.messages import (
    AccountEvent,
    BreakerInput,
    MarketPrice,
    OrderEvent,
    PollNow,
    StatusRequest,
    StreamFrame,
    StreamHealth,
)
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

    def on_frame(self, message: StreamFrame) -> None:
        event = message.event
        self.events += 1
        if isinstance(event, ExecutionReport):
            self.tell("order_broker", OrderEvent(report=event, via="ws"))
        elif isinstance(event, AccountPosition | BalanceUpdate):
            self.tell("order_broker", AccountEvent(event=event))
        elif isinstance(event, BookTicker):
            self.tell("order_broker", MarketPrice(ticker=event))
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
        if status.reconnects and status.reconnects % 10 == 0:
            self.tell(
                "breaker",
                BreakerInput(
                    kind="reconnect_storm",
                    severity="YELLOW",
                    detail=f"{status.stream} stream reconnected {status.reconnects} times",
                ),
            )

    def status(self, message: StatusRequest) -> dict[str, Any]:
        return {"streams": dict(self.health), "events": self.events}
