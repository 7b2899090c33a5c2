"""Archiving the audit trail: old records move to an archive file beside it, kept whole;
the working trail keeps numbering on and its gap check stays clean; a crash between the
copy and the delete loses nothing and a second run finishes the move; a writer that keeps
appending meanwhile is not disturbed; nothing younger than a day moves."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from storage.audit import AuditTrail, open_read_only
from storage.audit_archive import MIN_AGE_S, _copy, archive_audit

DAY = 86_400.0


def trail_with(path: Path, n: int, *, days_old: float) -> AuditTrail:
    """A trail of ``n`` records, the first half dated ``days_old`` days ago."""
    trail = AuditTrail(path)
    for i in range(n):
        trail.append("order", {"i": i}, cid=f"c{i}")
    trail.flush()
    db = sqlite3.connect(path)
    db.execute("UPDATE audit SET ts = ts - ? WHERE seq <= ?", (days_old * DAY, n // 2))
    db.commit()
    db.close()
    return trail


def rows(path: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT * FROM audit ORDER BY seq").fetchall()
    finally:
        db.close()


def test_old_records_move_to_an_archive_and_the_trail_numbers_on(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    trail_with(path, 12_000, days_old=40).close()
    before = rows(path)
    done = archive_audit(path, 30 * DAY)
    assert (done.moved, done.first_seq, done.last_seq) == (6_000, 1, 6_000)
    assert done.path == tmp_path / "audit-archive-1-6000.db"
    assert rows(done.path) == before[:6_000]  # the same rows, whole
    assert rows(path) == before[6_000:]
    reopened = AuditTrail(path)
    try:
        assert reopened.gaps() == []  # archived is not missing
        assert reopened.append("after", {}) == 12_001
    finally:
        reopened.close()
    again = archive_audit(path, 30 * DAY)  # nothing more is old enough
    assert again.moved == 0 and again.path is None


def test_the_newest_record_always_stays(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    trail_with(path, 10, days_old=40).close()
    done = archive_audit(path, DAY, now=time.time() + 100 * DAY)  # everything is old
    assert done.last_seq == 9 and [r[0] for r in rows(path)] == [10]
    reopened = AuditTrail(path)
    try:
        assert reopened.append("next", {}) == 11 and reopened.gaps() == []
    finally:
        reopened.close()


def test_a_crash_between_the_copy_and_the_delete_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    trail_with(path, 1_000, days_old=40).close()
    before = rows(path)
    db = sqlite3.connect(path, isolation_level=None)
    _copy(db, tmp_path / "audit-archive-1-500.db", 1, 500)  # ... and then the process died
    db.close()
    assert rows(path) == before  # nothing deleted yet: the rows are in both files
    done = archive_audit(path, 30 * DAY)  # run again: the move finishes
    assert done.moved == 500 and rows(done.path or path) == before[:500]
    assert rows(path) == before[500:]


def test_a_running_writer_goes_on_undisturbed_while_records_move(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    trail = trail_with(path, 20_000, days_old=40)
    errors: list[BaseException] = []
    stop = threading.Event()

    def write() -> None:
        try:
            while not stop.is_set():
                trail.append("live", {"x": 1}, durable=True)
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        done = archive_audit(path, 30 * DAY)
    finally:
        stop.set()
        writer.join(10)
    assert errors == [] and done.moved == 10_000
    assert trail.gaps() == [] and trail.durable_seq > 20_000
    trail.close()
    reader = open_read_only(done.path or path)
    try:
        assert len(reader.query(limit=10**6)) == 10_000
    finally:
        reader.close()


def test_nothing_younger_than_a_day_may_move(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    trail_with(path, 10, days_old=40).close()
    with pytest.raises(ValueError):
        archive_audit(path, MIN_AGE_S - 1)
    assert len(rows(path)) == 10
