"""The wire: the lanes that send the broker's orders and cancels to the exchange.

Sends run here so the broker keeps answering (halts, heartbeats) while the exchange is
slow. The wire has ``exchange.wire_lanes`` lanes, each one thread sending one request at a
time, in the order given; an order goes to the lane its client order id hashes to (a
stable hash, ``lane_of``), and so does every later cancel of that order, so orders of
different ids travel side by side while one slow round trip holds up only its own lane.

Right before each send, in whichever lane, the wire checks that its broker instance still
owns the book and asks the gate (``begin_send``), so nothing queued before a RED reaches
the exchange after it. The one exception is the emergency flatten's MARKET SELL
(``send_flatten``), which skips the gate and nothing else. It never re-sends: every
outcome (``SendOutcome``) goes back to the broker.

What is guaranteed about order:

* one order's send, and every cancel of it, leave in the order the broker handed them
  over (same lane): a cancel never overtakes its own order's send. An order list goes on
  its list id's lane and its legs' cancels follow it there; a cancel-replace goes on the
  lane of the order it replaces, and the new order's cancels follow it there;
* no send starts after a RED is in force (the gate's check is atomic with every trip);
  the sends already under way at the trip, at most one per lane, are in the gate's
  ``sending_at_red`` (they cannot be recalled);
* a replaced broker instance sends nothing (the ownership check before each send);
* sends of different orders may reach the exchange, and their outcomes come back, in any
  order (each outcome names its order; nothing in the broker waits on another order's
  answer). With one lane (``wire_lanes = 1``) everything leaves in hand-over order.
"""

from __future__ import annotations

import concurrent.futures
import time
import zlib

from actors.order_broker.memory import BrokerMemory
from exchange.contract import (
    DuplicateClientOrderId,
    ExchangeAdapter,
    ExchangeError,
    NotSent,
    OrderAck,
    OrderListRequest,
    OrderListStatus,
    OrderRequest,
    OrderType,
    Rejected,
    Side,
    UnknownOutcome,
)
from runtime.crashpoints import crash_point
from runtime.directory import Directory
from runtime.gate import TradingGate
from runtime.messages import AuditEvent, SendOutcome, SendResult
from runtime.timings import Timings

#: what a failed cancel-replace did (STOP_ON_FAILURE), by Binance's code
REPLACE_HALVES = {
    -2021: "the cancel succeeded, the new order failed",
    -2022: "the cancel failed, the new order was not attempted",
}

MAX_LANES = 16
PINNED_MAX = 10_000  # ids kept on another id's lane (list legs, replacements), newest kept


def lane_of(client_order_id: str, lanes: int) -> int:
    """The lane of an order and its cancels: a stable hash of its client order id (the
    same in every process, unlike ``hash``)."""
    return zlib.crc32(client_order_id.encode()) % lanes


