"""The audit trail: rows in ``<data dir>/audit.db`` (SQLite, WAL, ``synchronous=FULL``).

Why rows in SQLite rather than JSON lines: a commit is atomic, so a crash can never leave
a torn record; the sequence number is the primary key, so "no gaps" is checkable with
one query; ``run.py audit`` filters by time, kind and correlation id with an index; and
batching many records into one transaction gives the throughput (one fsync per batch).

Schema version 1 (``meta.schema_version``). Table
``audit(seq INTEGER PRIMARY KEY, ts REAL, kind TEXT, cid TEXT, actor TEXT, data TEXT)``;
``data`` is the record's JSON. Every record gets the next ``seq`` when it is appended.

Ordinary records are group-committed within ``flush_interval``; ``append(durable=True)``
(RED, breaker changes) commits before it returns. An accepted intent's record is
group-committed too: its journal entry, flushed before the order is sent, carries the
record's sequence number, and recovery re-writes a record a crash lost from it. A failed
commit keeps the records in memory, retries them, and reports once through ``on_failure``
(trading goes RED); nothing acknowledged is ever lost, nothing deleted that is not durable.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storage.group_commit import GroupCommitted, open_db
from storage.store import StoreError

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY, ts REAL NOT NULL, kind TEXT NOT NULL, cid TEXT,
        actor TEXT, data TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts)",
    "CREATE INDEX IF NOT EXISTS audit_cid ON audit (cid)",
]


def archived_through(db: sqlite3.Connection) -> int:
    """The last sequence number moved to an archive file (``storage.audit_archive``), or 0:
    the records up to it are no longer in this file, by design."""
    row = db.execute("SELECT value FROM meta WHERE key = 'archived_through'").fetchone()
    return int(row[0]) if row is not None else 0


class AuditTrail(GroupCommitted):
    def __init__(
        self,
        path: Path,
        *,
        flush_interval: float = 0.05,
        on_failure: Callable[[str], None] | None = None,
        max_pages: int | None = None,
    ) -> None:
        self.path = path
        db = open_db(path, "audit trail", SCHEMA)
        super().__init__(db, flush_interval, on_failure)
        try:
            if max_pages:  # a storage quota: past it, writes fail as on a full disk
                db.execute(f"PRAGMA max_page_count={int(max_pages)}")
            row = db.execute("SELECT MAX(seq) FROM audit").fetchone()
            archived = archived_through(db)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the audit trail at {path}: {exc}") from exc
        # numbered on from the last record, kept here or archived (never a number twice)
        self._next = max(int(row[0] or 0), archived) + 1
        self.durable_seq = self._next - 1
        # every record up to here was on disk when this trail opened (rows commit in seq
        # order): a record another run numbered above it was lost with that run
        self.opened_seq = self.durable_seq
        self._start_flusher()

    def append(
        self,
        kind: str,
        data: dict[str, Any],
        *,
        cid: str | None = None,
        actor: str | None = None,
        durable: bool = False,
    ) -> int:
        """Add a record; returns its sequence number. ``durable=True``: on disk on return
        (raises ``StoreError`` if it cannot be)."""
        text = json.dumps(data, default=str, separators=(",", ":"))
        with self._lock:  # the seq is taken and queued in one step: rows stay in seq order
            seq = self._next
            self._next += 1
            self._pending.append((seq, time.time(), kind, cid, actor, text))
            crowded = len(self._pending) >= self.MAX_PENDING
        if durable or crowded:
            self._commit()
        return seq

    def oldest_pending_at(self) -> float | None:
        """When the oldest record not yet on disk was written (Unix time), or None."""
        with self._lock:
            return float(self._pending[0][1]) if self._pending else None

    def flush(self) -> int:
        """Commit what is pending; returns the last durable sequence number."""
        self._commit()
        return self.durable_seq

    def _write(self, batch: list[Any]) -> None:
        self._transaction("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?)", batch, "audit trail")
        self.durable_seq = int(batch[-1][0])

    def query(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        kind: str | None = None,
        cid: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Durable records, oldest first, filtered."""
        sql, args = "SELECT seq, ts, kind, cid, actor, data FROM audit WHERE 1=1", []
        for clause, value in (
            (" AND ts >= ?", since),
            (" AND ts <= ?", until),
            (" AND kind = ?", kind),
            (" AND cid = ?", cid),
        ):
            if value is not None:
                sql += clause
                args.append(value)
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit)
        with self._commit_lock:
            rows = self._db.execute(sql, args).fetchall()
        return [
            {"seq": r[0], "ts": r[1], "kind": r[2], "cid": r[3], "actor": r[4], **json.loads(r[5])}
            for r in rows
        ]

    def client_order_ids_of(self, strategy_order_id: str) -> list[str]:
        """Vigil's client order ids of the orders a strategy placed under its own id
        ``strategy_order_id`` (a gateway bot's ``newClientOrderId``), oldest first: from
        the accepted intents' and order lists' records."""
        sql = """
            SELECT seq, json_extract(data, '$.client_order_id') FROM audit
            WHERE kind = 'intent_accepted' AND json_extract(data, '$.strategy_order_id') = ?
            UNION ALL
            SELECT audit.seq, json_extract(leg.value, '$.client_order_id')
            FROM audit, json_each(audit.data, '$.orders') AS leg
            WHERE audit.kind = 'list_accepted'
              AND json_extract(leg.value, '$.strategy_order_id') = ?
            ORDER BY 1"""
        with self._commit_lock:
            rows = self._db.execute(sql, (strategy_order_id, strategy_order_id)).fetchall()
        return list(dict.fromkeys(str(r[1]) for r in rows if r[1]))

    def gaps(self) -> list[int]:
        """Missing sequence numbers among the durable records (should always be empty)."""
        # the runs of missing numbers, found by SQLite walking the primary key: memory
        # follows the gaps, not the records (the trail is never pruned)
        # (the records up to ``archived_through`` live in archive files: counted from there)
        sql = """
            SELECT prev + 1, seq - 1 FROM (
                SELECT seq, LAG(seq, 1, ?) OVER (ORDER BY seq) AS prev FROM audit WHERE seq > ?
            ) WHERE seq - prev > 1 ORDER BY seq"""
        with self._commit_lock:
            floor = archived_through(self._db)
            runs = self._db.execute(sql, (floor, floor)).fetchall()
        return [s for first, last in runs for s in range(first, last + 1)]


def open_read_only(path: Path) -> AuditTrail:
    """For ``run.py audit`` beside a running instance: WAL lets readers in while it writes."""
    return AuditTrail(path, flush_interval=3600)
