"""The order broker's memory: the book, owned by one broker instance at a time.

It outlives a broker instance (the supervisor hands it to each one), but what it holds is
durable state only: a restarted broker rebuilds the book from the journal (``rebuild``),
with fresh working state (``BrokerState``), so nothing a failed instance left half-done in
memory survives it. Ownership moves to the new instance (``owner``), so a replaced instance
that wakes up later can neither write the journal (``OwnedJournal``) nor send.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from domain.book import Book, Market
from domain.cancel_duty import CancelDuty
from domain.checkpoint import CheckpointInvalid, restore
from domain.evidence import OrderEvidence
from domain.recent import RecentKeys
from domain.reconciliation import InternalOrder
from domain.replay import replay
from domain.risk import DayRisk
from exchange.contract import OrderBookDepth
from storage import Journal
from storage.journal import Loaded


class StaleInstance(RuntimeError):
    """A broker instance that has been replaced tried to write: refused."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """Loading and replaying a journal build millions of objects: the collector would
    halve their speed, and none of them is garbage."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass
class BrokerState:
    """What one broker instance works with beside the book; starts fresh with each book."""

    # client order id -> mono_ms() it became unknown: a step of the wall clock must not
    # make the exchange's silence about it look long (marked absent too early) or short
    unknown_since: dict[str, int] = field(default_factory=dict)
    evidence: OrderEvidence = field(default_factory=OrderEvidence)
    risk: DayRisk = field(default_factory=DayRisk)
    risk_sampled: float = 0.0  # monotonic: the last risk samples taken on a price
    cancel_duty: CancelDuty = field(default_factory=CancelDuty)
    depth: dict[str, tuple[int, OrderBookDepth]] = field(default_factory=dict)  # mono ms, book
    # balanceUpdates seen (asset, delta, clear and event time): one delivered twice (the
    # event has no id) must not move the balance twice
    balance_updates: RecentKeys = field(default_factory=RecentKeys)
    closed_summaries: dict[str, InternalOrder] = field(default_factory=dict)
    closed_index: int = 0
    counters: dict[str, int] = field(
        default_factory=lambda: {
            "intents": 0,
            "accepted": 0,
            "refused": 0,
            "sent": 0,
            "answered": 0,  # sends the wire has finished, whatever their outcome
        }
    )


def load_checkpointed(
    journal: Journal, markets: Mapping[str, Market]
) -> tuple[Loaded, tuple[Book, dict[str, int]] | None]:
    """What recovery reads (``Journal.load_recovery``) and the book and trade floors its
    checkpoint restores (None: no checkpoint, replay from the first entry). A checkpoint
    that passes its checksum but cannot be restored (``CheckpointInvalid``) is skipped for
    the one before it, as a damaged one is (named in ``damaged``)."""
    unreadable: dict[int, str] = {}
    while True:
        loaded = journal.load_recovery(unreadable)
        cp = loaded.checkpoint
        if cp is None:
            return loaded, None
        try:
            return loaded, restore(cp.body, markets)
        except CheckpointInvalid as exc:
            unreadable[cp.seq] = f"cannot be restored ({exc})"


class BrokerMemory:
    """The book, the trade floors (the last trade id per symbol that predates this run),
    the owning instance's generation and its working state."""

    def __init__(self, book: Book, trade_floor: Mapping[str, int] | None = None) -> None:
        self.book = book
        self._trade_floor: dict[str, int] = dict(trade_floor or {})
        self.state = BrokerState()
        self.owner = 0  # the generation of the broker instance that owns the book now
        self.rebuilds = 0  # books replayed for a restarted broker (the poller watches it)
        self._lock = threading.Lock()

    @property
    def trade_floor(self) -> Mapping[str, int]:
        """Read-only for everyone but the broker (``set_floors``)."""
        return MappingProxyType(self._trade_floor)

    @property
    def counters(self) -> dict[str, int]:
        return self.state.counters

    def set_floors(self, floors: Mapping[str, int]) -> None:
        self._trade_floor.update(floors)

    def take(self, generation: int, journal: Journal, markets: Mapping[str, Market]) -> bool:
        """Called by each broker instance as it starts; from then on it owns the book.
        The first one takes the book recovered at start-up; a later one gets the book
        replayed from the journal, as at start-up (the old book is cut off from the journal
        first). Serialised: a newer instance waits for an older one's replay. Returns False
        when a newer instance owns it already. Raises ``StoreError`` (the instance then owns
        the old book, the best there is) when the journal cannot be read."""
        with self._lock:
            if generation <= self.owner:
                return False
            if self.owner == 0:  # the first broker: the book was just replayed at start-up
                self.owner = generation
                return True
            old = self.book
            old.on_change = None
            self.owner = generation
            self.state = BrokerState()
            journal.flush()
            with collector_paused():
                loaded, start = load_checkpointed(journal, markets)
                entries = ((e.kind, e.body) for e in loaded.entries)
                book, floors = replay(entries, markets, start=start)
            book.prices.update(old.prices)  # market data, not state: the latest mids carry over
            book.price_ms.update(old.price_ms)  # with when each was seen
            self._trade_floor.update(floors)
            self.book = book
            self.rebuilds += 1
            return True


class OwnedJournal:
    """The journal as one broker instance sees it: writable only while that instance owns
    the book (``BrokerMemory.owner``). A replaced instance that wakes up mid-handler fails
    at its next write instead of changing what recovery will replay."""

    def __init__(self, journal: Journal, memory: BrokerMemory, generation: int) -> None:
        self._journal = journal
        self._memory = memory
        self._generation = generation

    def append(self, kind: str, body: dict[str, Any], *, durable: bool = False) -> None:
        if self._memory.owner != self._generation:
            raise StaleInstance(
                f"broker generation {self._generation} replaced by {self._memory.owner}"
            )
        self._journal.append(kind, body, durable=durable)
