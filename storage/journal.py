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
* ``compact``  — closed orders the book compacted away (their client order ids; see
  ``domain.book._compaction``), written by the broker just before a checkpoint;
* ``checkpoint`` — the book's state as of this entry (``domain.checkpoint``), written
  by the broker every ``journal.checkpoint_every`` entries, in one transaction like any
  batch; its CRC covers its whole body.

Recovery (``load_recovery``) reads the latest checkpoint that passes its checks (CRC,
JSON) and only the entries after it; a damaged one is skipped for the one before it.
Once a newer checkpoint is durable, the flusher moves every entry before the older of the
newest two checkpoints to ``journal-archive-<first seq>.db`` beside the journal (copied
and made durable there first, then deleted here; kept, never deleted by Vigil; older
checkpoints are dropped, not archived: the entries they were made from are):
``journal.db`` then starts at a checkpoint, and its seq is contiguous from there.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.group_commit import GroupCommitted, open_db
from storage.store import StoreError

_SCHEMA = """CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL, crc INTEGER NOT NULL
)"""
# finds the checkpoints without reading every row (only checkpoint rows are indexed)
_CHECKPOINTS = """CREATE INDEX IF NOT EXISTS journal_checkpoints ON journal(seq)
    WHERE kind = 'checkpoint'"""


PROGRESS_EVERY_S = 0.5
#: an entry's text: keys sorted, no spaces, anything else as str (one encoder, made once:
#: ``json.dumps`` with these options builds a new one for every entry)
_ENCODE = json.JSONEncoder(default=str, sort_keys=True, separators=(",", ":")).encode


class JournalCorrupt(StoreError):
    """The journal fails its checks; the book must not be rebuilt from it."""


