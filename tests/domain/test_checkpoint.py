"""A checkpoint gives back exactly the book a replay builds: restored from the checkpoint
and replayed on with the entries after it, the book equals the one replayed from the first
entry, field by field (hypothesis draws the histories and where the checkpoint falls)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.book import Book, Market
from domain.checkpoint import CheckpointInvalid, restore, snapshot
from domain.replay import Replayer, compact_entry, replay

MARKETS = {
    "BTCUSDT": Market("BTCUSDT", "BTC", "USDT"),
    "ETHBTC": Market("ETHBTC", "ETH", "BTC"),
}
Entries = list[tuple[str, dict[str, Any]]]

amounts = st.decimals(
    min_value=Decimal("0.00000001"), max_value=Decimal("100000"), places=8, allow_nan=False
)


@st.composite
def histories(draw: st.DrawFn) -> Entries:
    """Openings, intents, order states (ids learned late), fills (some before their order's
    id is known: kept apart, then claimed; some duplicated; some never claimed), deposits,
    resyncs and day marks, in a drawn order."""
    entries: Entries = [
        ("opening", {"totals": {"BTC": "1.5", "USDT": "1000.00", "ETH": "0"}, "trade_floor": {}})
    ]
    trade = 0
    for n in range(draw(st.integers(0, 12))):
        symbol = draw(st.sampled_from(sorted(MARKETS)))
        side = draw(st.sampled_from(["BUY", "SELL"]))
        qty = draw(amounts)
        price = draw(st.one_of(st.none(), amounts))
        cid = f"c{n}"
        order = {
            "client_order_id": cid,
            "symbol": symbol,
            "side": side,
            "type": "MARKET" if price is None else "LIMIT",
            "quantity": str(qty),
            "price": None if price is None else str(price),
            "created_ms": draw(st.integers(0, 10**6)),
            "source": "api",
        }
        if draw(st.booleans()):  # a strategy's order (its own id may repeat an earlier one)
            order["strategy"] = "grid"
            order["strategy_order_id"] = f"s{draw(st.integers(0, 3))}"
            order["time_in_force"] = draw(st.sampled_from(["GTC", "IOC"]))
        if draw(st.booleans()) or n == 0:
            entries.append(("intent", dict(order)))
        for _ in range(draw(st.integers(0, 3))):
            trade += 1
            fill = {
                "symbol": symbol,
                "trade_id": trade if draw(st.integers(0, 5)) else max(trade - 1, 1),
                "order_id": 1000 + n,
                "client_order_id": None if draw(st.booleans()) else cid,
                "side": side,
                "price": str(price or Decimal("3")),
                "qty": str(draw(amounts)),
                "commission": str(draw(amounts)),
                "commission_asset": draw(st.sampled_from(["USDT", "BTC", "BNB", None])),
                "time_ms": trade,
                "is_maker": draw(st.booleans()),
                "fee_quote": draw(st.sampled_from([None, "0.25", "1E-8"])),
            }
            entries.append(("fill", fill))
        state = draw(
            st.sampled_from(["PENDING_NEW", "NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED"])
        )
        if state != "PENDING_NEW":
            entries.append(
                (
                    "order",
                    {
                        **order,
                        "state": state,
                        "order_id": None if draw(st.integers(0, 4)) == 0 else 1000 + n,
                        "executed_qty": str(draw(amounts)),
                        "cumulative_quote": str(draw(amounts)),
                        "updated_ms": draw(st.integers(0, 10**6)),
                    },
                )
            )
        if draw(st.integers(0, 3)) == 0:  # closed orders compacted away, as the broker does
            cids = [f"c{k}" for k in range(n + 1) if draw(st.booleans())]
            entries.append(("compact", compact_entry(cids, draw(st.integers(0, 10**6)))))
        extra = draw(st.integers(0, 6))
        if extra == 1:
            entries.append(("external", {"asset": "USDT", "delta": str(-draw(amounts))}))
        elif extra == 2:
            entries.append(("day_mark", {"start_ms": 86_400_000 * n, "pnl_base": "-1.50"}))
        elif extra == 3:
            entries.append(("day_peak", {"start_ms": 86_400_000 * n, "peak": str(draw(amounts))}))
        elif extra == 4:
            entries.append(("resync", {"totals": {"BTC": "2", "USDT": "0E-8"}, "trade_floor": {}}))
    return entries


def fields(book: Book) -> dict[str, Any]:
    """Every compared field of the book (the dataclass's own equality, spelled out so a
    failure names the field)."""
    return {f.name: getattr(book, f.name) for f in dataclasses.fields(book) if f.compare}


def through_checkpoint(entries: Entries, cut: int) -> tuple[Book, dict[str, int]]:
    replayer = Replayer(Book(dict(MARKETS)))
    for kind, body in entries[:cut]:
        replayer.apply(kind, body)
    doc = json.loads(json.dumps(snapshot(replayer.book, replayer.floors)))  # as journaled
    return replay(entries[cut:], MARKETS, start=restore(doc, MARKETS))


@settings(max_examples=150, deadline=None)
@given(histories(), st.data())
def test_a_book_restored_from_a_checkpoint_equals_the_replayed_one(
    entries: Entries, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(entries)))
    replayed, floors = replay(entries, MARKETS)
    restored, restored_floors = through_checkpoint(entries, cut)
    assert fields(restored) == fields(replayed)
    assert restored_floors == floors
    assert replayed.commitments == restored.commitments


def test_amounts_come_back_exactly_as_written() -> None:
    entries: Entries = [
        ("opening", {"totals": {"BTC": "1.10000000", "USDT": "0E-8"}, "trade_floor": {"X": 7}}),
        ("day_mark", {"start_ms": 0, "pnl_base": "-0.000000001"}),
    ]
    book, floors = through_checkpoint(entries, len(entries))
    assert str(book.totals["BTC"]) == "1.10000000" and str(book.totals["USDT"]) == "0E-8"
    assert book.day is not None
    assert book.day.pnl_base.as_tuple() == Decimal("-0.000000001").as_tuple()
    assert floors == {"X": 7}


def test_a_checkpoint_of_another_version_is_refused() -> None:
    doc = snapshot(Book(dict(MARKETS)), {})
    doc["version"] = 99
    try:
        restore(doc, MARKETS)
    except CheckpointInvalid:
        return
    raise AssertionError("a checkpoint of an unknown version was restored")
