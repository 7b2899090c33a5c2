"""A halt overtakes queued work; RED is latched, durable, and cleared only by an operator."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from runtime.messages import InjectFault, OrderIntent, ReconcileNow, StatusRequest
from runtime.trace import read_trace
from tests.conftest import Vigil, audited, wait_audited, wait_for

QUEUED = 2_000  # enough to pile up behind a busy broker; bench.actors measures the speed


def test_a_halt_overtakes_the_queued_intents(vigil: Vigil) -> None:
    """(It queued 10,000 once: in a full CI run that took over 90 s to drain on one
    occasion, against 3 s alone; the order of handling, not the volume, is the point.)"""
    directory = vigil.system.directory
    before = vigil.sim_orders()
    # keep the broker busy so that the intents pile up in its inbox
    directory.tell("order_broker", InjectFault(kind="hang", seconds=0.6), sender="test")
    for _ in range(QUEUED):
        directory.tell(
            "order_broker",
            OrderIntent(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.001")),
            sender="strategy",
        )
    resp = vigil.api("POST", "/v1/halt", {"reason": "drill"})
    assert resp.status_code == 200 and resp.json()["breaker"] == "RED"
    # every intent gets its answer (a refusal) ...
    # (a deadline for a loaded machine, not a bound: bench.actors measures the speed)
    wait_for(lambda: vigil.system.book.counters["refused"] >= QUEUED, timeout=90)
    assert vigil.system.book.counters["accepted"] == 0
    # ... none reached the exchange ...
    assert vigil.sim_orders() == before
    # ... and the broker handled the halt before the first queued intent
    path = vigil.system.data_dir / "trace" / "trace.jsonl"

    def handled() -> list[dict[str, object]]:
        return [r for r in read_trace(path) if r["receiver"] == "order_broker"]

    # the trace is written behind a queue: on a loaded machine its records take a while
    wait_for(lambda: sum(r["type"] == "OrderIntent" for r in handled()) >= QUEUED, timeout=30)
    order = [r["type"] for r in handled() if r["type"] in ("BreakerChanged", "OrderIntent")]
    assert order[0] == "BreakerChanged"


def test_red_survives_a_restart_of_the_breaker_and_no_automatic_path_clears_it(
    vigil: Vigil,
) -> None:
    vigil.api("POST", "/v1/halt", {"reason": "drill"})
    assert vigil.system.gate.state.is_red
    halted = vigil.system.gate.state
    assert "drill" in halted.reason
    # the actor that holds the latch is killed and restarted
    supervisor = vigil.system.supervisor
    generation = supervisor.children["breaker"].generation
    ref = vigil.system.directory.ref("breaker")
    assert ref is not None
    ref.stop()
    wait_for(lambda: supervisor.children["breaker"].generation > generation, timeout=3)
    # healthy reconciliations come and go, time passes
    healthy_before = vigil.system.gate.last_healthy_ms or 0
    wait_for(lambda: (vigil.system.gate.last_healthy_ms or 0) > healthy_before + 1000, timeout=5)
    # still the operator's RED, not a new one: the stop's own trip did not replace it
    assert vigil.system.gate.state == halted
    status = vigil.status()
    assert status["breaker"] == "RED" and status["reason"] == halted.reason
    seen = vigil.system.ask("breaker", StatusRequest())  # the new breaker instance sees it
    assert (seen["breaker"], seen["reason"]) == ("RED", halted.reason)
    refused = vigil.api("POST", "/v1/orders", {"symbol": "BTCUSDT", "side": "BUY",
                                                "type": "MARKET", "quantity": "0.001"})  # fmt: skip
    assert refused.status_code == 409


def test_red_survives_a_process_restart(
    vigil_factory: Callable[..., Vigil], tmp_path: Path
) -> None:
    first = vigil_factory(data_dir=tmp_path / "var")
    first.wait_green()
    first.api("POST", "/v1/halt", {"reason": "before the restart"})
    sim = first.system.simulator
    first.system.stop(cancel_open=False)
    second = vigil_factory(data_dir=tmp_path / "var", sim=sim)
    wait_for(lambda: second.system.gate.last_healthy_ms is not None, timeout=5)
    assert second.system.gate.state.is_red
    assert "before the restart" in second.status()["reason"]


def test_only_an_operator_reset_with_a_reason_clears_red_and_it_is_audited(vigil: Vigil) -> None:
    vigil.api("POST", "/v1/halt", {"reason": "drill"})
    tripped = vigil.system.gate.state.since_ms
    assert vigil.api("POST", "/v1/reset", {"reason": "x"}).status_code == 409  # no confirm
    assert vigil.api("POST", "/v1/reset", {"reason": "", "confirm": True}).status_code == 422
    wait_for(lambda: (vigil.system.gate.last_healthy_ms or 0) > tripped, timeout=5)
    vigil.system.directory.tell("reconciler", ReconcileNow(), sender="test")
    resp = vigil.api("POST", "/v1/reset", {"reason": "drill over", "confirm": True})
    assert resp.status_code == 200, resp.text
    assert vigil.status()["breaker"] == "GREEN"
    assert vigil.submit().accepted
    wait_for(lambda: vigil.system.trail.flush() and bool(vigil.system.trail.query(kind="reset")))
    assert vigil.system.trail.query(kind="reset")[0]["reason"] == "drill over"


def test_reset_is_refused_without_a_healthy_reconciliation_after_the_trip(vigil: Vigil) -> None:
    # the exchange stops answering REST: from now on no reconciliation cycle can come back
    # HEALTHY (a cycle that began before the outage began before the trip, and does not count)
    vigil.sim.arm("outage", duration=60)
    healthy_before = vigil.system.gate.last_healthy_ms
    assert healthy_before is not None  # there was one before the trip: it must not do
    vigil.api("POST", "/v1/halt", {"reason": "drill"})
    tripped = wait_audited(vigil, "halt")["seq"]
    # reconciliation goes on after the trip, and fails
    failed = lambda: audited(vigil, "reconciliation", result="FAILED")  # noqa: E731
    wait_for(lambda: [r for r in failed() if r["seq"] > tripped], timeout=5)
    resp = vigil.api("POST", "/v1/reset", {"reason": "too early", "confirm": True})
    assert resp.status_code == 409
    assert "no HEALTHY reconciliation since RED was tripped" in resp.json()["reason"]
    assert vigil.system.gate.state.is_red
    assert vigil.system.gate.last_healthy_ms == healthy_before
