"""End to end, as a user runs it: ``python run.py sim`` and ``python run.py`` as processes.

Orders flow on the simulator; a ghost order (someone else trading on the account) trips
RED; ``run.py status`` shows it; intents are refused; after recovery an operator reset
clears it; SIGTERM exits 0 with our open orders cancelled on the exchange; ``run.py
trace --order`` shows one order's journey from intent to fill.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from binance.client import Client

from tests.conftest import (
    external_exchange_env,
    run_py,
    simulator_process,
    start_run_py,
    wait_for,
)


@pytest.fixture
def exchange() -> Iterator[dict[str, str]]:
    with simulator_process("--tick-interval", "0.2", "--seed", "9") as info:
        yield info


def vigil_env(info: dict[str, str], data_dir: Path) -> dict[str, str]:
    return external_exchange_env(
        info,
        data_dir,
        demo__interval_s="0.2",
        # within the simulator's 6,000 weight a minute with the demo's own calls (a cycle and
        # a poll cost ~70 and ~13 weight): faster timers made Vigil throttle itself to RED
        reconciliation__interval_s="1.0",
        reconciliation__grace_s="3",
        poller__interval_s="0.5",
        # the demo's quotes lose the spread and the fees: its losing streak (a YELLOW that
        # clears only on a winning trade) is not what this test is about
        breaker__triggers__consecutive_losses__threshold="0",
    )


def cli(env: dict[str, str], *args: str) -> tuple[int, Any]:
    result = run_py(env, *args, timeout=30)
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError:
        return result.returncode, result.stdout + result.stderr


def wait_green(env: dict[str, str], timeout: float = 20) -> None:
    """GREEN within ``timeout``; otherwise fail naming the breaker's last state and reason."""
    last: Any = None

    def green() -> bool:
        nonlocal last
        last = cli(env, "status")[1]
        return isinstance(last, dict) and last.get("breaker") == "GREEN"

    try:
        wait_for(green, timeout=timeout, interval=0.3)
    except AssertionError:
        state = last if not isinstance(last, dict) else (last.get("breaker"), last.get("reason"))
        raise AssertionError(f"not GREEN within {timeout}s: {state}") from None


def test_run_py_end_to_end(exchange: dict[str, str], tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    env = vigil_env(exchange, data_dir)
    sim_state = lambda: requests.get(f"{exchange['rest']}/_sim/state", timeout=5).json()  # noqa: E731
    vigil = start_run_py(env, "--status-every", "1")
    try:
        wait_for(lambda: (data_dir / "control.json").exists(), timeout=20)
        control = json.loads((data_dir / "control.json").read_text())
        token = (data_dir / "control.token").read_text()
        assert oct((data_dir / "control.token").stat().st_mode & 0o777) == "0o600"
        assert control["exchange"]["rest"] == exchange["rest"]

        # orders flow, the book reconciles, the breaker is GREEN
        # (the demo backs off, doubling, until the first HEALTHY reconciliation allows it)
        wait_for(lambda: len(sim_state()["trades"]) >= 3, timeout=45)
        wait_green(env)
        code, status = cli(env, "status")
        assert code == 0 and all(status["actors"].values())
        assert status["reconciliation"]["result"] in ("HEALTHY", "WARNING")

        # someone else places an order on the account: RED
        requests.post(f"{exchange['rest']}/_sim/faults", json={"kind": "ghost_order"}, timeout=5)
        wait_for(lambda: cli(env, "status")[1]["breaker"] == "RED", timeout=10)
        code, status = cli(env, "status")
        red_since = status["since_ms"]
        assert "unknown_order" in status["reason"]

        # intents are refused with the reason
        refused = requests.post(
            control["url"] + "/v1/orders",
            json={"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert refused.status_code == 409 and "RED" in refused.json()["error"]
        orders_at_red = len(sim_state()["orders"])

        # a reset is refused while the ghost is there
        code, answer = cli(env, "reset", "--reason", "too soon", "--confirm")
        assert code == 1

        # recovery: the other party cancels its order; reconciliation comes back HEALTHY
        other = Client(exchange["api_key"], exchange["api_secret"], ping=False)
        other.API_URL = exchange["rest"] + "/api"
        ghost = next(o for o in sim_state()["open_orders"] if o["owner"] == "ghost")
        other.cancel_order(symbol=ghost["symbol"], orderId=ghost["orderId"])

        def healthy_since_red() -> bool:
            recon = cli(env, "status")[1]["reconciliation"]
            return (recon["last_healthy_ms"] or 0) > red_since

        wait_for(healthy_since_red, timeout=15, interval=0.3)

        def ghost_reports_seen() -> bool:
            """The ghost's reports (its placement and its cancel) reached the broker: each is
            a report of an order Vigil never placed, and one arriving after the reset would
            rightly trip RED again (it did, on a loaded machine)."""
            out = run_py(env, "audit", "--kind", "breaker_input", timeout=30).stdout
            records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            ghost = [r for r in records if "ghost" in str(r.get("detail", ""))]
            return len(ghost) >= 2

        wait_for(ghost_reports_seen, timeout=15, interval=0.5)
        assert len(sim_state()["orders"]) == orders_at_red + 0, "nothing of ours was sent while RED"
        code, answer = cli(
            env, "reset", "--reason", "ghost order cancelled by its owner", "--confirm"
        )
        assert code == 0, answer
        wait_green(env)
        wait_for(lambda: len(sim_state()["orders"]) > orders_at_red + 2, timeout=10)

        # an order of ours rests on the book when the process is told to stop
        mid = sim_state()["prices"]["BTCUSDT"]["mid"]
        resting = requests.post(
            control["url"] + "/v1/orders",
            json={
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "quantity": "0.001",
                "price": str((Decimal(mid) * Decimal("0.97")).quantize(Decimal("0.01"))),
                "client_order_id": "e2e-resting",
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert resting.status_code == 202, resting.text
        wait_for(
            lambda: any(o["clientOrderId"] == "e2e-resting" for o in sim_state()["open_orders"]),
            timeout=10,
        )
    finally:
        vigil.send_signal(signal.SIGTERM)
        out, err = vigil.communicate(timeout=30)
        # shown by pytest only when the test fails: what Vigil said while it ran
        print("--- run.py stdout (tail) ---", out[-4000:], sep="\n")
        print("--- run.py stderr (tail) ---", err[-8000:], sep="\n")
    assert vigil.returncode == 0, err[-2000:]
    assert "stopped" in out
    assert "[GREEN]" in out and "| recon " in out and "actors 6/6" in out  # the status lines
    # our open orders were cancelled on the exchange before the process exited
    assert [o for o in sim_state()["open_orders"] if o["owner"] != "ghost"] == []
    final = {o["clientOrderId"]: o["status"] for o in sim_state()["orders"]}
    assert final["e2e-resting"] == "CANCELED"

    # one filled order's whole journey, from the trace
    filled = next(
        o
        for o in sim_state()["orders"]
        if o["status"] == "FILLED" and o["clientOrderId"].startswith("demo-")  # the demo's own ids
    )
    code, text = cli(env, "trace", "--order", filled["clientOrderId"])
    lines = text.splitlines() if isinstance(text, str) else []
    kinds = [line.split()[4] for line in lines if " -> " in line]
    assert kinds[0] == "OrderIntent", text
    assert "SendOutcome" in kinds
    # ... to its fill: an execution report (or the REST snapshot) that says FILLED
    assert any(
        ("OrderEvent" in line or "OrderSnapshot" in line) and "FILLED" in line for line in lines
    ), text
