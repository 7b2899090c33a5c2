"""kill -9 at chosen points of the order path, then a restart: nothing lost, nothing doubled.

The simulator runs as its own process (``run.py sim``); Vigil runs as a process that
SIGKILLs itself at a crash point (``VIGIL_CRASH_AT``), then a second Vigil starts on the
same data directory. Afterwards: no client order id twice on the exchange, every trade
of ours in the book, the book equal to the exchange's true state, the RED latch as it
was, and the audit sequence continuous.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.chaos import audit_gaps
from storage.audit import open_read_only
from storage.journal import Journal
from tests.conftest import ROOT, external_exchange_env, simulator_process, wait_for


@pytest.fixture
def exchange() -> Iterator[dict[str, str]]:
    with simulator_process("--tick-interval", "0", "--seed", "4") as info:
        yield info


class VigilProcess:
    def __init__(
        self, info: dict[str, str], data_dir: Path, crash_at: str | None = None, **settings: str
    ) -> None:
        env = external_exchange_env(
            info,
            data_dir,
            demo__enabled="false",
            reconciliation__interval_s="0.5",
            poller__interval_s="0.3",
            broker__unknown_window_s="1",
            **settings,
        )
        if crash_at:
            env["VIGIL_CRASH_AT"] = crash_at
        self.data_dir = data_dir
        control = data_dir / "control.json"
        if control.exists():
            control.unlink()  # left behind by a killed process
        self.proc = subprocess.Popen(
            [sys.executable, "run.py"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: control.exists() or self.proc.poll() is not None, timeout=20)
        assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
        self.url = json.loads(control.read_text())["url"]
        self.token = (data_dir / "control.token").read_text()

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        resp = requests.request(
            method,
            self.url + path,
            json=body,
            timeout=10,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        return resp

    def status(self) -> dict[str, Any]:
        return dict(self.api("GET", "/v1/status").json())

    def order(self, **body: Any) -> None:
        try:
            self.api("POST", "/v1/orders", {"symbol": "BTCUSDT", **body})
        except requests.RequestException:
            pass  # the process may die while answering

    def killed(self) -> bool:
        return self.proc.poll() == -signal.SIGKILL

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def sim_state(info: dict[str, str]) -> dict[str, Any]:
    return dict(requests.get(f"{info['rest']}/_sim/state", timeout=5).json())


def set_price(info: dict[str, str], price: Decimal) -> None:
    requests.post(
        f"{info['rest']}/_sim/price", json={"symbol": "BTCUSDT", "price": str(price)}, timeout=5
    ).raise_for_status()


def consistent(vigil: VigilProcess, info: dict[str, str]) -> list[str]:
    """Differences between the book and the exchange's true state (empty = consistent)."""
    state = sim_state(info)
    ours = vigil.api("GET", "/v1/orders").json()["orders"]
    problems = []
    for o in state["orders"]:
        mine = ours.get(o["clientOrderId"])
        if mine is None or mine["state"] != o["status"]:
            problems.append(f"{o['clientOrderId']}: {mine and mine['state']} vs {o['status']}")
        elif Decimal(mine["executed_qty"]) != Decimal(o["executedQty"]):
            problems.append(f"{o['clientOrderId']}: executed {mine['executed_qty']}")
    balances = vigil.api("GET", "/v1/balances").json()["balances"]
    for asset, bal in state["balances"].items():
        if Decimal(balances.get(asset, "0")) != Decimal(bal["free"]) + Decimal(bal["locked"]):
            problems.append(f"{asset}: {balances.get(asset)} vs {bal}")
    if vigil.status().get("fills") != len(state["trades"]):
        problems.append(f"fills {vigil.status().get('fills')} vs trades {len(state['trades'])}")
    return problems


def audit_continuous(data_dir: Path) -> bool:
    return not audit_gaps(data_dir)  # `run.py audit --check`, as the chaos soak runs it


