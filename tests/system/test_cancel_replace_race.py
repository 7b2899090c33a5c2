"""Cancel-replace through the broker: the exchange's two reports of a rejected new order."""

from __future__ import annotations

import time
from decimal import Decimal

from domain.book import OrderState
from exchange.contract import ExecutionReport
from runtime.messages import OrderEvent, OrderIntent, ReplaceIntent
from tests.conftest import Vigil, wait_for

S = "BTCUSDT"
D = Decimal


def rejected_report(cid: str, order_id: int) -> ExecutionReport:
    """Binance's executionReport ``x=REJECTED`` for a cancel-replace's new order."""
    now = int(time.time() * 1000)
    return ExecutionReport(
        event_time_ms=now, symbol=S, client_order_id=cid, orig_client_order_id=None,
        side="BUY", order_type="LIMIT_MAKER", time_in_force="GTC", quantity=D("0.001"),
        price=D("60100"), stop_price=D(0), execution_type="REJECTED", state="REJECTED",
        reject_reason="ORDER_WOULD_TRADE", order_id=order_id, last_qty=D(0),
        cumulative_qty=D(0), last_price=D(0), commission=D(0), commission_asset=None,
        transaction_time_ms=now, trade_id=None, execution_id=1, is_maker=False,
        order_time_ms=now, cumulative_quote_qty=D(0), last_quote_qty=D(0),
    )  # fmt: skip


def test_a_rejected_replacement_reported_first_by_the_stream_is_not_an_impossible_report(
    vigil: Vigil,
) -> None:
    """A regression test (found by review): when a cancel-replace's new order is rejected (-2021),
    the exchange tells it twice — an executionReport ``x=REJECTED`` (Binance sends one
    exactly for this case) and the REST answer's -2021. When the stream's report is applied
    first (it travels on another connection), the wire's REJECTED outcome then
    ``Book.mark``s an order already terminal: an anomaly, i.e. an "impossible report"
    incident, CRITICAL evidence and RED, for a benign race. The report is handed to the
    broker here as the user stream's listener hands it, just before the REST answer."""
    book = vigil.system.book.book
    counters = vigil.system.book.counters
    assert vigil.submit(
        type="LIMIT", quantity="0.001", price="59000", client_order_id="old"
    ).accepted
    wait_for(lambda: book.orders["old"].state is OrderState.NEW)
    answered = counters["answered"]
    new = OrderIntent(symbol=S, side="BUY", type="LIMIT_MAKER", quantity=D("0.001"),
                      price=D("60100"), client_order_id="new")  # fmt: skip  # would take
    replace = ReplaceIntent(cancel_client_order_id="old", order=new)
    assert vigil.system.ask("order_broker", replace).accepted
    vigil.system.directory.tell(
        "order_broker", OrderEvent(report=rejected_report("new", 10**9), via="ws"), sender="test"
    )
    wait_for(lambda: counters["answered"] > answered)  # the wire's answer (-2021) is in
    assert book.orders["new"].state is OrderState.REJECTED
    wait_for(lambda: book.orders["old"].state is OrderState.CANCELED)
    assert book.anomalies == []  # (each one is an incident and RED at the next reports check)
