"""The write-ahead journal: what Vigil did and learned, append-only, in ``vigil.db``.

Schema version 1 (``meta.schema_version``). Table
``journal(seq INTEGER PRIMARY KEY, kind TEXT, body TEXT, crc INTEGER)``: ``seq`` is
contiguous from 1, ``body`` is JSON, ``crc`` is CRC-32 of ``"{seq}|{kind}|{body}"``. Kinds:

* ``opening``  — the exchange balances and last trade ids when the book first opened;
* ``intent``   — an order Vigil is about to send (client order id, symbol, side, type,
  quantity, price, source, for a strategy's order its ``strategy``/``strategy_order_id``,
  its ``time_in_force``, the gates it passed, and ``audit_seq``: the sequence number
  of its ``intent_accepted`` audit record). **Committed before the order can reach the
  wire** — the one disk flush on the order path; the audit record is group-committed;
* ``list_intent`` — an order list (OCO/OTO/OTOCO) Vigil is about to send, whole: the
  list (listClientOrderId, type, roles) and every leg's intent, in one entry, durable
  before any of it reaches the wire;
* ``order_list`` — an order list's state as the book now knows it (orderListId, list
  statuses, the legs whose expiry it expects);
* ``audited``  — recovery re-wrote an intent's audit record a crash had lost, under a new
  sequence number (client order id, audit_seq);
* ``order``    — an order's state as the book now knows it (state, exchange id, executed);
* ``fill``     — one execution (symbol, trade id, order id, price, qty, commission);
* ``external`` — a deposit / withdrawal the exchange reported (asset, delta);
* ``resync``   — the operator replaced the balances with the exchange's;
* ``cancel_requested`` — one order's cancel, before the wire sends it (who asked, why;
  a record only: replay does not need it, the exchange's report brings CANCELED).

Intents are durable at once; the other kinds are group-committed within
``flush_interval`` (they can also be re-learned from the exchange, which is what recovery
does for whatever a crash lost). ``load()`` checks every CRC and that ``seq`` has no gap:
a corrupted or truncated journal is reported (``JournalCorrupt``), never replayed.

The file's identity (device, inode) is recorded when it is opened and checked before every
batch is written (so on every durable append) and by ``check_identity()`` (each
reconciliation cycle, and the flusher twice a second): a ``journal.db`` deleted or replaced
under Vigil raises ``JournalReplaced`` and is reported once through ``on_replaced`` (RED,
an incident) — rows are never written on into a file that is no longer the journal. The
last durable ``seq`` is handed to ``on_progress`` (the store records it) at most every
``PROGRESS_EVERY_S`` by the flusher and at close, off the order path: a start that finds
fewer entries than the store recorded knows entries were lost.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.group_commit import GroupCommitted, open_db
from storage.store import StoreError

_SCHEMA = """CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL, crc INTEGER NOT NULL
)"""


PROGRESS_EVERY_S = 0.5


class JournalCorrupt(StoreError):
    """The journal fails its checks; the book must not be rebuilt from it."""


class JournalReplaced(StoreError):
    """``journal.db`` is no longer the file this journal opened (deleted or replaced)."""


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: str
    body: dict[str, Any]


def crc_of(seq: int, kind: str, body: str) -> int:
    return zlib.crc32(f"{seq}|{kind}|{body}".encode())


class Journal(GroupCommitted):
    def __init__(
        self,
        path: Path,
        *,
        flush_interval: float = 0.02,
        on_failure: Callable[[str], None] | None = None,
        on_replaced: Callable[[str], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.path = path
        db = open_db(path, "journal", [_SCHEMA])
        super().__init__(db, flush_interval, on_failure)
        try:
            row = db.execute("SELECT MAX(seq) FROM journal").fetchone()
            st = os.stat(path)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot read the journal at {path}: {exc}") from exc
        self.identity = (st.st_dev, st.st_ino)
        self.last_seq = int(row[0] or 0)
        self._on_replaced = on_replaced or on_failure
        self._replaced: str | None = None
        self._on_progress = on_progress
        self._progress_seq = -1
        self._next_look = 0.0
        self._start_flusher()

    # ---------------------------------------------------------------- identity

    def check_identity(self) -> None:
        """Raise ``JournalReplaced`` when ``journal.db`` is not the file opened (deleted,
        or another file in its place); reported once through ``on_replaced``. One
        ``stat``: cheap enough for every batch and every reconciliation cycle."""
        if self._replaced is None:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                problem = "was deleted"
            except OSError as exc:
                problem = f"cannot be checked ({exc})"
            else:
                if (st.st_dev, st.st_ino) == self.identity:
                    return
                problem = "was replaced by another file"
            self._replaced = f"journal replaced: {self.path} {problem} under Vigil"
            if self._on_replaced is not None:
                threading.Thread(
                    target=self._on_replaced,
                    args=(self._replaced,),
                    name="journal-replaced",
                    daemon=True,
                ).start()
        raise JournalReplaced(self._replaced)

    def _after_tick(self, now: float) -> None:
        """The flusher's periodic look: identity, and the durable length for the store."""
        if now < self._next_look:
            return
        self._next_look = now + PROGRESS_EVERY_S
        try:
            self.check_identity()
        except StoreError:
            return
        self._record_progress()

    def _record_progress(self) -> None:
        seq = self.last_seq
        if self._on_progress is None or seq == self._progress_seq:
            return
        try:
            self._on_progress(seq)
        except StoreError:
            return  # the store's own failure shows where it matters; tried again later
        self._progress_seq = seq

    # ---------------------------------------------------------------- writing

    def append(self, kind: str, body: dict[str, Any], *, durable: bool = False) -> None:
        """Queue an entry; ``durable=True`` commits it (and everything before it) first."""
        text = json.dumps(body, default=str, sort_keys=True, separators=(",", ":"))
        self._enqueue((kind, text), durable)

    def flush(self) -> None:
        self._commit()

    def _write(self, batch: list[Any]) -> None:
        self.check_identity()  # never on into a file that is no longer the journal
        rows: list[tuple[object, ...]] = []
        seq = self.last_seq
        for kind, text in batch:
            seq += 1
            rows.append((seq, kind, text, crc_of(seq, kind, text)))
        self._transaction("INSERT INTO journal VALUES (?, ?, ?, ?)", rows, "journal")
        self.last_seq = seq

    # ---------------------------------------------------------------- reading

    def load(self) -> list[Entry]:
        """Every entry in order, checked; raises ``JournalCorrupt`` naming the first bad one."""
        with self._commit_lock:
            try:
                check = self._db.execute("PRAGMA quick_check").fetchone()
                rows = self._db.execute("SELECT seq, kind, body, crc FROM journal ORDER BY seq")
                entries = []
                expected = 1
                for seq, kind, text, crc in rows:
                    if seq != expected:
                        raise JournalCorrupt(f"journal entry {expected} is missing (next is {seq})")
                    if crc_of(seq, kind, text) != crc:
                        raise JournalCorrupt(f"journal entry {seq} ({kind}) fails its checksum")
                    try:
                        body = json.loads(text)
                    except ValueError:
                        raise JournalCorrupt(f"journal entry {seq} is not valid JSON") from None
                    entries.append(Entry(seq, kind, body))
                    expected += 1
            except sqlite3.DatabaseError as exc:
                raise JournalCorrupt(f"the journal database is damaged: {exc}") from exc
        if check is not None and check[0] != "ok":
            raise JournalCorrupt(f"the journal database is damaged: {check[0]}")
        return entries

    def close(self) -> None:
        super().close()
        if self._replaced is None:
            self._record_progress()
