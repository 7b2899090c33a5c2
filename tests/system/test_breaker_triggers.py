"""Breaker triggers driven through real components: simulator faults where the cause is the
exchange, real streams, the real reconciler and poller. Each test asserts the state change
and its record in the audit trail. Thresholds are set low per test to keep each one fast."""

from __future__ import annotations

import threading
import time as _time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
import pytest
import requests

import runtime.clock
from domain.admission import Refusal
from domain.breaker_rules import EvidenceKind
from domain.evidence import Signal
from runtime.messages import (
    BreakerEvidence,
    BreakerInput,
    BreakerTick,
    InjectFault,
    OrderSnapshot,
    ReconcileNow,
    StatusRequest,
    TradesSeen,
)
from tests.conftest import Vigil, audited, wait_audited, wait_for
from tests.system.test_reconciliation import book_matches_exchange, orders_match_exchange

FAST_BREAKER: dict[str, Any] = {"tick_s": 0.05, "yellow_cool_down_s": 0.5}


def start(vigil_factory: Callable[..., Vigil], triggers: dict[str, Any], **kw: Any) -> Vigil:
    # the process's CPU share is the test machine's business, not the trigger under test
    quiet = {"cpu": {"threshold": 0}}
    breaker = {**FAST_BREAKER, **kw.pop("breaker", {}), "triggers": {**quiet, **triggers}}
    vigil = vigil_factory(breaker=breaker, **kw)
    vigil.wait_green()
    return vigil


def level(vigil: Vigil) -> str:
    return vigil.system.gate.state.level.value


# --- exchange ----------------------------------------------------------------------------------


def test_an_api_outage_goes_red(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(vigil_factory, {"api_errors": {"threshold": 2, "red_threshold": 4}})
    vigil.sim.arm("outage", duration=30)
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=4)
    assert vigil.system.gate.state.reason.startswith(("api_errors", "reconciliation"))
    rule = wait_audited(vigil, "breaker_rule", level="RED")
    assert rule["rule"] in ("api_errors", "reconciliation_failures")
    wait_audited(vigil, "breaker_red")
    refused = vigil.submit()
    assert not refused.accepted and refused.refusal is Refusal.BREAKER


def test_each_piece_of_a_batch_of_evidence_is_judged_and_audited_as_its_own(
    vigil_factory: Callable[..., Vigil],
) -> None:
    """One ``BreakerEvidence`` (the broker's per-fill batch): a gauge past its RED line and
    back within the batch still trips RED, and an event in it is audited with its sender."""
    vigil = start(vigil_factory, {"unknown_orders": {"threshold": 5, "level": "RED"}})
    D = Decimal
    signals = (
        Signal(EvidenceKind.UNKNOWN_ORDERS, "a, b, c, d, e, f", D(6)),
        Signal(EvidenceKind.ORDER_REJECTED, "batch-1: -2010 rejected"),
        Signal(EvidenceKind.UNKNOWN_ORDERS, "", D(0)),
    )
    vigil.system.directory.tell("breaker", BreakerEvidence(signals=signals), sender="test")
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=3)
    assert vigil.system.gate.state.reason.startswith("unknown_orders")
    wait_audited(vigil, "breaker_input", input="order_rejected", source="test")
    wait_audited(vigil, "breaker_rule_quiet", rule="unknown_orders")  # the last piece: 0


def test_a_418_ban_goes_red(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(vigil_factory, {})
    # one 429 (1 s back-off), then the ban: the next request after the back-off gets 418
    vigil.sim.arm("rate_limit_storm", params={"count_429": 1, "ban_seconds": 3})
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=4)
    assert vigil.system.gate.state.reason.startswith("ban: ")  # the rule decides: 418 is RED
    assert wait_audited(vigil, "breaker_rule", rule="ban", timeout=4)["level"] == "RED"
    assert audited(vigil, "breaker_input", input="rate_limit_http_418")


