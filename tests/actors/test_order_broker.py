"""The order broker's handlers, one message at a time: no supervisor, no timers, no other
actor. The broker is built as the supervisor builds it, its handlers are called directly
on the test's thread, a real journal and trail sit in a temporary folder, a real adapter
talks to the simulator, the clocks are the test's, and what the broker tells the breaker,
the audit logger and itself (the wire's answers) is caught by recording actors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
import pytest

import actors.order_broker.broker as broker_module
import actors.order_broker.fill_evidence as fill_evidence_module
import actors.order_broker.intake as intake_module
import actors.order_broker.reports as reports_module
import runtime.clock as runtime_clock
from actors.breaker import BreakerMemory
from actors.order_broker import BrokerMemory, OrderBroker
from assembly.recovery import recover
from config.settings import VigilSettings
from domain.admission import Refusal
from domain.book import Market, OrderState
from domain.breaker_rules import EvidenceKind
from domain.evidence import Signal
from exchange.binance import BinanceSpotAdapter, parse
from exchange.contract import AccountPosition, Balance, ExecutionReport, OrderStatus
from runtime.actor import ActorContext, Services
from runtime.directory import Directory
from runtime.gate import TradingGate
from runtime.messages import (
    AccountEvent,
    BreakerEvidence,
    BreakerInput,
    BreakerSample,
    Message,
    OrderAbsent,
    OrderEvent,
    OrderIntent,
    OrderSnapshot,
    SendOutcome,
    SendResult,
    StatusRequest,
)
from runtime.trace import MessageTrace
from storage import AuditTrail, Store
from tests.conftest import SimHandle, wait_for
from tests.exchange.adapter_helpers import adapter_config
from tests.runtime.test_trace import FILL

MARKETS = {"BTCUSDT": Market("BTCUSDT", "BTC", "USDT"), "ETHUSDT": Market("ETHUSDT", "ETH", "USDT")}


class Recording(pykka.ThreadingActor):
    """Stands in for another actor: keeps every message it is told."""

    def __init__(self, into: list[Message]) -> None:
        super().__init__()
        self.into = into

    def on_receive(self, message: Any) -> Any:
        self.into.append(message)
        return None


@dataclass
class Clock:
    """The broker's clocks, moved by the test."""

    wall_ms: int = 1_750_000_000_000
    mono_ms: int = 1_000_000

    def step(self, ms: int) -> None:
        self.wall_ms += ms
        self.mono_ms += ms


@dataclass
class Harness:
    broker: OrderBroker
    memory: BrokerMemory
    gate: TradingGate
    sim: SimHandle
    clock: Clock
    told: list[Message] = field(default_factory=list)
    refs: list[pykka.ActorRef[Any]] = field(default_factory=list)

    def intent(self, **fields: Any) -> OrderIntent:
        values: dict[str, Any] = {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "MARKET",
            "quantity": Decimal("0.001"),
            "source": "test",
        }
        values.update(fields)
        return OrderIntent(**values)

    def outcome(self, cid: str) -> SendOutcome:
        """The wire's answer for ``cid`` (the wire tells the broker; here, the recorder)."""
        found: list[SendOutcome] = []

        def arrived() -> bool:
            found[:] = [
                m for m in self.told if isinstance(m, SendOutcome) and m.client_order_id == cid
            ]
            return bool(found)

        wait_for(arrived, timeout=5)
        return found[0]

    def evidence(self, kind: EvidenceKind) -> list[BreakerInput | BreakerSample | Signal]:
        """Every piece of evidence of ``kind`` the breaker was told, alone or in a batch."""
        pieces: list[BreakerInput | BreakerSample | Signal] = []
        for m in list(self.told):
            if isinstance(m, BreakerEvidence):
                pieces.extend(m.signals)
            elif isinstance(m, BreakerInput | BreakerSample):
                pieces.append(m)
        return [p for p in pieces if p.kind == kind]

    def on_exchange(self, cid: str) -> int:
        return sum(1 for o in self.sim.state()["orders"] if o["clientOrderId"] == cid)


