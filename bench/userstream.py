"""User-stream throughput: executionReports parsed and booked per second through the real
ws_listener and broker.

    python -m bench.userstream [--orders 4000] [--fills 10] [--quick] [--tmp DIR]

A whole ``VigilSystem`` on an in-process simulator (``bench.actors``' settings: periodic
REST work out of the way, trace at its default ``summary``). ``--orders`` LIMIT BUYs go
through the real intake (policy, write-ahead journal, audit) to a wire whose
``place_order`` is a stub that acknowledges them (NEW, an order id) without the exchange,
so the book knows them. Then ``--fills`` executionReports per order (TRADE, the last one
FILLED), as the exchange would send them, are fed the way the adapter's stream thread does
it: the frame's JSON decoded (``parse.decode_json``), parsed (``parse.user_event``) and
handed to the system's stream callback (``VigilSystem._stream_frame``: a ``StreamFrame``
told to ``ws_listener`` through the directory), which turns each into an ``OrderEvent``
for the broker. The clock runs from the first frame until the broker has booked every
fill (its book's executions, polled); then every order must be FILLED with its whole
quantity executed and no fill booked twice.

Floors, in the same run:

- parse: the same frames decoded and parsed by the adapter's parser alone, in one thread;
- parse + hops: the same parse, then the two pykka tells every report crosses on Vigil's
  path (stream thread → ws_listener → order_broker; the breaker's evidence is batched),
  between plain ``pykka.ThreadingActor``s that do nothing else — the raw cost of the actor
  hops with one GIL for every thread. The clock stops when the last actor has received
  every report;
- parse + hops + a journal row: the same, and the last actor writes each report as one
  row (its JSON text) into a bare SQLite table with the journal's settings (WAL,
  ``synchronous=FULL``), what is pending committed every 50 ms as the group commit does — the
  least a durable booking costs, before any book, evidence, audit or trace.

Each figure also gives the process CPU time per report (all threads), which a machine
shared with other work disturbs less than the wall clock. The verdict is the ratio of
Vigil's time to the parse + hops floor; the goal (≥ 20,000 reports/s booked) is judged
as is, and the floors say whether this machine can reach it at all.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from assembly.system import VigilSystem
from bench.actors import QUIET, SYMBOL, intent, reference, running, simulator
from exchange.binance import parse
from exchange.contract import OrderAck, OrderRequest, OrderState
from storage.group_commit import open_db

GOAL_PER_S = 20_000
DEFAULT_TRACE = {"trace": {"level": "summary"}}  # the production default (bench.actors: off)


@dataclass(frozen=True)
class Placed:
    client_order_id: str
    order_id: int
    price: Decimal
    quantity: Decimal


class AckingWire:
    """``adapter.place_order`` without the exchange: answer NEW with the next order id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.placed: list[Placed] = []

    def place_order(self, request: OrderRequest) -> OrderAck:
        with self.lock:
            order_id = 1_000_000 + len(self.placed)
            assert request.price is not None and request.quantity is not None
            self.placed.append(
                Placed(request.client_order_id, order_id, request.price, request.quantity)
            )
        return OrderAck(
            symbol=request.symbol,
            order_id=order_id,
            client_order_id=request.client_order_id,
            transact_time_ms=int(time.time() * 1000),
            state=OrderState.NEW,
            executed_qty=Decimal(0),
            cumulative_quote_qty=Decimal(0),
        )


def place(system: VigilSystem, orders: int) -> AckingWire:
    wire = AckingWire()
    system.adapter.place_order = wire.place_order  # type: ignore[method-assign]
    price = (reference(system) * Decimal("0.9")).quantize(Decimal("0.01"))
    for _ in range(orders):
        decision = system.ask("order_broker", intent(price))
        if not decision.accepted:
            raise RuntimeError(f"bench: intent refused: {decision.reason}")
    deadline = time.monotonic() + 60
    while len(wire.placed) < orders or system.book.counters["answered"] < orders:
        if time.monotonic() > deadline:
            raise RuntimeError("bench: the wire did not place every order")
        time.sleep(0.01)
    return wire


