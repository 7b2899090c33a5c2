"""Group commit: a background row is durable within the flush interval, and the flusher
stays out of the way of a stream of durable writes (they carry the pending rows)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from storage.journal import Journal
from tests.conftest import wait_for


class CountingJournal(Journal):
    """Counts the batches each thread commits."""

    def __init__(self, path: Path, **kw: Any) -> None:
        self.commits: dict[str, int] = {}
        super().__init__(path, **kw)

    def _write(self, batch: list[Any]) -> None:
        name = threading.current_thread().name
        self.commits[name] = self.commits.get(name, 0) + 1
        super()._write(batch)


def rows_on_disk(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM journal").fetchone()[0])


def test_a_background_row_is_committed_by_the_flusher(tmp_path: Path) -> None:
    journal = CountingJournal(tmp_path / "journal.db", flush_interval=0.05)
    try:
        journal.append("order", {"n": 1})
        wait_for(lambda: rows_on_disk(tmp_path / "journal.db") == 1, timeout=2)
        assert journal.commits.get("CountingJournal", 0) == 1
    finally:
        journal.close()


def test_a_durable_write_carries_the_pending_rows(tmp_path: Path) -> None:
    journal = CountingJournal(tmp_path / "journal.db", flush_interval=3600)  # flusher asleep
    try:
        journal.append("order", {"n": 1})  # background: waits for a commit
        assert rows_on_disk(tmp_path / "journal.db") == 0
        journal.append("intent", {"n": 1}, durable=True)
        assert rows_on_disk(tmp_path / "journal.db") == 2
        assert journal.commits == {"MainThread": 1}
    finally:
        journal.close()


def test_the_flusher_stays_out_of_the_way_of_recent_and_running_commits(tmp_path: Path) -> None:
    """The flusher's look is driven here by hand with a chosen clock: no timing."""
    journal = CountingJournal(tmp_path / "journal.db", flush_interval=3600)
    half = 0.01
    try:
        journal.append("intent", {"n": 0}, durable=True)
        committed_at = journal._last_commit
        journal.append("order", {"n": 1})
        # a durable writer committed less than half an interval ago: the flusher waits
        assert not journal._flush_tick(half, committed_at + half / 2)
        assert journal.pending == 1
        # a writer is committing right now: the flusher does not queue behind its flush
        with journal._commit_lock:
            assert not journal._flush_tick(half, committed_at + 10 * half)
        assert journal.pending == 1
        # quiet for over half an interval and nobody committing: the flusher commits (not
        # exactly half: committed_at + half - committed_at can round to just below half)
        assert journal._flush_tick(half, committed_at + 2 * half)
        assert journal.pending == 0
        assert rows_on_disk(tmp_path / "journal.db") == 2
        # nothing pending: nothing to write
        assert not journal._flush_tick(half, journal._last_commit + 10 * half)
        assert journal.commits == {"MainThread": 2}  # the hand-driven look ran here
    finally:
        journal.close()


def test_a_stream_of_durable_writes_and_the_flusher_lose_no_row(tmp_path: Path) -> None:
    journal = CountingJournal(tmp_path / "journal.db", flush_interval=0.02)
    try:
        for n in range(300):
            journal.append("order", {"n": n})
            journal.append("intent", {"n": n}, durable=True)
        assert rows_on_disk(tmp_path / "journal.db") == 600
        assert journal.pending == 0
    finally:
        journal.close()