def intents_audited(data_dir: Path) -> list[str]:
    """Client order ids the journal holds as intents but the audit trail has no
    ``intent_accepted`` record of (empty = every intent audited)."""
    journal = Journal(data_dir / "journal.db")
    trail = open_read_only(data_dir / "audit.db")
    try:
        intents = {e.body["client_order_id"] for e in journal.load() if e.kind == "intent"}
        audited = {r["client_order_id"] for r in trail.query(kind="intent_accepted", limit=10**6)}
    finally:
        journal.close()
        trail.close()
    assert intents, "no intent journaled"
    return sorted(intents - audited)


def green(vigil: VigilProcess) -> bool:
    return vigil.status()["trading"] == "allowed"


@pytest.mark.parametrize(
    "point", ["after_intent_journaled", "after_send", "partial_fill", "during_reconciliation:6"]
)
def test_kill_9_then_restart_loses_nothing_and_duplicates_nothing(
    exchange: dict[str, str], tmp_path: Path, point: str
) -> None:
    data_dir = tmp_path / "var"
    first = VigilProcess(exchange, data_dir, crash_at=point)
    wait_for(lambda: green(first), timeout=15)
    mid = Decimal(sim_state(exchange)["prices"]["BTCUSDT"]["mid"])
    first.order(side="BUY", type="MARKET", quantity="0.002", client_order_id="crash-m1")
    limit = mid - 5
    first.order(
        side="BUY", type="LIMIT", quantity="0.08", price=str(limit), client_order_id="crash-l1"
    )
    if point == "partial_fill":
        set_price(exchange, limit - Decimal("0.01"))  # one level of 0.05 at the limit: partial
    wait_for(first.killed, timeout=20)

    second = VigilProcess(exchange, data_dir)
    try:
        wait_for(lambda: not consistent(second, exchange), timeout=20, interval=0.2)
        # an unclean stop comes back RED: a person looks, then resets
        assert second.status()["reason"].startswith("unclean stop at ")
        reset_after_review(second)
        wait_for(lambda: green(second), timeout=10)
        ids = [o["clientOrderId"] for o in sim_state(exchange)["orders"]]
        assert len(ids) == len(set(ids)), f"duplicate orders: {ids}"
        # an intent journaled before the crash is never sent again: at most once on the exchange
        assert ids.count("crash-l1") <= 1 and ids.count("crash-m1") <= 1
        # the book keeps working after recovery
        second.order(side="SELL", type="MARKET", quantity="0.001", client_order_id="after-restart")
        wait_for(lambda: "after-restart" in second.api("GET", "/v1/orders").json()["orders"])
        wait_for(lambda: not consistent(second, exchange), timeout=10, interval=0.2)
    finally:
        assert second.stop() == 0
    assert audit_continuous(data_dir)
    assert intents_audited(data_dir) == []


def reset_after_review(vigil: VigilProcess) -> None:
    """The operator's reset, once a reconciliation after the trip came back HEALTHY."""

    def reset() -> bool:
        answer = vigil.api("POST", "/v1/reset", {"reason": "reviewed", "confirm": True})
        return bool(answer.status_code == 200)

    wait_for(reset, timeout=10, interval=0.2)


