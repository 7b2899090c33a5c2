"""Checkpoints in the journal: recovery reads the latest valid one and the entries after
it, a damaged one falls back to the one before (never to an empty book), what an older
checkpoint covers moves to an archive file, and a SIGKILL while a checkpoint is written
loses nothing."""

from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from assembly.recovery import recover
from bench.durability import MARKETS, journal_entries
from domain.book import Book, due
from domain.checkpoint import restore, snapshot
from domain.replay import Replayer, compact_entry, replay
from runtime.gate import TradingGate
from storage import AuditTrail, Journal, Store, StoreError
from storage.journal import JournalCorrupt, Loaded, crc_of
from tests.domain.test_checkpoint import fields

Entries = list[tuple[str, dict[str, Any]]]


KEEP_CLOSED = 20


def write(path: Path, count: int, every: int) -> Entries:
    """``count`` entries of the broker's mix, with a checkpoint of the book after every
    ``every`` of them, the closed orders beyond the ``KEEP_CLOSED`` most recent compacted
    first (as the broker writes them); returns what was written."""
    journal = Journal(path, flush_interval=3600)
    journal.archive = False
    replayer = Replayer(Book(dict(MARKETS)))
    written: Entries = []
    for n, (kind, body) in enumerate(itertools.islice(journal_entries(), count), start=1):
        journal.append(kind, body)
        replayer.apply(kind, body)
        written.append((kind, body))
        if n % every == 0:
            replayer.book.rebuild_live()  # the broker's book keeps its closed list live
            compact = compact_entry(due(replayer.book.closed, replayer.book.orders, KEEP_CLOSED), 0)
            journal.append("compact", compact)
            replayer.apply("compact", compact)
            written.append(("compact", compact))
            journal.append("checkpoint", snapshot(replayer.book, replayer.floors))
            written.append(("checkpoint", {}))
    journal.flush()
    journal.close()
    return written


def book_of(loaded: Loaded) -> Book:
    start = None if loaded.checkpoint is None else restore(loaded.checkpoint.body, MARKETS)
    book, _ = replay(((e.kind, e.body) for e in loaded.entries), MARKETS, start=start)
    return book


def checkpoints(path: Path) -> list[int]:
    db = sqlite3.connect(path)
    try:
        return [s for (s,) in db.execute("SELECT seq FROM journal WHERE kind = 'checkpoint'")]
    finally:
        db.close()


def damage(path: Path, seq: int) -> None:
    """Bit rot in a checkpoint's body: its bytes change, its checksum does not."""
    db = sqlite3.connect(path)
    db.execute(
        "UPDATE journal SET body = replace(body, '\"orders\"', '\"ordrs\"') WHERE seq = ?", (seq,)
    )
    db.commit()
    db.close()


def test_recovery_reads_the_latest_checkpoint_and_only_the_entries_after_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    written = write(path, 1_050, every=300)
    journal = Journal(path)
    loaded = journal.load_recovery()
    journal.close()
    assert loaded.checkpoint is not None and loaded.checkpoint.seq == checkpoints(path)[-1]
    assert len(loaded.entries) == 1_050 - 900 and loaded.damaged == []
    full, _ = replay([(k, b) for k, b in written if k != "checkpoint"], MARKETS)
    assert fields(book_of(loaded)) == fields(full)


