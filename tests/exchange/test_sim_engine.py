"""The engine keeps time only by the clock it is given, and the simulator runs none of
Vigil's own code (``domain``): the exchange the tests judge Vigil against is independent."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

from exchange.simulator import Engine, SimulatorConfig
from exchange.simulator.engine import ManualClock
from tests.conftest import ROOT


def test_every_timestamp_comes_from_the_injected_clock() -> None:
    clock = ManualClock(1_700_000_000_000)
    events: list[dict[str, object]] = []
    engine = Engine(SimulatorConfig(tick_interval=0), events.append, clock=clock)
    clock.advance(250)
    order, trades = engine.place_order(
        symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=Decimal("0.001")
    )
    assert order is not None and trades
    assert order.time == order.update_time == trades[0].time == 1_700_000_000_250
    assert {e["E"] for e in events} == {1_700_000_000_250}
    engine.clock_offset_ms = -1000  # clock_skew moves the exchange's clock, not the input
    assert engine.server_time() == 1_700_000_000_250 - 1000


def test_the_simulator_imports_nothing_from_domain() -> None:
    code = (
        "import sys, exchange.simulator, exchange.simulator.runner, exchange.simulator.control;"
        "print(sorted(m for m in sys.modules if m == 'domain' or m.startswith('domain.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
