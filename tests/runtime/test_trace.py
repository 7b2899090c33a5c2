"""What the trace says of an order message: which order, and what happened to it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from exchange.binance import parse
from exchange.contract import ExecutionReport
from runtime.messages import OrderEvent, SendOutcome
from runtime.trace import MessageTrace, order_of, read_trace, state_of

FILL = {
    "e": "executionReport", "E": 1, "s": "BTCUSDT", "c": "vgl-1", "S": "BUY",
    "o": "LIMIT", "f": "GTC", "q": "0.01", "p": "59000", "P": "0", "F": "0", "g": -1,
    "C": "", "x": "TRADE", "X": "FILLED", "r": "NONE", "i": 4, "l": "0.01",
    "z": "0.01", "L": "59000", "n": "0", "N": None, "T": 2, "t": 7, "I": 9, "w": False,
    "m": False, "M": False, "O": 1, "Z": "590", "Y": "590", "Q": "0",
}  # fmt: skip


def report(**changes: object) -> ExecutionReport:
    event = parse.user_event({**FILL, **changes})
    assert isinstance(event, ExecutionReport)
    return event


def test_a_fill_report_names_its_order_and_says_filled() -> None:
    message = OrderEvent(report=report(), via="ws")
    assert order_of(message) == "vgl-1"
    assert state_of(message) == "TRADE FILLED 0.01"
    assert report().cumulative_qty == Decimal("0.01")


def test_a_cancel_report_is_about_the_order_it_cancelled() -> None:
    cancel = report(c="cancel-9", C="vgl-1", x="CANCELED", X="CANCELED", l="0", z="0", t=-1)
    message = OrderEvent(report=cancel, via="ws")
    assert order_of(message) == "vgl-1"
    assert state_of(message) == "CANCELED CANCELED 0"


def test_a_send_outcome_says_how_the_send_ended() -> None:
    message = SendOutcome(client_order_id="vgl-1", outcome="acked")
    assert (order_of(message), state_of(message)) == ("vgl-1", "acked")


def test_batched_writes_keep_every_record_and_rotate_at_the_size(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    trace = MessageTrace(path, rotation="4 KB", retention=1000)
    messages = [SendOutcome(client_order_id=f"vgl-{i}", outcome="acked") for i in range(600)]
    for i, message in enumerate(messages):
        trace.record("order_broker", message, float(i), float(i))
    trace.close()
    files = sorted(tmp_path.glob("trace.jsonl*"))
    assert len(files) > 10 and all(f.stat().st_size < 4096 for f in files)
    records = read_trace(path)
    assert [r["order"] for r in records] == [f"vgl-{i}" for i in range(600)]
    assert all(r["receiver"] == "order_broker" and r["state"] == "acked" for r in records)
