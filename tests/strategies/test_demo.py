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
MAX_STALL_S = 6.0
TICK = Decimal("0.01")  # no new order for this long is a stall (60 s at the default clock)


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

        # another strategy trades beside the demo: a bid resting far below the market and a
        # market buy (coins the demo must not sell); the demo cancels and sells only its own
        def bot(cid: str, **order: str) -> bool:
            body = {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.002", **order}
            answer = requests.post(
                url + "/v1/orders",
                json={**body, "client_order_id": cid},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert answer.status_code == 202, answer.text
            return True

        wait_for(lambda: api("GET", "/v1/status")["trading"] == "allowed", timeout=30)
        ticker = f"{exchange['rest']}/api/v3/ticker/bookTicker?symbol=BTCUSDT"
        mid = Decimal(requests.get(ticker, timeout=5).json()["bidPrice"])
        assert bot("bot-resting", type="LIMIT", price=str((mid * Decimal("0.96")).quantize(TICK)))
        assert bot("bot-buy", type="MARKET")

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
        truth = requests.get(f"{exchange['rest']}/_sim/state", timeout=5).json()
        status = {o["clientOrderId"]: o["status"] for o in truth["orders"]}
        assert status["bot-resting"] == "NEW", "the demo cancelled another strategy's order"
        demo = [o for o in truth["orders"] if o["clientOrderId"].startswith("demo-")]
        assert sum(o["status"] == "CANCELED" for o in demo) >= 20  # it did re-quote
        bought, sold = (
            sum(Decimal(o["executedQty"]) for o in demo if o["side"] == side)
            for side in ("BUY", "SELL")
        )
        # (its asks rest over its cost with fees: on this quiet clock they rarely fill; the
        # inventory's own test below checks what it counts)
        assert sold <= bought, "the demo sells only what its own fills bought"
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


def test_the_demos_inventory_counts_each_fill_of_its_own_orders_once_at_average_cost() -> None:
    from strategies.demo import Inventory

    def order(cid: str, side: str, qty: str, quote: str) -> dict[str, str]:
        return {"client_order_id": cid, "side": side, "executed_qty": qty,
                "cumulative_quote": quote}  # fmt: skip

    inv = Inventory()
    inv.update([order("demo-a-0", "BUY", "0.002", "200")])
    inv.update([order("demo-a-0", "BUY", "0.002", "200"), order("demo-a-1", "BUY", "0.001", "130")])
    assert (inv.held, inv.cost) == (Decimal("0.003"), Decimal("330"))  # each fill once
    inv.update([order("demo-a-2", "SELL", "0.001", "120")])  # the first seen, partly
    assert inv.held == Decimal("0.002") and inv.entry == Decimal("110000")  # average cost
    inv.update([order("demo-a-2", "SELL", "0.003", "360")])  # more than it holds: stops at 0
    assert inv.held == 0 and inv.entry is None
    inv.update([])  # an order compacted out of the book after it was seen: not forgotten
    assert inv.held == 0 and inv.seen["demo-a-0"] == (Decimal("0.002"), Decimal("200"))
