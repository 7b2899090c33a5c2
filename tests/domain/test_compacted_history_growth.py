"""Compacted history must not grow without bound: a book that trades for months keeps,
for every order it ever compacted, its client order id (``Compacted.ids`` and the id text)
and its trade ids (``Book.trade_ids`` and the trade text), in memory and in every
checkpoint. Measured here at ~215 B of memory and ~52 B of checkpoint per compacted order:
at 20,000 orders a day that is ~4.3 MB of RSS and ~1 MB more per checkpoint each day,
forever (the ``memory`` breaker rule turns YELLOW at 2 GB), and the checkpoint's stall and
a restart's restore grow with it. Expected to fail until the history is bounded (e.g. ids
of Vigil's own ``vgl-<tag>-`` orders and trade ids below the reconciliation marks forgotten
after a horizon, journaled in the ``compact`` entry)."""

from __future__ import annotations

import gc
import json
import tracemalloc
from decimal import Decimal

import pytest

from domain.book import Book, BookOrder
from domain.checkpoint import snapshot
from tests.domain.test_compaction import MARKETS, T0, fill

BATCH = 2_000  # orders per compaction (one checkpoint's worth)


def trade_and_compact(book: Book, start: int, count: int) -> None:
    """``count`` filled MARKET orders with Vigil-style ids, then compacted, as the broker
    does at a checkpoint."""
    ids = []
    for i in range(start, start + count):
        cid = f"vgl-a1b2c3d4-{i:012d}"
        book.add_intent(
            BookOrder(cid, "BTCUSDT", "BUY", "MARKET", Decimal("0.001"), None, created_ms=T0)
        )
        book.apply_order_update(
            symbol="BTCUSDT",
            client_order_id=cid,
            order_id=10**9 + i,
            venue_state="FILLED",
            cumulative_qty=Decimal("0.001"),
            cumulative_quote=Decimal("60"),
            now_ms=T0 + i,
        )
        assert book.apply_execution(fill(10**9 + i, cid, 10**9 + i))
        ids.append(cid)
    assert book.compact(ids) == count


def held_after(batches: int) -> tuple[int, int]:
    """(bytes of memory the book holds, bytes of its checkpoint) after ``batches``
    checkpoints' worth of orders, each compacted."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        book = Book(dict(MARKETS))
        book.open({"USDT": Decimal("1e12"), "BTC": Decimal("0")})
        for b in range(batches):
            trade_and_compact(book, b * BATCH, BATCH)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held, len(json.dumps(snapshot(book, {})))


@pytest.mark.xfail(
    strict=True,
    reason="known: compacted order ids and trade ids are kept for ever (domain.book._compaction)",
)
def test_memory_and_checkpoint_do_not_grow_with_compacted_history() -> None:
    memory_1, checkpoint_1 = held_after(1)
    memory_10, checkpoint_10 = held_after(10)
    # ten times the closed history, every order of it compacted: what the book keeps
    # (and writes at every checkpoint) should stay about the same, not grow tenfold
    assert memory_10 < 2 * memory_1, f"{memory_1} B after {BATCH} orders, {memory_10} after 10x"
    assert checkpoint_10 < 2 * checkpoint_1, f"checkpoint {checkpoint_1} B, then {checkpoint_10}"
