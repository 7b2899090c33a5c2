"""The journal and the audit trail under stress: a full disk, a damaged journal, recovery."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from runtime.messages import AuditEvent
from tests.conftest import Vigil, wait_for


def test_a_full_audit_trail_trips_red_and_loses_no_acknowledged_record(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = vigil_factory(audit={"max_pages": 40, "flush_interval_s": 0.01})
    vigil.wait_green()
    trail = vigil.system.trail
    for n in range(20_000):  # fill the quota
        vigil.system.directory.tell("audit_logger", AuditEvent(kind="filler", data={"n": n}))
        if vigil.system.gate.state.is_red:
            break
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=10)
    # the trail's failure report and the audit logger's crash on it race to trip RED first;
    # either way the reason names the audit trail that could not be written
    reason = vigil.system.gate.state.reason
    assert "durable storage failed" in reason or "audit trail write failed" in reason, reason
    # every record that was acknowledged as durable is on disk, in order, without a gap
    durable = trail.durable_seq
    assert durable > 0 and trail.gaps() == []
    assert len(trail.query(limit=10**6)) == durable
    # and nothing trades now
    refused = vigil.api(
        "POST",
        "/v1/orders",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"},
    )
    assert refused.status_code == 409


def _place_and_stop(vigil_factory: Callable[..., Vigil], data_dir: Path) -> Vigil:
    vigil = vigil_factory(data_dir=data_dir)
    vigil.wait_green()
    assert vigil.submit(client_order_id="before-damage").accepted
    wait_for(lambda: vigil.status()["fills"] >= 1)
    vigil.system.stop(cancel_open=False)
    return vigil


def test_a_tampered_journal_entry_is_detected_and_never_replayed(
    vigil_factory: Callable[..., Vigil], tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    first = _place_and_stop(vigil_factory, data_dir)
    db = sqlite3.connect(data_dir / "journal.db")
    db.execute("UPDATE journal SET body = replace(body, '0.001', '0.002') WHERE kind = 'intent'")
    db.commit()
    db.close()
    second = vigil_factory(data_dir=data_dir, sim=first.system.simulator)
    state = second.system.gate.state
    assert state.is_red and "journal corrupt" in state.reason and "checksum" in state.reason
    assert "before-damage" not in second.system.book.book.orders, "nothing replayed"
    assert list(data_dir.glob("journal.db.corrupt-*")), "the evidence is kept"
    assert any(i["kind"] == "journal_corrupt" for i in second.system.store.incidents())
    assert not second.submit().accepted


def test_a_truncated_journal_file_is_detected(
    vigil_factory: Callable[..., Vigil], tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    first = _place_and_stop(vigil_factory, data_dir)
    path = data_dir / "journal.db"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    second = vigil_factory(data_dir=data_dir, sim=first.system.simulator)
    assert second.system.gate.state.is_red
    assert "journal corrupt" in second.system.gate.state.reason


def test_a_restart_rebuilds_the_book_from_the_journal(
    vigil_factory: Callable[..., Vigil], tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    first = vigil_factory(data_dir=data_dir)
    first.wait_green()
    assert first.submit(
        type="LIMIT", price="59000", quantity="0.01", client_order_id="rests"
    ).accepted
    assert first.submit(client_order_id="fills").accepted
    wait_for(lambda: first.status()["fills"] >= 1 and first.sim_orders() == 2)
    wait_for(lambda: first.api("GET", "/v1/orders").json()["orders"]["rests"]["state"] == "NEW")
    before = first.api("GET", "/v1/balances").json()["balances"]
    first.system.stop(cancel_open=False)
    second = vigil_factory(data_dir=data_dir, sim=first.system.simulator)
    assert second.system.recovered["orders"] == 2
    orders = second.api("GET", "/v1/orders").json()["orders"]
    assert orders["rests"]["state"] == "NEW" and orders["fills"]["state"] == "FILLED"
    assert second.api("GET", "/v1/balances").json()["balances"] == before
    second.wait_green()  # our own open order is recognised: no "existing orders" halt
    assert second.system.gate.state.level.value == "GREEN"


def test_an_intent_audit_record_lost_in_a_crash_is_rewritten_from_the_journal(
    vigil_factory: Callable[..., Vigil], tmp_path: Path
) -> None:
    """The order path flushes the journal once per intent; the intent's audit record is
    group-committed. A crash can take the trail's tail: recovery writes the record again
    from the journal entry, once, even when later records reuse the lost numbers."""
    data_dir = tmp_path / "var"
    first = vigil_factory(data_dir=data_dir)
    first.wait_green()
    assert first.submit(client_order_id="lost-audit").accepted
    wait_for(lambda: first.sim_orders() == 1)
    first.system.trail.flush()
    (record,) = first.system.trail.query(kind="intent_accepted")
    assert record["client_order_id"] == "lost-audit"
    first.system.stop(cancel_open=False)
    with sqlite3.connect(data_dir / "audit.db") as db:  # what SIGKILL leaves: a prefix
        db.execute("DELETE FROM audit WHERE seq >= ?", (record["seq"],))

    def intent_records(vigil: Vigil) -> list[dict[str, object]]:
        vigil.system.trail.flush()
        return [
            r
            for r in vigil.system.trail.query(kind="intent_accepted", limit=10**6)
            if r["client_order_id"] == "lost-audit"
        ]

    second = vigil_factory(data_dir=data_dir, sim=first.system.simulator)
    (rewritten,) = intent_records(second)
    assert rewritten["recovered"] is True and rewritten["lost_seq"] == record["seq"]
    assert rewritten["symbol"] == "BTCUSDT" and rewritten["verdicts"]
    second.wait_green()
    for n in range(50):  # later records take the numbers the lost one had
        second.system.trail.append("filler", {"n": n})
    second.system.stop(cancel_open=False)

    third = vigil_factory(data_dir=data_dir, sim=first.system.simulator)
    assert intent_records(third) == [rewritten]  # not written a second time
    assert third.system.trail.gaps() == []
