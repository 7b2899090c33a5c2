"""The supervisor's own limits and watchers, and what RED does to our open orders."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.order_broker import StaleInstance
from exchange.contract import OrderRequest
from runtime.messages import InjectFault
from tests.conftest import Vigil, audited, wait_audited, wait_for


def crash(vigil: Vigil, actor: str) -> None:
    """A crash in ``actor``'s handler; returns once the supervisor has dealt with it."""
    supervisor = vigil.system.supervisor
    before = len(vigil.system.store.incidents())
    assert vigil.system.directory.tell(actor, InjectFault(kind="raise"), sender="test")
    wait_for(lambda: len(vigil.system.store.incidents()) > before, timeout=3)
    child = supervisor.children[actor]
    wait_for(lambda: child.given_up or supervisor.alive()[actor], timeout=3)


def test_past_the_restart_intensity_the_supervisor_stops_restarting_and_stays_red(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = vigil_factory(supervision={"max_restarts": 2, "max_seconds": 60})
    vigil.wait_green()
    supervisor = vigil.system.supervisor
    for _ in range(2):
        crash(vigil, "reconciler")
    assert supervisor.children["reconciler"].restarts == 2
    assert supervisor.alive()["reconciler"]
    crash(vigil, "reconciler")  # the third in 60 s: past the limit
    child = supervisor.children["reconciler"]
    assert child.given_up and child.restarts == 2
    assert vigil.status()["actors"]["reconciler"] is False
    newest = vigil.system.store.incidents()  # newest first
    assert [i["detail"]["restart"] for i in newest[:3]] == [False, True, True]
    assert all(i["detail"]["actor"] == "reconciler" for i in newest[:3])
    # RED stays: no reconciliation can come back HEALTHY, so no reset can clear it
    assert vigil.system.gate.state.is_red
    resp = vigil.api("POST", "/v1/reset", {"reason": "try anyway", "confirm": True})
    assert resp.status_code == 409, resp.text
    assert vigil.system.gate.state.is_red


THREAD_DIES = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


@THREAD_DIES
def test_a_dead_supervisor_monitor_trips_red_and_is_started_again(vigil: Vigil) -> None:
    supervisor = vigil.system.supervisor
    original = supervisor._check_children

    def broken() -> Any:
        supervisor._check_children = original  # type: ignore[method-assign]
        raise RuntimeError("a bug in the supervisor's monitor")

    supervisor._check_children = broken  # type: ignore[method-assign]
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=3)
    assert vigil.system.gate.state.reason == "the supervisor's monitor died"
    wait_for(lambda: supervisor.monitor_alive, timeout=3)
    # the new monitor supervises: a crash is still seen and the actor restarted
    generation = supervisor.children["rest_poller"].generation
    crash(vigil, "rest_poller")
    assert supervisor.children["rest_poller"].generation > generation


@THREAD_DIES
def test_the_main_threads_watch_restarts_a_dead_timer_thread(vigil: Vigil) -> None:
    system = vigil.system
    timers = system.timers
    original = timers.watch_monitor

    def broken() -> None:
        timers.watch_monitor = original  # type: ignore[method-assign]
        raise RuntimeError("a bug in the timer thread")

    timers.watch_monitor = broken  # type: ignore[method-assign]
    assert timers._thread is not None
    wait_for(lambda: not timers._thread.is_alive(), timeout=3)
    system.watch()  # what run.py's main thread does every 0.25 s
    assert system.gate.state.is_red
    assert system.gate.state.reason == "the timer thread died"
    # the timers run again: reconciliation cycles are started and come back
    at = system.gate.last_result_ms or 0
    wait_for(lambda: (system.gate.last_result_ms or 0) > at, timeout=5)