def test_a_sigkill_restart_comes_back_red_and_a_sigterm_restart_does_not(
    exchange: dict[str, str], tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    first = VigilProcess(exchange, data_dir)
    wait_for(lambda: green(first), timeout=15)
    assert first.stop() == 0  # SIGTERM: a graceful stop, marked as such
    second = VigilProcess(exchange, data_dir)
    try:
        wait_for(lambda: green(second), timeout=15)  # no RED: it stopped cleanly
        second.proc.send_signal(signal.SIGKILL)
        second.proc.wait(timeout=10)
        third = VigilProcess(exchange, data_dir)
        try:
            status = third.status()
            assert status["breaker"] == "RED"
            assert status["reason"].startswith("unclean stop at ")
            assert status["reason"].endswith("review the incident")
            incidents = third.api("GET", "/v1/incidents").json()["incidents"]
            unclean = [i for i in incidents if i["kind"] == "unclean_stop"]
            assert len(unclean) == 1
            folder = Path(unclean[0]["detail"]["folder"])
            state = json.loads((folder / "state.json").read_text())
            assert state["previous_run"]["stopped_ms"] is None
            assert any(r["kind"] == "system_started" for r in state["audit_tail"])
            # RED stays until a person resets it, after a HEALTHY reconciliation
            reset_after_review(third)
            wait_for(lambda: green(third), timeout=10)
        finally:
            assert third.stop() == 0
    finally:
        second.stop()


def test_the_red_latch_survives_kill_9(exchange: dict[str, str], tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    first = VigilProcess(exchange, data_dir, crash_at="after_send")
    wait_for(lambda: green(first), timeout=15)
    first.api("POST", "/v1/halt", {"reason": "before the crash"})
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    second = VigilProcess(exchange, data_dir)
    try:
        status = second.status()
        assert status["breaker"] == "RED" and "before the crash" in status["reason"]
    finally:
        assert second.stop() == 0
    assert audit_continuous(data_dir)


def test_red_latched_across_kill_9_still_cancels_the_order_left_resting(
    exchange: dict[str, str], tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    first = VigilProcess(exchange, data_dir)
    wait_for(lambda: green(first), timeout=15)
    mid = Decimal(sim_state(exchange)["prices"]["BTCUSDT"]["mid"])
    first.order(side="BUY", type="LIMIT", quantity="0.01", price=str(mid - 500),
                client_order_id="left-resting")  # fmt: skip

    def status_on_exchange() -> str | None:
        orders = {o["clientOrderId"]: o["status"] for o in sim_state(exchange)["orders"]}
        return orders.get("left-resting")

    wait_for(lambda: status_on_exchange() == "NEW", timeout=10)
    # the exchange refuses every REST call: the halt's cancel cannot go through
    requests.post(
        f"{exchange['rest']}/_sim/faults", json={"kind": "outage", "duration": 60}, timeout=5
    ).raise_for_status()
    first.api("POST", "/v1/halt", {"reason": "before the crash"})
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    requests.delete(f"{exchange['rest']}/_sim/faults", timeout=5).raise_for_status()
    assert status_on_exchange() == "NEW"  # left resting, unwatched
    second = VigilProcess(exchange, data_dir)
    try:
        assert second.status()["breaker"] == "RED"
        wait_for(lambda: status_on_exchange() == "CANCELED", timeout=15)
        assert second.status()["breaker"] == "RED"  # and RED stays
    finally:
        assert second.stop() == 0


@pytest.mark.parametrize("point", ["after_list_journaled", "after_list_send"])
def test_kill_9_with_an_order_list_in_flight_then_restart(
    exchange: dict[str, str], tmp_path: Path, point: str
) -> None:
    """An OCO journaled whole, then SIGKILL before or after the exchange took it: the restart
    knows which (its orders resolved by client order id: absent, or open on the exchange),
    never sends it again, and keeps its audit record."""
    data_dir = tmp_path / "var"
    first = VigilProcess(exchange, data_dir, crash_at=point)
    wait_for(lambda: green(first), timeout=15)
    mid = Decimal(sim_state(exchange)["prices"]["BTCUSDT"]["mid"])
    body = {
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01", "list_type": "OCO",
        "list_client_order_id": "crash-oco",
        "above": {"type": "LIMIT_MAKER", "price": str(mid + 500), "client_order_id": "crash-tp"},
        "below": {"type": "STOP_LOSS", "stop_price": str(mid - 500), "client_order_id": "crash-sl"},
    }  # fmt: skip
    try:
        first.api("POST", "/v1/order-lists", body)
    except requests.RequestException:
        pass  # the process may die while answering
    wait_for(first.killed, timeout=20)

    second = VigilProcess(exchange, data_dir)
    try:
        wait_for(lambda: not consistent(second, exchange), timeout=20, interval=0.2)
        orders = second.api("GET", "/v1/orders").json()["orders"]

        def settled() -> bool:
            orders.update(second.api("GET", "/v1/orders").json()["orders"])
            return all(orders[c]["state"] not in ("UNKNOWN", "PENDING_NEW") for c in LEGS)

        LEGS = ("crash-tp", "crash-sl")
        wait_for(settled, timeout=20, interval=0.2)
        on_exchange = {o["clientOrderId"]: o["status"] for o in sim_state(exchange)["orders"]}
        if point == "after_list_journaled":  # never reached the exchange: known absent
            assert not any(c in on_exchange for c in LEGS)
            assert {orders[c]["state"] for c in LEGS} == {"REJECTED"}
        else:  # the exchange has it: both orders open, in the book as they are there
            assert {on_exchange[c] for c in LEGS} == {"NEW"}
            assert {orders[c]["state"] for c in LEGS} == {"NEW"}
        ids = [o["clientOrderId"] for o in sim_state(exchange)["orders"]]
        assert len(ids) == len(set(ids)), f"sent twice: {ids}"
        assert len(sim_state(exchange)["order_lists"]) == (point == "after_list_send")
        reset_after_review(second)  # a reconciliation after the restart came back HEALTHY
    finally:
        assert second.stop() == 0
    assert audit_continuous(data_dir)
    trail = open_read_only(data_dir / "audit.db")
    try:
        records = trail.query(kind="list_accepted", limit=100)
    finally:
        trail.close()
    assert [r["list_client_order_id"] for r in records] == ["crash-oco"]


@pytest.mark.parametrize("point", ["after_intent_journaled", "after_replace_send"])
def test_kill_9_between_the_halves_of_a_cancel_replace(
    exchange: dict[str, str], tmp_path: Path, point: str
) -> None:
    """A cancel-replace journaled whole, then SIGKILL before its request (neither half
    happened) or after the exchange answered it (both did, the answer unprocessed): the
    restart reads which from the exchange — the old order open or CANCELED, the new one
    absent or open — and the book ends equal to the exchange's true state, nothing twice."""
    data_dir = tmp_path / "var"
    # (the old order's own intent is the first one journaled: the replace is the second)
    crash_at = f"{point}:2" if point == "after_intent_journaled" else point
    first = VigilProcess(exchange, data_dir, crash_at=crash_at)
    wait_for(lambda: green(first), timeout=15)
    mid = Decimal(sim_state(exchange)["prices"]["BTCUSDT"]["mid"])
    old, new = "crash-old", "crash-new"
    first.order(
        side="BUY", type="LIMIT", quantity="0.01", price=str(mid - 500), client_order_id=old
    )
    wait_for(lambda: first.api("GET", "/v1/orders").json()["orders"][old]["state"] == "NEW")
    try:
        first.api(
            "PUT", f"/v1/orders/{old}",
            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01",
             "price": str(mid - 400), "client_order_id": new},
        )  # fmt: skip
    except requests.RequestException:
        pass  # the process may die while answering
    wait_for(first.killed, timeout=20)

    second = VigilProcess(exchange, data_dir)
    try:
        wait_for(lambda: not consistent(second, exchange), timeout=20, interval=0.2)

        def resolved() -> dict[str, Any]:
            orders: dict[str, Any] = second.api("GET", "/v1/orders").json()["orders"]
            states = {c: orders[c]["state"] for c in (old, new)}
            return states if "UNKNOWN" not in states.values() else {}

        states = wait_for(resolved, timeout=20, interval=0.2)
        truth = {o["clientOrderId"]: o["status"] for o in sim_state(exchange)["orders"]}
        # (the restart is RED, an unclean stop: cancel-on-RED then cancels what is open)
        if point == "after_intent_journaled":  # neither half happened: no new order
            assert new not in truth and states[new] == "REJECTED"
        else:  # both halves happened: the old order cancelled, the new one placed
            assert truth[old] == "CANCELED" and new in truth
            assert states[old] == "CANCELED" and states[new] != "REJECTED"
        wait_for(lambda: not consistent(second, exchange), timeout=10, interval=0.2)
        ids = [o["clientOrderId"] for o in sim_state(exchange)["orders"]]
        assert sorted(ids) == sorted(set(ids))  # nothing twice
        reset_after_review(second)
    finally:
        assert second.stop() == 0
    assert audit_continuous(data_dir)
    assert intents_audited(data_dir) == []
