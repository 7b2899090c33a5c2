"""The broker's checkpoints: every ``journal.checkpoint_every`` journal entries, the closed
orders beyond the ``journal.keep_closed`` most recent are compacted (a ``compact`` entry,
then ``Book.compact``), and the book, compact, is written as a ``checkpoint`` entry
(recovery restores it and replays only what follows).

Looked at between messages (a price, a reconciliation cycle), never inside an intent's
path; the audit trail is flushed first, so no intent the checkpoint covers can have lost
its record. The broker is busy for the compaction, the snapshot and its JSON encoding (the
stall, ``last_stall_s``); the journal's flusher writes the row.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from domain.book import DAY_MS, due
from domain.checkpoint import snapshot
from domain.replay import compact_entry
from runtime.clock import now_ms
from runtime.crashpoints import crash_point

if TYPE_CHECKING:
    from actors.order_broker.broker import OrderBroker


def forget_before(at_ms: int) -> int:
    """The start of yesterday (UTC): no limit or daily summary looks further back."""
    return at_ms - at_ms % DAY_MS - DAY_MS


def compact(broker: OrderBroker) -> int:
    """Compact the closed orders due, journaled first; returns how many."""
    book, state = broker.book, broker.state
    ids = due(book.closed, book.orders, broker.settings.journal.keep_closed)
    forget = forget_before(now_ms())
    if not ids and (not book.created or book.created[0] >= forget):
        return 0
    broker.journal.append("compact", compact_entry(ids, forget))
    book.compact(ids, forget)
    if ids:
        gone = set(ids)
        # a new dict: a snapshot the reconciler still reads keeps the one it was given
        state.closed_summaries = {
            cid: s for cid, s in state.closed_summaries.items() if cid not in gone
        }
        state.closed_index = 0  # the closed list changed: summarise what is left again
    return len(ids)


def checkpoint_due(broker: OrderBroker) -> bool:
    """Write a checkpoint when ``journal.checkpoint_every`` entries have been journaled
    since the last one (by this instance); returns whether one was written."""
    journal = broker.ctx.services.journal
    length = journal.length
    if length - broker.checkpointed < broker.settings.journal.checkpoint_every:
        return False
    started = time.perf_counter()
    broker.trail.flush()
    compacted = compact(broker)
    broker.journal.append("checkpoint", snapshot(broker.book, broker.memory.trade_floor))
    broker.checkpointed = journal.length
    broker.last_stall_s = time.perf_counter() - started
    broker.audit(
        "checkpoint",
        seq=broker.checkpointed,
        compacted=compacted,
        orders=len(broker.book.orders),
        stall_ms=round(broker.last_stall_s * 1000, 1),
    )
    return True


def crash_while_written() -> None:
    """The crash point of the kill -9 tests, as the journal's flusher is about to commit a
    batch that holds a checkpoint."""
    crash_point("checkpoint_write")
