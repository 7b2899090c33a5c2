"""rest_poller: the mandatory REST backup of the WebSocket path.

Each poll (``PollNow``, from the timer, faster while the user stream is down): open
orders, the status of every order the book has open or in flight (by client order id),
the account's trades since a watermark for each symbol, and a ping. It emits the same
messages the listener does, so missed, late or duplicated events converge to the same book.
"""

from __future__ import annotations

import time
from typing import Any

import pykka

from actors.messages import (
    BreakerInput,
    InFlightRequest,
    OrderAbsent,
    OrderSnapshot,
    PollNow,
    StatusRequest,
    TradesSeen,
)
from exchange.contract import ExchangeError, OrderNotFound
from supervision.actor import VigilActor


class RestPoller(VigilActor):
    name = "rest_poller"
    handlers = {PollNow: "poll", StatusRequest: "status"}

    def started(self) -> None:
        self.settings = self.ctx.service("settings")
        self.adapter = self.ctx.service("adapter")
        self.watermarks: dict[str, int] = self.ctx.service("poll_watermarks")
        self.last_poll_ms: int | None = None
        self.failures = 0

    def poll(self, message: PollNow) -> None:
        ask_timeout = self.settings.supervision.ask_timeout_s
        try:
            self._poll(ask_timeout)
        except (pykka.ActorDeadError, pykka.Timeout):
            return  # the broker is being restarted: the supervisor has it, skip this poll
        except ExchangeError as exc:
            self.failures += 1
            self.tell(
                "breaker",
                BreakerInput(
                    kind="poll_failed", severity="INFO", detail=f"{type(exc).__name__}: {exc}"
                ),
            )
            return
        self.failures = 0
        self.last_poll_ms = int(time.time() * 1000)

    def _poll(self, ask_timeout: float) -> None:
        tracked = self.ask("order_broker", InFlightRequest(), ask_timeout)
        open_now = {o.client_order_id: o for o in self.adapter.get_open_orders(None)}
        for status in open_now.values():
            self.tell("order_broker", OrderSnapshot(status=status))
        for symbol, cid, _state in tracked:
            if cid in open_now:
                continue
            try:
                status = self.adapter.get_order(symbol, client_order_id=cid)
            except OrderNotFound:
                self.tell("order_broker", OrderAbsent(symbol=symbol, client_order_id=cid))
                continue
            self.tell("order_broker", OrderSnapshot(status=status))
        opening = self.ctx.service("book").trade_floor  # trades up to here predate this run
        for symbol in self.settings.exchange.symbols:
            floor = self.watermarks.get(symbol, opening.get(symbol))
            if floor is None:
                continue  # the book has not opened yet
            trades = self.adapter.get_trades(symbol, from_id=floor + 1)
            if trades:
                self.tell("order_broker", TradesSeen(symbol=symbol, trades=tuple(trades)))
                self.watermarks[symbol] = max(t.trade_id for t in trades)

    def status(self, message: StatusRequest) -> dict[str, Any]:
        return {"last_poll_ms": self.last_poll_ms, "failures": self.failures}
