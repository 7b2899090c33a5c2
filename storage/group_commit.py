"""What the journal and the audit trail share: one SQLite connection in WAL mode with
``synchronous=FULL``, a lock, and a flusher thread that group-commits pending rows."""

from __future__ import annotations

import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from storage.store import StoreError


def open_db(path: Path, what: str, schema: list[str], version: int = 1) -> sqlite3.Connection:
    """Open (or create) a database with ``schema``; its ``meta.schema_version`` is checked:
    an older file is migrated forward (today: tables created if missing), a newer one —
    written by a later Vigil — is refused rather than misread."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) > version:
            raise StoreError(
                f"the {what} at {path} has schema version {row[0]}, newer than this Vigil's "
                f"({version})"
            )
        for statement in schema:
            db.execute(statement)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(version),))
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the {what} at {path}: {exc}") from exc
    return db


class GroupCommitted(ABC):
    """Rows queue in ``_pending`` (``_lock``, held only to append or take a batch); a batch
    is written in one transaction under ``_commit_lock``. A writer of an ordinary row does
    not wait for a disk flush — unless the queue has grown past ``MAX_PENDING`` (then it
    commits itself: back-pressure, so a flood cannot starve the flusher and the durable
    writers); a durable writer waits for the batch that holds its row. A batch that fails
    goes back to the front of the queue, in order, and is retried.

    The flusher commits only when nothing else has for half the interval, and never while
    a writer is committing: while durable writes come often (an order stream), each of them
    carries the pending rows with it and the flusher stays out of their way, so a durable
    writer does not wait behind a background batch's disk flush. A row is durable within
    about ``flush_interval`` (plus one disk flush) either way."""

    MAX_PENDING = 10_000

    def __init__(
        self,
        db: sqlite3.Connection,
        flush_interval: float,
        on_failure: Callable[[str], None] | None,
    ) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._pending: list[Any] = []
        self._last_commit = time.monotonic()
        self._on_failure = on_failure
        self._failed = False
        self._stop = threading.Event()
        self._flusher = threading.Thread(
            target=self._flush_forever,
            args=(flush_interval,),
            name=type(self).__name__,
            daemon=True,
        )

    def _start_flusher(self) -> None:
        self._flusher.start()

    def _enqueue(self, row: Any, durable: bool) -> None:
        with self._lock:
            self._pending.append(row)
            crowded = len(self._pending) >= self.MAX_PENDING
        if durable or crowded:
            self._commit()

    @abstractmethod
    def _write(self, batch: list[Any]) -> None:
        """Write one batch in one transaction (caller holds ``_commit_lock``)."""

    def _commit(self) -> None:
        """Everything queued so far is durable when this returns (or StoreError)."""
        with self._commit_lock:
            self._commit_held()

    def _commit_held(self) -> None:
        """``_commit`` for a caller that holds ``_commit_lock``."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            self._write(batch)
        except StoreError:
            with self._lock:
                self._pending[:0] = batch
            raise
        self._last_commit = time.monotonic()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _transaction(self, sql: str, rows: Sequence[tuple[Any, ...]], what: str) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(sql, rows)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self._report(f"{what} write failed: {exc}")
            raise StoreError(f"{what} write failed: {exc}") from exc

    def _flush_forever(self, interval: float) -> None:
        half = interval / 2
        while not self._stop.wait(half):
            now = time.monotonic()
            self._flush_tick(half, now)
            self._after_tick(now)

    def _after_tick(self, now: float) -> None:
        """A subclass's periodic look, on the flusher thread (outside every lock)."""
        return None

    def _flush_tick(self, half: float, now: float) -> bool:
        """One look by the flusher; True if it committed a batch."""
        if now - self._last_commit < half:
            return False  # a commit just now took every row pending then; later ones wait
        if not self._commit_lock.acquire(blocking=False):
            return False  # a writer is committing now; the rows it leaves wait for the next look
        try:
            with self._lock:
                if not self._pending:
                    return False
            self._commit_held()
            return True
        except StoreError:
            return False  # reported once; the rows stay pending and are retried
        finally:
            self._commit_lock.release()

    def _report(self, reason: str) -> None:
        """Tell the owner once, from another thread: the callback (tripping RED, which
        writes to this very store) must not run under this store's locks."""
        if self._on_failure is not None and not self._failed:
            self._failed = True
            threading.Thread(
                target=self._on_failure, args=(reason,), name="storage-failure", daemon=True
            ).start()

    def close(self) -> None:
        self._stop.set()
        if self._flusher.is_alive():
            self._flusher.join(timeout=2)
        try:
            self._commit()
        except StoreError:
            pass
        with self._commit_lock:
            self._db.close()