def test_a_restarted_broker_starts_from_the_journal_not_from_the_failed_ones_memory(
    vigil_factory: Callable[..., Vigil],
) -> None:
    # cancel-on-RED would (rightly) cancel the resting order after the crash's RED: off here,
    # so the book can be compared with what it was (the duty is tested on its own below)
    vigil = vigil_factory(broker={"cancel_on_red": False})
    vigil.wait_green()
    assert vigil.submit(quantity="0.001").accepted
    wait_for(lambda: vigil.status()["fills"] >= 1)
    rest_one_order(vigil, "still-open")
    truth = vigil.api("GET", "/v1/balances").json()
    orders = vigil.api("GET", "/v1/orders").json()["orders"]
    # a change the failing instance made halfway: in its memory, never in the journal
    vigil.system.book.book.totals["USDT"] += Decimal(5)
    generation = vigil.system.supervisor.children["order_broker"].generation
    crash(vigil, "order_broker")
    assert vigil.system.supervisor.children["order_broker"].generation > generation
    assert vigil.api("GET", "/v1/balances").json() == truth
    rebuilt = vigil.api("GET", "/v1/orders").json()["orders"]
    assert {c: o["state"] for c, o in rebuilt.items()} == {c: o["state"] for c, o in orders.items()}
    # and the exchange agrees: the next reconciliation finds nothing
    since = vigil.system.gate.last_result_ms or 0
    wait_for(lambda: (vigil.system.gate.last_result_ms or 0) > since, timeout=5)
    wait_for(lambda: vigil.system.gate.last_result == "HEALTHY", timeout=5)
    assert not vigil.system.gate.state.reason.startswith("reconciliation")


def reset_after_trip(vigil: Vigil) -> None:
    """The operator's path back: a HEALTHY reconciliation after the trip, then a reset."""
    tripped = vigil.system.gate.state.since_ms
    wait_for(lambda: (vigil.system.gate.last_healthy_ms or 0) > tripped, timeout=5)
    resp = vigil.api("POST", "/v1/reset", {"reason": "restarted broker checked", "confirm": True})
    assert resp.status_code == 200, resp.text
    vigil.wait_green()


def test_a_replaced_broker_that_wakes_up_can_neither_journal_nor_send(vigil: Vigil) -> None:
    ref = vigil.system.directory.ref("order_broker")
    assert ref is not None
    replaced = ref._actor_weakref()  # the instance, as a hung one goes on after waking up
    assert replaced is not None
    crash(vigil, "order_broker")
    reset_after_trip(vigil)  # the worst moment for a zombie: trading is allowed again
    before = vigil.sim_orders()
    with pytest.raises(StaleInstance):
        replaced.on_intent(vigil.intent(client_order_id="from-a-zombie"))
    # a send its wire thread still had queued: refused at the wire, told to the new broker
    request = OrderRequest(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.001"),
        client_order_id="zombie-send",
    )  # fmt: skip
    replaced.wire._send(request, "zombie")
    assert vigil.sim_orders() == before
    assert "from-a-zombie" not in vigil.system.book.book.orders
    # and the live broker trades as before
    assert vigil.submit(client_order_id="live-one").accepted
    wait_for(lambda: vigil.sim_orders() == before + 1)


def test_an_unreadable_journal_at_a_broker_restart_keeps_the_broker_and_stays_red(
    vigil: Vigil,
) -> None:
    assert vigil.submit(client_order_id="journaled").accepted
    wait_for(lambda: vigil.status()["fills"] >= 1)
    vigil.system.journal.flush()
    with sqlite3.connect(vigil.system.data_dir / "journal.db") as db:  # damage on disk
        db.execute(
            "UPDATE journal SET body = replace(body, '0.001', '0.002') WHERE kind = 'intent'"
        )
    crash(vigil, "order_broker")
    incident = wait_for(lambda: [i for i in vigil.system.store.incidents()
                                 if i["kind"] == "journal_unreadable"], timeout=3)[0]  # fmt: skip
    assert "checksum" in incident["reason"] and "restart the process" in incident["reason"]
    assert vigil.system.gate.state.is_red  # (latched with the crash's reason, its first)
    # the broker runs on the book it had (no restart loop), and answers
    wait_for(lambda: vigil.system.supervisor.alive()["order_broker"], timeout=3)
    assert "journaled" in vigil.api("GET", "/v1/orders").json()["orders"]
    assert vigil.system.supervisor.children["order_broker"].restarts == 1


def rest_one_order(vigil: Vigil, cid: str) -> None:
    assert vigil.submit(type="LIMIT", price="59000", quantity="0.01", client_order_id=cid).accepted
    wait_for(lambda: any(o["clientOrderId"] == cid for o in vigil.sim.state()["open_orders"]))


