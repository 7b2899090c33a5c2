"""Recovery at start-up: the book from the journal, the audit records a crash took, and
what an unclean stop of the previous process means.

The journal is replayed if it checks out; if it does not, the damaged journal is kept
aside as evidence, trading goes RED, and the book starts empty. An accepted intent's audit
record is group-committed while its journal entry is flushed before the wire: a record
the trail lost in a crash is written again from the journal (marked ``recovered``).

The store records how long the journal was (``Store.journal_seq``, kept up by the
journal's flusher). A start that finds no journal, or a shorter one, comes back RED with
an incident (``journal_missing``: "journal missing: the store says N entries, found M") —
it never starts empty in silence. A ``journal.db`` deleted or replaced while Vigil runs is
RED with a ``journal_replaced`` incident (``Journal.check_identity``).

A graceful stop writes a durable "stopped cleanly" mark last (``Store.end_run``). A start
that does not find it after a previous run — a crash, an OOM kill, a SIGKILL, a power cut —
comes back RED (``broker.on_unclean_restart = "red"``, the default) with an incident holding
what the journal and the audit trail show of the run's last seconds: nothing trades again
until a person has looked and reset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loguru import logger

from actors.order_broker import BrokerMemory
from actors.order_broker.memory import collector_paused, load_checkpointed
from domain.admission import intent_record
from domain.book import Book, Market
from domain.replay import audited_entry, intent_order, replay
from runtime.clock import now_ms
from runtime.gate import TradingGate
from runtime.incidents import write_incident
from storage import AuditTrail, Journal, Store, StoreError
from storage.journal import Entry

TAIL_ENTRIES = 50  # journal entries an unclean stop's incident shows
TAIL_S = 30  # seconds of audit trail before the last sign of life, in that incident


@dataclass(frozen=True)
class Recovered:
    journal: Journal
    memory: BrokerMemory
    entries: int
    orders: int
    tail: list[dict[str, Any]]  # the journal's last entries, as (seq, kind, body)


def recover(
    data_dir: Path,
    markets: dict[str, Market],
    *,
    store: Store,
    trail: AuditTrail,
    gate: TradingGate,
    on_failure: Callable[[str], None],
) -> Recovered:
    """Open the journal, replay it into the book, and re-write lost intent records."""
    path = data_dir / "journal.db"
    journal: Journal | None = None
    expected = store.journal_seq()

    def replaced(reason: str) -> None:
        on_failure(reason)  # RED
        journal_replaced_incident(data_dir, store, trail, reason)

    def open_journal() -> Journal:
        return Journal(
            path, on_failure=on_failure, on_replaced=replaced, on_progress=store.set_journal_seq
        )

    checkpoint: Entry | None = None
    try:
        journal = open_journal()
        with collector_paused():
            loaded, start = load_checkpointed(journal, markets)
        checkpoint, entries = loaded.checkpoint, loaded.entries
    except StoreError as exc:  # JournalCorrupt, or a file SQLite cannot even open
        if journal is not None:
            journal.close()
        kept = path.with_name(f"journal.db.corrupt-{now_ms()}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                source.rename(Path(f"{kept}{suffix}"))
        reason = f"journal corrupt, not replayed ({exc}); kept as {kept.name}"
        store.add_incident(now_ms(), "journal_corrupt", reason, {"kept": str(kept)})
        trail.append("journal_corrupt", {"reason": reason}, actor="recovery", durable=True)
        gate.trip_red(reason, "recovery")
        journal, entries, start, checkpoint = open_journal(), [], None, None
    else:
        found = loaded.last_seq
        if expected is not None and found < expected:
            journal_missing(data_dir, store, trail, gate, expected, found)
        for problem in loaded.damaged:  # fell back to an older checkpoint: nothing lost
            logger.error("recovery: {}; recovered from an older checkpoint", problem)
            trail.append("journal_checkpoint_damaged", {"reason": problem}, actor="recovery")
    store.set_journal_seq(journal.last_seq)  # this journal, from here on
    with collector_paused():
        book, floors = replay(((e.kind, e.body) for e in entries), markets, start=start)
    backfill_intent_audit(entries, book, journal, trail)
    memory = BrokerMemory(book, floors)
    tail = [{"seq": e.seq, "kind": e.kind, "body": e.body} for e in entries[-TAIL_ENTRIES:]]
    replayed = len(entries) + (0 if checkpoint is None else checkpoint.seq)
    return Recovered(journal, memory, replayed, len(book.orders), tail)


def journal_missing(
    data_dir: Path, store: Store, trail: AuditTrail, gate: TradingGate, expected: int, found: int
) -> str:
    """The store says the journal had ``expected`` entries; ``found`` are there: RED."""
    reason = f"journal missing: the store says {expected} entries, found {found}"
    write_incident(
        data_dir,
        store,
        kind="journal_missing",
        at_ms=now_ms(),
        reason=reason,
        state={"expected_entries": expected, "found_entries": found},
        report={"kind": "journal_missing", "expected": expected, "found": found},
        lines=[
            f"The store recorded {expected} durable journal entries; journal.db holds {found}.",
            "The journal was deleted, replaced or rolled back while Vigil was not running:",
            "the book rebuilt from it is incomplete. Compare it with the exchange (resync)",
            "before resetting.",
        ],
    )
    trail.append("journal_missing", {"reason": reason}, actor="recovery", durable=True)
    logger.critical("vigil: {}", reason)
    gate.trip_red(reason, "recovery")
    return reason


def journal_replaced_incident(data_dir: Path, store: Store, trail: AuditTrail, reason: str) -> None:
    """The incident of a journal deleted or replaced under a running Vigil (best effort:
    RED is already tripped; on a full disk the incident may not be writable)."""
    try:
        write_incident(
            data_dir,
            store,
            kind="journal_replaced",
            at_ms=now_ms(),
            reason=reason,
            state={"journal": str(data_dir / "journal.db")},
            report={"kind": "journal_replaced", "reason": reason},
            lines=[
                reason,
                "Nothing more is written to the journal; trading is RED. Find out what",
                "removed or replaced journal.db, then restart: the start compares the",
                "journal with the length the store recorded.",
            ],
        )
        trail.append("journal_replaced", {"reason": reason}, actor="recovery", durable=True)
    except (StoreError, OSError) as exc:
        logger.error("the journal_replaced incident could not be written: {}", exc)


def previous_run(
    data_dir: Path,
    *,
    store: Store,
    trail: AuditTrail,
    gate: TradingGate,
    journal_tail: list[dict[str, Any]],
    on_unclean: str,
    pid: int,
) -> str | None:
    """Judge how the previous process stopped, then mark this one as running. Returns the
    RED reason after an unclean stop (None after a clean one, or on a new data dir)."""
    previous = store.last_run()
    at = now_ms()
    store.begin_run(pid, at)
    if previous is None or previous.get("stopped_ms") is not None:
        return None
    last = int(previous.get("alive_ms") or previous.get("started_ms") or at)
    when = datetime.fromtimestamp(last / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    reason = f"unclean stop at {when}: review the incident"
    records = trail.query(since=last / 1000 - TAIL_S, limit=500)
    write_incident(
        data_dir,
        store,
        kind="unclean_stop",
        at_ms=at,
        reason=reason,
        state={"previous_run": previous, "journal_tail": journal_tail, "audit_tail": records},
        report={"kind": "unclean_stop", "previous_run": previous, "resume": on_unclean},
        lines=[
            f"The previous process (pid {previous.get('pid')}) did not stop cleanly.",
            f"Last sign of life: {when}. Its last journal entries and audit records are in",
            "state.json; compare them with the exchange before resetting.",
        ],
    )
    trail.append(
        "unclean_stop",
        {"reason": reason, "previous_run": previous, "on_unclean_restart": on_unclean},
        actor="recovery",
        durable=True,
    )
    logger.warning("vigil: {}", reason)
    if on_unclean == "red":
        gate.trip_red(reason, "recovery")
        return reason
    return None


def backfill_intent_audit(
    entries: list[Entry], book: Book, journal: Journal, trail: AuditTrail
) -> None:
    """An accepted intent's journal entry names its audit record's sequence number. A record
    numbered above what the trail held when it opened was lost in a crash: it is written
    again from the journal (marked ``recovered``), durably, and an ``audited`` journal
    entry records its new number, so a later recovery does not mistake another record
    that took the old number for it."""
    numbered: dict[str, tuple[int, dict[str, Any]]] = {}
    for e in entries:
        if e.kind == "intent" and "audit_seq" in e.body:
            numbered[e.body["client_order_id"]] = (int(e.body["audit_seq"]), e.body)
        elif e.kind == "list_intent" and "audit_seq" in e.body:
            numbered[e.body["list_client_order_id"]] = (int(e.body["audit_seq"]), e.body)
        elif e.kind == "audited" and e.body["client_order_id"] in numbered:
            _, body = numbered[e.body["client_order_id"]]
            numbered[e.body["client_order_id"]] = (int(e.body["audit_seq"]), body)
    opened = trail.opened_seq
    lost = [(cid, seq, body) for cid, (seq, body) in numbered.items() if seq > opened]
    if not lost:
        return
    renumbered = []
    for cid, seq, body in lost:
        verdicts = [{"gate": g, "passed": True, "reason": ""} for g in body.get("gates", [])]
        kind = "intent_accepted"
        if "list_client_order_id" in body:  # an order list: its record names every order
            kind = "list_accepted"
            order_list = book.order_lists[cid]
            record: dict[str, Any] = {
                "list_client_order_id": cid,
                "list_type": order_list.list_type,
                "symbol": order_list.symbol,
                "roles": dict(order_list.legs),
                "orders": [
                    intent_record(book.orders[c], [])
                    for c in order_list.leg_ids
                    if c in book.orders  # (a compacted one is in the journal)
                ],
                "verdicts": verdicts,
            }
        else:
            # (compacted away since: the order as the intent describes it; cannot happen
            # while a checkpoint flushes the trail before it compacts, but never lose it)
            record = intent_record(book.orders.get(cid) or intent_order(body), verdicts)
        record.update(recovered=True, lost_seq=seq, created_ms=body.get("created_ms"))
        new_seq = trail.append(kind, record, cid=body.get("correlation_id"), actor="recovery")
        renumbered.append((cid, new_seq))
    trail.flush()
    for cid, new_seq in renumbered:
        journal.append("audited", audited_entry(cid, new_seq))
    journal.flush()
    logger.warning("recovery: {} intent audit records rewritten from the journal", len(lost))