class JournalReplaced(StoreError):
    """``journal.db`` is no longer the file this journal opened (deleted or replaced)."""


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Loaded:
    """What recovery reads (``Journal.load_recovery``): the latest valid checkpoint (None:
    there is none, replay from the first entry), every entry after it, checked, and the
    newer checkpoints that failed their checks (skipped, each with why)."""

    checkpoint: Entry | None
    entries: list[Entry]
    damaged: list[str]

    @property
    def last_seq(self) -> int:
        if self.entries:
            return self.entries[-1].seq
        return 0 if self.checkpoint is None else self.checkpoint.seq


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
        db = open_db(path, "journal", [_SCHEMA, _CHECKPOINTS])
        super().__init__(db, flush_interval, on_failure)
        try:
            row = db.execute("SELECT MAX(seq) FROM journal").fetchone()
            st = os.stat(path)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot read the journal at {path}: {exc}") from exc
        self.identity = (st.st_dev, st.st_ino)
        self.last_seq = int(row[0] or 0)
        self._appended = self.last_seq  # the seq the last entry appended will have
        self._on_replaced = on_replaced or on_failure
        self._replaced: str | None = None
        self._on_progress = on_progress
        self._progress_seq = -1
        self._next_look = 0.0
        self.archive = True  # move what an older checkpoint covers to an archive file
        self._checkpoints = 0  # checkpoints committed by this journal
        self._archived_for = 0  # the value of _checkpoints at the last archive look
        self.archived: list[Path] = []  # archive files written to (this process)
        # called as a batch holding a checkpoint is about to be committed (a crash point)
        self.on_checkpoint_write: Callable[[], None] | None = None
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
        if self.archive and self._checkpoints != self._archived_for:
            self._archived_for = self._checkpoints
            try:
                self.archive_covered()
            except (StoreError, sqlite3.Error, OSError) as exc:
                self._report(f"journal archive failed: {exc}")

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
        text = _ENCODE(body)
        with self._lock:
            self._appended += 1
        self._enqueue((kind, text), durable)

    @property
    def length(self) -> int:
        """The seq of the last entry appended, committed or still queued (``last_seq`` +
        ``pending`` would miss a batch the flusher is writing at that moment)."""
        with self._lock:
            return self._appended

    def flush(self) -> None:
        self._commit()

    def _write(self, batch: list[Any]) -> None:
        self.check_identity()  # never on into a file that is no longer the journal
        rows: list[tuple[object, ...]] = []
        seq = self.last_seq
        checkpoints = 0
        for kind, text in batch:
            seq += 1
            rows.append((seq, kind, text, crc_of(seq, kind, text)))
            checkpoints += kind == "checkpoint"
        if checkpoints and self.on_checkpoint_write is not None:
            self.on_checkpoint_write()
        self._transaction("INSERT INTO journal VALUES (?, ?, ?, ?)", rows, "journal")
        self.last_seq = seq
        self._checkpoints += checkpoints

    # ---------------------------------------------------------------- archive

    def archive_covered(self) -> Path | None:
        """Move the entries the previous checkpoint covers (every entry before it) to
        ``journal-archive-<first seq>.db`` beside the journal; the newest two checkpoints
        and everything after the older one stay (a damaged newest checkpoint falls back to
        the older one); older checkpoints are not archived (derived from the entries, and
        each as large as the book). Only checkpoints already committed count, and both must pass
        their checksums. The rows are copied and made durable in the archive first, then
        deleted here: a crash between the two leaves them in both (the next archive of
        the same rows goes to the same file), never in neither. Returns the archive file
        (None: nothing to move)."""
        with self._commit_lock:  # the connection is shared; a batch waits for the move
            db = self._db
            found = db.execute(
                "SELECT seq, kind, body, crc FROM journal WHERE kind = 'checkpoint'"
                " ORDER BY seq DESC LIMIT 2"
            ).fetchall()
            if len(found) < 2 or any(crc_of(q, k, b) != c for q, k, b, c in found):
                return None
            cutoff = int(found[1][0])
            first = db.execute("SELECT MIN(seq) FROM journal").fetchone()[0]
            if first is None or first >= cutoff:
                return None
            # every entry, but not the older checkpoints: derived from the entries, and
            # each as large as the book (the archive would grow with their sum)
            rows = db.execute(
                "SELECT seq, kind, body, crc FROM journal WHERE seq < ? AND kind != 'checkpoint'"
                " ORDER BY seq",
                (cutoff,),
            ).fetchall()
            target = self.path.with_name(f"journal-archive-{int(first):012d}.db")
            archive = open_db(target, "journal archive", [_SCHEMA])
            try:
                archive.execute("BEGIN IMMEDIATE")
                archive.executemany("INSERT OR IGNORE INTO journal VALUES (?, ?, ?, ?)", rows)
                archive.execute("COMMIT")  # synchronous=FULL: durable before the delete
                kept = archive.execute(
                    "SELECT COUNT(*) FROM journal WHERE seq >= ? AND seq < ?", (first, cutoff)
                ).fetchone()[0]
            finally:
                archive.close()
            if kept != len(rows):
                raise StoreError(f"journal archive {target} holds {kept} of {len(rows)} rows")
            self._transaction("DELETE FROM journal WHERE seq < ?", [(cutoff,)], "journal")
        self.archived.append(target)
        return target

    # ---------------------------------------------------------------- reading

    def load(self) -> list[Entry]:
        """Every entry in order, checked (from entry 1, or from the checkpoint the file
        starts at after an archive); raises ``JournalCorrupt`` naming the first bad one."""
        with self._commit_lock:
            try:
                check = self._db.execute("PRAGMA quick_check").fetchone()
                rows = self._db.execute("SELECT seq, kind, body, crc FROM journal ORDER BY seq")
                entries = []
                expected = 1
                for seq, kind, text, crc in rows:
                    if expected == 1 and seq > 1 and kind == "checkpoint":
                        expected = seq  # what came before was archived
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

    def load_recovery(self, unreadable: Mapping[int, str] | None = None) -> Loaded:
        """The latest checkpoint that passes its checks (checksum, JSON) and every entry
        after it, checked as ``load()`` checks; a damaged newer checkpoint is skipped (and
        named in ``damaged``), never its entries, as is one in ``unreadable`` (seq → why:
        its document could not be restored). No valid checkpoint: every entry from the
        first — which must then be entry 1 (``JournalCorrupt`` when older entries were
        archived and no checkpoint covering them is left)."""
        with self._commit_lock:
            try:
                check = self._db.execute("PRAGMA quick_check").fetchone()
                if check is not None and check[0] != "ok":
                    raise JournalCorrupt(f"the journal database is damaged: {check[0]}")
                return self._load_recovery(unreadable or {})
            except sqlite3.DatabaseError as exc:
                raise JournalCorrupt(f"the journal database is damaged: {exc}") from exc

    def _load_recovery(self, unreadable: Mapping[int, str]) -> Loaded:
        db = self._db
        first = db.execute("SELECT MIN(seq) FROM journal").fetchone()[0]
        damaged: list[str] = []
        skipped: set[int] = set()
        checkpoint: Entry | None = None
        for (cp,) in db.execute(
            "SELECT seq FROM journal WHERE kind = 'checkpoint' ORDER BY seq DESC"
        ).fetchall():
            seq, kind, text, crc = db.execute(
                "SELECT seq, kind, body, crc FROM journal WHERE seq = ?", (cp,)
            ).fetchone()
            problem = unreadable.get(seq)
            if problem is not None:
                pass
            elif crc_of(seq, kind, text) != crc:
                problem = "fails its checksum"
            else:
                try:
                    body = json.loads(text)
                except ValueError:
                    problem = "is not valid JSON"
            if problem is not None:
                damaged.append(f"checkpoint {seq} {problem}")
                skipped.add(seq)
                continue
            checkpoint = Entry(seq, kind, body)
            break
        start = 1 if checkpoint is None else checkpoint.seq + 1
        if checkpoint is None and first is not None and first > 1:
            why = "; ".join(damaged) or "none is left"
            raise JournalCorrupt(
                f"journal entries before {first} were archived and no valid checkpoint "
                f"covers them ({why})"
            )
        entries = []
        expected = start
        for seq, kind, text, crc in db.execute(
            "SELECT seq, kind, body, crc FROM journal WHERE seq >= ? ORDER BY seq", (start,)
        ):
            if seq != expected:
                raise JournalCorrupt(f"journal entry {expected} is missing (next is {seq})")
            expected += 1
            if seq in skipped:
                continue  # a damaged checkpoint: the entries around it stand for it
            if crc_of(seq, kind, text) != crc:
                raise JournalCorrupt(f"journal entry {seq} ({kind}) fails its checksum")
            if kind == "checkpoint":
                continue  # older than the one restored (cannot happen: newest first)
            try:
                body = json.loads(text)
            except ValueError:
                raise JournalCorrupt(f"journal entry {seq} is not valid JSON") from None
            entries.append(Entry(seq, kind, body))
        return Loaded(checkpoint, entries, damaged)

    def close(self) -> None:
        super().close()
        if self._replaced is None:
            self._record_progress()