class Wire:
    """Sends for one broker instance (``generation``), on ``lanes`` lanes, each one request
    at a time and in order (see the module's docstring for what is ordered)."""

    def __init__(
        self,
        adapter: ExchangeAdapter,
        gate: TradingGate,
        directory: Directory,
        memory: BrokerMemory,
        generation: int,
        timings: Timings | None = None,
        lanes: int = 1,
    ) -> None:
        if not 1 <= lanes <= MAX_LANES:
            raise ValueError(f"wire lanes must be 1..{MAX_LANES}, not {lanes}")
        self._adapter = adapter
        self._timings = timings or Timings()
        self._gate = gate
        self._directory = directory
        self._memory = memory
        self._generation = generation
        self._lanes = tuple(
            concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"wire-{n}")
            for n in range(lanes)
        )
        # an order list's legs go where the list went, a cancel-replace's new order where
        # the order it replaces went: their cancels follow the request that placed them
        # (used from the broker's thread only, as every method here)
        self._pinned: dict[str, int] = {}

    def lane(self, client_order_id: str) -> int:
        """The lane an id's requests go on (its own hash, or the lane it is pinned to)."""
        pinned = self._pinned.get(client_order_id)
        return lane_of(client_order_id, len(self._lanes)) if pinned is None else pinned

    def _lane(self, client_order_id: str) -> concurrent.futures.ThreadPoolExecutor:
        return self._lanes[self.lane(client_order_id)]

    def _pin(self, client_order_ids: list[str], lane: int) -> None:
        for cid in client_order_ids:
            self._pinned[cid] = lane
        while len(self._pinned) > PINNED_MAX:  # long done: their sends are far behind
            del self._pinned[next(iter(self._pinned))]

    def send(
        self, request: OrderRequest, correlation_id: str, taken_at: float | None = None
    ) -> None:
        """``taken_at``: when the broker took the intent in (monotonic seconds)."""
        self._lane(request.client_order_id).submit(self._send, request, correlation_id, taken_at)

    def send_replace(
        self, request: OrderRequest, replaces: str, correlation_id: str, taken_at: float | None
    ) -> None:
        """A cancel-replace: cancel ``replaces`` and place ``request`` in one exchange
        request; the outcome is the new order's (the cancel's result follows through the
        old order's own reports). Sent on the lane of the order it replaces, where the new
        order's cancels will follow it."""
        lane = self.lane(replaces)
        self._pin([request.client_order_id], lane)
        self._lanes[lane].submit(self._send, request, correlation_id, taken_at, replaces=replaces)

    def send_flatten(self, request: OrderRequest, correlation_id: str) -> None:
        """The emergency flatten's path (``actors.order_broker.flatten``), the one exception
        to the gate: a MARKET SELL sent whatever the breaker says. Anything else sent this
        way is refused here, before the wire."""
        self._lane(request.client_order_id).submit(
            self._send, request, correlation_id, None, flatten=True
        )

    def send_list(
        self, request: OrderListRequest, correlation_id: str, taken_at: float | None = None
    ) -> None:
        """An order list, sent once as one request (its outcome names the list's id), on
        the list id's lane, where its legs' cancels will follow it."""
        lane = self.lane(request.list_client_order_id)
        self._pin([o.client_order_id for o in request.orders], lane)
        self._lanes[lane].submit(self._send_list, request, correlation_id, taken_at)

    def cancel(self, symbol: str, client_order_id: str) -> None:
        self._lane(client_order_id).submit(self._cancel, symbol, client_order_id)

    def close(self) -> None:
        """Every lane finishes what it was given (each send still checks ownership and
        the gate first) and its thread ends; returns at once."""
        for lane in self._lanes:
            lane.shutdown(wait=False, cancel_futures=False)

    def _send(
        self,
        request: OrderRequest,
        correlation_id: str,
        taken_at: float | None = None,
        *,
        flatten: bool = False,
        replaces: str | None = None,
    ) -> None:
        cid = request.client_order_id

        def outcome(
            result: SendResult,
            detail: str = "",
            ack: OrderAck | None = None,
            code: int | None = None,
        ) -> None:
            self._directory.tell(
                "order_broker",
                SendOutcome(
                    client_order_id=cid,
                    outcome=result,
                    detail=detail,
                    ack=ack,
                    code=code,
                    answered_at=time.monotonic(),
                    correlation_id=correlation_id,
                ),
                sender="wire",
            )

        if self._memory.owner != self._generation:
            outcome(SendResult.REFUSED, "sent by a broker instance that has been replaced")
            return
        refusal = flatten_refusal(request) if flatten else self._gate.begin_send(cid)
        if refusal is not None:
            outcome(SendResult.REFUSED, refusal)
            return
        sent = time.monotonic()
        self._memory.state.evidence.execution.sent(cid, sent)
        if taken_at is not None:
            self._timings.intent_to_wire.observe(sent - taken_at)
        try:
            if replaces is None:
                ack = self._adapter.place_order(request)
                crash_point("after_send")
            else:
                ack = self._adapter.cancel_replace(
                    request, cancel_client_order_id=replaces
                ).new_order
                crash_point("after_replace_send")
        except DuplicateClientOrderId as exc:
            outcome(SendResult.UNKNOWN, f"duplicate client order id: {exc}", code=exc.code)
        except NotSent as exc:
            outcome(SendResult.NOT_SENT, str(exc), code=exc.code)
        except Rejected as exc:
            half = REPLACE_HALVES.get(exc.code or 0) if replaces is not None else None
            outcome(SendResult.REJECTED, f"{half}: {exc}" if half else str(exc), code=exc.code)
        except UnknownOutcome as exc:
            outcome(SendResult.UNKNOWN, str(exc), code=exc.code)
        except ExchangeError as exc:
            known = exc.code is not None
            outcome(SendResult.REJECTED if known else SendResult.UNKNOWN, str(exc), code=exc.code)
        except Exception as exc:  # we cannot tell whether it reached the exchange
            outcome(SendResult.UNKNOWN, f"{type(exc).__name__}: {exc}")
        else:
            self._timings.place_to_ack.observe(time.monotonic() - sent)
            outcome(SendResult.ACKED, ack=ack)
        finally:
            self._gate.end_send(cid)

    def _send_list(
        self, request: OrderListRequest, correlation_id: str, taken_at: float | None
    ) -> None:
        cid = request.list_client_order_id

        def outcome(
            result: SendResult,
            detail: str = "",
            ack: OrderListStatus | None = None,
            code: int | None = None,
        ) -> None:
            self._directory.tell(
                "order_broker",
                SendOutcome(
                    client_order_id=cid,
                    outcome=result,
                    detail=detail,
                    ack=ack,
                    code=code,
                    answered_at=time.monotonic(),
                    correlation_id=correlation_id,
                    order_list=True,
                ),
                sender="wire",
            )

        if self._memory.owner != self._generation:
            outcome(SendResult.REFUSED, "sent by a broker instance that has been replaced")
            return
        refusal = self._gate.begin_send(cid)
        if refusal is not None:
            outcome(SendResult.REFUSED, refusal)
            return
        sent = time.monotonic()
        if taken_at is not None:
            self._timings.intent_to_wire.observe(sent - taken_at)
        try:
            ack = self._adapter.place_order_list(request)
            crash_point("after_list_send")
        except DuplicateClientOrderId as exc:
            outcome(SendResult.UNKNOWN, f"duplicate client order id: {exc}", code=exc.code)
        except NotSent as exc:
            outcome(SendResult.NOT_SENT, str(exc), code=exc.code)
        except Rejected as exc:
            outcome(SendResult.REJECTED, str(exc), code=exc.code)
        except UnknownOutcome as exc:
            outcome(SendResult.UNKNOWN, str(exc), code=exc.code)
        except ExchangeError as exc:
            known = exc.code is not None
            outcome(SendResult.REJECTED if known else SendResult.UNKNOWN, str(exc), code=exc.code)
        except Exception as exc:  # we cannot tell whether it reached the exchange
            outcome(SendResult.UNKNOWN, f"{type(exc).__name__}: {exc}")
        else:
            self._timings.place_to_ack.observe(time.monotonic() - sent)
            outcome(SendResult.ACKED, ack=ack)
        finally:
            self._gate.end_send(cid)

    def _cancel(self, symbol: str, client_order_id: str) -> None:
        try:
            self._adapter.cancel_order(symbol, client_order_id=client_order_id)
        except ExchangeError as exc:
            record = {
                "actor": "order_broker",
                "client_order_id": client_order_id,
                "error": str(exc),
            }
            self._directory.tell(
                "audit_logger", AuditEvent(kind="cancel_failed", data=record), sender="wire"
            )


def flatten_refusal(request: OrderRequest) -> str | None:
    """The flatten path bypasses the gate for MARKET SELL orders only."""
    if request.side is not Side.SELL or request.type is not OrderType.MARKET:
        return f"the flatten path sends only MARKET SELL orders, not {request.type} {request.side}"
    return None
