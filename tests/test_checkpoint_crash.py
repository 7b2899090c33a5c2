"""kill -9 while a checkpoint is written, then a restart: nothing lost, nothing doubled.

Vigil (``run.py`` against a simulator process) writes a checkpoint every 100 journal
entries, compacting every closed order but the 5 most recent, and SIGKILLs itself
(``VIGIL_CRASH_AT=checkpoint_write:2``) as the journal's flusher is about to commit the
batch holding its second checkpoint. The restart recovers from the first checkpoint and
the entries after it, and what the crash took from the journal is learned again from the
exchange: every trade counted once, balances equal to the exchange's, no client order id
sent twice, a compacted order's id still refused.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from storage.journal import Journal
from tests.conftest import wait_for
from tests.test_crash_recovery import (
    VigilProcess,
    audit_continuous,
    exchange,
    green,
    reset_after_review,
    sim_state,
)

__all__ = ["exchange"]  # the fixture

SETTINGS = {"journal__checkpoint_every": "100", "journal__keep_closed": "5"}


def consistent(vigil: VigilProcess, info: dict[str, str]) -> list[str]:
    """Differences between Vigil and the exchange's true state: every trade counted once,
    balances, and the orders Vigil still holds whole (compacted ones are closed for good)."""
    state = sim_state(info)
    problems = []
    status = vigil.status()
    if status.get("fills") != len(state["trades"]):
        problems.append(f"fills {status.get('fills')} vs trades {len(state['trades'])}")
    balances = vigil.api("GET", "/v1/balances").json()["balances"]
    for asset, bal in state["balances"].items():
        if Decimal(balances.get(asset, "0")) != Decimal(bal["free"]) + Decimal(bal["locked"]):
            problems.append(f"{asset}: {balances.get(asset)} vs {bal}")
    ours = vigil.api("GET", "/v1/orders").json()["orders"]
    for o in state["orders"]:
        mine = ours.get(o["clientOrderId"])
        if mine is not None and mine["state"] != o["status"]:
            problems.append(f"{o['clientOrderId']}: {mine['state']} vs {o['status']}")
        if mine is None and o["status"] in ("NEW", "PARTIALLY_FILLED"):
            problems.append(f"{o['clientOrderId']}: open on the exchange, not in the book")
    return problems


def test_a_sigkill_while_a_checkpoint_is_written_then_a_restart_loses_nothing(
    exchange: dict[str, str], tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    first = VigilProcess(exchange, data_dir, crash_at="checkpoint_write:2", **SETTINGS)
    try:
        wait_for(lambda: green(first), timeout=15)
        for n in range(200):  # about 3 journal entries each: the second checkpoint comes first
            if first.killed():
                break
            # BUYs only: round trips lose their fees, and five losses in a row turn YELLOW
            first.order(side="BUY", type="MARKET", quantity="0.001", client_order_id=f"cp-{n}")
        wait_for(first.killed, timeout=20)
    finally:
        if not first.killed():
            first.stop()

    journal = Journal(data_dir / "journal.db")
    loaded = journal.load_recovery()
    journal.close()
    assert loaded.checkpoint is not None, "the first checkpoint is durable"
    assert loaded.checkpoint.body["compacted"]["ids"], "the first checkpoint compacted orders"

    second = VigilProcess(exchange, data_dir, **SETTINGS)
    try:
        wait_for(lambda: not consistent(second, exchange), timeout=20, interval=0.2)
        assert second.status()["reason"].startswith("unclean stop at ")
        reset_after_review(second)
        wait_for(lambda: green(second), timeout=10)
        ids = [o["clientOrderId"] for o in sim_state(exchange)["orders"]]
        assert len(ids) == len(set(ids)), f"duplicate orders: {ids}"
        # an id of an order compacted away is still refused, and never reaches the exchange
        reused = second.api(
            "POST",
            "/v1/orders",
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.001",
                "client_order_id": "cp-0",
            },
        )
        assert reused.status_code >= 400 and "already" in reused.text, reused.text
        assert [o["clientOrderId"] for o in sim_state(exchange)["orders"]].count("cp-0") == 1
        second.order(side="BUY", type="MARKET", quantity="0.001", client_order_id="after")
        wait_for(lambda: "after" in second.api("GET", "/v1/orders").json()["orders"])
        wait_for(lambda: not consistent(second, exchange), timeout=10, interval=0.2)
    finally:
        assert second.stop() == 0
    assert audit_continuous(data_dir)
