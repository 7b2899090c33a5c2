"""``run.py audit --check`` (``AuditTrail.gaps``) must not load every sequence number of the
trail into memory: the trail is never pruned, so at ~100,000 records a day (20,000 orders)
a year's trail holds ~36 million, and a check that builds a list and a set of all of them
needs gigabytes. Its memory must follow the gaps, not the records."""

from __future__ import annotations

import sqlite3
import tracemalloc
from pathlib import Path

from storage.audit import AuditTrail

RECORDS = 100_000


def test_gap_check_memory_follows_the_gaps_not_the_records(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    trail = AuditTrail(path, flush_interval=3600)
    try:
        for n in range(RECORDS):
            trail.append("breaker_input", {"n": n})
        trail.flush()
    finally:
        trail.close()
    db = sqlite3.connect(path)
    db.execute("DELETE FROM audit WHERE seq IN (7, 50000, 50001, 99999)")
    db.commit()
    db.close()
    trail = AuditTrail(path, flush_interval=3600)
    try:
        tracemalloc.start()
        try:
            gaps = trail.gaps()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        trail.close()
    assert gaps == [7, 50000, 50001, 99999]
    assert peak < 1_000_000, f"{peak} B of Python memory to check {RECORDS} records"
