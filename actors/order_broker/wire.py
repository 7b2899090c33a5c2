"""The wire: the one thread that sends the broker's orders and cancels to the exchange.

Sends run here so the broker keeps answering (halts, heartbeats) while the exchange is
slow. Right before each send the wire checks that its broker instance still owns the book
and asks the gate (``begin_send``), so nothing queued before a RED reaches the exchange
after it. The one exception is the emergency flatten's MARKET SELL (``send_flatten``),
which skips the gate and nothing else. It never re-sends: every outcome (``SendOutcome``)
goes back to the broker.
"""

from __future__ import annotations

import concurrent.futures
import time

from actors.order_broker.memory import BrokerMemory
from exchange.contract import (
    DuplicateClientOrderId,
    ExchangeAdapter,
    ExchangeError,
    NotSent,
    OrderAck,
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


class Wire:
    """Sends for one broker instance (``generation``), one at a time, in order."""

    def __init__(
        self,
        adapter: ExchangeAdapter,
        gate: TradingGate,
        directory: Directory,
        memory: BrokerMemory,
        generation: int,
        timings: Timings | None = None,
    ) -> None:
        self._adapter = adapter
        self._timings = timings or Timings()
        self._gate = gate
        self._directory = directory
        self._memory = memory
        self._generation = generation
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="wire")

    def send(
        self, request: OrderRequest, correlation_id: str, taken_at: float | None = None
    ) -> None:
        """``taken_at``: when the broker took the intent in (monotonic seconds)."""
        self._pool.submit(self._send, request, correlation_id, taken_at)

    def send_flatten(self, request: OrderRequest, correlation_id: str) -> None:
        """The emergency flatten's path (``actors.order_broker.flatten``), the one exception
        to the gate: a MARKET SELL sent whatever the breaker says. Anything else sent this
        way is refused here, before the wire."""
        self._pool.submit(self._send, request, correlation_id, None, flatten=True)

    def cancel(self, symbol: str, client_order_id: str) -> None:
        self._pool.submit(self._cancel, symbol, client_order_id)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=False)

    def _send(
        self,
        request: OrderRequest,
        correlation_id: str,
        taken_at: float | None = None,
        *,
        flatten: bool = False,
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
            ack = self._adapter.place_order(request)
            crash_point("after_send")
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
