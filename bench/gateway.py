"""The strategy gateway's cost: one python-binance order placed directly on the simulator
(the floor) against the same order placed through Vigil's gateway.

    python -m bench.gateway [--orders 1000] [--quick] [--tmp DIR]

Four processes, as in use: a ``VigilSystem`` with its gateway (``bench.actors``' settings:
periodic REST work out of the way) trading on a simulator in a process of its own (an
external exchange to Vigil), a second, identical simulator for the floor (an account of its
own: orders Vigil never placed would rightly trip it RED), and the bot: two unmodified
python-binance clients, one on the second simulator with its key, one with a strategy key on
the gateway. Each places
``--orders`` resting LIMIT BUYs (GTC, the default FULL answer), one at a time, alternating,
so both see the same machine. Through the gateway an order is signed and checked, becomes an
intent (policy, the strategy's limits, breaker gate, write-ahead journal with its fsync,
audit), goes to the exchange, and is answered after the exchange's acknowledgment.

Reports median and p99 of each, their ratio, one journal fsync on this disk, and the orders
per second one bot pushes through the gateway. Goals (issue 13): gateway p99 <= 2 x direct
p99 + one fsync; >= 200 orders/s.

The rate's floors, in the same run: the orders/s the same bot gets directly on the
simulator on as many connections, and the CPU time each process (Vigil, the simulator it
trades on, the bot) spent per order while the bot pushed orders through the gateway on
``THREADS`` connections, with the orders/s that CPU allows on this machine's cores were
they all Vigil's.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from binance.client import Client
from loguru import logger

from assembly.system import VigilSystem
from bench.actors import (
    QUIET,
    SYMBOL,
    percentile,
    reference,
    settings,
    simulator,
    verdict,
    wait_until,
)
from control.gateway.server import GatewayServer
from storage.strategy_keys import add_key, keys_path

ROOT = Path(__file__).resolve().parent.parent
QUANTITY = "0.0002"
THREADS = 4  # connections one bot uses at once for the throughput figure


def fsync_cost(directory: Path, samples: int = 50) -> float:
    """Median seconds of one small write + fsync in ``directory`` (the journal's cost)."""
    path = directory / "fsync-probe"
    times = []
    with open(path, "ab") as fh:
        for _ in range(samples):
            start = time.perf_counter()
            fh.write(b"x" * 200)
            fh.flush()
            os.fsync(fh.fileno())
            times.append(time.perf_counter() - start)
    path.unlink()
    return statistics.median(times)


def client_for(rest: str, api_key: str, secret: str) -> Client:
    client = Client(api_key, secret, ping=False, requests_params={"timeout": 10})
    client.API_URL = f"{rest}/api"
    return client


def place(client: Client, price: str) -> float:
    start = time.perf_counter()
    answer = client.create_order(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity=QUANTITY,
        price=price,
    )
    elapsed = time.perf_counter() - start
    if answer.get("status") != "NEW":
        raise SystemExit(f"bench.gateway: an order was not placed: {answer}")
    return elapsed


def rate(client: Client, price: str, orders: int, threads: int) -> float:
    """Orders per second one bot (one key) places on ``threads`` connections at once."""
    clients = [client] + [
        client_for(client.API_URL.removesuffix("/api"), client.API_KEY, client.API_SECRET)
        for _ in range(threads - 1)
    ]
    each = max(1, orders // threads)
    workers = [
        threading.Thread(target=lambda c=c: [place(c, price) for _ in range(each)]) for c in clients
    ]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return each * threads / (time.perf_counter() - start)


@dataclass(frozen=True)
class Bot:
    direct: tuple[str, str, str]  # rest URL, API key, secret
    gateway: tuple[str, str, str]
    price: str
    orders: int
    warmup: int


def drive(bot: Bot) -> tuple[list[float], list[float], float, float]:
    """The bot's process: the same order alternately direct and through the gateway, then
    its rate through the gateway one at a time and directly on ``THREADS`` connections."""
    direct, through = client_for(*bot.direct), client_for(*bot.gateway)
    for _ in range(bot.warmup):
        place(direct, bot.price)
        place(through, bot.price)
    floor, gated = [], []
    for _ in range(bot.orders):
        floor.append(place(direct, bot.price))
        gated.append(place(through, bot.price))
    per_s = rate(through, bot.price, bot.orders, 1)
    return floor, gated, per_s, rate(direct, bot.price, bot.orders, THREADS)


def drive_connections(bot: Bot) -> tuple[float, float]:
    """The bot's process: its rate through the gateway on ``THREADS`` connections, and the
    CPU seconds the bot spent on it."""
    cpu = time.process_time()
    per_s = rate(client_for(*bot.gateway), bot.price, bot.orders, THREADS)
    return per_s, time.process_time() - cpu


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def simulator_process() -> Iterator[dict[str, str]]:
    """``bench.actors``' simulator (limits out of the way) in a process of its own; yields
    its URLs and credentials (the line ``run.py sim`` prints). Ends when its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.gateway", "--serve-simulator"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        yield {**json.loads(proc.stdout.readline()), "pid": str(proc.pid)}
    finally:
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def serve_simulator() -> int:
    sim = simulator()
    print(json.dumps(sim.info()), flush=True)
    sys.stdin.read()  # until the bench closes it (or dies)
    sim.stop()
    return 0


@contextmanager
def vigil_on(venue: dict[str, str], root: str | None) -> Iterator[VigilSystem]:
    """A Vigil trading on ``venue`` as on an external exchange (its key from the environment,
    as ever), GREEN and with a reference price."""
    os.environ["BINANCE_API_KEY"] = venue["api_key"]
    os.environ["BINANCE_API_SECRET"] = venue["api_secret"]
    external = {
        "exchange": {
            "simulator": False,
            "rest_url": venue["rest"],
            "ws_api_url": venue["ws_api"],
            "stream_url": venue["streams"],
        }
    }
    data_dir = Path(tempfile.mkdtemp(prefix="vigil-bench-", dir=root))
    system = VigilSystem(settings(data_dir, QUIET, external))
    try:
        system.start()
        wait_until(lambda: system.gate.refusal() is None, 20, "GREEN and reconciled")
        yield system
    finally:
        system.stop(cancel_open=False)
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> int:
    if sys.argv[1:] == ["--serve-simulator"]:
        return serve_simulator()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1000, help="orders per path")
    parser.add_argument("--quick", action="store_true", help="a small run (CI)")
    parser.add_argument("--tmp", default=None, help="where the data dir goes")
    args = parser.parse_args()
    orders = 150 if args.quick else args.orders
    warmup = 20
    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    logging.disable(logging.WARNING)

    with simulator_process() as venue, simulator_process() as floor_venue:
        with vigil_on(venue, args.tmp) as system:
            gateway = GatewayServer(system).start()
            system.gateway = gateway
            key = add_key(keys_path(system.data_dir), "bench")
            gateway.ring.reload()
            price = str((reference(system) * Decimal("0.9")).quantize(Decimal("0.01")))
            bot = Bot(
                direct=(floor_venue["rest"], floor_venue["api_key"], floor_venue["api_secret"]),
                gateway=(gateway.urls()["rest"], key.api_key, key.secret),
                price=price,
                orders=orders,
                warmup=warmup,
            )
            # the bot is its own process, as a bot is: its clients do not share Vigil's GIL
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                floor, gated, per_s, direct_4 = pool.submit(drive, bot).result()
                # the rate on THREADS connections, and who spent what CPU on it
                sim_pid = int(venue["pid"])
                vigil_cpu, sim_cpu = time.process_time(), cpu_of(sim_pid)
                per_s_4, bot_cpu = pool.submit(drive_connections, bot).result()
                vigil_cpu = time.process_time() - vigil_cpu
                sim_cpu = cpu_of(sim_pid) - sim_cpu
            fsync = fsync_cost(system.data_dir)

    def row(label: str, samples: list[float]) -> str:
        return (
            f"  {label:<36} {len(samples):>6} {statistics.median(samples) * 1e3:>10.2f} "
            f"{percentile(samples, 99) * 1e3:>10.2f}"
        )

    direct_p99, gated_p99 = percentile(floor, 99), percentile(gated, 99)
    print("bench.gateway: one python-binance LIMIT order, answered (FULL)")
    print(f"  {'':<36} {'n':>6} {'median ms':>10} {'p99 ms':>10}")
    print(row("direct on the simulator (floor)", floor))
    print(row("through Vigil's gateway", gated))
    print(
        f"  ratio gateway/direct: median {statistics.median(gated) / statistics.median(floor):.2f}"
        f", p99 {gated_p99 / direct_p99:.2f}"
    )
    budget = 2 * direct_p99 + fsync
    ok_latency = gated_p99 <= budget
    print(
        f"  goal p99 <= 2 x direct p99 + one fsync ({fsync * 1e3:.2f} ms) = {budget * 1e3:.2f} ms:"
        f" {verdict(ok_latency)}"
    )
    ok_rate = max(per_s, per_s_4) >= 200
    print(
        f"  one bot through the gateway: {per_s:.0f} orders/s one at a time, {per_s_4:.0f} "
        f"orders/s on {THREADS} connections (goal >= 200): {verdict(ok_rate)}"
    )
    placed = max(1, orders // THREADS) * THREADS
    each = [vigil_cpu / placed, sim_cpu / placed, bot_cpu / placed]
    cores = os.cpu_count() or 1
    print(
        f"  floors of the rate: the same bot directly on the simulator on {THREADS} connections"
        f" {direct_4:.0f} orders/s; CPU per order through the gateway: Vigil"
        f" {each[0] * 1e3:.2f} ms, simulator {each[1] * 1e3:.2f} ms, bot {each[2] * 1e3:.2f} ms"
        f" = {sum(each) * 1e3:.2f} ms, at most {cores / sum(each):.0f} orders/s on {cores}"
        f" idle cores (load average {os.getloadavg()[0]:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
