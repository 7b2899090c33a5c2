"""Vigil's durable store: one SQLite database in WAL mode under the data directory.

Schema (version 1):

* ``meta(key, value)``: ``schema_version``.
* ``breaker(id = 1, level, reason, source, since_ms)``: the RED latch, written
  (and committed with ``synchronous=FULL``) before a trip or reset returns.
* ``incidents(id, at_ms, kind, reason, detail_json)``: one row per incident.

Every method is thread-safe (one connection, one lock).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, cast

from domain.breaker import BreakerState, Level

SCHEMA_VERSION = 1

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS breaker (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        level TEXT NOT NULL, reason TEXT NOT NULL, source TEXT NOT NULL, since_ms INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS incidents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, detail_json TEXT NOT NULL
    )""",
]


class StoreError(RuntimeError):
    """The store cannot be opened or written (a safety input: trading goes RED)."""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store at {path}: {exc}") from exc

    def _migrate(self) -> None:
        with self._lock:
            for statement in _SCHEMA:
                self._db.execute(statement)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreError(
                    f"the store's schema version {row[0]} is newer than this Vigil "
                    f"({SCHEMA_VERSION})"
                )

    def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        try:
            with self._lock:
                cursor = self._db.execute(sql, args)
                return int(cursor.lastrowid or 0)
        except sqlite3.Error as exc:
            raise StoreError(f"store write failed: {exc}") from exc

    def load_breaker(self) -> BreakerState | None:
        with self._lock:
            row = self._db.execute(
                "SELECT level, reason, source, since_ms FROM breaker WHERE id = 1"
            ).fetchone()
        if row is None:
            return None
        return BreakerState(Level(row[0]), row[1], row[2], int(row[3]))

    def save_breaker(self, state: BreakerState) -> None:
        self._write(
            "INSERT INTO breaker (id, level, reason, source, since_ms) VALUES (1, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET level=excluded.level, reason=excluded.reason, "
            "source=excluded.source, since_ms=excluded.since_ms",
            (state.level.value, state.reason, state.source, state.since_ms),
        )

    def add_incident(self, at_ms: int, kind: str, reason: str, detail: dict[str, Any]) -> int:
        return self._write(
            "INSERT INTO incidents (at_ms, kind, reason, detail_json) VALUES (?, ?, ?, ?)",
            (at_ms, kind, reason, json.dumps(detail, default=str, sort_keys=True)),
        )

    def update_incident(self, incident_id: int, reason: str, detail: dict[str, Any]) -> None:
        """An incident that goes on (the same findings again): its row, updated in place."""
        self._write(
            "UPDATE incidents SET reason = ?, detail_json = ? WHERE id = ?",
            (reason, json.dumps(detail, default=str, sort_keys=True), incident_id),
        )

    def incidents(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, at_ms, kind, reason, detail_json FROM incidents "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {"id": r[0], "at_ms": r[1], "kind": r[2], "reason": r[3], "detail": json.loads(r[4])}
            for r in rows
        ]

    # ------------------------------------------------------------------ the run record

    def last_run(self) -> dict[str, Any] | None:
        """How the previous process left the store: ``{"pid", "started_ms", "alive_ms",
        "stopped_ms"}`` (``stopped_ms`` None: it never said it stopped cleanly), or None for
        a store no process has run on yet."""
        try:
            with self._lock:
                row = self._db.execute("SELECT value FROM meta WHERE key='run'").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"store read failed: {exc}") from exc
        return None if row is None else cast(dict[str, Any], json.loads(row[0]))

    def begin_run(self, pid: int, at_ms: int) -> None:
        """This process runs from now: until ``end_run``, a restart finds it stopped unclean."""
        self._set_run({"pid": pid, "started_ms": at_ms, "alive_ms": at_ms, "stopped_ms": None})

    def mark_alive(self, at_ms: int) -> None:
        """How far this run is known to have got (an unclean stop happened after this)."""
        run = self.last_run()
        if run is not None:
            self._set_run({**run, "alive_ms": at_ms})

    def end_run(self, at_ms: int) -> None:
        """The durable "stopped cleanly" mark, written last by a graceful stop."""
        run = self.last_run() or {"pid": None, "started_ms": None}
        self._set_run({**run, "alive_ms": at_ms, "stopped_ms": at_ms})

    def _set_run(self, run: dict[str, Any]) -> None:
        self._write(
            "INSERT INTO meta (key, value) VALUES ('run', ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (json.dumps(run),),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