def frames(placed: list[Placed], fills: int) -> list[str]:
    """Each order's ``fills`` executionReports (TRADE), as the simulator renders them."""
    out = []
    trade_id = 5_000_000
    now = int(time.time() * 1000)
    for order in placed:
        piece = order.quantity / fills
        done = Decimal(0)
        for i in range(1, fills + 1):
            trade_id += 1
            done += piece
            last = i == fills
            event = {
                "e": "executionReport",
                "E": now,
                "s": SYMBOL,
                "c": order.client_order_id,
                "S": "BUY",
                "o": "LIMIT",
                "f": "GTC",
                "q": str(order.quantity),
                "p": str(order.price),
                "P": "0.00000000",
                "F": "0.00000000",
                "g": -1,
                "C": "",
                "x": "TRADE",
                "X": "FILLED" if last else "PARTIALLY_FILLED",
                "r": "NONE",
                "i": order.order_id,
                "l": str(piece),
                "z": str(done),
                "L": str(order.price),
                "n": "0",
                "N": "BTC",
                "T": now,
                "t": trade_id,
                "I": trade_id * 2,
                "w": not last,
                "m": True,
                "M": True,
                "O": now,
                "Z": str(done * order.price),
                "Y": str(piece * order.price),
                "Q": "0.00000000",
                "W": now,
                "V": "EXPIRE_MAKER",
            }
            out.append(json.dumps({"subscriptionId": 1, "event": event}))
    return out


def parse_only(texts: list[str]) -> tuple[float, float]:
    """The first floor: the adapter's decode and parse of every frame, nothing else.
    (wall seconds, CPU seconds)"""
    decode, user_event = parse.decode_json, parse.user_event
    gc.collect()
    cpu, start = time.process_time(), time.perf_counter()
    for text in texts:
        user_event(decode(text, "ws-api frame")["event"])
    return time.perf_counter() - start, time.process_time() - cpu


_ROW = json.JSONEncoder(default=str, sort_keys=True, separators=(",", ":")).encode
COMMIT_EVERY_S = 0.05  # the journal's group commit: what is pending, this often (its default)


class _Hop(pykka.ThreadingActor):
    """A plain actor that passes each message on (or, the last, counts them and, with a
    database, writes each one as a row: its JSON text, what is pending committed every
    ``COMMIT_EVERY_S``, as the journal's group commit does)."""

    def __init__(
        self,
        to: pykka.ActorRef[Any] | None,
        done: threading.Event,
        n: int,
        db: sqlite3.Connection | None = None,
    ) -> None:
        super().__init__()
        self.to, self.done, self.n, self.seen = to, done, n, 0
        self.db, self.rows = db, list[tuple[int, str]]()
        self.committed = time.monotonic()

    def on_receive(self, message: Any) -> None:
        if self.to is not None:
            self.to.tell(message)
            return
        self.seen += 1
        if self.db is not None:
            self.rows.append((self.seen, _ROW(vars(message))))
            now = time.monotonic()
            if now - self.committed >= COMMIT_EVERY_S or self.seen == self.n:
                self.db.execute("BEGIN")
                self.db.executemany("INSERT INTO journal VALUES (?, ?)", self.rows)
                self.db.execute("COMMIT")
                self.rows.clear()
                self.committed = now
        if self.seen == self.n:
            self.done.set()


def journal_db(where: str) -> sqlite3.Connection:
    """A bare table of (seq, text), opened as the journal opens its file (``open_db``: WAL,
    synchronous=FULL)."""
    schema = ["CREATE TABLE journal (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)"]
    return open_db(Path(where) / "floor.db", "floor journal", schema)


def parse_and_hops(texts: list[str], where: str | None = None) -> tuple[float, float]:
    """The second floor: parse, then two plain pykka tells per report (as every report
    crosses on Vigil's path: ws_listener, order_broker); with ``where``, the third: the
    last actor also writes each report as a journal row. (wall seconds, CPU seconds)"""
    done = threading.Event()
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        db = journal_db(tmp) if where is not None else None
        try:
            return _timed_hops(texts, done, db)
        finally:
            if db is not None:
                db.close()


def _timed_hops(
    texts: list[str], done: threading.Event, db: sqlite3.Connection | None
) -> tuple[float, float]:
    decode, user_event = parse.decode_json, parse.user_event
    broker = _Hop.start(None, done, len(texts), db)
    listener = _Hop.start(broker, done, 0)
    try:
        gc.collect()
        cpu, start = time.process_time(), time.perf_counter()
        for text in texts:
            listener.tell(user_event(decode(text, "ws-api frame")["event"]))
        if not done.wait(120):
            raise RuntimeError("bench: the plain actors did not pass every report")
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        for ref in (listener, broker):
            ref.stop()


