"""The simulator stops on SIGTERM within 2 s whatever it is doing, and stops promptly
in-process: a long tick, a held response or an open WebSocket never makes it deaf."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import requests
import websocket

from exchange.simulator import SimulatedExchange, SimulatorConfig
from tests.conftest import ROOT, SimHandle, wait_for

MAX_TICK = 10_000


def _place_resting_orders(handle: SimHandle, count: int) -> None:
    """Resting BUYs far below the market: every price step must look at each of them."""
    client = handle.client()
    for i in range(count):
        client.create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
            quantity="0.001", price=str(30000 + i), newOrderRespType="ACK",
        )  # fmt: skip


def _fire_tick(rest: str, steps: int, outcome: dict[str, Any]) -> threading.Thread:
    def fire() -> None:
        try:
            resp = requests.post(f"{rest}/_sim/tick", json={"steps": steps}, timeout=60)
            outcome["status"] = resp.status_code
            outcome["steps"] = resp.json().get("steps")
        except requests.RequestException as exc:
            outcome["error"] = type(exc).__name__

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    return thread


def _mid(rest: str) -> str:
    return str(requests.get(f"{rest}/_sim/state", timeout=5).json()["prices"]["BTCUSDT"]["mid"])


def test_run_py_sim_exits_within_2s_of_sigterm_during_a_max_size_tick() -> None:
    proc = subprocess.Popen(
        [sys.executable, "run.py", "sim", "--seed", "1", "--port", "0", "--tick-interval", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        handle = SimHandle.__new__(SimHandle)
        handle.rest, handle.api_key, handle.api_secret = (
            info["rest"],
            info["api_key"],
            info["api_secret"],
        )
        _place_resting_orders(handle, 60)  # a max-size tick now takes several seconds
        before = _mid(info["rest"])
        outcome: dict[str, Any] = {}
        _fire_tick(info["rest"], MAX_TICK, outcome)
        # the tick is under way once the price has moved (it answers between its chunks)
        wait_for(lambda: _mid(info["rest"]) != before, timeout=10)
        assert "status" not in outcome, "the tick should still be running"
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        elapsed = time.monotonic() - sent
        assert code == 0
        assert elapsed < 2.0, f"exited {elapsed:.2f} s after SIGTERM"
        assert outcome.get("steps", 0) < MAX_TICK, outcome
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()


def test_stop_is_prompt_with_a_held_response_and_open_websockets() -> None:
    exchange = SimulatedExchange(SimulatorConfig(tick_interval=0, seed=3)).start()
    handle = SimHandle(exchange)
    user = websocket.create_connection(handle.ws_api, timeout=5)
    market = websocket.create_connection(f"{handle.streams}/ws/btcusdt@bookTicker", timeout=5)
    try:
        handle.arm("timeout_after_accept", params={"delay": 60})
        outcome: dict[str, Any] = {}

        def order() -> None:
            try:
                handle.client(timeout=30).create_order(
                    symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                    quantity="0.001", price="30000",
                )  # fmt: skip
                outcome["answered"] = True
            except Exception as exc:  # the held response is cut by the stop
                outcome["error"] = type(exc).__name__

        thread = threading.Thread(target=order, daemon=True)
        thread.start()
        wait_for(lambda: handle.state()["orders"], timeout=5)  # accepted, response held
        started = time.monotonic()
        exchange.stop()
        assert time.monotonic() - started < 2.0
        thread.join(timeout=5)
        assert "answered" not in outcome
    finally:
        user.close()
        market.close()
        exchange.stop()
