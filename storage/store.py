"""Vigil's durable store: one SQLite database in WAL mode under the data directory.

Schema (version 1):

* ``meta(key, value)``: ``schema_version``; ``run`` (the run record); ``journal_seq`` (the
  journal's last durable sequence number, recorded as it grows: a journal found shorter
  at start was lost); ``latch_file`` (``red.latch`` was created: its absence is evidence).
* ``breaker(id = 1, level, reason, source, since_ms)``: the RED latch, written
  (and committed with ``synchronous=FULL``) before a trip or reset returns.
* ``incidents(id, at_ms, kind, reason, detail_json)``: one row per incident.

The RED latch is kept twice: in the ``breaker`` row and in ``red.latch`` beside the
database (``storage.latch``: pre-allocated, overwritten in place, so a trip is durable on
a full disk). A move into RED writes the file first, then the row; a RED whose row could
not be written is durable in the file (and the failure is recorded there). A move out of
RED (an operator's reset) must succeed in both, or it does not happen. At open, RED in
either place, a failure recorded in the file, an unreadable file or a missing one that the
store says existed, comes back RED.

Every method is thread-safe (one connection, one lock).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from loguru import logger

from domain.breaker import BreakerState, Level
from storage.latch import LatchFile, LatchRecord, LatchUnreadable

LATCH_NAME = "red.latch"

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


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _record_of(state: BreakerState, failures: tuple[str, ...] = ()) -> LatchRecord:
    return LatchRecord(
        level="RED" if state.is_red else "CLEAR",
        reason=state.reason,
        source=state.source,
        since_ms=state.since_ms,
        written_ms=_now_ms(),
        failures=failures,
    )


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.latch_path = path.with_name(LATCH_NAME)
        self._lock = threading.Lock()
        self._latch_lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store at {path}: {exc}") from exc
        self._opened_red = self._open_latch()

    # ------------------------------------------------------------------ red.latch

    def _open_latch(self) -> BreakerState | None:
        """Open (or create) ``red.latch``; returns the RED it (or its absence) is evidence
        of that the ``breaker`` row does not hold, or None."""
        row = self._load_row()
        existed = self._meta("latch_file") is not None
        evidence: BreakerState | None = None
        self._latch: LatchFile | None = None
        self._latch_record = _record_of(row or BreakerState(since_ms=_now_ms()))
        try:
            self._latch = LatchFile.open(self.latch_path)
        except FileNotFoundError:
            if existed:
                evidence = self._latched_red(
                    f"{LATCH_NAME} was deleted: a RED it held may be lost; check the "
                    "audit trail and the incidents before resetting"
                )
        except OSError as exc:
            evidence = self._latched_red(f"{LATCH_NAME} cannot be opened ({exc})")
        if self._latch is not None:
            try:
                record = self._latch.read()
            except (LatchUnreadable, OSError) as exc:
                evidence = self._latched_red(f"{exc}: a RED it held may be lost")
            else:
                self._latch_record = record
                if record.is_red and not (row is not None and row.is_red):
                    evidence = BreakerState(
                        Level.RED,
                        f"{record.reason} (RED kept in {LATCH_NAME}; the store did not have it)",
                        record.source,
                        record.since_ms,
                    )
                elif record.failures and not (row is not None and row.is_red):
                    evidence = self._latched_red(
                        "durable storage failed before this start: " + "; ".join(record.failures)
                    )
        if evidence is not None:
            logger.critical("vigil: {}", evidence.reason)
        if self._latch is None or (evidence is not None and not self._latch_record.is_red):
            state = evidence or row or BreakerState(since_ms=_now_ms())
            record = _record_of(state, self._latch_record.failures)
            self._latch_record = record
            try:
                if self._latch is None:
                    self._latch = LatchFile.create(self.latch_path, record)
                else:
                    self._latch.write(record)
            except OSError as exc:
                raise StoreError(f"cannot write {self.latch_path}: {exc}") from exc
        if not existed:
            self._write("INSERT OR REPLACE INTO meta (key, value) VALUES ('latch_file', '1')", ())
        if evidence is not None:
            try:  # the row says so too, if it can
                self._save_row(evidence)
            except StoreError:
                pass
        return evidence

    @staticmethod
    def _latched_red(reason: str) -> BreakerState:
        return BreakerState(Level.RED, reason, "latch", _now_ms())

    def note_failure(self, what: str) -> None:
        """Record in ``red.latch`` that a durable write failed (a full disk): the next start
        comes back RED even if the RED this failure trips could not be written anywhere
        else. Never raises (the failure is logged)."""
        with self._latch_lock:
            record = self._latch_record
            record = LatchRecord(
                record.level,
                record.reason,
                record.source,
                record.since_ms,
                _now_ms(),
                (*record.failures, what)[-5:],
            )
            self._write_latch(record)

    def _write_latch(self, record: LatchRecord) -> bool:
        """Caller holds ``_latch_lock``."""
        if self._latch is None:
            return False
        try:
            self._latch.write(record)
        except OSError as exc:
            logger.critical("vigil: {} could not be written: {}", LATCH_NAME, exc)
            return False
        self._latch_record = record
        return True

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

    def _meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _load_row(self) -> BreakerState | None:
        with self._lock:
            row = self._db.execute(
                "SELECT level, reason, source, since_ms FROM breaker WHERE id = 1"
            ).fetchone()
        if row is None:
            return None
        return BreakerState(Level(row[0]), row[1], row[2], int(row[3]))

    def load_breaker(self) -> BreakerState | None:
        """The latched state: the ``breaker`` row, or the RED that ``red.latch`` holds (or
        stood for when this store was opened: missing, unreadable, a recorded failure) and
        the row does not."""
        row = self._load_row()
        if row is not None and row.is_red:
            return row
        record = self._latch_record
        if record.is_red:
            if self._opened_red is not None:
                return self._opened_red
            return BreakerState(Level.RED, record.reason, record.source, record.since_ms)
        return row

    def save_breaker(self, state: BreakerState) -> None:
        """Latch a breaker state. Into RED: ``red.latch`` first (it cannot fail for want of
        space), then the row; a row that cannot be written is recorded in the file and the
        trip still returns — it is durable. Out of RED: both, or ``StoreError`` and the
        file says RED again. Any other change: the row only."""
        with self._latch_lock:
            was_red = self._latch_record.is_red
            if not state.is_red and not was_red:
                self._save_row(state)
                return
            previous = self._latch_record
            failures = previous.failures if state.is_red else ()
            latched = self._write_latch(_record_of(state, failures))
            if not latched and not state.is_red:
                raise StoreError(f"{LATCH_NAME} could not be written: RED stays")
            try:
                self._save_row(state)
            except StoreError as exc:
                if not state.is_red:
                    self._write_latch(previous)  # the reset did not happen
                    raise
                if not latched:
                    raise
                self._write_latch(
                    LatchRecord(
                        "RED",
                        state.reason,
                        state.source,
                        state.since_ms,
                        _now_ms(),
                        (*failures, f"store: {exc}")[-5:],
                    )
                )
                logger.critical("vigil: RED kept in {} only: {}", LATCH_NAME, exc)

    def _save_row(self, state: BreakerState) -> None:
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

    def instance_tag(self, make: Callable[[], str]) -> str:
        """This data dir's instance tag, made (by ``make``) and kept the first time."""
        try:
            with self._lock:
                row = self._db.execute("SELECT value FROM meta WHERE key='instance'").fetchone()
                if row is not None:
                    return str(row[0])
                tag = make()
                self._db.execute("INSERT INTO meta (key, value) VALUES ('instance', ?)", (tag,))
                return tag
        except sqlite3.Error as exc:
            raise StoreError(f"store write failed: {exc}") from exc

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

    # ------------------------------------------------------------------ the journal's length

    def journal_seq(self) -> int | None:
        """The journal's last durable sequence number as last recorded (None: never)."""
        try:
            value = self._meta("journal_seq")
        except sqlite3.Error as exc:
            raise StoreError(f"store read failed: {exc}") from exc
        return None if value is None else int(value)

    def set_journal_seq(self, seq: int) -> None:
        self._write(
            "INSERT INTO meta (key, value) VALUES ('journal_seq', ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (str(seq),),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
        with self._latch_lock:
            if self._latch is not None:
                self._latch.close()
