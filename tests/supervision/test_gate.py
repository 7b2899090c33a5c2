"""The trading gate's latch: a change is worked out from the state it replaces, under the
gate's lock, so a YELLOW change computed on one thread cannot land after a trip on another
and clear RED; only an operator's reset leaves RED."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from domain.breaker import BreakerState, Level, ResetRefused, clear_yellow
from storage import Store
from supervision.gate import TradingGate, now_ms


@pytest.fixture
def gate(tmp_path: Path) -> TradingGate:
    return TradingGate(Store(tmp_path / "state.db"), reconciliation_max_age_s=60)


def stored(gate: TradingGate) -> BreakerState | None:
    return gate._store.load_breaker()


def test_a_change_computed_before_a_trip_cannot_clear_red(gate: TradingGate) -> None:
    gate.set_yellow("market_data: silent 5s", "breaker")
    # the breaker thread worked out "YELLOW -> GREEN" from the state it saw ...
    stale_green = clear_yellow(gate.state, now_ms())
    # ... the supervisor trips RED on another thread in between ...
    assert gate.trip_red("actor crashed: reconciler", "supervisor")
    # ... and the breaker thread's change arrives: it must not land
    assert gate._set(lambda _state: stale_green) is None
    assert gate.state.level is Level.RED
    stored_state = stored(gate)
    assert stored_state is not None and stored_state.level is Level.RED


def test_yellow_changes_do_not_touch_red(gate: TradingGate) -> None:
    gate.trip_red("operator halt", "operator")
    assert not gate.set_yellow("rejects: 3 rejects", "breaker")
    assert not gate.clear_yellow()
    assert gate.state.level is Level.RED and gate.state.reason == "operator halt"


def test_racing_yellow_changes_never_outlive_a_trip(gate: TradingGate) -> None:
    start = threading.Barrier(5)

    def flap() -> None:
        start.wait()
        for _ in range(300):
            gate.set_yellow("timeouts", "breaker")
            gate.clear_yellow()

    threads = [threading.Thread(target=flap) for _ in range(4)]
    for thread in threads:
        thread.start()
    start.wait()
    gate.trip_red("reconciliation: CRITICAL", "reconciler")
    for thread in threads:
        thread.join()
    assert gate.state.level is Level.RED
    stored_state = stored(gate)
    assert stored_state is not None and stored_state.level is Level.RED


def test_only_the_operators_reset_leaves_red(gate: TradingGate) -> None:
    gate.trip_red("operator halt", "operator")
    with pytest.raises(ResetRefused):
        gate.reset("checked", "alice")  # no HEALTHY reconciliation since the trip
    gate.record_reconciliation("HEALTHY", now_ms() + 1)
    with pytest.raises(ResetRefused):
        gate.reset("  ", "alice")  # no reason
    after = gate.reset("checked the book against the exchange", "alice")
    assert after.level is Level.GREEN
    stored_state = stored(gate)
    assert stored_state is not None and stored_state.level is Level.GREEN
