"""The demo market maker keeps ``python run.py`` busy and mostly GREEN, as a newcomer sees
it: ``run.py sim`` on a fast clock (ten times the default) and ``run.py`` with the demo,
as processes. It must not stall, must adapt to the breaker rather than hammer it, and the
book must equal the exchange's true state when it is stopped."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import external_exchange_env, simulator_process, start_run_py, wait_for

RUN_S = 60.0  # at ten times the default clock: ten minutes of the default demo
MIN_ORDERS = 500
MAX_STALL_S = 6.0  # no new order for this long is a stall (60 s at the default clock)


@pytest.fixture
def exchange() -> Iterator[dict[str, str]]:
    with simulator_process("--tick-interval", "0.05", "--seed", "7") as info:
        yield info


def test_the_demo_trades_for_minutes_without_stalling_and_the_book_ends_equal(
    exchange: dict[str, str], tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    env = external_exchange_env(exchange, data_dir, demo__enabled="true",
                                demo__interval_s="0.05")  # fmt: skip
    vigil = start_run_py(env)
    try:
        control = data_dir / "control.json"
        wait_for(control.exists, timeout=20)
        url = json.loads(control.read_text())["url"]
        token = (data_dir / "control.token").read_text()

        def api(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
            answer = requests.request(method, url + path, json=body, timeout=10,
                                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            return answer.json()

        began = time.monotonic()
        last_count, last_change, longest, green = 0, began, 0.0, 0
        looks = 0
        while time.monotonic() - began < RUN_S:
            status = api("GET", "/v1/status")
            looks += 1
            green += status["breaker"] == "GREEN"
            count = status.get("orders", {}).get("total", 0)
            now = time.monotonic()
            if count > last_count:
                longest = max(longest, now - last_change)
                last_count, last_change = count, now
            time.sleep(0.5)  # the observer's pace, not synchronisation
        longest = max(longest, time.monotonic() - last_change)
        assert last_count >= MIN_ORDERS, f"{last_count} orders in {RUN_S:g} s"
        assert longest <= MAX_STALL_S, f"no new order for {longest:.1f} s"
        assert green / looks >= 0.8, f"GREEN in {green} of {looks} looks"
        # stop it trading (RED), let cancel-on-RED and the fills settle: book == exchange
        api("POST", "/v1/halt", {"reason": "end of the demo test"})

        def consistent() -> bool:
            truth = requests.get(f"{exchange['rest']}/_sim/state", timeout=5).json()
            ours = api("GET", "/v1/orders")["orders"]
            for o in truth["orders"]:
                mine = ours.get(o["clientOrderId"])
                if mine is None or mine["state"] != o["status"]:
                    return False
                if Decimal(mine["executed_qty"]) != Decimal(o["executedQty"]):
                    return False
            balances = api("GET", "/v1/balances")["balances"]
            return all(
                Decimal(balances.get(a, "0")) == Decimal(b["free"]) + Decimal(b["locked"])
                for a, b in truth["balances"].items()
            )

        wait_for(consistent, timeout=20, interval=0.5)
    finally:
        vigil.terminate()
        vigil.wait(timeout=30)


def test_the_demo_looks_again_soon_while_vigil_only_waits_for_a_reconciliation() -> None:
    """At start-up (no HEALTHY reconciliation yet) or with a stale one, Vigil clears the
    wait by itself: the demo's wait doubles to 2 s at most, so the first HEALTHY one is not
    followed by up to 30 s of idling (a loaded CI machine once saw no trade within 45 s)."""
    from strategies.demo import BACK_OFF, GO, SOON, next_wait, outcome_of

    assert outcome_of("GREEN", "allowed") is None
    assert outcome_of("GREEN", "no HEALTHY reconciliation yet") == SOON
    assert outcome_of("YELLOW", "the last reconciliation is stale") == SOON
    assert outcome_of("RED", "RED: unknown_order") == BACK_OFF
    assert outcome_of("YELLOW", "YELLOW: trading paused (drawdown)") == BACK_OFF

    waits, wait = [], 0.2
    for _ in range(8):
        wait = next_wait(wait, SOON, 0.2)
        waits.append(wait)
    assert waits == [0.4, 0.8, 1.6, 2.0, 2.0, 2.0, 2.0, 2.0]
    wait = 0.2
    for _ in range(10):
        wait = next_wait(wait, BACK_OFF, 0.2)
    assert wait == 30.0
    assert next_wait(30.0, GO, 0.2) == 0.2
    assert next_wait(0.1, SOON, 5.0) == 5.0  # never quicker than the demo's own interval