def test_red_cancels_our_open_orders_and_only_ours(vigil: Vigil) -> None:
    rest_one_order(vigil, "ours")
    vigil.sim.arm("ghost_order", params={"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01"})
    resp = vigil.api("POST", "/v1/halt", {"reason": "drill"})
    assert resp.status_code == 200
    wait_for(lambda: {o["clientOrderId"]: o["status"] for o in vigil.sim.state()["orders"]}
             .get("ours") == "CANCELED", timeout=5)  # fmt: skip
    # someone else's order is not ours to cancel
    assert [o["owner"] for o in vigil.sim.state()["open_orders"]] == ["ghost"]
    record = wait_audited(vigil, "cancel_on_red")
    assert record["client_order_id"] == "ours" and record["attempt"] == 1
    assert record["reason"] == vigil.system.gate.state.reason  # the RED it acts on
    assert [r["client_order_id"] for r in audited(vigil, "cancel_on_red")] == ["ours"]


def test_with_cancel_on_red_off_our_orders_stay(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = vigil_factory(broker={"cancel_on_red": False})
    vigil.wait_green()
    rest_one_order(vigil, "stays")
    assert vigil.api("POST", "/v1/halt", {"reason": "drill"}).status_code == 200
    # the broker has handled the halt (control lane) once a normal-lane no-op comes back
    vigil.system.ask("order_broker", InjectFault(kind="hang", seconds=0))
    assert not audited(vigil, "cancel_on_red")
    open_ids = [o["clientOrderId"] for o in vigil.sim.state()["open_orders"]]
    assert open_ids == ["stays"]


def sim_status(vigil: Vigil, cid: str) -> str | None:
    return {o["clientOrderId"]: o["status"] for o in vigil.sim.state()["orders"]}.get(cid)


def test_a_cancel_that_fails_during_an_outage_is_made_again_once_the_exchange_is_back(
    vigil: Vigil,
) -> None:
    rest_one_order(vigil, "rests")
    vigil.sim.arm("outage", duration=3)  # every REST call answers 503 for 3 s
    assert vigil.api("POST", "/v1/halt", {"reason": "drill"}).status_code == 200
    failed = wait_audited(vigil, "cancel_failed", timeout=5)
    assert failed["client_order_id"] == "rests"
    assert sim_status(vigil, "rests") == "NEW"  # the outage kept it on the exchange
    assert vigil.status()["orders_open_under_red"] == 1
    # the duty stands: once the exchange answers again, the cancel goes through
    wait_for(lambda: sim_status(vigil, "rests") == "CANCELED", timeout=15)
    attempts = [r["attempt"] for r in audited(vigil, "cancel_on_red")]
    assert attempts[0] == 1 and len(attempts) >= 2
    wait_for(lambda: vigil.status()["orders_open_under_red"] == 0, timeout=5)
    assert vigil.system.gate.state.is_red  # and RED stays


def test_an_order_acknowledged_after_the_trip_is_cancelled_too(vigil: Vigil) -> None:
    vigil.sim.arm("timeout_after_accept", count=1, params={"delay": 1.5})
    assert vigil.submit(type="LIMIT", price="59000", quantity="0.01", client_order_id="late")
    assert vigil.api("POST", "/v1/halt", {"reason": "drill"}).status_code == 200
    # the order reached the exchange before the trip; Vigil learns of it only after
    wait_for(lambda: sim_status(vigil, "late") == "CANCELED", timeout=15)
    cancels = audited(vigil, "cancel_on_red")
    assert {r["client_order_id"] for r in cancels} == {"late"} and cancels[0]["attempt"] == 1


def test_red_found_at_start_up_cancels_what_was_left_resting(
    vigil_factory: Callable[..., Vigil], tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    first = vigil_factory(data_dir=data_dir)
    first.wait_green()
    rest_one_order(first, "left")
    first.sim.arm("outage", duration=60)
    assert first.api("POST", "/v1/halt", {"reason": "drill"}).status_code == 200
    wait_audited(first, "cancel_failed", timeout=5)
    first.system.stop(cancel_open=False)  # RED latched, the order still resting
    first.sim.clear()
    assert sim_status(first, "left") == "NEW"
    second = vigil_factory(data_dir=data_dir, sim=first.system.simulator)
    assert second.system.gate.state.is_red
    wait_for(lambda: sim_status(second, "left") == "CANCELED", timeout=10)
    assert audited(second, "cancel_on_red")
