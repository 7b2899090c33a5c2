"""Group commit: a background row is durable within the flush interval, and the flusher
stays out of the way of a stream of durable writes (they carry the pending rows)."""

from __future__ import annotations

import sqlite3
import threading
import time
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


def test_durable_writes_carry_the_pending_rows_and_the_flusher_stays_out_of_their_way(
    tmp_path: Path,
) -> None:
    journal = CountingJournal(tmp_path / "journal.db", flush_interval=0.02)
    try:
        durable = 0
        deadline = time.monotonic() + 0.4  # 20 flush intervals
        while time.monotonic() < deadline:
            journal.append("order", {"n": durable})  # background: rides with the next one
            journal.append("intent", {"n": durable}, durable=True)
            durable += 1
        # every row is on disk, committed by the durable writers themselves; before the
        # flusher waited for a quiet half interval it committed every 20 ms (about 20 here)
        assert rows_on_disk(tmp_path / "journal.db") == 2 * durable
        assert journal.commits.get("MainThread", 0) == durable
        assert journal.commits.get("CountingJournal", 0) <= 2
    finally:
        journal.close()
