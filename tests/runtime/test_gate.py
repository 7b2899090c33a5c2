"""The trading gate's latch: a change is worked out from the state it replaces, under the
gate's lock, so a YELLOW change computed on one thread cannot land after a trip on another
and clear RED; only an operator's reset leaves RED."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import runtime.clock
from domain.breaker import BreakerState, Level, ResetRefused, clear_yellow
from runtime.clock import mono_ms, now_ms
from runtime.gate import TradingGate
from storage import Store
from tests.conftest import wait_for


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
    gate.record_reconciliation("HEALTHY", now_ms() + 1, mono_ms() + 1)
    with pytest.raises(ResetRefused):
        gate.reset("  ", "alice")  # no reason
    after = gate.reset("checked the book against the exchange", "alice")
    assert after.level is Level.GREEN
    stored_state = stored(gate)
    assert stored_state is not None and stored_state.level is Level.GREEN


class SteppedClocks:
    """``time`` as Vigil's clocks see it: a monotonic clock the test moves, and a wall
    clock the test can step (NTP, an operator) independently of it."""

    def __init__(self) -> None:
        self.mono_s = 1000.0
        self.wall_s = 1_700_000_000.0

    def monotonic_ns(self) -> int:
        return int(self.mono_s * 1e9)

    def time(self) -> float:
        return self.wall_s


@pytest.fixture
def clocks(monkeypatch: pytest.MonkeyPatch) -> SteppedClocks:
    fake = SteppedClocks()
    monkeypatch.setattr(runtime.clock, "time", fake)
    return fake


def test_a_step_back_of_the_wall_clock_does_not_keep_old_evidence_fresh(
    gate: TradingGate, clocks: SteppedClocks
) -> None:
    gate.record_reconciliation("HEALTHY", now_ms(), mono_ms())
    assert gate.refusal() is None
    clocks.wall_s -= 3600  # the wall clock steps back an hour ...
    clocks.mono_s += 61  # ... while 61 s pass: the evidence is older than the 60 s allowed
    assert gate.refusal() == "the last reconciliation is stale"


def test_a_cycle_from_before_the_trip_does_not_allow_a_reset_whatever_the_wall_says(
    gate: TradingGate, clocks: SteppedClocks
) -> None:
    started_wall, started_mono = now_ms(), mono_ms()
    clocks.mono_s += 1
    clocks.wall_s -= 3600  # stepped back between the cycle's start and the trip
    gate.trip_red("operator halt", "operator")
    clocks.mono_s += 1
    gate.record_reconciliation("HEALTHY", started_wall, started_mono)  # began before it
    with pytest.raises(ResetRefused, match="no HEALTHY reconciliation since RED was tripped"):
        gate.reset("checked", "alice")
    clocks.mono_s += 1
    clocks.wall_s += 1
    gate.record_reconciliation("HEALTHY", now_ms(), mono_ms())  # a cycle after the trip
    assert gate.reset("checked", "alice").level is Level.GREEN


def test_red_loaded_from_the_store_needs_a_cycle_of_this_process(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    TradingGate(store, reconciliation_max_age_s=60).trip_red("operator halt", "operator")
    restarted = TradingGate(store, reconciliation_max_age_s=60)
    assert restarted.state.is_red
    restarted.record_reconciliation("HEALTHY", now_ms() + 1, mono_ms() + 1)
    assert restarted.reset("checked after the restart", "alice").level is Level.GREEN


def test_listeners_hear_the_changes_in_the_order_they_were_made(gate: TradingGate) -> None:
    """A YELLOW made first and a trip made next on another thread: the listener hears the
    YELLOW first even when the trip's thread reaches it first."""
    heard: list[str] = []
    yellow_publishing = threading.Event()
    release_yellow = threading.Event()

    def listener(state: BreakerState) -> None:
        if state.level is Level.YELLOW:
            yellow_publishing.set()
            release_yellow.wait(5)  # the YELLOW's publication is slow (a disk flush)
        heard.append(state.level.value)

    gate.subscribe(listener)
    yellow = threading.Thread(target=gate.set_yellow, args=("rejects", "breaker"))
    yellow.start()
    assert yellow_publishing.wait(5)
    red = threading.Thread(target=gate.trip_red, args=("operator halt", "operator"))
    red.start()
    # the trip is in force at once, though its publication waits its turn
    wait_for(lambda: gate.state.is_red and gate.refusal() is not None, timeout=5)
    assert heard == []
    release_yellow.set()
    yellow.join(5)
    red.join(5)
    assert heard == ["YELLOW", "RED"]


def test_a_step_back_of_the_wall_clock_after_a_trip_does_not_lock_the_operator_out(
    gate: TradingGate, clocks: SteppedClocks
) -> None:
    gate.trip_red("operator halt", "operator")
    clocks.wall_s -= 600  # after the trip, the wall clock steps back ten minutes
    clocks.mono_s += 1
    gate.record_reconciliation("HEALTHY", now_ms(), mono_ms())  # a cycle after the trip
    after = gate.reset("checked", "alice")
    assert after.level is Level.GREEN and after.since_ms == now_ms()  # stamped wall time
