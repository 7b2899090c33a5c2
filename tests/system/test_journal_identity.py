"""journal.db deleted or replaced under a running Vigil: RED with an incident; a start
that finds a shorter journal than the store recorded: RED with the reason."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Vigil, wait_for


def _journaled(vigil_factory: Callable[..., Vigil], data_dir: Path) -> Vigil:
    vigil = vigil_factory(data_dir=data_dir)
    vigil.wait_green()
    assert vigil.submit(client_order_id="journaled").accepted
    wait_for(lambda: vigil.status()["fills"] >= 1)
    journal = vigil.system.journal
    wait_for(lambda: (vigil.system.store.journal_seq() or 0) >= journal.last_seq > 0)
    return vigil


def _incident(vigil: Vigil, kind: str) -> dict[str, object]:
    rows = [i for i in vigil.system.store.incidents() if i["kind"] == kind]
    assert len(rows) == 1, rows
    assert list((vigil.system.data_dir / "incidents").glob(f"*-{kind}"))
    return rows[0]


def test_a_journal_deleted_while_running_is_red_and_a_restart_stays_red(
    vigil_factory: Callable[..., Vigil], tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    first = _journaled(vigil_factory, data_dir)
    recorded = first.system.journal.last_seq
    (data_dir / "journal.db").unlink()
    wait_for(lambda: first.system.gate.state.is_red, timeout=5)  # a cycle or the flusher
    assert "journal replaced" in first.system.gate.state.reason
    assert "deleted" in first.system.gate.state.reason
    wait_for(lambda: [i for i in first.system.store.incidents() if i["kind"] == "journal_replaced"])
    _incident(first, "journal_replaced")
    # nothing is written on into the deleted file; an order is refused
    assert not first.submit().accepted
    first.system.stop(cancel_open=False)

    second = vigil_factory(data_dir=data_dir, sim=first.system.simulator)
    state = second.system.gate.state
    assert state.is_red  # RED keeps its first reason (the replaced journal) ...
    # ... and the start says what it found
    assert _incident(second, "journal_missing")["reason"] == (
        f"journal missing: the store says {recorded} entries, found 0"
    )


def test_a_journal_replaced_while_running_is_red(
    vigil_factory: Callable[..., Vigil], tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    vigil = _journaled(vigil_factory, data_dir)
    copy = tmp_path / "copy.db"
    shutil.copyfile(data_dir / "journal.db", copy)
    copy.replace(data_dir / "journal.db")  # same content, another file
    # the next durable append finds it at once
    assert not vigil.submit().accepted
    assert vigil.system.gate.state.is_red
    assert "journal replaced" in vigil.system.gate.state.reason
    wait_for(lambda: [i for i in vigil.system.store.incidents() if i["kind"] == "journal_replaced"])


def test_a_journal_removed_between_runs_starts_red(
    vigil_factory: Callable[..., Vigil], tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    first = _journaled(vigil_factory, data_dir)
    first.system.stop(cancel_open=False)
    recorded = first.system.journal.last_seq
    for suffix in ("", "-wal", "-shm"):
        Path(f"{data_dir / 'journal.db'}{suffix}").unlink(missing_ok=True)
    second = vigil_factory(data_dir=data_dir, sim=first.system.simulator)
    assert second.system.gate.state.is_red
    assert second.system.gate.state.reason == (
        f"journal missing: the store says {recorded} entries, found 0"
    )
    assert second.system.book.book.orders == {}
    assert not second.submit().accepted
