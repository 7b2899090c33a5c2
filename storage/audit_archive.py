"""Moving old audit records out of ``audit.db`` into an archive file beside it, so that the
working trail of a months-long run stops growing: the same table and rows in
``audit-archive-<first>-<last>.db``, kept, never deleted by Vigil.

Safe beside a running instance and against a crash at any point: the rows are copied and
the archive committed first, then ``audit.db`` records how far it is archived
(``meta.archived_through``: its gap check and its next sequence number start from there),
and only then are the rows deleted, in small transactions so that the instance's own
writer never waits long for one. A crash leaves rows in both files, never in neither, and
running it again finishes the move. The newest record always stays, and nothing younger
than ``MIN_AGE_S`` moves (a restart's recovery reads the trail's recent tail).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from storage.audit import SCHEMA, archived_through
from storage.group_commit import open_db
from storage.store import StoreError

MIN_AGE_S = 86_400.0  # a day: recovery reads only the last minutes of the trail
BATCH = 5_000  # rows per transaction when copying and deleting


@dataclass(frozen=True)
class AuditArchived:
    """What one archiving moved (``moved`` 0: nothing was old enough)."""

    moved: int
    first_seq: int | None
    last_seq: int | None
    path: Path | None

    def as_dict(self) -> dict[str, object]:
        return {
            "moved": self.moved,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "file": None if self.path is None else str(self.path),
        }


def archive_audit(
    audit_path: Path, older_than_s: float, *, now: float | None = None
) -> AuditArchived:
    """Move the records older than ``older_than_s`` seconds (at least ``MIN_AGE_S``) out of
    the trail at ``audit_path`` into an archive file beside it."""
    if older_than_s < MIN_AGE_S:
        raise ValueError(f"only records older than {MIN_AGE_S / 86400:g} day can be archived")
    if not audit_path.exists():
        raise StoreError(f"no audit trail at {audit_path}")
    cutoff = (time.time() if now is None else now) - older_than_s
    db = open_db(audit_path, "audit trail", SCHEMA)
    try:
        floor = archived_through(db)
        newest = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM audit").fetchone()[0])
        old = db.execute("SELECT MAX(seq) FROM audit WHERE ts < ?", (cutoff,)).fetchone()[0]
        # rows move in seq order up to the last old one (a clock step cannot leave a hole),
        # the newest one always stays (the trail numbers on from it)
        last = min(int(old or 0), newest - 1)
        first_row = db.execute("SELECT MIN(seq) FROM audit WHERE seq <= ?", (last,)).fetchone()[0]
        if last <= 0 or first_row is None:
            return AuditArchived(0, None, None, None)
        first = int(first_row)
        target = audit_path.with_name(f"audit-archive-{first}-{last}.db")
        moved = _copy(db, target, first, last)
        db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('archived_through', ?)", (str(max(floor, last)),)
        )  # (its own transaction: durable before any row is deleted)
        _delete(db, first, last)
        return AuditArchived(moved, first, last, target)
    except sqlite3.Error as exc:
        raise StoreError(f"archiving the audit trail at {audit_path} failed: {exc}") from exc
    finally:
        db.close()


def _copy(db: sqlite3.Connection, target: Path, first: int, last: int) -> int:
    """Every row of ``first``..``last`` into ``target`` (durable: WAL, synchronous=FULL);
    rows already there from an interrupted run are kept as they are."""
    archive = open_db(target, "audit archive", SCHEMA)
    try:
        copied, at = 0, first - 1
        while True:
            rows = db.execute(
                "SELECT * FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (at, last, BATCH),
            ).fetchall()
            if not rows:
                return copied
            archive.execute("BEGIN")
            archive.executemany("INSERT OR IGNORE INTO audit VALUES (?, ?, ?, ?, ?, ?)", rows)
            archive.execute("COMMIT")
            copied += len(rows)
            at = int(rows[-1][0])
    finally:
        archive.close()


def _delete(db: sqlite3.Connection, first: int, last: int) -> None:
    """The archived rows out of the working trail, ``BATCH`` at a time."""
    at = first - 1
    while at < last:
        upto = min(at + BATCH, last)
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM audit WHERE seq > ? AND seq <= ?", (at, upto))
        db.execute("COMMIT")
        at = upto