def start_broker(
    data_dir: Path, sim: SimHandle, clock: Clock, generation: int = 1, **settings: Any
) -> tuple[OrderBroker, BrokerMemory, TradingGate, list[Message], list[Any]]:
    vigil_settings = VigilSettings(data_dir=data_dir, **settings)
    store = Store(data_dir / "vigil.db")
    trail = AuditTrail(data_dir / "audit.db")
    gate = TradingGate(store, reconciliation_max_age_s=600)
    recovered = recover(
        data_dir, MARKETS, store=store, trail=trail, gate=gate, on_failure=lambda reason: None
    )
    adapter = BinanceSpotAdapter(adapter_config(sim))
    told: list[Message] = []
    directory = Directory()
    refs = []
    for name in ("breaker", "audit_logger", "order_broker"):
        ref = Recording.start(told)
        directory.register(name, ref)
        refs.append(ref)
    breaker = BreakerMemory()
    services = Services(
        settings=vigil_settings,
        adapter=adapter,
        store=store,
        journal=recovered.journal,
        trail=trail,
        data_dir=data_dir,
        markets=MARKETS,
        book=recovered.memory,
        board=lambda: breaker.board,
    )
    ctx = ActorContext(directory, gate, MessageTrace(None), services, lambda *a: None)
    broker = OrderBroker(ctx, generation, recovered.memory)
    broker.started()
    broker.ensure_opened()  # the opening: the exchange's balances, as the reconciler asks
    broker.book.set_price("BTCUSDT", Decimal("60000"), clock.mono_ms)
    return broker, recovered.memory, gate, told, [*refs, adapter, recovered.journal, trail, store]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    for module in (broker_module, intake_module, reports_module, fill_evidence_module):
        monkeypatch.setattr(module, "now_ms", lambda: c.wall_ms)
        monkeypatch.setattr(module, "mono_ms", lambda: c.mono_ms)
    return c


def healthy(gate: TradingGate, clock: Clock) -> None:
    """The evidence the gate wants before trading: a HEALTHY reconciliation, just now (on
    the gate's own clocks: the test's clock is the broker's)."""
    gate.record_reconciliation("HEALTHY", runtime_clock.now_ms(), runtime_clock.mono_ms())


@pytest.fixture
def harness(tmp_path: Path, sim: SimHandle, clock: Clock) -> Iterator[Harness]:
    broker, memory, gate, told, owned = start_broker(tmp_path, sim, clock)
    healthy(gate, clock)
    h = Harness(broker, memory, gate, sim, clock, told)
    try:
        yield h
    finally:
        broker.stopping()
        for thing in owned:
            if isinstance(thing, pykka.ActorRef):
                thing.stop()
            else:
                thing.close()


def test_an_accepted_intent_is_journaled_before_it_is_sent_and_booked_on_its_ack(
    harness: Harness,
) -> None:
    decision = harness.broker.on_intent(harness.intent(client_order_id="buy-1"))
    assert decision.accepted and decision.refusal is None
    order = harness.memory.book.orders["buy-1"]
    assert order.state is OrderState.PENDING_NEW
    entries = harness.broker.ctx.services.journal.load()
    intent = [e for e in entries if e.kind == "intent"]
    assert [e.body["client_order_id"] for e in intent] == ["buy-1"]
    assert intent[0].body["gates"][-2:] == ["breaker", "market_impact"]
    outcome = harness.outcome("buy-1")
    assert outcome.outcome is SendResult.ACKED
    harness.broker.on_send_outcome(outcome)
    assert order.state is OrderState.FILLED and order.executed_qty == Decimal("0.001")
    assert harness.on_exchange("buy-1") == 1
    assert harness.memory.counters["accepted"] == harness.memory.counters["sent"] == 1


def test_a_client_order_id_already_in_the_book_is_refused_and_not_sent_again(
    harness: Harness,
) -> None:
    assert harness.broker.on_intent(harness.intent(client_order_id="once")).accepted
    harness.broker.on_send_outcome(harness.outcome("once"))
    again = harness.broker.on_intent(harness.intent(client_order_id="once"))
    assert not again.accepted and again.refusal is Refusal.DUPLICATE
    assert "already in the book" in again.reason
    assert harness.on_exchange("once") == 1


def test_red_refuses_at_admission_and_nothing_reaches_the_exchange(harness: Harness) -> None:
    harness.gate.trip_red("drill", "test")
    refused = harness.broker.on_intent(harness.intent(client_order_id="while-red"))
    assert not refused.accepted and refused.refusal is Refusal.BREAKER
    assert "RED" in refused.reason
    assert "while-red" not in harness.memory.book.orders
    assert harness.on_exchange("while-red") == 0


def test_a_policy_refusal_names_the_limit(harness: Harness) -> None:
    refused = harness.broker.on_intent(harness.intent(quantity=Decimal("1")))  # 60,000 USDT
    assert not refused.accepted and refused.refusal is Refusal.POLICY
    assert "max_order_notional" in refused.reason or "notional" in refused.reason


