"""The write-ahead journal: what Vigil did and learned, append-only, in ``vigil.db``.

Schema version 1 (``meta.schema_version``). Table
``journal(seq INTEGER PRIMARY KEY, kind TEXT, body TEXT, crc INTEGER)``: ``seq`` is
contiguous from 1, ``body`` is JSON, ``crc`` is CRC-32 of ``"{seq}|{kind}|{body}"``. Kinds:

* ``opening``  — the exchange balances and last trade ids when the book first opened;
* ``intent``   — an order Vigil is about to send (client order id, symbol, side, type,
  quantity, price, source, the gates it passed, and ``audit_seq``: the sequence number
  of its ``intent_accepted`` audit record). **Committed before the order can reach the
  wire** — the one disk flush on the order path; the audit record is group-committed;
* ``audited``  — recovery re-wrote an intent's audit record a crash had lost, under a new
  sequence number (client order id, audit_seq);
* ``order``    — an order's state as the book now knows it (state, exchange id, executed);
* ``fill``     — one execution (symbol, trade id, order id, price, qty, commission);
* ``external`` — a deposit / withdrawal the exchange reported (asset, delta);
* ``resync``   — the operator replaced the balances with the exchange's.

Intents are durable at once; the other kinds are group-committed within
``flush_interval`` (they can also be re-learned from the exchange, which is what recovery
does for whatever a crash lost). ``load()`` checks every CRC and that ``seq`` has no gap:
a corrupted or truncated journal is reported (``JournalCorrupt``), never replayed.
"""

from __future__ import annotations

import json
import sqlite3
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


class JournalCorrupt(StoreError):
    """The journal fails its checks; the book must not be rebuilt from it."""


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
    ) -> None:
        self.path = path
        db = open_db(path, "journal", [_SCHEMA])
        super().__init__(db, flush_interval, on_failure)
        try:
            row = db.execute("SELECT MAX(seq) FROM journal").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the journal at {path}: {exc}") from exc
        self.last_seq = int(row[0] or 0)
        self._start_flusher()

    # ---------------------------------------------------------------- writing

    def append(self, kind: str, body: dict[str, Any], *, durable: bool = False) -> None:
        """Queue an entry; ``durable=True`` commits it (and everything before it) first."""
        text = json.dumps(body, default=str, sort_keys=True, separators=(",", ":"))
        self._enqueue((kind, text), durable)

    def flush(self) -> None:
        self._commit()

    def _write(self, batch: list[Any]) -> None:
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