def test_a_damaged_latest_checkpoint_falls_back_to_the_one_before(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    written = write(path, 1_050, every=300)
    last = checkpoints(path)[-1]
    damage(path, last)
    journal = Journal(path)
    loaded = journal.load_recovery()
    journal.close()
    assert loaded.checkpoint is not None and loaded.checkpoint.seq == checkpoints(path)[-2]
    assert loaded.damaged == [f"checkpoint {last} fails its checksum"]
    full, _ = replay([(k, b) for k, b in written if k != "checkpoint"], MARKETS)
    restored = book_of(loaded)
    assert len(restored.orders) > 0 and fields(restored) == fields(full)
    assert restored.compacted.ids, "the fallback checkpoint held compacted orders"


def test_recover_after_a_damaged_checkpoint_has_the_whole_book_and_stays_green(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    written = write(path, 700, every=300)
    damage(path, checkpoints(path)[-1])
    store = Store(tmp_path / "vigil.db")
    trail = AuditTrail(tmp_path / "audit.db")
    gate = TradingGate(store, reconciliation_max_age_s=600)
    recovered = recover(tmp_path, MARKETS, store=store, trail=trail, gate=gate, on_failure=print)
    try:
        full, _ = replay([(k, b) for k, b in written if k != "checkpoint"], MARKETS)
        assert fields(recovered.memory.book) == fields(full)
        assert not gate.state.is_red
        kinds = [r["kind"] for r in trail.query(limit=1000)]
        assert kinds.count("journal_checkpoint_damaged") == 1
    finally:
        recovered.journal.close()
        trail.close()
        store.close()


def test_the_entries_an_older_checkpoint_covers_move_to_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    written = write(path, 1_050, every=300)
    cps = checkpoints(path)
    journal = Journal(path)
    archive = journal.archive_covered()
    assert archive == tmp_path / "journal-archive-000000000001.db"
    loaded = journal.load_recovery()
    assert journal.load()[0].seq == cps[-2], "the live journal starts at the older checkpoint"
    journal.close()
    kept = sqlite3.connect(archive)
    rows = kept.execute("SELECT seq FROM journal ORDER BY seq").fetchall()
    kept.close()
    moved = [s for s in range(1, cps[-2]) if s not in cps]
    assert [s for (s,) in rows] == moved, "every moved entry kept (not the older checkpoints)"
    full, _ = replay([(k, b) for k, b in written if k != "checkpoint"], MARKETS)
    assert fields(book_of(loaded)) == fields(full)
    # and the newest checkpoint damaged after the move: the older one is still there
    damage(path, cps[-1])
    journal = Journal(path)
    fallback = journal.load_recovery()
    journal.close()
    assert fallback.checkpoint is not None and fallback.checkpoint.seq == cps[-2]
    assert fields(book_of(fallback)) == fields(full)


def test_with_every_checkpoint_left_damaged_an_archived_journal_is_corrupt_not_empty(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    write(path, 1_050, every=300)
    cps = checkpoints(path)
    journal = Journal(path)
    journal.archive_covered()
    journal.close()
    for seq in cps[-2:]:
        damage(path, seq)
    journal = Journal(path)
    with pytest.raises(JournalCorrupt, match="archived and no valid checkpoint"):
        journal.load_recovery()
    journal.close()


def test_the_flusher_archives_once_a_newer_checkpoint_is_durable(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = Journal(path, flush_interval=3600)
    replayer = Replayer(Book(dict(MARKETS)))
    for n, (kind, body) in enumerate(itertools.islice(journal_entries(), 600), start=1):
        journal.append(kind, body)
        replayer.apply(kind, body)
        if n % 200 == 0:
            journal.append("checkpoint", snapshot(replayer.book, replayer.floors))
    journal.flush()
    journal._after_tick(float("inf"))  # the flusher's periodic look, now
    assert journal.archived == [tmp_path / "journal-archive-000000000001.db"]
    journal.close()


CHILD = textwrap.dedent(
    """
    import itertools, os, signal, sys
    from pathlib import Path
    from bench.durability import MARKETS, journal_entries
    from domain.book import Book
    from domain.checkpoint import restore, snapshot
    from domain.replay import Replayer
    from storage.journal import Journal

    class Killed(Journal):
        def _transaction(self, sql, rows, what):
            if any(row[1] == "checkpoint" for row in rows):
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(sql, rows)  # the checkpoint is written, not committed
                os.kill(os.getpid(), signal.SIGKILL)
            super()._transaction(sql, rows, what)

    journal = Killed(Path(sys.argv[1]), flush_interval=3600)
    replayer = Replayer(Book(dict(MARKETS)))
    for kind, body in itertools.islice(journal_entries(), 500):
        journal.append(kind, body)
        replayer.apply(kind, body)
    journal.flush()
    journal.append("checkpoint", snapshot(replayer.book, replayer.floors))
    journal.flush()
    """
)


def test_a_sigkill_while_a_checkpoint_is_written_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env, timeout=60)
    assert child.returncode == -9
    journal = Journal(path)
    loaded = journal.load_recovery()
    journal.close()
    assert loaded.checkpoint is None and len(loaded.entries) == 500
    expected, _ = replay(list(itertools.islice(journal_entries(), 500)), MARKETS)
    assert fields(book_of(loaded)) == fields(expected)


class FailsToDelete(Journal):
    """A crash between the archive's commit and the delete here, in effect."""

    def _transaction(self, sql: str, rows: Any, what: str) -> None:
        if sql.startswith("DELETE"):
            raise StoreError("crashed before the delete")
        super()._transaction(sql, rows, what)


def test_an_archive_cut_short_before_the_delete_keeps_every_entry_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    write(path, 1_050, every=300)
    cps = checkpoints(path)
    failing = FailsToDelete(path)
    with pytest.raises(StoreError):
        failing.archive_covered()
    failing.close()
    journal = Journal(path)
    assert journal.load()[0].seq == 1, "nothing deleted: the rows are in both files"
    archive = journal.archive_covered()  # the next look moves the same rows to the same file
    assert journal.load()[0].seq == cps[-2]
    journal.close()
    assert archive is not None
    kept = sqlite3.connect(archive)
    rows = [s for (s,) in kept.execute("SELECT seq FROM journal ORDER BY seq")]
    kept.close()
    assert rows == [s for s in range(1, cps[-2]) if s not in cps]


def unreadable(path: Path, seq: int) -> None:
    """A checkpoint whose checksum holds but whose document this version cannot restore
    (written by a newer Vigil, say): its version changed and its CRC made to match."""
    db = sqlite3.connect(path)
    (text,) = db.execute("SELECT body FROM journal WHERE seq = ?", (seq,)).fetchone()
    text = text.replace('"version":1', '"version":99')
    db.execute(
        "UPDATE journal SET body = ?, crc = ? WHERE seq = ?",
        (text, crc_of(seq, "checkpoint", text), seq),
    )
    db.commit()
    db.close()


def test_a_checkpoint_that_cannot_be_restored_falls_back_to_the_one_before(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    written = write(path, 1_050, every=300)
    last = checkpoints(path)[-1]
    unreadable(path, last)
    store = Store(tmp_path / "vigil.db")
    trail = AuditTrail(tmp_path / "audit.db")
    gate = TradingGate(store, reconciliation_max_age_s=600)
    recovered = recover(tmp_path, MARKETS, store=store, trail=trail, gate=gate, on_failure=print)
    try:
        full, _ = replay([(k, b) for k, b in written if k != "checkpoint"], MARKETS)
        book = recovered.memory.book
        assert book.compacted.ids and fields(book) == fields(full)
        assert not gate.state.is_red, "nothing was lost: no reason to stop trading"
        reasons = [
            r["reason"]
            for r in trail.query(limit=1000)
            if r["kind"] == "journal_checkpoint_damaged"
        ]
        assert len(reasons) == 1 and "version 99" in reasons[0]
        assert reasons[0].startswith(f"checkpoint {last} cannot be restored")
    finally:
        recovered.journal.close()
        trail.close()
        store.close()