def test_an_unknown_outcome_is_never_resent_and_is_marked_absent_only_after_its_window(
    harness: Harness,
) -> None:
    harness.sim.arm("lost_response", count=1, params={})
    decision = harness.broker.on_intent(harness.intent(client_order_id="lost"))
    assert decision.accepted
    outcome = harness.outcome("lost")
    assert outcome.outcome is SendResult.UNKNOWN
    harness.broker.on_send_outcome(outcome)
    order = harness.memory.book.orders["lost"]
    assert order.state is OrderState.UNKNOWN
    gauge = lambda: harness.evidence(EvidenceKind.UNKNOWN_ORDERS)  # noqa: E731
    wait_for(lambda: gauge() and gauge()[-1].value == Decimal(1))  # type: ignore[union-attr]
    wait_for(lambda: harness.evidence(EvidenceKind.UNKNOWN_OUTCOME))
    # the exchange answers "no such order": not believed before the window has passed
    window_ms = int(harness.broker.settings.broker.unknown_window_s * 1000)
    harness.broker.on_order_absent(OrderAbsent(symbol="BTCUSDT", client_order_id="lost"))
    assert order.state is OrderState.UNKNOWN
    harness.clock.step(window_ms)
    harness.broker.on_order_absent(OrderAbsent(symbol="BTCUSDT", client_order_id="lost"))
    # (the lost response's order did reach the simulator; the test asserts the broker's
    # rule, not the exchange: the poller would have found it by client order id first)
    assert order.state is OrderState.REJECTED
    assert harness.on_exchange("lost") == 1  # sent once, never again


