"""red.latch: the RED latch beside vigil.db that a lost store write cannot lose."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from domain.breaker import BreakerState, Level
from storage import Store
from storage.latch import SIZE

RED = BreakerState(Level.RED, "operator halt: drill", "operator", 1_000)
GREEN = BreakerState(Level.GREEN, "", "operator", 2_000)


def _forget_the_row(path: Path) -> None:
    """What a store write lost to a full disk leaves: no RED in the breaker row."""
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM breaker")


def test_the_latch_file_is_created_full_size(tmp_path: Path) -> None:
    Store(tmp_path / "vigil.db").close()
    assert (tmp_path / "red.latch").stat().st_size == SIZE


def test_a_red_the_store_lost_comes_back_from_the_latch_file(tmp_path: Path) -> None:
    store = Store(tmp_path / "vigil.db")
    store.save_breaker(RED)
    store.close()
    _forget_the_row(tmp_path / "vigil.db")
    reopened = Store(tmp_path / "vigil.db")
    state = reopened.load_breaker()
    assert state is not None and state.is_red and "operator halt: drill" in state.reason
    reopened.close()
    again = Store(tmp_path / "vigil.db").load_breaker()  # and the row has it now
    assert again is not None and again.is_red


def test_a_reset_clears_both(tmp_path: Path) -> None:
    store = Store(tmp_path / "vigil.db")
    store.save_breaker(RED)
    store.save_breaker(GREEN)
    store.close()
    state = Store(tmp_path / "vigil.db").load_breaker()
    assert state is not None and not state.is_red


def test_a_deleted_latch_file_comes_back_red(tmp_path: Path) -> None:
    Store(tmp_path / "vigil.db").close()
    (tmp_path / "red.latch").unlink()
    state = Store(tmp_path / "vigil.db").load_breaker()
    assert state is not None and state.is_red and "red.latch was deleted" in state.reason


def test_a_damaged_latch_file_comes_back_red(tmp_path: Path) -> None:
    Store(tmp_path / "vigil.db").close()
    with (tmp_path / "red.latch").open("r+b") as fh:
        fh.seek(40)
        fh.write(b"XXXX")  # a torn write
    state = Store(tmp_path / "vigil.db").load_breaker()
    assert state is not None and state.is_red and "checksum" in state.reason


def test_a_durable_write_failure_recorded_in_the_latch_comes_back_red(tmp_path: Path) -> None:
    store = Store(tmp_path / "vigil.db")
    store.note_failure("audit trail write failed: database or disk is full")
    store.close()  # the RED it would have tripped was never written anywhere else
    state = Store(tmp_path / "vigil.db").load_breaker()
    assert state is not None and state.is_red
    assert "durable storage failed before this start" in state.reason
    assert "disk is full" in state.reason
