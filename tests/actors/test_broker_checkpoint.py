"""The broker writes a checkpoint of its book every ``journal.checkpoint_every`` entries
(between messages), and a restarted broker rebuilds its book from the latest one."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pykka

from actors.order_broker import OrderBroker
from domain.checkpoint import restore
from runtime.messages import BookSnapshotRequest
from tests.actors.test_order_broker import MARKETS, Clock, start_broker
from tests.actors.test_order_broker import clock as clock  # the fixture
from tests.conftest import SimHandle
from tests.domain.test_checkpoint import fields


def test_the_broker_checkpoints_every_n_entries_and_a_restarted_broker_starts_from_it(
    tmp_path: Path, sim: SimHandle, clock: Clock
) -> None:
    broker, memory, _gate, _, owned = start_broker(
        tmp_path, sim, clock, journal={"checkpoint_every": 100}
    )
    journal = broker.ctx.services.journal
    try:
        for _ in range(2):
            for _ in range(120):  # entries: deposits the exchange reported
                memory.book.apply_external("USDT", Decimal("0.01"))
            broker.on_snapshot_request(BookSnapshotRequest())  # a reconciliation cycle
        journal.flush()
        loaded = journal.load_recovery()
        assert loaded.checkpoint is not None and loaded.entries == []
        restored, floors = restore(loaded.checkpoint.body, MARKETS)
        assert restored.totals == memory.book.totals and floors == dict(memory.trade_floor)
        assert journal.archive_covered() is not None  # the first checkpoint covers the opening
        totals = dict(memory.book.totals)
        successor = OrderBroker(broker.ctx, 2, memory)
        successor.started()
        assert memory.rebuilds == 1
        assert memory.book.totals == totals, "the restarted broker's book is the checkpoint's"
        assert fields(memory.book)["orders"] == fields(restored)["orders"]
        successor.stopping()
    finally:
        broker.stopping()
        for thing in owned:
            if isinstance(thing, pykka.ActorRef):
                thing.stop()
            else:
                thing.close()