def booked(system: VigilSystem, texts: list[str]) -> tuple[float, float, float]:
    """(seconds until every fill is booked, seconds the feeding alone took, CPU seconds)."""
    decode, user_event = parse.decode_json, parse.user_event
    deliver = system._stream_frame
    executions = system.book.book.executions
    target = len(executions) + len(texts)
    gc.collect()
    cpu, start = time.process_time(), time.perf_counter()
    for text in texts:
        deliver(user_event(decode(text, "ws-api frame")["event"]))
    fed = time.perf_counter() - start
    deadline = time.monotonic() + 120
    while len(executions) < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: {target - len(executions)} fills never booked")
        time.sleep(0.0005)
    return time.perf_counter() - start, fed, time.process_time() - cpu


def check(system: VigilSystem, wire: AckingWire, fills: int) -> list[str]:
    problems = []
    orders = system.book.book.orders
    for p in wire.placed:
        o = orders.get(p.client_order_id)
        if o is None or o.state.value != "FILLED" or o.executed_qty != p.quantity:
            problems.append(f"{p.client_order_id}: {o and o.state} {o and o.executed_qty}")
    count = len(system.book.book.executions)
    if count != len(wire.placed) * fills:
        problems.append(f"executions {count}, expected {len(wire.placed) * fills}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=4000, help="orders the book knows")
    parser.add_argument("--fills", type=int, default=10, help="executionReports per order")
    parser.add_argument("--tmp", default=None, help="where the data dir goes")
    parser.add_argument("--quick", action="store_true", help="small sizes (CI: it still runs)")
    args = parser.parse_args()
    if args.quick:
        args.orders = 400
    logger.remove()
    logging.getLogger("pykka").setLevel(logging.CRITICAL)
    began = time.monotonic()
    sim = simulator()
    try:
        with running(sim, args.tmp, QUIET, DEFAULT_TRACE) as system:
            wire = place(system, args.orders)
            texts = frames(wire.placed, args.fills)
            floor = min(parse_only(texts) for _ in range(3))
            hops = min(parse_and_hops(texts) for _ in range(2))
            rows = min(parse_and_hops(texts, str(system.data_dir)) for _ in range(2))
            took, fed, cpu = booked(system, texts)
            problems = check(system, wire, args.fills)
            level = system.gate.state.level.value
            reason = system.gate.state.reason
    finally:
        sim.stop()
    n = len(texts)
    rate = n / took

    def line(what: str, wall: float, cpu: float) -> str:
        return (
            f"{what:<44}{wall * 1e3:9.1f} ms {n / wall:10,.0f} reports/s "
            f"({wall / n * 1e6:6.1f} µs each, CPU {cpu / n * 1e6:6.1f} µs)"
        )

    print(f"Vigil user stream (python {sys.version.split()[0]}, {os.cpu_count()} cpus)")
    print(f"{n} executionReports: {args.orders} LIMIT orders x {args.fills} fills each")
    print(line("floor: decode + parse.user_event alone", *floor))
    print(line("floor: parse + 2 plain pykka tells", *hops))
    print(line("floor: parse + 2 tells + a journal row each", *rows))
    print(line("Vigil: parse → ws_listener → broker booked", took, cpu))
    print(f"  of which the feeding thread (parse + tell)  {fed * 1e3:9.1f} ms")
    print(f"  ratio Vigil / parse floor (time)            {took / floor[0]:9.2f}x")
    print(f"  ratio Vigil / parse + hops floor (time)     {took / hops[0]:9.2f}x")
    print(f"  breaker after the run: {level} {reason if level != 'GREEN' else ''}")
    print(f"  book checks: {'ok' if not problems else problems[:5]}")
    ok = rate >= GOAL_PER_S and not problems
    print(f"goal ≥ {GOAL_PER_S:,} reports/s booked: {rate:,.0f}  {'PASS' if ok else 'FAIL'}")
    budget, floor_cpu, rows_cpu = 1e6 / GOAL_PER_S, hops[1] / n * 1e6, rows[1] / n * 1e6
    print(
        f"  the goal allows {budget:.0f} µs per report; parse and the two hops alone take "
        f"{hops[0] / n * 1e6:.1f} µs ({floor_cpu:.1f} µs CPU), leaving "
        f"{budget - floor_cpu:.0f} µs CPU for booking, journal, evidence, audit and trace, "
        f"which take {(cpu - hops[1]) / n * 1e6:.0f} µs here;"
    )
    print(
        f"  with a bare journal row per report the floor is {rows_cpu:.1f} µs CPU: "
        f"{budget - rows_cpu:.0f} µs would be left for the book, the evidence, the audit "
        f"and the trace"
    )
    print(f"  took {time.monotonic() - began:.1f} s")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
