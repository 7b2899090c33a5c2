"""Every database carries its schema version; a newer one than this Vigil's is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import AuditTrail, Journal, StoreError


@pytest.mark.parametrize("opener", [Journal, AuditTrail])
def test_a_database_records_its_schema_version(tmp_path: Path, opener: type) -> None:
    store = opener(tmp_path / "db.sqlite")
    store.close()
    db = sqlite3.connect(tmp_path / "db.sqlite")
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)


@pytest.mark.parametrize("opener", [Journal, AuditTrail])
def test_a_newer_schema_is_refused_not_misread(tmp_path: Path, opener: type) -> None:
    db = sqlite3.connect(tmp_path / "db.sqlite")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version 99"):
        opener(tmp_path / "db.sqlite")


def test_the_journal_survives_a_reopen_with_its_entries_checked(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    journal.append("intent", {"client_order_id": "a"}, durable=True)
    journal.append("fill", {"trade_id": 1})
    journal.close()
    again = Journal(tmp_path / "journal.db")
    assert [(e.seq, e.kind) for e in again.load()] == [(1, "intent"), (2, "fill")]
    again.close()
