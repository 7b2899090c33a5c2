"""Emergency flatten against the simulator's true state: from RED, with a resting order and
a partly filled position, it ends with no open order and the position sold, RED still
latched and every other intent refused throughout; refused when the reconciliation is not
HEALTHY unless forced (``run.py flatten``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from runtime.messages import IntentDecision
from tests.conftest import Vigil, audited, run_py, vigil_env, wait_audited, wait_for

STEP = Decimal("0.00001")  # the simulator's BTCUSDT LOT_SIZE step


def partly_filled_position(vigil: Vigil) -> tuple[str, Decimal]:
    """A LIMIT BUY of 0.08 of which one level (0.05) fills: it keeps resting, and Vigil holds
    the base it bought. Returns its client order id and Vigil's position."""
    mid = Decimal(vigil.sim.state()["prices"]["BTCUSDT"]["mid"])
    limit = mid - 5
    decision = vigil.submit(type="LIMIT", quantity="0.08", price=str(limit))
    assert decision.accepted, decision.reason
    cid = str(decision.client_order_id)
    wait_for(lambda: vigil.sim_orders() == 1)
    vigil.sim.set_price("BTCUSDT", str(limit - Decimal("0.01")))
    book = vigil.system.book.book
    wait_for(lambda: book.orders[cid].state.value == "PARTIALLY_FILLED", timeout=5)
    wait_for(lambda: book.orders[cid].fills_booked, timeout=5)
    position = book.positions["BTCUSDT"].quantity
    assert 0 < position < Decimal("0.08")
    return cid, position


def btc_free(vigil: Vigil) -> Decimal:
    return Decimal(vigil.sim.balance("BTC")["free"])