def test_a_restarted_broker_starts_from_the_journal_with_fresh_working_state(
    tmp_path: Path, sim: SimHandle, clock: Clock
) -> None:
    broker, memory, gate, _, owned = start_broker(tmp_path, sim, clock)
    healthy(gate, clock)
    try:
        intent = OrderIntent(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.001"))
        accepted = broker.on_intent(intent)
        assert accepted.accepted and accepted.client_order_id is not None
        memory.state.unknown_since["left-behind"] = clock.mono_ms  # the failed one's memory
        memory.book.orders["left-behind"] = memory.book.orders[next(iter(memory.book.orders))]
        replaced = memory.book
        successor = OrderBroker(broker.ctx, 2, memory)
        successor.started()
        assert memory.owner == 2 and memory.rebuilds == 1
        assert memory.book is not replaced and "left-behind" not in memory.book.orders
        # its only working state is what the journal says: the intent it replays had no
        # answer in the journal, so it is UNKNOWN (to be resolved by query), nothing else
        assert set(memory.state.unknown_since) == {accepted.client_order_id}
        assert memory.counters["intents"] == 0
        assert len(memory.book.orders) == 1  # the journaled intent, replayed
        successor.stopping()
    finally:
        broker.stopping()
        for thing in owned:
            if isinstance(thing, pykka.ActorRef):
                thing.stop()
            else:
                thing.close()


def test_the_wire_of_a_replaced_instance_sends_nothing(harness: Harness) -> None:
    harness.memory.owner = 99  # another instance owns the book now
    from exchange.contract import OrderRequest

    request = OrderRequest(
        symbol="BTCUSDT",
        side="BUY",  # type: ignore[arg-type]
        type="MARKET",  # type: ignore[arg-type]
        quantity=Decimal("0.001"),
        client_order_id="zombie",
    )
    harness.broker.wire._send(request, "zombie")
    assert harness.outcome("zombie").outcome is SendResult.REFUSED
    assert harness.on_exchange("zombie") == 0


def status_of(cid: str, order_id: int, state: str, executed: str) -> OrderStatus:
    return OrderStatus(
        symbol="BTCUSDT",
        order_id=order_id,
        client_order_id=cid,
        side="BUY",  # type: ignore[arg-type]
        type="LIMIT",  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        price=Decimal("50000"),
        orig_qty=Decimal("0.01"),
        executed_qty=Decimal(executed),
        cumulative_quote_qty=Decimal(executed) * 50000,
    )


def incidents(harness: Harness, kind: str) -> list[dict[str, Any]]:
    return [i for i in harness.broker.ctx.services.store.incidents() if i["kind"] == kind]


def test_a_fill_reported_for_an_order_already_cancelled_is_an_impossible_report(
    harness: Harness,
) -> None:
    intent = harness.intent(type="LIMIT", price=Decimal("58000"), quantity=Decimal("0.01"))
    decision = harness.broker.on_intent(intent)
    assert decision.accepted and decision.client_order_id is not None
    cid = decision.client_order_id
    outcome = harness.outcome(cid)
    harness.broker.on_send_outcome(outcome)
    order = harness.memory.book.orders[cid]
    assert order.state is OrderState.NEW and order.order_id is not None
    harness.broker.on_order_snapshot(
        OrderSnapshot(status=status_of(cid, order.order_id, "CANCELED", "0"))
    )
    assert not harness.evidence(EvidenceKind.IMPOSSIBLE_REPORT)
    # the exchange now says the cancelled order filled: it cannot be, and the book stays put
    harness.broker.on_order_snapshot(
        OrderSnapshot(status=status_of(cid, order.order_id, "FILLED", "0.01"))
    )
    assert order.state is OrderState.CANCELED and order.executed_qty == 0
    wait_for(lambda: harness.evidence(EvidenceKind.IMPOSSIBLE_REPORT))
    (incident,) = incidents(harness, "impossible_report")
    assert cid in incident["reason"] and "fill after terminal" in incident["reason"]


def test_filled_more_than_ordered_is_an_impossible_report(harness: Harness) -> None:
    intent = harness.intent(type="LIMIT", price=Decimal("58000"), quantity=Decimal("0.01"))
    decision = harness.broker.on_intent(intent)
    assert decision.client_order_id is not None
    cid = decision.client_order_id
    harness.broker.on_send_outcome(harness.outcome(cid))
    order_id = harness.memory.book.orders[cid].order_id
    assert order_id is not None
    harness.broker.on_order_snapshot(
        OrderSnapshot(status=status_of(cid, order_id, "PARTIALLY_FILLED", "0.02"))
    )
    wait_for(lambda: harness.evidence(EvidenceKind.IMPOSSIBLE_REPORT))
    (incident,) = incidents(harness, "impossible_report")
    assert "executed 0.02 > 0.01" in incident["reason"]


def test_a_negative_balance_from_the_exchange_is_an_impossible_report(harness: Harness) -> None:
    event = AccountPosition(
        event_time_ms=1,
        update_time_ms=1,
        balances=(Balance(asset="USDT", free=Decimal("-1"), locked=Decimal(0)),),
    )
    harness.broker.on_account(AccountEvent(event=event))
    wait_for(lambda: harness.evidence(EvidenceKind.IMPOSSIBLE_REPORT))
    (incident,) = incidents(harness, "impossible_report")
    assert "USDT" in incident["reason"] and "free -1" in incident["reason"]


@dataclass(frozen=True)
class _Waiting:
    """An envelope in the broker's inbox: another message waits behind the one handled."""

    message: object = None


def test_a_busy_broker_holds_its_samples_and_sends_them_together_but_events_at_once(
    harness: Harness,
) -> None:
    broker = harness.broker
    decision = broker.on_intent(harness.intent(client_order_id="held-1"))
    assert decision.accepted
    outcome = harness.outcome("held-1")
    batches = lambda: [m for m in harness.told if isinstance(m, BreakerEvidence)]  # noqa: E731
    wait_for(lambda: not broker.evidence_out)
    before = len(batches())
    broker.inbox_ref.put(_Waiting())  # the fill's handler ends with a message still waiting
    broker._dispatch(outcome)
    assert harness.memory.book.orders["held-1"].state is OrderState.FILLED
    held = list(broker.evidence_out)
    assert {s.kind for s in held} >= {EvidenceKind.SLIPPAGE_BPS, EvidenceKind.DAILY_LOSS}
    assert all(s.value is not None for s in held)  # samples only: they wait
    assert len(batches()) == before
    # the waiting message handled, the inbox empty: the held samples go, in one message
    broker.inbox_ref.get()
    broker._dispatch(StatusRequest())
    wait_for(lambda: len(batches()) == before + 1)
    assert list(batches()[-1].signals) == held and not broker.evidence_out
    # an event (a report of an order the book never placed) goes at once, however busy
    broker.inbox_ref.put(_Waiting())
    foreign = parse.user_event(
        {**FILL, "c": "not-ours", "i": 999_999, "x": "NEW", "X": "NEW", "l": "0", "z": "0",
         "Z": "0", "Y": "0", "t": -1}
    )  # fmt: skip
    assert isinstance(foreign, ExecutionReport)
    broker._dispatch(OrderEvent(report=foreign, via="ws"))
    wait_for(lambda: len(batches()) == before + 2)
    assert [s.kind for s in batches()[-1].signals] == [EvidenceKind.UNKNOWN_ORDER]
