"""A soak of normal operation: 2,000 orders with partial fills, random event delays and
WebSocket reconnects, and not one false CRITICAL; at the end the book equals the exchange."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

from exchange.simulator import SimulatedExchange, SimulatorConfig
from runtime.messages import CancelAll, OrderIntent
from tests.conftest import Vigil, wait_for
from tests.system.test_reconciliation import differences

ORDERS = 2000


def wire_caught_up(vigil: Vigil) -> bool:
    counters = vigil.system.book.counters
    return counters["answered"] >= counters["accepted"] - 5 and counters["intents"] > 0


def test_soak_2000_orders_without_a_false_critical(vigil_factory) -> None:  # type: ignore[no-untyped-def]
    exchange = SimulatedExchange(
        SimulatorConfig(
            tick_interval=0,
            seed=5,
            balances={"USDT": Decimal(5_000_000), "BTC": Decimal(50)},
            orders_per_10s=100_000,  # the soak is about correctness, not the venue's limits
            request_weight_per_minute=1_000_000,
        )
    ).start()
    vigil: Vigil = vigil_factory(
        sim=exchange,
        own_sim=True,
        policy={"max_open_orders": 10_000, "max_order_notional": "1000000", "fat_finger_pct": "50"},
        reconciliation={"interval_s": 1.0, "grace_s": 5.0, "balance_grace_s": 3.0},
        poller={"interval_s": 1.0, "fast_interval_s": 0.5},
        # the soak is not about hang detection: on a loaded 2-core machine a heartbeat can
        # wait longer than the fault tests' tight 0.5 s
        supervision={"hang_timeout_s": 5.0, "io_hang_timeout_s": 5.0},
        # a load test drives the process past the CPU trigger on purpose, its marketable
        # orders bigger than the best level fill in pieces hundreds of times a minute, and
        # its random trading loses often: each would (rightly) slow trading to reduce-only;
        # the soak is about the book's correctness
        breaker={
            "triggers": {
                "market_data": {"threshold": 0, "red_threshold": 0},
                "cpu": {"threshold": 0},
                "partial_fills": {"threshold": 0},
                "consecutive_losses": {"threshold": 0},
            }
        },
    )
    vigil.wait_green()
    rng = random.Random(42)
    results: list[str] = []
    vigil.system.gate.subscribe(lambda state: results.append(state.level.value))
    mid = Decimal(vigil.sim.state()["prices"]["BTCUSDT"]["mid"])
    for n in range(ORDERS):
        if n % 100 == 0:
            vigil.sim.arm("delay_events", params={"delay_ms": rng.randint(50, 400)}, count=20)
        if n % 500 == 250:
            vigil.sim.arm("ws_disconnect", params={"target": "user"})
        if n % 100 == 99:  # old resting orders are tidied up now and then
            vigil.system.directory.tell("order_broker", CancelAll(reason="soak"), sender="soak")
        if n % 10 == 0:  # the market moves: resting orders fill, often partially
            step = Decimal(rng.randint(-300, 300)) / 100
            mid = max(Decimal("59000"), min(Decimal("61000"), mid + step))
            vigil.sim.set_price("BTCUSDT", str(mid))
        side = rng.choice(("BUY", "SELL"))
        quantity = Decimal(rng.randint(1, 12)) / 100
        roll = rng.random()
        if roll < 0.25:
            kind, price = "MARKET", None
        elif roll < 0.45:  # marketable, bigger than the best level: fills partly, rests
            kind, quantity = "LIMIT", Decimal(rng.randint(6, 12)) / 100
            price = mid + Decimal("0.01") if side == "BUY" else mid
        else:
            offset = Decimal(rng.randint(0, 300)) / 100
            kind, price = "LIMIT", (mid - offset if side == "BUY" else mid + offset)
        vigil.system.directory.tell(
            "order_broker",
            OrderIntent(
                symbol="BTCUSDT",
                side=side,
                type=kind,
                price=price,
                quantity=quantity,
            ),
            sender="soak",
        )
        if n % 25 == 24:  # a strategy paced by its acknowledgments, not a flood
            wait_for(lambda: wire_caught_up(vigil), timeout=30)
    wait_for(lambda: vigil.system.book.counters["intents"] >= ORDERS, timeout=60)
    counters = vigil.system.book.counters
    assert counters["accepted"] >= ORDERS * 0.9, counters
    try:
        wait_for(lambda: not differences(vigil), timeout=30)
    except AssertionError:
        raise AssertionError(f"book and exchange differ: {differences(vigil)[:10]}") from None
    wait_for(lambda: vigil.status()["reconciliation"]["result"] == "HEALTHY", timeout=10)
    trades = vigil.sim.state()["trades"]
    # orders filled in pieces (more than one fill), or left partly filled
    fills_per_order = Counter(t["orderId"] for t in trades)
    partial = sum(1 for n in fills_per_order.values() if n > 1) + sum(
        1
        for o in vigil.sim.state()["orders"]
        if 0 < Decimal(o["executedQty"]) < Decimal(o["origQty"])
    )
    assert len(trades) > ORDERS / 2 and partial > 0
    assert "RED" not in results, vigil.system.gate.state.reason
    vigil.system.trail.flush()
    results = [r["result"] for r in vigil.system.trail.query(kind="reconciliation", limit=10**6)]
    assert "CRITICAL" not in results
