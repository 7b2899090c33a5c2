"""A CRITICAL finding that persists is one incident, updated, not a folder every cycle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import Vigil, wait_for


def reconciliation_folders(vigil: Vigil) -> list[Path]:
    return sorted((vigil.system.data_dir / "incidents").glob("*reconciliation*"))


def report_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "report.json").read_text())  # type: ignore[no-any-return]


def reconciliation_rows(vigil: Vigil) -> list[dict[str, Any]]:
    return [i for i in vigil.system.store.incidents() if i["kind"] == "reconciliation"]


def test_a_persisting_critical_finding_updates_one_incident(vigil: Vigil) -> None:
    vigil.sim.arm("ghost_order", params={"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01"})
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=5)
    wait_for(lambda: reconciliation_rows(vigil), timeout=5)
    first_row = reconciliation_rows(vigil)[0]
    # several more CRITICAL cycles of the same ghost
    wait_for(lambda: reconciliation_rows(vigil)[0]["detail"].get("cycles", 0) >= 5, timeout=10)
    (folder,) = reconciliation_folders(vigil)
    (row,) = reconciliation_rows(vigil)
    assert row["id"] == first_row["id"]
    report = report_of(folder)
    assert report["cycles"] >= 5 and report["last_seen_ms"] > report["first_seen_ms"]
    assert any(f["kind"] == "unknown_order" for f in report["findings"])
    assert row["detail"]["folder"] == str(folder)


def test_a_new_critical_finding_opens_a_new_incident(vigil: Vigil) -> None:
    vigil.sim.arm("ghost_order", params={"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01"})
    wait_for(lambda: reconciliation_rows(vigil), timeout=5)
    wait_for(lambda: reconciliation_rows(vigil)[0]["detail"].get("cycles", 0) >= 2, timeout=10)
    vigil.sim.arm("balance_drift", params={"asset": "USDT", "delta": "-12.5"})
    wait_for(lambda: len(reconciliation_rows(vigil)) == 2, timeout=10)
    newest = reconciliation_rows(vigil)[0]  # newest first
    kinds = {f["kind"] for f in newest["detail"]["findings"] if f["severity"] == "CRITICAL"}
    assert "unknown_order" in kinds and len(kinds) >= 2, kinds
    # and that one goes on being updated, not multiplied
    wait_for(lambda: reconciliation_rows(vigil)[0]["detail"].get("cycles", 0) >= 3, timeout=10)
    assert len(reconciliation_folders(vigil)) == 2


def test_the_same_finding_after_a_reset_is_a_new_incident(vigil: Vigil) -> None:
    vigil.sim.arm("balance_drift", params={"asset": "USDT", "delta": "-12.5"})
    wait_for(lambda: vigil.system.gate.state.is_red and reconciliation_rows(vigil), timeout=5)
    answer = vigil.api("POST", "/v1/resync", {"confirm": True, "reason": "drill"}).json()
    assert answer["ok"], answer
    red_since = vigil.system.gate.state.since_ms
    wait_for(lambda: (vigil.system.gate.last_healthy_ms or 0) > red_since, timeout=10)
    reset = vigil.api("POST", "/v1/reset", {"reason": "resynced", "confirm": True})
    assert reset.status_code == 200, reset.text
    before = {i["id"] for i in reconciliation_rows(vigil)}
    vigil.sim.arm("balance_drift", params={"asset": "USDT", "delta": "-12.5"})  # same key
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=5)
    wait_for(lambda: {i["id"] for i in reconciliation_rows(vigil)} - before, timeout=5)
    (new,) = [i for i in reconciliation_rows(vigil) if i["id"] not in before]
    assert any("USDT" in f["key"] for f in new["detail"]["findings"])
