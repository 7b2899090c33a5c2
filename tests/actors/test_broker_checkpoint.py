"""The broker writes a checkpoint of its book every ``journal.checkpoint_every`` entries
(between messages), and a restarted broker rebuilds its book from the latest one."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pykka

from actors.order_broker import OrderBroker
from domain.admission import Refusal
from domain.book import OrderState
from domain.breaker_rules import EvidenceKind
from domain.checkpoint import restore
from runtime.messages import BookSnapshotRequest, OrderEvent, TradesSeen
from tests.actors.test_order_broker import MARKETS, Clock, Harness, healthy, start_broker
from tests.actors.test_order_broker import clock as clock  # the fixture
from tests.conftest import SimHandle, wait_for
from tests.domain.test_checkpoint import fields
from tests.runtime.test_trace import report


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


def test_a_checkpoint_compacts_closed_orders_and_they_stay_safe_across_a_restart(
    tmp_path: Path, sim: SimHandle, clock: Clock
) -> None:
    """keep_closed = 0: every closed order is compacted at the checkpoint. Its client order
    id is still refused (and nothing reaches the exchange), a late duplicate of its trade
    is not booked, and the same holds for a broker restarted from that checkpoint."""
    broker, memory, gate, told, owned = start_broker(
        tmp_path, sim, clock, journal={"checkpoint_every": 100, "keep_closed": 0}
    )
    harness = Harness(broker, memory, gate, sim, clock, told)
    healthy(gate, clock)
    journal = broker.ctx.services.journal
    try:
        for cid in ("done-1", "done-2"):
            assert broker.on_intent(harness.intent(client_order_id=cid)).accepted
            broker.on_send_outcome(harness.outcome(cid))
            assert memory.book.orders[cid].state is OrderState.FILLED
        trades = tuple(broker.adapter.get_trades("BTCUSDT", from_id=0))
        assert len(trades) == 2
        fills = broker.memory.book.fill_counts()
        for _ in range(100):
            memory.book.apply_external("USDT", Decimal("0.01"))
        assert broker.checkpoint_due()
        assert broker.last_stall_s > 0
        book = memory.book
        assert "done-1" not in book.orders and book.compacted.ids == {"done-1", "done-2"}
        assert not book.executions and book.fill_counts() == fills
        journal.flush()
        kinds = [e.kind for e in journal.load()]
        assert kinds[-2:] == ["compact", "checkpoint"]

        order_id = next(
            o["orderId"] for o in sim.state()["orders"] if o["clientOrderId"] == "done-1"
        )
        done_1 = next(t for t in trades if t.order_id == order_id)

        def still_safe(broker: OrderBroker) -> None:
            book = broker.memory.book
            totals, duplicates = dict(book.totals), book.duplicates
            broker.on_trades(TradesSeen(symbol="BTCUSDT", trades=trades))  # a late REST poll
            assert dict(book.totals) == totals and book.duplicates == duplicates + 2
            # a late executionReport of the compacted order: a duplicate, not a foreign order
            late = report(c="done-1", i=done_1.order_id, t=done_1.trade_id, l="0.001", z="0.001")
            broker.on_order_event(OrderEvent(report=late, via="ws"))
            assert dict(book.totals) == totals and book.duplicates == duplicates + 4
            stranger = report(c="someone-else", i=999_999, t=999_999)
            broker.on_order_event(OrderEvent(report=stranger, via="ws"))
            wait_for(lambda: harness.evidence(EvidenceKind.UNKNOWN_ORDER))
            unknown = harness.evidence(EvidenceKind.UNKNOWN_ORDER)  # (after the late one's)
            assert all("someone-else" in e.detail for e in unknown), unknown
            again = broker.on_intent(harness.intent(client_order_id="done-1"))
            assert not again.accepted and again.refusal is Refusal.DUPLICATE
            assert harness.on_exchange("done-1") == 1
            snap = broker.on_snapshot_request(BookSnapshotRequest())["internal"]
            assert {t.trade_id for t in trades} <= {t for _, t in snap.trades}

        still_safe(broker)
        successor = OrderBroker(broker.ctx, 2, memory)
        successor.started()
        assert memory.rebuilds == 1 and memory.book.compacted.ids == {"done-1", "done-2"}
        still_safe(successor)
        successor.stopping()
    finally:
        broker.stopping()
        for thing in owned:
            if isinstance(thing, pykka.ActorRef):
                thing.stop()
            else:
                thing.close()