def test_a_timeout_storm_goes_yellow_then_clears_after_the_cool_down(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = start(vigil_factory, {"timeouts": {"threshold": 2, "window_s": 1.0}})
    vigil.sim.arm("unknown_status", params={"placed": False}, count=2)
    for _ in range(2):
        assert vigil.submit(type="LIMIT", price="59000", quantity="0.01").accepted
    wait_for(lambda: level(vigil) == "YELLOW", timeout=3)
    assert vigil.system.gate.state.reason.startswith("timeouts: 2 timeouts")
    wait_audited(vigil, "breaker_yellow", cause="timeouts")
    # the window empties, the cause has been gone for the cool-down: GREEN by itself
    wait_for(lambda: level(vigil) == "GREEN", timeout=4)
    assert wait_audited(vigil, "breaker_yellow_cleared")["was"].startswith("timeouts")


def test_a_reject_spike_goes_yellow(vigil_factory: Callable[..., Vigil]) -> None:
    # only the reject rule may move the breaker here (a reject is also an API error)
    vigil = start(
        vigil_factory,
        {"rejects": {"threshold": 3, "window_s": 5}, "api_errors": {"threshold": 0}},
    )
    vigil.sim.arm("reject_orders", count=3)
    sent = [vigil.submit(type="LIMIT", price="59000", quantity="0.01") for _ in range(3)]
    assert all(d.accepted for d in sent)  # the policy let them through: the exchange refused
    wait_for(lambda: level(vigil) == "YELLOW", timeout=3)
    assert vigil.system.gate.state.reason.startswith("rejects: 3 rejects")
    wait_audited(vigil, "breaker_rule", rule="rejects", level="YELLOW")
    # the evidence came from the broker, one per rejected order, with the exchange's code
    inputs = audited(vigil, "breaker_input", input="order_rejected", source="order_broker")
    assert len(inputs) == 3 and all("-2010" in i["detail"] for i in inputs)
    assert vigil.sim_orders() == 0


def test_a_429_goes_yellow_and_clears_once_the_venue_admits_us_again(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = start(vigil_factory, {"rate_limited": {"threshold": 1, "window_s": 1.0}})
    # one 429 and no ban: the adapter backs off for the venue's Retry-After (2 s: several
    # polls, pings and cycles held back), then goes on
    params = {"count_429": 1, "ban_seconds": 0, "retry_after": 2}
    vigil.sim.arm("rate_limit_storm", params=params)
    wait_for(lambda: level(vigil) == "YELLOW", timeout=4)
    assert vigil.system.gate.state.reason.startswith("rate_limited: 1 refusals")
    wait_audited(vigil, "breaker_rule", rule="rate_limited", level="YELLOW")
    assert audited(vigil, "breaker_input", input="rate_limit_http_429")
    wait_for(lambda: level(vigil) == "GREEN", timeout=6)
    assert wait_audited(vigil, "breaker_yellow_cleared")["was"].startswith("rate_limited")
    assert not audited(vigil, "breaker_red")
    # the calls our own gate held back during the back-off are not API errors or failed pings
    held = audited(vigil, "breaker_input", input="poll_held_back", source="rest_poller")
    assert len(held) >= 3
    assert not audited(vigil, "breaker_rule", rule="api_errors")
    assert not audited(vigil, "breaker_rule", rule="ping_failures")


def test_consecutive_ping_failures_go_yellow_then_red(vigil_factory: Callable[..., Vigil]) -> None:
    # the poller pings on each poll; every other rule an outage feeds is off here
    vigil = start(
        vigil_factory,
        {
            "ping_failures": {"threshold": 2, "red_threshold": 4},
            "api_errors": {"threshold": 0},
            "reconciliation_failures": {"threshold": 0},
            "reconciliation_stale": {"threshold": 0, "red_threshold": 0},
        },
    )
    vigil.sim.arm("outage", params={"mode": "refuse"}, duration=30)
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=6)
    assert vigil.system.gate.state.reason.startswith("ping_failures: 4 pings in a row")
    # YELLOW came first, at the lower threshold, and every failure came from the poller
    yellow = wait_audited(vigil, "breaker_rule", rule="ping_failures", level="YELLOW")
    red = wait_audited(vigil, "breaker_rule", rule="ping_failures", level="RED")
    assert yellow["seq"] < red["seq"]
    pings = audited(vigil, "breaker_input", input="ping_failed")
    assert len(pings) >= 4 and all(p["source"] == "rest_poller" for p in pings)


def test_a_malformed_fill_event_goes_yellow_is_counted_and_loses_nothing(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = start(vigil_factory, {})
    assert vigil.submit(
        type="LIMIT", price="59000", quantity="0.01", client_order_id="rests"
    ).accepted
    orders = lambda: vigil.api("GET", "/v1/orders").json()["orders"]  # noqa: E731
    wait_for(lambda: orders().get("rests", {}).get("state") == "NEW")
    # the fill's executionReport arrives with a cumulative quantity that is not a number
    vigil.sim.arm("malformed_events", count=1)
    vigil.sim.set_price("BTCUSDT", "58500")
    record = wait_audited(vigil, "breaker_input", input="malformed_payload", source="adapter")
    assert "executionReport.z" in record["detail"]
    yellow = wait_audited(vigil, "breaker_yellow", cause="malformed_payload")
    assert yellow["reason"].startswith("malformed_payload: ")  # (it cools down in 0.5 s)
    assert vigil.status()["malformed_payloads"] == 1
    metrics = vigil.api("GET", "/metrics").text
    assert "vigil_malformed_payloads_total 1.0" in metrics
    # the REST path brings the fill the stream lost: the book equals the exchange, no RED
    wait_for(lambda: orders()["rests"]["state"] == "FILLED", timeout=5)
    assert Decimal(orders()["rests"]["executed_qty"]) == Decimal("0.01")
    executions = vigil.system.book.book.executions
    fills = wait_for(lambda: [e for e in list(executions.values()) if e.client_order_id == "rests"])
    assert all(e.via == "rest" for e in fills)  # the stream's report was the one lost
    wait_for(lambda: orders_match_exchange(vigil) and book_matches_exchange(vigil), timeout=5)
    wait_for(lambda: level(vigil) == "GREEN", timeout=5)  # the cause is gone: it cools down
    assert not audited(vigil, "breaker_red")


# --- infrastructure: streams -------------------------------------------------------------------


def test_a_reconnect_storm_goes_yellow(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(vigil_factory, {"reconnects": {"threshold": 2, "window_s": 10}})
    for n in range(1, 3):
        vigil.sim.arm("ws_disconnect", params={"target": "user"})
        wait_for(
            lambda n=n: len(audited(vigil, "stream", stream="user", state="disconnected")) >= n
        )
        wait_for(lambda: vigil.system.stream_health.get("user") == "subscribed", timeout=4)
    wait_for(lambda: level(vigil) == "YELLOW", timeout=3)
    wait_audited(vigil, "breaker_rule", rule="reconnects", level="YELLOW")


# --- reconciliation ----------------------------------------------------------------------------


def test_reconciliation_that_cannot_complete_goes_red(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(
        vigil_factory,
        {"reconciliation_failures": {"threshold": 2}, "api_errors": {"threshold": 0}},
    )
    vigil.sim.arm("outage", duration=30)
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=4)
    assert vigil.system.gate.state.reason.startswith("reconciliation_failures: 2 cycles")
    wait_audited(vigil, "breaker_rule", rule="reconciliation_failures", level="RED")


def test_a_stale_reconciliation_goes_yellow_then_red(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(vigil_factory, {"reconciliation_stale": {"threshold": 1, "red_threshold": 2}})
    vigil.system.timers.stop()  # no more cycles start
    wait_for(lambda: level(vigil) == "YELLOW", timeout=3)
    assert vigil.system.gate.state.reason.startswith("reconciliation_stale: nothing for")
    wait_audited(vigil, "breaker_yellow", cause="reconciliation_stale")
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=3)
    assert vigil.system.gate.state.reason.startswith("reconciliation_stale: nothing for")
    wait_audited(vigil, "breaker_rule", rule="reconciliation_stale", level="RED")
    wait_audited(vigil, "breaker_red")


# --- execution ---------------------------------------------------------------------------------


def test_huge_slippage_slows_trading_and_beyond_the_red_line_halts(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = start(vigil_factory, {"slippage": {"threshold": 50, "red_threshold": 400}})
    vigil.sim.arm("slippage", params={"bps": 150}, count=1)
    assert vigil.submit(type="MARKET", quantity="0.001").accepted
    wait_for(lambda: level(vigil) == "YELLOW", timeout=10)  # (a deadline, not a bound)
    assert vigil.system.gate.state.reason.startswith("slippage: ")
    record = wait_audited(vigil, "breaker_rule", rule="slippage", level="YELLOW")
    assert Decimal(record["value"]) > 100
    # slowed: while YELLOW only orders that reduce exposure pass
    refused = vigil.submit(type="MARKET", quantity="0.001")
    assert not refused.accepted and "reduce exposure" in refused.reason
    # about 0.000999 held: a SELL of 0.0006 resting above the market reduces it and goes;
    # a second SELL of 0.0006 does not (0.0006 of the position is already being sold)
    above = vigil.system.book.book.prices["BTCUSDT"] * Decimal("1.04")
    resting = vigil.submit(side="SELL", type="LIMIT", quantity="0.0006", price=str(above))
    assert resting.accepted, resting.reason
    gates = wait_audited(vigil, "intent_accepted", client_order_id=resting.client_order_id)
    assert {"gate": "yellow", "passed": True, "reason": "reduces exposure"} in gates["verdicts"]
    oversold = vigil.submit(side="SELL", type="MARKET", quantity="0.0006")
    assert not oversold.accepted and "reduce exposure" in oversold.reason
    vigil.sim.arm("slippage", params={"bps": 1000}, count=1)
    assert vigil.submit(side="SELL", type="MARKET", quantity="0.0003").accepted
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=10)
    wait_audited(vigil, "breaker_rule", rule="slippage", level="RED", timeout=5)


def test_partial_fills_go_yellow(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(vigil_factory, {"partial_fills": {"threshold": 1, "window_s": 30}})
    mid = Decimal(vigil.sim.state()["prices"]["BTCUSDT"]["mid"])
    limit = mid - 5
    assert vigil.submit(type="LIMIT", quantity="0.08", price=str(limit)).accepted
    wait_for(lambda: vigil.sim_orders() == 1)
    vigil.sim.set_price("BTCUSDT", str(limit - Decimal("0.01")))  # one level of 0.05: a piece
    wait_for(lambda: level(vigil) == "YELLOW", timeout=3)
    assert vigil.system.gate.state.reason.startswith("partial_fills: ")
    wait_audited(vigil, "breaker_input", input="partial_fill")
    wait_audited(vigil, "breaker_rule", rule="partial_fills", level="YELLOW")


def test_orders_in_unknown_state_go_yellow_and_clear_once_resolved(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = start(
        vigil_factory,
        {"unknown_orders": {"threshold": 1, "window_s": 1.0}, "timeouts": {"threshold": 0}},
    )
    # never placed: each stays unknown until the exchange confirms it has no such order
    # (``unknown_window_s``, 1 s here)
    vigil.sim.arm("unknown_status", params={"placed": False}, count=2)
    for _ in range(2):
        assert vigil.submit(type="LIMIT", price="59000", quantity="0.01").accepted
    wait_for(lambda: level(vigil) == "YELLOW", timeout=3)
    assert vigil.system.gate.state.reason.startswith("unknown_orders: ")
    record = wait_audited(vigil, "breaker_rule", rule="unknown_orders", level="YELLOW")
    assert Decimal(record["value"]) == 2
    # the poller asks for both by client order id: absent, so none unknown; it cools down
    wait_for(lambda: vigil.status()["risk"]["unknown_orders"] == 0, timeout=5)
    wait_for(lambda: level(vigil) == "GREEN", timeout=5)


def test_order_latency_p95_above_the_limit_goes_yellow(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(vigil_factory, {"order_latency": {"threshold": 150}})
    # a p95 is evidence from 20 acks on: 18 prompt ones, then two answered 0.4 s late
    # (the nearest-rank p95 of 20 is the 19th: the first late one is not enough)
    for _ in range(18):
        assert vigil.submit().accepted
    wait_for(lambda: vigil.status()["execution"]["BTCUSDT"]["place_ack"]["count"] == 18)
    vigil.sim.arm("timeout_after_accept", params={"delay": 0.4}, count=2)  # answered, late
    for _ in range(2):
        assert vigil.submit().accepted
    wait_for(lambda: level(vigil) == "YELLOW", timeout=4)
    assert vigil.system.gate.state.reason.startswith("order_latency: ")
    record = wait_audited(vigil, "breaker_rule", rule="order_latency", level="YELLOW")
    assert Decimal(record["value"]) >= 400
    assert "BTCUSDT place→ack p95" in record["reason"]
    ack = vigil.status()["execution"]["BTCUSDT"]["place_ack"]
    assert ack["count"] == 20 and ack["p95"] >= 400
    # one late ack among the first 19 was no evidence: the rule started at the 20th
    assert len(audited(vigil, "breaker_rule", rule="order_latency")) == 1


def test_every_order_gets_an_execution_quality_record_and_the_status_its_percentiles(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = start(vigil_factory, {})
    mid = vigil.system.book.book.prices["BTCUSDT"]  # the mid the broker saw last
    vigil.sim.arm("slippage", params={"bps": 20}, count=1)
    decision = vigil.submit(quantity="0.002")
    assert decision.accepted
    record = wait_audited(vigil, "execution_quality", client_order_id=decision.client_order_id)
    assert Decimal(record["reference_price"]) == mid  # the arrival mid
    assert Decimal(record["slippage_bps"]) >= 20  # the simulator filled 20 bps worse
    assert Decimal(record["filled_qty"]) == Decimal("0.002")
    assert record["place_to_ack_ms"] is not None
    assert record["latency"]["place_ack"]["count"] == 1
    execution = vigil.status()["execution"]["BTCUSDT"]
    assert set(execution) == {"place_ack", "place_fill", "slippage_bps"}
    assert execution["slippage_bps"]["max"] >= 20


# --- risk ---------------------------------------------------------------------------------------


def buy_then_move(vigil: Vigil, quantity: str, move: Decimal) -> Decimal:
    """A market buy, then the market moves by ``move``; returns the new mid."""
    assert vigil.submit(quantity=quantity).accepted
    wait_for(lambda: vigil.status()["fills"] >= 1)
    mid = Decimal(vigil.sim.state()["prices"]["BTCUSDT"]["mid"]) + move
    vigil.sim.set_price("BTCUSDT", str(mid))
    return mid


def test_the_daily_loss_limit_goes_red(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(vigil_factory, {"daily_loss": {"threshold": 5, "window_s": 60}})
    buy_then_move(vigil, "0.01", Decimal(-1000))  # 0.01 BTC, 1000 lower: about 10 USDT down
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=4)
    assert vigil.system.gate.state.reason.startswith("daily_loss: ")
    record = wait_audited(vigil, "breaker_rule", rule="daily_loss", level="RED")
    assert Decimal(record["value"]) > 5
    assert Decimal(vigil.status()["risk"]["daily_pnl"]) < -5


def test_the_drawdown_limit_goes_red(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(vigil_factory, {"drawdown": {"threshold": "0.1", "window_s": 60}})
    # the account holds 1 BTC: a fall of 1,000 on ~60,000 takes its equity down ~0.5%
    buy_then_move(vigil, "0.001", Decimal(-1000))
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=4)
    assert vigil.system.gate.state.reason.startswith("drawdown: ")
    wait_audited(vigil, "breaker_rule", rule="drawdown", level="RED")


def test_the_days_peak_equity_and_loss_baseline_survive_a_process_restart(
    vigil_factory: Callable[..., Vigil], tmp_path: Path
) -> None:
    """A restart must not forgive a drawdown: the day's peak comes back from the journal."""
    data_dir = tmp_path / "var"
    triggers = {"drawdown": {"threshold": "0.5", "window_s": 60}}
    first = start(vigil_factory, triggers, data_dir=data_dir)
    mid = buy_then_move(first, "0.001", Decimal(2000))  # 1 BTC held: the peak rises ~1%
    wait_for(lambda: Decimal(first.status()["risk"]["peak_equity"] or 0) > 191_000, timeout=4)
    first.sim.set_price("BTCUSDT", str(mid - 600))  # ~0.3% below the peak: within the limit
    risk = first.status()["risk"]
    assert not audited(first, "breaker_rule", rule="drawdown")
    first.system.stop(cancel_open=False)

    second = start(vigil_factory, triggers, data_dir=data_dir, sim=first.system.simulator)
    again = second.status()["risk"]
    assert again["day_start_ms"] == risk["day_start_ms"]
    assert Decimal(again["peak_equity"]) >= Decimal(risk["peak_equity"]) / Decimal("1.0001")
    # another ~0.3% down: 0.6% from the day's peak (before the restart), 0.3% from where
    # the second process began; only a remembered peak sees the limit crossed
    second.sim.set_price("BTCUSDT", str(mid - 1200))
    wait_for(lambda: second.system.gate.state.is_red, timeout=4)
    assert second.system.gate.state.reason.startswith("drawdown: ")
    wait_audited(second, "breaker_rule", rule="drawdown", level="RED")


def test_a_new_day_is_marked_only_once_every_position_has_a_price(
    vigil_factory: Callable[..., Vigil], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process comes back the next UTC day holding ETH bought lower: the day's baseline
    must count that position at its price, not at 0 (today's P&L would jump by it)."""
    data_dir = tmp_path / "var"
    first = start(vigil_factory, {}, data_dir=data_dir)
    eth = Decimal(first.sim.state()["prices"]["ETHUSDT"]["mid"])
    assert first.submit(symbol="ETHUSDT", quantity="0.1").accepted
    wait_for(lambda: first.status()["fills"] >= 1)
    first.sim.set_price("ETHUSDT", str(eth + 100))  # the position is ~+10 USDT up
    first.system.stop(cancel_open=False)
    # Vigil's wall clock is a day later: a new UTC day at start-up
    monkeypatch.setattr(runtime.clock, "time", SteppedWallClock(86_400))
    second = vigil_factory(data_dir=data_dir, sim=first.system.simulator)
    tomorrow = (int(_time.time() * 1000) + 86_400_000) // 86_400_000 * 86_400_000
    wait_for(lambda: second.status()["risk"]["day_start_ms"] == tomorrow, timeout=5)
    assert "ETHUSDT" in second.system.book.book.prices
    assert Decimal(second.status()["risk"]["daily_pnl"]) == 0


def test_a_withdrawal_is_not_a_drawdown(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(vigil_factory, {"drawdown": {"threshold": "0.5", "window_s": 60}})
    buy_then_move(vigil, "0.001", Decimal(0))  # the day is marked, its peak taken
    peak = wait_for(lambda: vigil.status()["risk"]["peak_equity"], timeout=4)
    resp = requests.post(
        f"{vigil.sim.rest}/_sim/deposit", json={"asset": "USDT", "amount": "-10000"}, timeout=5
    )  # about 5% of the account leaves it: no loss
    assert resp.status_code == 200, resp.text
    wait_audited(vigil, "balance_update", asset="USDT")
    moved = Decimal(peak) - 10000
    wait_for(lambda: Decimal(vigil.status()["risk"]["peak_equity"]) <= moved + 1, timeout=4)
    since = vigil.system.gate.last_healthy_ms or 0
    # each reconciliation takes a risk sample: two more after the withdrawal
    for _ in range(2):
        wait_for(lambda: (vigil.system.gate.last_healthy_ms or 0) > since, timeout=4)  # noqa: B023
        since = vigil.system.gate.last_healthy_ms or 0
    assert not audited(vigil, "breaker_rule", rule="drawdown")
    assert level(vigil) == "GREEN"


def test_consecutive_losing_closes_go_yellow(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(vigil_factory, {"consecutive_losses": {"threshold": 2}})
    buy_then_move(vigil, "0.01", Decimal(-200))
    assert vigil.submit(side="SELL", quantity="0.003").accepted
    wait_audited(vigil, "breaker_input", input="losing_trade")
    assert vigil.submit(side="SELL", quantity="0.003").accepted
    wait_for(lambda: level(vigil) == "YELLOW", timeout=3)
    assert vigil.system.gate.state.reason.startswith("consecutive_losses: 2 trades")
    wait_audited(vigil, "breaker_rule", rule="consecutive_losses", level="YELLOW")


def test_a_broken_position_invariant_goes_red(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(vigil_factory, {})
    buy_then_move(vigil, "0.01", Decimal(0))
    held = Decimal(vigil.sim.balance("BTC")["free"])
    # someone withdraws the BTC our position holds (Binance reports it: balanceUpdate)
    resp = requests.post(
        f"{vigil.sim.rest}/_sim/deposit",
        json={"asset": "BTC", "amount": str(-(held - Decimal("0.005")))},
        timeout=5,
    )
    assert resp.status_code == 200, resp.text
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=4)
    assert vigil.system.gate.state.reason.startswith("position_invariant: ")
    record = wait_audited(vigil, "breaker_input", input="position_invariant")
    assert "more than the 0.005" in record["detail"]
    wait_audited(vigil, "breaker_rule", rule="position_invariant", level="RED")


# --- infrastructure -----------------------------------------------------------------------------


def test_process_memory_above_the_limit_goes_yellow(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(vigil_factory, {"memory": {"threshold": 1, "window_s": 5}})  # 1 MB: always
    wait_for(lambda: level(vigil) == "YELLOW", timeout=4)
    record = wait_audited(vigil, "breaker_rule", rule="memory", level="YELLOW")
    assert Decimal(record["value"]) > 1


def test_free_disk_below_the_limit_goes_red(vigil_factory: Callable[..., Vigil]) -> None:
    huge = 10**12  # MB: more than any disk has free
    vigil = vigil_factory(
        breaker={
            **FAST_BREAKER,
            "triggers": {
                "cpu": {"threshold": 0},
                "disk_free": {"threshold": 0, "red_threshold": huge},
            },
        }
    )
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=5)
    assert vigil.system.gate.state.reason.startswith("disk_free: ")
    wait_audited(vigil, "breaker_rule", rule="disk_free", level="RED")


def test_an_inbox_backlog_goes_yellow_and_clears_once_it_drains(
    vigil_factory: Callable[..., Vigil],
) -> None:
    # a slow listener (held for 2.5 s, inside the hang deadline) while 2,000 messages queue
    vigil = start(
        vigil_factory,
        {"inbox_backlog": {"threshold": 500, "window_s": 2}},
        supervision={"hang_timeout_s": 6.0},
    )
    directory = vigil.system.directory
    assert directory.tell("ws_listener", InjectFault(kind="hang", seconds=2.5), sender="test")
    for _ in range(2000):
        directory.tell("ws_listener", InjectFault(kind="hang", seconds=0), sender="test")
    wait_for(lambda: level(vigil) == "YELLOW", timeout=4)
    assert vigil.system.gate.state.reason.startswith("inbox_backlog: ")
    record = wait_audited(vigil, "breaker_rule", rule="inbox_backlog", level="YELLOW")
    assert Decimal(record["value"]) > 500
    # drained, the samples fall out of the window and the cool-down passes: GREEN by itself
    wait_for(lambda: level(vigil) == "GREEN", timeout=8)
    assert wait_audited(vigil, "breaker_yellow_cleared")["was"].startswith("inbox_backlog")
    assert not audited(vigil, "actor_failure")  # slow is not hung: no restart, no RED


def test_cpu_above_the_limit_goes_yellow(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = vigil_factory(breaker={**FAST_BREAKER, "triggers": {"cpu": {"threshold": "0.001"}}})
    wait_for(lambda: level(vigil) == "YELLOW", timeout=5)
    wait_audited(vigil, "breaker_rule", rule="cpu", level="YELLOW")


def test_actor_restarts_are_counted_by_their_rule(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start(vigil_factory, {"actor_restarts": {"threshold": 1, "window_s": 60}})
    vigil.system.directory.tell("reconciler", InjectFault(kind="raise"), sender="test")
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=3)  # the supervisor's RED
    wait_audited(vigil, "breaker_input", input="actor_restart")
    wait_audited(vigil, "breaker_rule", rule="actor_restarts", level="RED")


# --- dead man's switches -----------------------------------------------------------------------


def test_no_market_data_goes_yellow_then_red(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = start_with_market_data_switch(vigil_factory)
    vigil.sim.tick()  # the market moves: a ticker, the switch is fed
    # the simulator's clock is manual: no more tickers come
    wait_for(lambda: level(vigil) == "YELLOW", timeout=3)
    wait_audited(vigil, "breaker_yellow", cause="market_data")
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=3)
    assert vigil.system.gate.state.reason.startswith("market_data: nothing for")
    wait_audited(vigil, "breaker_rule", rule="market_data", level="RED")


def test_the_operator_heartbeat_keeps_trading_going_and_its_absence_pauses_it(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = start(vigil_factory, {"operator_heartbeat": {"threshold": 1}})
    for _ in range(3):  # beats more often than the limit: stays GREEN
        resp = vigil.api("POST", "/v1/heartbeat", {"operator": "alice"})
        assert resp.status_code == 200 and resp.json()["ok"]
        assert level(vigil) == "GREEN"
        threading.Event().wait(0.4)  # the operator's pace, not synchronisation
    wait_for(lambda: level(vigil) == "YELLOW", timeout=3)
    wait_audited(vigil, "breaker_yellow", cause="operator_heartbeat")
    status = vigil.status()
    assert "operator_heartbeat" in status["breaker_rules"]["yellow_causes"]
    assert status["trading"] == "YELLOW: trading paused (operator_heartbeat)"
    assert vigil.system.breaker_memory.board.causes == ("operator_heartbeat",)
    back = vigil.api("POST", "/v1/heartbeat", {})  # the operator is back: clears after the
    assert back.json()["armed"] is True  # cool-down
    wait_for(lambda: level(vigil) == "GREEN", timeout=3)


def test_a_heartbeat_says_whether_it_is_armed_and_when_it_was_not_received(
    vigil: Vigil, monkeypatch: pytest.MonkeyPatch
) -> None:
    resp = vigil.api("POST", "/v1/heartbeat", {"operator": "alice"})
    assert resp.status_code == 200
    assert resp.json() == {"ok": True, "breaker": "GREEN", "armed": False}  # off by default
    # the breaker not running (a restart in progress): the heartbeat was not received
    monkeypatch.setattr(vigil.system.directory, "tell", lambda *a, **kw: False)
    lost = vigil.api("POST", "/v1/heartbeat", {"operator": "alice"})
    assert lost.status_code == 503 and lost.json()["ok"] is False


def test_a_reset_applies_what_still_holds_at_once(vigil_factory: Callable[..., Vigil]) -> None:
    """Market data silent past its YELLOW line (but not RED) when the operator resets an
    unrelated halt: the reset lands in YELLOW, paused, not in a moment of full GREEN."""
    vigil = start(
        vigil_factory,
        {"market_data": {"threshold": 1, "red_threshold": 0}},
        breaker={"market_data_report_s": 0.05},
    )
    wait_for(lambda: level(vigil) == "YELLOW", timeout=3)  # no ticker after the first
    vigil.api("POST", "/v1/halt", {"reason": "drill"})
    tripped = vigil.system.gate.state.since_ms
    vigil.system.directory.tell("reconciler", ReconcileNow(), sender="test")
    wait_for(lambda: (vigil.system.gate.last_healthy_ms or 0) > tripped, timeout=3)
    resp = vigil.api("POST", "/v1/reset", {"reason": "drill over", "confirm": True})
    assert resp.status_code == 200, resp.text
    assert resp.json()["breaker"] == "YELLOW"
    assert vigil.status()["trading"] == "YELLOW: trading paused (market_data)"


def test_a_ticker_sent_again_on_a_reconnect_is_no_news(vigil: Vigil) -> None:
    """The simulator sends every symbol's ticker again to a new market connection: the
    same book update must not refresh the price's age (nor feed the dead man's switch)."""
    book = vigil.system.book.book
    seen = book.price_ms["BTCUSDT"]
    before = vigil.system.ask("ws_listener", StatusRequest())["events"]
    vigil.sim.arm("ws_disconnect", params={"target": "market"})

    def tickers_again() -> bool:
        events = vigil.system.ask("ws_listener", StatusRequest())["events"]
        return bool(events >= before + 4)  # disconnected, connected, two tickers

    wait_for(tickers_again, timeout=5)
    assert book.price_ms["BTCUSDT"] == seen


def test_status_shows_the_rules_measures(vigil: Vigil) -> None:
    rules = vigil.status()["breaker_rules"]
    assert {"api_errors", "memory", "disk_free"} <= set(rules["measures"])
    assert rules["yellow_limits"]["reduce_only"] is True


# --- RED: no automatic path clears it ----------------------------------------------------------


def test_no_automatic_path_clears_red_once_its_cause_is_gone(
    vigil_factory: Callable[..., Vigil],
) -> None:
    """Extends tests/system/test_halt.py: here RED comes from a rule, the cause goes away,
    the rule goes quiet, every YELLOW cause cools down, reconciliations come back HEALTHY and
    the breaker is restarted with fresh rules: still RED, until the operator's reset."""
    vigil = start(vigil_factory, {"ban": {"threshold": 1, "window_s": 0.5}})
    vigil.system.directory.tell(
        "breaker",
        BreakerInput(kind=EvidenceKind.RATE_LIMIT_HTTP_418, detail="HTTP 418 code -1003"),
        sender="adapter",
    )
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=3)
    tripped = vigil.system.gate.state.since_ms
    wait_audited(vigil, "breaker_rule_quiet", rule="ban")  # the cause is gone
    wait_for(lambda: (vigil.system.gate.last_healthy_ms or 0) > tripped + 1000, timeout=5)
    assert vigil.system.gate.state.is_red
    # the breaker restarts (its rules start afresh, nothing fires)
    supervisor = vigil.system.supervisor
    generation = supervisor.children["breaker"].generation
    ref = vigil.system.directory.ref("breaker")
    assert ref is not None
    ref.stop()
    wait_for(lambda: supervisor.children["breaker"].generation > generation, timeout=3)
    wait_for(lambda: not vigil.status()["breaker_rules"]["firing"], timeout=3)
    threading.Event().wait(1.0)  # ticks of the new breaker pass
    assert vigil.system.gate.state.is_red
    assert "418" in vigil.status()["reason"]
    # only the operator's reset, with a reason, clears it, and it is audited
    vigil.system.directory.tell("reconciler", ReconcileNow(), sender="test")
    wait_for(lambda: (vigil.system.gate.last_healthy_ms or 0) > tripped, timeout=3)
    resp = vigil.api("POST", "/v1/reset", {"reason": "ban understood", "confirm": True})
    assert resp.status_code == 200, resp.text
    assert level(vigil) == "GREEN"
    wait_audited(vigil, "reset", reason="ban understood")
    threading.Event().wait(0.3)  # the rules after the reset: no stale re-trip
    assert level(vigil) == "GREEN"
    try:
        assert vigil.submit().accepted
    except pykka.Timeout:  # pragma: no cover - a slow machine
        raise


def start_with_market_data_switch(vigil_factory: Callable[..., Vigil]) -> Vigil:
    """The market-data silence at 1 s YELLOW, 2 s RED (the manual-clock simulator sends a
    ticker only when the test moves the market)."""
    return start(
        vigil_factory,
        {"market_data": {"threshold": 1, "red_threshold": 2}},
        breaker={"market_data_report_s": 0.05},
    )


class SteppedWallClock:
    """The ``time`` module as Vigil's clocks see it, with the wall clock stepped by
    ``offset_s`` (NTP or an operator setting the clock); the monotonic clock untouched."""

    def __init__(self, offset_s: float) -> None:
        self.offset_s = offset_s

    def time(self) -> float:
        return _time.time() + self.offset_s

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)


def test_a_wall_clock_step_forward_trips_nothing(
    vigil_factory: Callable[..., Vigil], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the reconciliation silence's RED line is 6 s here, the market data's 2 s: an hour's
    # step on a wall clock would cross both at the next tick
    vigil = start_with_market_data_switch(vigil_factory)
    vigil.sim.tick()
    monkeypatch.setattr(runtime.clock, "time", SteppedWallClock(3600))
    vigil.system.directory.tell("breaker", BreakerTick(sender="test"), sender="test")
    measures = vigil.status()["breaker_rules"]["measures"]
    assert Decimal(measures["reconciliation_stale"]) < 60
    assert Decimal(measures["market_data"]) < 60
    assert level(vigil) == "GREEN"


def test_a_wall_clock_step_back_hides_no_silence(
    vigil_factory: Callable[..., Vigil], monkeypatch: pytest.MonkeyPatch
) -> None:
    vigil = start_with_market_data_switch(vigil_factory)
    vigil.sim.tick()  # one ticker; the manual-clock simulator sends no more
    monkeypatch.setattr(runtime.clock, "time", SteppedWallClock(-3600))
    wait_for(lambda: level(vigil) == "YELLOW", timeout=3)
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=3)
    assert vigil.system.gate.state.reason.startswith("market_data: nothing for")


def test_a_reset_is_refused_while_a_condition_still_means_red(
    vigil_factory: Callable[..., Vigil],
) -> None:
    """A reset acknowledges past evidence, not a present condition: with the market data
    feed still silent past its RED line, the reset is refused; once the feed is back it is
    accepted."""
    vigil = start_with_market_data_switch(vigil_factory)
    vigil.sim.tick()
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=4)
    tripped = vigil.system.gate.state.since_ms
    vigil.system.directory.tell("reconciler", ReconcileNow(), sender="test")
    wait_for(lambda: (vigil.system.gate.last_healthy_ms or 0) > tripped, timeout=3)
    refused = vigil.api("POST", "/v1/reset", {"reason": "looked at it", "confirm": True})
    assert refused.status_code == 409, refused.text
    assert "market_data: nothing for" in refused.json()["reason"]
    why = wait_audited(vigil, "reset_refused", reason="looked at it")["why"]
    assert why.startswith("still RED now: market_data")
    assert vigil.system.gate.state.is_red

    # the feed comes back (the market keeps moving from here): the condition is gone, and
    # the reset goes through
    def feed_back() -> bool:
        vigil.sim.tick()
        return vigil.status()["breaker_rules"]["firing"].get("market_data") is None

    wait_for(feed_back, timeout=3, interval=0.1)
    vigil.sim.tick()
    resp = vigil.api("POST", "/v1/reset", {"reason": "feed is back", "confirm": True})
    assert resp.status_code == 200, resp.text
    assert not vigil.system.gate.state.is_red
    wait_audited(vigil, "reset", reason="feed is back")


def test_a_wall_clock_step_does_not_mark_an_unknown_order_absent_early(
    vigil_factory: Callable[..., Vigil], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An order whose outcome is unknown is marked absent only after the exchange has
    denied it for ``unknown_window_s`` (3 s here) of the broker's monotonic time; an hour's
    step of the wall clock must not make that silence look long."""
    vigil = start(vigil_factory, {"timeouts": {"threshold": 0}}, broker={"unknown_window_s": 3})
    vigil.sim.arm("unknown_status", params={"placed": False}, count=1)
    sent = _time.monotonic()
    unknown = vigil.submit(type="LIMIT", price="59000", quantity="0.01")
    assert unknown.accepted
    wait_for(lambda: vigil.status()["risk"]["unknown_orders"] == 1, timeout=3)
    monkeypatch.setattr(runtime.clock, "time", SteppedWallClock(3600))
    resolved = wait_audited(
        vigil, "unknown_resolved", timeout=6, client_order_id=unknown.client_order_id
    )
    assert resolved["state"] == "ABSENT"
    # the window ran from when the order became unknown, after ``sent``
    assert _time.monotonic() - sent >= 3.0


# --- evidence per order, whichever path brings the fills ---------------------------------------


def test_a_sell_filled_in_pieces_is_one_losing_trade_and_a_sweep_no_partial_fill(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = start(
        vigil_factory,
        {"consecutive_losses": {"threshold": 2}, "partial_fills": {"threshold": 1}},
        policy={"max_order_notional": "20000"},
    )
    # 0.12 BTC at market sweeps three levels of 0.05: filled, never partly filled
    mid = buy_then_move(vigil, "0.12", Decimal(-200))
    wait_for(lambda: vigil.system.book.book.prices["BTCUSDT"] < mid + 100, timeout=3)
    # 0.1 sold at market, 200 lower, in two pieces: one close, one losing trade
    sell = vigil.submit(side="SELL", quantity="0.1")
    assert sell.accepted
    lost = wait_audited(vigil, "breaker_input", input="losing_trade")
    assert lost["detail"].startswith(f"{sell.client_order_id}: closed 0.1")
    wait_audited(vigil, "execution_quality", client_order_id=sell.client_order_id)
    assert len(audited(vigil, "breaker_input", input="losing_trade")) == 1
    assert not audited(vigil, "breaker_input", input="partial_fill")
    assert level(vigil) == "GREEN"  # consecutive losses 1 of 2, no partial fill


def test_a_fill_seen_only_by_rest_still_gives_its_execution_quality(
    vigil_factory: Callable[..., Vigil],
) -> None:
    """The user stream loses the order's events: the poller's snapshot says FILLED before
    its trades arrive; the order's quality is judged once its fills are in."""
    vigil = start(vigil_factory, {})
    mid = Decimal(vigil.sim.state()["prices"]["BTCUSDT"]["mid"])
    resting = vigil.submit(type="LIMIT", quantity="0.01", price=str(mid - 5))
    assert resting.accepted
    wait_for(lambda: vigil.sim_orders() == 1)
    book = vigil.system.book.book
    wait_for(lambda: book.orders[resting.client_order_id].order_id is not None, timeout=3)
    vigil.sim.arm("drop_events", duration=30)
    vigil.sim.set_price("BTCUSDT", str(mid - 50))  # crossed: it fills on the exchange
    quality = wait_audited(
        vigil, "execution_quality", timeout=5, client_order_id=resting.client_order_id
    )
    assert Decimal(quality["filled_qty"]) == Decimal("0.01")
    assert audited(vigil, "breaker_input", input="poll_failed") == []


def test_a_resync_tells_the_breaker_the_orders_in_unknown_state_it_resolved(
    vigil_factory: Callable[..., Vigil],
) -> None:
    # the poller would resolve the order only after 30 s: the resync does it first
    vigil = start(vigil_factory, {"timeouts": {"threshold": 0}}, broker={"unknown_window_s": 30})
    vigil.sim.arm("unknown_status", params={"placed": False}, count=1)
    assert vigil.submit(type="LIMIT", price="59000", quantity="0.01").accepted

    def measured() -> str | None:
        return vigil.status()["breaker_rules"]["measures"]["unknown_orders"]  # type: ignore[no-any-return]

    wait_for(lambda: measured() == "1", timeout=3)
    vigil.api("POST", "/v1/halt", {"reason": "drill"})
    answer = vigil.api("POST", "/v1/resync", {"confirm": True, "reason": "drill"}).json()
    assert answer["ok"] and len(answer["changes"]["closed"]) == 1
    wait_for(lambda: measured() == "0", timeout=3)


def lost_answer_sell(vigil_factory: Callable[..., Vigil]) -> tuple[Vigil, Any, Any, Any]:
    """0.2 BTC bought, the market 200 lower, then a SELL of 0.1 whose answer is lost and
    whose events never come (two trades on the exchange, UNKNOWN in the book). The poller
    and the reconciler stay out of it: the test hands the broker what the poller would,
    from the real adapter. Returns the system, the sell, its order status and its trades."""
    vigil = start(
        vigil_factory,
        {"consecutive_losses": {"threshold": 5}},
        policy={"max_order_notional": "20000"},
        poller={"interval_s": 3600, "fast_interval_s": 3600},
        reconciliation={"interval_s": 3600},
    )
    buy_then_move(vigil, "0.2", Decimal(-200))
    wait_for(lambda: vigil.system.book.book.prices["BTCUSDT"] < Decimal(59_900), timeout=3)
    vigil.sim.arm("drop_events", duration=30)
    vigil.sim.arm("unknown_status", params={"placed": True}, count=1)
    sell = vigil.submit(side="SELL", quantity="0.1")  # sweeps two levels of 0.05
    assert sell.accepted
    # the book read afresh each time (a broker restart would replace it), and, should the
    # order never show UNKNOWN, the failure says whether a trip (and restart) came between
    try:
        wait_for(
            lambda: vigil.system.book.book.orders[sell.client_order_id].state.value == "UNKNOWN",
            timeout=3,
        )
    except AssertionError as timed_out:
        state = vigil.system.gate.state
        order = vigil.system.book.book.orders[sell.client_order_id]
        why = f"not UNKNOWN: {order.state} (breaker {state.level}: {state.reason})"
        raise AssertionError(why) from timed_out
    adapter = vigil.system.adapter
    status = adapter.get_order("BTCUSDT", client_order_id=sell.client_order_id)
    trades = tuple(t for t in adapter.get_trades("BTCUSDT") if t.order_id == status.order_id)
    assert len(trades) == 2
    return vigil, sell, status, trades


def test_fills_claimed_together_make_one_close_of_the_whole_order(
    vigil_factory: Callable[..., Vigil],
) -> None:
    """The SELL's two trades reach the broker before its exchange id does (kept apart),
    then the order query teaches the id and both are claimed at once. The close is judged
    on both: one losing trade of 0.1."""
    vigil, sell, status, trades = lost_answer_sell(vigil_factory)
    directory = vigil.system.directory
    directory.tell("order_broker", TradesSeen(symbol="BTCUSDT", trades=trades), sender="test")
    directory.tell("order_broker", OrderSnapshot(status=status), sender="test")
    lost = wait_audited(vigil, "breaker_input", input="losing_trade")
    assert lost["detail"].startswith(f"{sell.client_order_id}: closed 0.1,")
    quality = wait_audited(vigil, "execution_quality", client_order_id=sell.client_order_id)
    assert Decimal(quality["filled_qty"]) == Decimal("0.1")
    assert len(audited(vigil, "breaker_input", input="losing_trade")) == 1


def test_a_resync_does_not_count_the_fills_it_claims_twice(
    vigil_factory: Callable[..., Vigil],
) -> None:
    """The SELL's trades were kept apart (its id unknown); the operator resyncs: the query
    of the order claims them, and the exchange's balances, which include them, are set
    after, not before."""
    vigil, sell, _, trades = lost_answer_sell(vigil_factory)
    vigil.system.directory.tell(
        "order_broker", TradesSeen(symbol="BTCUSDT", trades=trades), sender="test"
    )
    wait_for(lambda: len(vigil.system.book.book.foreign_executions) == 2, timeout=3)
    vigil.api("POST", "/v1/halt", {"reason": "drill"})
    answer = vigil.api("POST", "/v1/resync", {"confirm": True, "reason": "drill"}).json()
    assert answer["ok"] and answer["changes"]["closed"] == [sell.client_order_id]
    assert vigil.system.book.book.orders[sell.client_order_id].state.value == "FILLED"
    assert book_matches_exchange(vigil)