def test_flatten_from_red_cancels_sells_the_position_and_stays_red(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = vigil_factory(broker={"cancel_on_red": False})  # the flatten's own cancels
    vigil.wait_green()
    held_before = btc_free(vigil) + Decimal(vigil.sim.balance("BTC")["locked"])  # 1 BTC, not ours
    resting, position = partly_filled_position(vigil)
    assert vigil.api("POST", "/v1/halt", {"reason": "drill"}).status_code == 200
    red = vigil.system.gate.state
    assert vigil.sim.state()["open_orders"]  # the resting order is still on the exchange

    # a strategy keeps sending intents while the flatten runs: every one is refused
    decisions: list[IntentDecision] = []
    finished = threading.Event()

    def strategy() -> None:
        while not finished.is_set():
            decisions.append(vigil.submit(side="SELL", type="MARKET", quantity="0.001"))

    sender = threading.Thread(target=strategy)
    sender.start()
    wait_for(lambda: decisions)
    try:
        resp = vigil.api("POST", "/v1/flatten", {"confirm": True, "reason": "drill flatten"})
    finally:
        during = len(decisions)
        finished.set()
        sender.join()
    report = resp.json()
    assert resp.status_code == 200, report
    assert report["ok"] is True and report["errors"] == []

    # the exchange's true state: no open order, the position sold, the 1 BTC not ours kept
    state = vigil.sim.state()
    assert state["open_orders"] == []
    assert [o["state"] for o in report["cancelled"]] == ["CANCELED"]
    assert report["cancelled"][0]["client_order_id"] == resting
    assert [o["status"] for o in state["orders"] if o["clientOrderId"] == resting] == ["CANCELED"]
    sold = report["sold"]
    assert len(sold) == 1 and sold[0]["status"] == "FILLED"
    quantity = Decimal(sold[0]["quantity"])
    assert quantity == (position // STEP) * STEP and Decimal(sold[0]["executed_qty"]) == quantity
    exchange_sell = [o for o in state["orders"] if o["clientOrderId"] == sold[0]["client_order_id"]]
    assert exchange_sell[0]["side"] == "SELL" and exchange_sell[0]["type"] == "MARKET"
    assert exchange_sell[0]["status"] == "FILLED"
    assert Decimal(exchange_sell[0]["executedQty"]) == quantity
    assert btc_free(vigil) == held_before + position - quantity  # only the sub-step rest
    assert (
        report["dust"]
        == [
            {
                "symbol": "BTCUSDT",
                "quantity": str(position - quantity),
                "reason": "below the lot step",
            }
        ]
        or position == quantity
    )
    wait_for(lambda: vigil.system.book.book.positions["BTCUSDT"].quantity == position - quantity)
    # and the book agrees with the exchange: a cycle begun after the flatten is HEALTHY
    cycle = vigil.api("POST", "/v1/reconcile", {"timeout_s": 10}).json()
    assert cycle["result"] == "HEALTHY", cycle

    # RED latched: the very same trip, and every normal intent refused throughout
    assert vigil.system.gate.state == red and report["breaker"] == "RED"
    assert during > 1 and not any(d.accepted for d in decisions)
    assert all("RED" in d.reason for d in decisions), {d.reason for d in decisions}
    after = vigil.api("POST", "/v1/orders", {"symbol": "BTCUSDT", "side": "SELL",
                                             "type": "MARKET", "quantity": "0.001"})  # fmt: skip
    assert after.status_code == 409

    # audited step by step, the sell written ahead of the wire
    started = wait_audited(vigil, "flatten_started", reason="drill flatten")
    assert started["breaker"] == "RED" and started["reconciliation"] == "HEALTHY"
    cancel = wait_audited(vigil, "flatten_cancel", client_order_id=resting)
    journaled = [e.body for e in vigil.system.journal.load() if e.kind == "cancel_requested"]
    assert [(j["client_order_id"], j["requested_by"]) for j in journaled] == [(resting, "flatten")]
    sell = wait_audited(vigil, "flatten_sell", client_order_id=sold[0]["client_order_id"])
    assert sell["quantity"] == sold[0]["quantity"]
    accepted = wait_audited(vigil, "intent_accepted", client_order_id=sell["client_order_id"])
    assert accepted["path"] == "flatten" and accepted["seq"] < sell["seq"]
    done = wait_audited(vigil, "flatten_done")
    assert started["seq"] < cancel["seq"] < sell["seq"] < done["seq"]
    assert not audited(vigil, "flatten_failed")


def test_flatten_trips_red_first_when_it_is_not_red(vigil: Vigil) -> None:
    _, position = partly_filled_position(vigil)
    assert not vigil.system.gate.state.is_red
    resp = vigil.api("POST", "/v1/flatten", {"confirm": True, "reason": "panic"})
    report = resp.json()
    assert resp.status_code == 200 and report["ok"], report
    assert vigil.system.gate.state.is_red
    assert vigil.system.gate.state.reason == "emergency flatten: panic"
    wait_audited(vigil, "halt", reason="emergency flatten: panic")
    assert vigil.sim.state()["open_orders"] == []
    assert Decimal(report["sold"][0]["executed_qty"]) == (position // STEP) * STEP
    assert not vigil.submit().accepted


def test_flatten_needs_confirm_and_a_reason(vigil: Vigil) -> None:
    unconfirmed = vigil.api("POST", "/v1/flatten", {"reason": "x"})
    assert unconfirmed.status_code == 409 and "confirm" in unconfirmed.json()["error"]
    assert vigil.api("POST", "/v1/flatten", {"confirm": True}).status_code == 422
    typo = vigil.api("POST", "/v1/flatten", {"confirm": True, "reason": "x", "forse": True})
    assert typo.status_code == 422 and "forse" in typo.text
    assert not vigil.system.gate.state.is_red  # nothing happened
    assert not audited(vigil, "flatten_started")


def cli_report(result: Any) -> dict[str, Any]:
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_flatten_is_refused_when_not_healthy_unless_forced_from_the_command_line(
    vigil: Vigil,
) -> None:
    env = vigil_env(vigil.system.data_dir)
    resting, position = partly_filled_position(vigil)
    # money moves on the exchange that Vigil cannot explain: CRITICAL, RED
    vigil.sim.arm("balance_drift", params={"asset": "USDT", "delta": "-1"})
    wait_for(lambda: vigil.system.gate.last_result == "CRITICAL", timeout=10)
    # (the reconciler records CRITICAL, then the breaker trips RED on its message: a moment
    # apart — the gate refuses orders on CRITICAL alone meanwhile)
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=5)

    unconfirmed = run_py(env, "flatten", "--reason", "x")
    assert unconfirmed.returncode == 1 and "--confirm" in unconfirmed.stderr

    refused = run_py(env, "flatten", "--confirm", "--reason", "no evidence")
    assert refused.returncode == 1
    report = cli_report(refused)
    assert report["refused"] is True and "CRITICAL" in report["error"]
    wait_audited(vigil, "flatten_refused", reason="no evidence")
    assert not audited(vigil, "flatten_started")  # nothing sold
    assert not [o for o in vigil.sim.state()["orders"] if o["side"] == "SELL"]
    assert vigil.system.book.book.positions["BTCUSDT"].quantity == position

    forced = run_py(env, "flatten", "--confirm", "--reason", "forced", "--force")
    report = cli_report(forced)
    assert forced.returncode == 0, report
    assert report["forced"] is True and report["ok"] is True
    # cancel-on-RED had cancelled the resting order when the reconciliation tripped RED
    assert report["cancelled"] == []
    assert [o["status"] for o in vigil.sim.state()["orders"] if o["clientOrderId"] == resting] == [
        "CANCELED"
    ]
    assert vigil.sim.state()["open_orders"] == []
    assert Decimal(report["sold"][0]["executed_qty"]) == (position // STEP) * STEP
    assert vigil.system.gate.state.is_red


def test_the_flatten_path_sells_no_more_than_vigil_holds_and_only_within_the_filters(
    vigil: Vigil,
) -> None:
    from runtime.messages import FlattenSell

    _, position = partly_filled_position(vigil)
    vigil.api("POST", "/v1/halt", {"reason": "drill"})
    before = vigil.sim_orders()

    def sell(quantity: Decimal, symbol: str = "BTCUSDT") -> dict[str, Any]:
        message = FlattenSell(symbol=symbol, quantity=quantity, reason="test")
        return vigil.system.ask("order_broker", message)  # type: ignore[no-any-return]

    assert "not within Vigil's position" in sell(position + STEP)["reason"]  # the 1 BTC not ours
    assert "not within Vigil's position" in sell(Decimal("0.01"), "ETHUSDT")["reason"]
    assert "LOT_SIZE" in sell(STEP / 10)["reason"]
    assert "NOTIONAL" in sell(STEP)["reason"]  # 0.6 USDT: below the minimum notional
    assert "not a configured symbol" in sell(STEP, "DOGEUSDT")["reason"]
    assert vigil.sim_orders() == before  # none reached the exchange
    wait_for(lambda: len(audited(vigil, "flatten_sell_refused")) == 5)  # audited by a tell


def test_a_sell_the_exchange_rejects_fails_the_flatten_and_the_command(vigil: Vigil) -> None:
    env = vigil_env(vigil.system.data_dir)
    _, position = partly_filled_position(vigil)
    vigil.api("POST", "/v1/halt", {"reason": "drill"})
    wait_for(lambda: vigil.sim.state()["open_orders"] == [], timeout=5)  # cancel-on-RED
    vigil.sim.arm("reject_orders", count=1)
    failed = run_py(env, "flatten", "--confirm", "--reason", "rejected")
    report = cli_report(failed)
    assert failed.returncode == 1 and report["ok"] is False
    assert [s["status"] for s in report["sold"]] == ["REJECTED"]
    assert "REJECTED" in report["errors"][0]
    wait_audited(vigil, "flatten_failed", reason="rejected")
    assert vigil.system.book.book.positions["BTCUSDT"].quantity == position  # nothing sold
    assert vigil.system.gate.state.is_red


def test_nothing_is_sold_while_an_order_of_ours_may_still_be_open(
    vigil_factory: Callable[..., Vigil],
) -> None:
    # an order whose outcome stays UNKNOWN (the exchange denies it only after 30 s) may be
    # open: the flatten waits for it, and at its deadline sells nothing
    vigil = vigil_factory(
        broker={"unknown_window_s": 30.0},
        breaker={
            "triggers": {
                "market_data": {"threshold": 0, "red_threshold": 0},
                "cpu": {"threshold": 0},
                "unknown_orders": {"threshold": 0},
                "timeouts": {"threshold": 0},
            }
        },
    )
    vigil.wait_green()
    _, position = partly_filled_position(vigil)
    vigil.sim.arm("unknown_status", params={"placed": False}, count=1)
    below = (vigil.system.book.book.prices["BTCUSDT"] * Decimal("0.97")).quantize(STEP * 1000)
    unknown = vigil.submit(type="LIMIT", quantity="0.001", price=str(below))
    assert unknown.accepted, unknown.reason
    book = vigil.system.book.book
    wait_for(lambda: book.orders[unknown.client_order_id].state.value == "UNKNOWN", timeout=5)
    answers: list[Any] = []
    body = {"confirm": True, "reason": "in doubt", "timeout_s": 2}
    first = threading.Thread(target=lambda: answers.append(vigil.api("POST", "/v1/flatten", body)))
    first.start()
    wait_audited(vigil, "flatten_started", reason="in doubt")
    # one flatten at a time: a second one while the first waits is refused
    second = vigil.api("POST", "/v1/flatten", {"confirm": True, "reason": "twice"})
    assert second.status_code == 409 and "already running" in second.json()["error"]
    first.join()
    resp = answers[0]
    report = resp.json()
    assert resp.status_code == 502 and report["ok"] is False
    assert (
        unknown.client_order_id in report["errors"][0] and "nothing was sold" in report["errors"][0]
    )
    assert report["sold"] == []
    assert not [o for o in vigil.sim.state()["orders"] if o["side"] == "SELL"]
    assert book.positions["BTCUSDT"].quantity == position
    wait_audited(vigil, "flatten_failed", reason="in doubt")
    assert vigil.system.gate.state.is_red
