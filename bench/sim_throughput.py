"""Simulator benchmark: orders/s over loopback, and ack -> executionReport delivery latency.

    python -m bench.sim_throughput [--orders 2000] [--threads 2] [--quick]

Orders go through python-binance's Client (HMAC-signed REST, keep-alive sessions) from
several threads; a websocket-client subscription measures, for each order, the time from
the moment its REST acknowledgment arrived to the moment its executionReport arrived
(negative when the event overtakes the response, reported as 0).
Goal (issue 3): >= 500 orders/s and p99 event delivery < 10 ms on a 2-core machine.

``--quick`` places 300 orders (well under 30 s). The simulator runs as its own process
(``python run.py sim``) and is stopped with SIGTERM at the end; the benchmark fails if it
does not exit cleanly. Each worker closes its HTTP session and the event loop that
python-binance's Client opens for its thread, so nothing is left to the interpreter's
exit (where an unclosed loop ends in an asyncio traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import websocket
from binance.client import Client

from exchange.simulator.auth import hmac_hex, ws_payload

ROOT = Path(__file__).resolve().parent.parent
QUICK_ORDERS = 300
BENCH_PROFILE = """
[simulator]
tick_interval = 0
request_weight_per_minute = 1000000000
orders_per_10s = 1000000000
orders_per_day = 1000000000
[simulator.balances]
USDT = "1000000000000"
BTC = "1000000"
[[simulator.symbols]]
symbol = "BTCUSDT"
base_asset = "BTC"
quote_asset = "USDT"
start_price = "60000"
max_num_orders = 1000000000
"""


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ORDERS} orders")
    args = parser.parse_args()
    orders = QUICK_ORDERS if args.quick else args.orders
    with tempfile.TemporaryDirectory() as tmp:
        profile = Path(tmp) / "bench.toml"
        profile.write_text(BENCH_PROFILE)
        # the simulator runs as its own process, as `python run.py sim` does for any client
        sim = subprocess.Popen(
            [sys.executable, "run.py", "sim", "--config", str(profile)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert sim.stdout is not None
            info = json.loads(sim.stdout.readline())
            run(info, orders, args.threads)
        finally:
            sim.send_signal(signal.SIGTERM)
            _, errors = sim.communicate(timeout=10)
    if sim.returncode != 0 or "Traceback" in errors:
        print(f"simulator exited {sim.returncode}:\n{errors}", file=sys.stderr)
        return 1
    return 0


def _subscribe(info: dict[str, str]) -> websocket.WebSocket:
    ws = websocket.create_connection(info["ws_api"], timeout=10)
    params: dict[str, Any] = {"apiKey": info["api_key"], "timestamp": int(time.time() * 1000)}
    params["signature"] = hmac_hex(info["api_secret"], ws_payload(params))
    ws.send(json.dumps({"id": 1, "method": "userDataStream.subscribe.signature", "params": params}))
    json.loads(ws.recv())
    return ws


def _trade(info: dict[str, str], worker: int, count: int, ack_at: dict[str, float]) -> None:
    client = Client(info["api_key"], info["api_secret"], ping=False)
    client.API_URL = info["rest"] + "/api"
    try:
        for i in range(count):
            cid = f"b{worker}-{i}"
            side = "BUY" if i % 2 == 0 else "SELL"
            client.create_order(
                symbol="BTCUSDT", side=side, type="LIMIT", timeInForce="GTC",
                quantity="0.001", price="30000" if side == "BUY" else "90000",
                newClientOrderId=cid, newOrderRespType="ACK",
            )  # fmt: skip
            ack_at[cid] = time.perf_counter()
    finally:
        client.close_connection()
        loop = getattr(client, "loop", None)  # python-binance opens one for this thread
        if isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_running():
            loop.close()
        asyncio.set_event_loop(None)


def run(info: dict[str, str], orders: int, threads: int) -> None:
    event_at: dict[str, float] = {}
    ack_at: dict[str, float] = {}
    done = threading.Event()
    ws = _subscribe(info)

    def read() -> None:
        while not done.is_set():
            try:
                message = json.loads(ws.recv())
            except Exception:
                return
            event = message.get("event", {})
            if event.get("e") == "executionReport" and event.get("x") == "NEW":
                event_at[event["c"]] = time.perf_counter()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    per_thread = orders // threads
    workers = [
        threading.Thread(target=_trade, args=(info, w, per_thread, ack_at)) for w in range(threads)
    ]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    deadline = time.monotonic() + 10
    while len(event_at) < len(ack_at) and time.monotonic() < deadline:
        time.sleep(0.01)
    done.set()
    ws.close()
    reader.join(timeout=5)
    sent = per_thread * threads
    delays = [max(0.0, event_at[c] - ack_at[c]) * 1000 for c in ack_at if c in event_at]
    print(f"orders placed            {sent} in {elapsed:.2f} s over {threads} threads")
    print(f"orders/s sustained       {sent / elapsed:.0f}   (goal >= 500)")
    print(f"events received          {len(delays)}/{sent}")
    if delays:
        print(f"ack -> executionReport   median {statistics.median(delays):.2f} ms, "
              f"p99 {percentile(delays, 99):.2f} ms   (goal p99 < 10 ms)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
