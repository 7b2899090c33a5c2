"""The order path the strategy gateway stands on, one broker message at a time (the harness
of ``test_order_broker``): strategies' own order ids, their limits, filter refusals, time in
force and LIMIT_MAKER, one order's cancel and query, and the live ``execution``/``account``
events — asserted on the simulator's true state where the exchange is involved."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors.order_broker import OrderBroker
from domain.admission import Refusal
from domain.book import OrderState
from domain.strategy_limits import StrategyLimits
from exchange.contract import AccountPosition, Balance, BalanceUpdate
from runtime.events import Subscription
from runtime.messages import (
    AccountEvent,
    AuditEvent,
    CancelOrder,
    IntentDecision,
    OrderSnapshot,
    OrdersQuery,
    TradesSeen,
)
from tests.actors import test_order_broker as base
from tests.actors.test_order_broker import Clock, Harness, healthy, start_broker
from tests.conftest import SimHandle, wait_for

clock = base.clock  # the broker harness's fixtures
harness = base.harness

LOW = Decimal("58000")  # a BUY that rests (the mid is 60000)


@pytest.fixture(autouse=True)
def mid(sim: SimHandle) -> None:
    sim.set_price("BTCUSDT", "60000")


def place(h: Harness, **fields: Any) -> IntentDecision:
    """An intent through the broker and its send outcome back (acknowledged or not)."""
    values: dict[str, Any] = {"type": "LIMIT", "price": LOW, "quantity": Decimal("0.001")}
    values.update(fields)
    decision = h.broker.on_intent(h.intent(**values))
    if decision.accepted:
        assert decision.client_order_id is not None
        h.broker.on_send_outcome(h.outcome(decision.client_order_id))
    return decision


def sim_order(h: Harness, cid: str | None) -> dict[str, Any]:
    """The exchange's true view of the order (``GET /_sim/state``)."""
    orders: list[dict[str, Any]] = h.sim.state()["orders"]
    (order,) = [o for o in orders if o["clientOrderId"] == cid]
    return order


def audits(h: Harness, kind: str) -> list[dict[str, Any]]:
    """The audit records of ``kind`` the broker told (waiting for the first to arrive)."""

    def told() -> list[dict[str, Any]]:
        return [m.data for m in list(h.told) if isinstance(m, AuditEvent) and m.kind == kind]

    wait_for(told)
    return told()


def refresh(h: Harness, cid: str) -> None:
    """The exchange's view of the order, as the poller would bring it."""
    order = h.memory.book.orders[cid]
    status = h.broker.adapter.get_order(order.symbol, client_order_id=cid)
    h.broker.on_order_snapshot(OrderSnapshot(status=status))


def executions(sub: Subscription) -> list[dict[str, Any]]:
    return [dict(e.data) for e in sub.drain() if e.kind == "execution"]


# ------------------------------------------------------------------ ids and limits


def test_a_strategy_order_goes_out_under_a_vigil_id_mapped_to_the_strategy_id(
    harness: Harness,
) -> None:
    one = place(harness, strategy="bot1", strategy_order_id="my-1")
    two = place(harness, strategy="bot2", strategy_order_id="my-1")  # the same id: no clash
    assert one.accepted and two.accepted
    assert one.client_order_id != two.client_order_id
    for decision, strategy in ((one, "bot1"), (two, "bot2")):
        cid = decision.client_order_id
        assert cid is not None and cid.startswith("vgl-") and decision.strategy_order_id == "my-1"
        order = harness.memory.book.orders[cid]
        assert (order.strategy, order.strategy_order_id) == (strategy, "my-1")
        assert order.time_in_force == "GTC"
        assert harness.memory.book.find_strategy(strategy, "my-1") is order
        assert sim_order(harness, cid)["status"] == "NEW"  # what the exchange holds
    entries = [e.body for e in harness.broker.ctx.services.journal.load() if e.kind == "intent"]
    assert [(e["strategy"], e["strategy_order_id"]) for e in entries] == [
        ("bot1", "my-1"),
        ("bot2", "my-1"),
    ]
    generated = place(harness, strategy="bot1")
    assert generated.strategy_order_id is not None and len(generated.strategy_order_id) == 22


def test_a_second_order_with_an_open_strategy_id_is_a_duplicate_and_not_sent(
    harness: Harness,
) -> None:
    first = place(harness, strategy="bot1", strategy_order_id="dup")
    again = harness.broker.on_intent(
        harness.intent(type="LIMIT", price=LOW, strategy="bot1", strategy_order_id="dup")
    )
    assert not again.accepted and again.refusal is Refusal.DUPLICATE
    assert "dup is still open" in again.reason
    (refused,) = audits(harness, "intent_refused")
    assert refused["strategy"] == "bot1" and refused["strategy_order_id"] == "dup"
    assert len(harness.sim.state()["open_orders"]) == 1
    # once the first is finished the id may be used again; queries find the newest
    assert first.client_order_id is not None
    cancel = harness.broker.on_cancel(
        CancelOrder(symbol="BTCUSDT", strategy="bot1", strategy_order_id="dup")
    )
    assert cancel.accepted
    wait_for(lambda: sim_order(harness, first.client_order_id)["status"] == "CANCELED")
    refresh(harness, first.client_order_id)
    reused = place(harness, strategy="bot1", strategy_order_id="dup")
    assert reused.accepted and reused.client_order_id != first.client_order_id
    (found,) = harness.broker.on_orders_query(OrdersQuery(strategy="bot1", strategy_order_id="dup"))
    assert found["client_order_id"] == reused.client_order_id


@pytest.mark.parametrize(
    ("limits", "fields", "reason"),
    [
        (
            StrategyLimits(symbols=frozenset({"ETHUSDT"})),
            {},
            "strategy bot1: symbol BTCUSDT not allowed",
        ),
        (
            StrategyLimits(max_order_notional=Decimal("50")),
            {"quantity": Decimal("0.001")},  # 58 USDT
            "strategy bot1: max_order_notional 50 < 58",
        ),
    ],
)
def test_strategy_limits_stack_on_the_policy(
    harness: Harness, limits: StrategyLimits, fields: dict[str, Any], reason: str
) -> None:
    refused = place(harness, strategy="bot1", strategy_limits=limits, **fields)
    assert not refused.accepted and refused.refusal is Refusal.POLICY
    assert refused.reason == reason
    (record,) = audits(harness, "intent_refused")
    assert record["strategy"] == "bot1" and record["refusal"] == "policy"
    assert harness.sim.state()["orders"] == []


def test_max_open_orders_counts_only_that_strategys_open_orders(harness: Harness) -> None:
    limits = StrategyLimits(max_open_orders=2)
    assert place(harness, strategy="bot1", strategy_limits=limits).accepted
    assert place(harness, strategy="bot2").accepted  # another strategy's: not counted
    assert place(harness, strategy="bot1", strategy_limits=limits).accepted
    third = place(harness, strategy="bot1", strategy_limits=limits)
    assert not third.accepted and third.reason == "strategy bot1: max_open_orders 2 reached"
    assert len(harness.sim.state()["open_orders"]) == 3


def test_an_exchange_filter_failure_is_its_own_refusal(harness: Harness) -> None:
    refused = place(harness, quantity=Decimal("0.000001"))  # below the lot's minimum
    assert not refused.accepted and refused.refusal is Refusal.FILTER
    assert refused.reason.startswith("policy: filters:")
    too_big = place(harness, quantity=Decimal("1"))  # a limit of ours, not the exchange's
    assert too_big.refusal is Refusal.POLICY
    assert harness.sim.state()["orders"] == []


def test_a_restart_keeps_the_strategy_ids(tmp_path: Path, sim: SimHandle, clock: Clock) -> None:
    broker, memory, gate, told, owned = start_broker(tmp_path, sim, clock)
    healthy(gate, clock)
    successor: OrderBroker | None = None
    try:
        h = Harness(broker, memory, gate, sim, clock, told)
        placed = place(h, strategy="bot1", strategy_order_id="keep-me", time_in_force="GTC")
        assert placed.accepted and placed.client_order_id is not None
        successor = OrderBroker(broker.ctx, 2, memory)
        successor.started()  # a new instance: the book is rebuilt from the journal alone
        order = memory.book.find_strategy("bot1", "keep-me")
        assert order is not None and order.client_order_id == placed.client_order_id
        assert (order.strategy, order.time_in_force, order.state) == ("bot1", "GTC", OrderState.NEW)
        cancel = successor.on_cancel(
            CancelOrder(symbol="BTCUSDT", strategy="bot1", strategy_order_id="keep-me")
        )
        assert cancel.accepted and cancel.client_order_id == placed.client_order_id
        wait_for(lambda: sim_order(h, placed.client_order_id)["status"] == "CANCELED")
    finally:
        if successor is not None:
            successor.stopping()
        broker.stopping()
        for thing in owned:
            thing.stop() if isinstance(thing, pykka.ActorRef) else thing.close()


# ------------------------------------------------------------------ time in force


def test_an_ioc_limit_that_does_not_cross_expires(harness: Harness) -> None:
    decision = place(harness, time_in_force="IOC")
    assert decision.accepted and decision.client_order_id is not None
    cid = decision.client_order_id
    assert sim_order(harness, cid)["timeInForce"] == "IOC"
    assert sim_order(harness, cid)["status"] == "EXPIRED"
    assert harness.memory.book.orders[cid].state is OrderState.EXPIRED


def test_fok_fills_whole_or_expires(harness: Harness) -> None:
    rests = place(harness, time_in_force="FOK")
    crosses = place(harness, time_in_force="FOK", price=Decimal("61000"))
    assert rests.client_order_id is not None and crosses.client_order_id is not None
    assert sim_order(harness, rests.client_order_id)["status"] == "EXPIRED"
    assert sim_order(harness, crosses.client_order_id)["status"] == "FILLED"
    book = harness.memory.book.orders
    assert book[rests.client_order_id].state is OrderState.EXPIRED
    assert book[crosses.client_order_id].state is OrderState.FILLED


def test_a_limit_maker_that_would_cross_is_rejected_by_the_exchange(harness: Harness) -> None:
    sub = harness.broker.ctx.services.events.subscribe()
    crossing = place(harness, type="LIMIT_MAKER", price=Decimal("61000"))
    resting = place(harness, type="LIMIT_MAKER")
    assert crossing.accepted and crossing.client_order_id is not None
    assert resting.client_order_id is not None
    book = harness.memory.book.orders
    assert book[crossing.client_order_id].state is OrderState.REJECTED
    assert book[resting.client_order_id].state is OrderState.NEW
    assert book[resting.client_order_id].time_in_force is None
    sim_cids = {o["clientOrderId"]: o for o in harness.sim.state()["orders"]}
    assert crossing.client_order_id not in sim_cids
    assert sim_cids[resting.client_order_id]["type"] == "LIMIT_MAKER"
    rejected = [e for e in executions(sub) if e["execution_type"] == "REJECTED"]
    assert [e["client_order_id"] for e in rejected] == [crossing.client_order_id]
    assert "immediately match" in rejected[0]["reject_reason"]


def test_time_in_force_is_for_a_limit_only(harness: Harness) -> None:
    refused = place(harness, type="LIMIT_MAKER", time_in_force="IOC")
    assert refused.refusal is Refusal.POLICY and "takes no time_in_force" in refused.reason
    bad = place(harness, time_in_force="GTD")
    assert bad.refusal is Refusal.POLICY and "time_in_force GTD not allowed" in bad.reason


# ------------------------------------------------------------------ cancel


def test_a_cancel_is_journaled_audited_and_sent(harness: Harness) -> None:
    placed = place(harness, strategy="bot1", strategy_order_id="c1")
    cid = placed.client_order_id
    assert cid is not None
    decision = harness.broker.on_cancel(
        CancelOrder(symbol="BTCUSDT", strategy="bot1", strategy_order_id="c1", reason="done")
    )
    assert decision.accepted and decision.found and decision.client_order_id == cid
    (entry,) = [
        e.body for e in harness.broker.ctx.services.journal.load() if e.kind == "cancel_requested"
    ]
    assert entry["client_order_id"] == cid and entry["strategy"] == "bot1"
    (record,) = audits(harness, "cancel_requested")
    assert record["strategy"] == "bot1" and record["reason"] == "done"
    wait_for(lambda: sim_order(harness, cid)["status"] == "CANCELED")
    refresh(harness, cid)
    assert harness.memory.book.orders[cid].state is OrderState.CANCELED
    again = harness.broker.on_cancel(CancelOrder(symbol="BTCUSDT", client_order_id=cid))
    assert not again.accepted and again.found and "already CANCELED" in again.reason


def test_a_cancel_finds_nothing_of_another_strategy_or_an_unknown_id(harness: Harness) -> None:
    placed = place(harness, strategy="bot1", strategy_order_id="mine")
    cid = placed.client_order_id
    assert cid is not None
    for message in (
        CancelOrder(symbol="BTCUSDT", strategy="bot2", strategy_order_id="mine"),
        CancelOrder(symbol="BTCUSDT", strategy="bot2", client_order_id=cid),
        CancelOrder(symbol="ETHUSDT", client_order_id=cid),
        CancelOrder(symbol="BTCUSDT", client_order_id="nobody"),
    ):
        decision = harness.broker.on_cancel(message)
        assert not decision.accepted and not decision.found and decision.client_order_id is None
    by_exchange_id = harness.memory.book.orders[cid].order_id
    found = harness.broker.on_cancel(
        CancelOrder(symbol="BTCUSDT", strategy="bot1", order_id=by_exchange_id)
    )
    assert found.accepted
    wait_for(lambda: sim_order(harness, cid)["status"] == "CANCELED")


def test_a_cancel_before_the_exchange_answered_is_refused(harness: Harness) -> None:
    decision = harness.broker.on_intent(harness.intent(type="LIMIT", price=LOW))
    cid = decision.client_order_id
    assert cid is not None  # the wire's answer is not applied yet: PENDING_NEW
    refused = harness.broker.on_cancel(CancelOrder(symbol="BTCUSDT", client_order_id=cid))
    assert not refused.accepted and refused.found
    assert "no answer from the exchange yet" in refused.reason


def test_a_cancel_is_allowed_while_red(harness: Harness) -> None:
    placed = place(harness)
    cid = placed.client_order_id
    assert cid is not None
    harness.gate.trip_red("drill", "test")
    decision = harness.broker.on_cancel(CancelOrder(symbol="BTCUSDT", client_order_id=cid))
    assert decision.accepted
    wait_for(lambda: sim_order(harness, cid)["status"] == "CANCELED")


# ------------------------------------------------------------------ queries and events


def test_orders_query_answers_plain_dicts_with_fills(harness: Harness) -> None:
    market = place(harness, type="MARKET", price=None, strategy="bot1", strategy_order_id="m1")
    native = place(harness)
    assert market.accepted and native.accepted
    (order,) = harness.broker.on_orders_query(OrdersQuery(strategy="bot1", with_fills=True))
    assert order["strategy_order_id"] == "m1" and order["state"] == "FILLED"
    exchange = sim_order(harness, order["client_order_id"])
    assert order["order_id"] == exchange["orderId"]
    assert Decimal(order["executed_qty"]) == Decimal(exchange["executedQty"])
    fills = order["fills"]
    assert fills and sum(Decimal(f["qty"]) for f in fills) == Decimal(exchange["executedQty"])
    sim_trades = {t["id"] for t in harness.sim.state()["trades"]}
    assert {f["trade_id"] for f in fills} <= sim_trades
    assert all(f["is_buyer"] and isinstance(f["price"], str) for f in fills)
    (only_native,) = harness.broker.on_orders_query(OrdersQuery(strategy=""))
    assert only_native["client_order_id"] == native.client_order_id
    assert "fills" not in only_native and only_native["time_in_force"] == "GTC"
    (still_open,) = harness.broker.on_orders_query(OrdersQuery(open_only=True))
    assert still_open["client_order_id"] == native.client_order_id
    every = harness.broker.on_orders_query(OrdersQuery())
    assert [o["client_order_id"] for o in every] == [
        market.client_order_id,
        native.client_order_id,
    ]


def test_execution_events_come_once_per_change_whichever_path_reports_it(
    harness: Harness,
) -> None:
    sub = harness.broker.ctx.services.events.subscribe()
    market = place(harness, type="MARKET", price=None, strategy="bot1", strategy_order_id="e1")
    cid = market.client_order_id
    assert cid is not None
    events = executions(sub)
    assert events[0]["execution_type"] == "NEW"  # as Binance tells it: NEW, then each TRADE
    assert all(e["execution_type"] == "TRADE" for e in events[1:])
    trades = [e for e in events if e["execution_type"] == "TRADE"]
    exchange_trades = [
        t
        for t in harness.sim.state()["trades"]
        if t["orderId"] == sim_order(harness, cid)["orderId"]
    ]
    assert len(trades) == len(exchange_trades) >= 1
    assert {e["trade_id"] for e in trades} == {t["id"] for t in exchange_trades}
    last = trades[-1]
    assert last["state"] == "FILLED" and last["strategy"] == "bot1"
    assert last["strategy_order_id"] == "e1" and Decimal(last["last_qty"]) > 0
    assert Decimal(last["executed_qty"]) == Decimal("0.001")
    # the same order and trades again, by REST: nothing changes, nothing is published
    refresh(harness, cid)
    rest_trades = harness.broker.adapter.get_trades("BTCUSDT")
    harness.broker.on_trades(TradesSeen(symbol="BTCUSDT", trades=tuple(rest_trades)))
    assert executions(sub) == []
    # a cancel: CANCELED once, though the exchange's view is applied twice
    resting = place(harness)
    assert resting.client_order_id is not None
    assert harness.broker.on_cancel(
        CancelOrder(symbol="BTCUSDT", client_order_id=resting.client_order_id)
    ).accepted
    wait_for(lambda: sim_order(harness, resting.client_order_id)["status"] == "CANCELED")
    refresh(harness, resting.client_order_id)
    refresh(harness, resting.client_order_id)
    kinds = [(e["client_order_id"], e["execution_type"]) for e in executions(sub)]
    assert kinds == [(resting.client_order_id, "NEW"), (resting.client_order_id, "CANCELED")]


def test_account_events_are_published_as_booked(harness: Harness) -> None:
    sub = harness.broker.ctx.services.events.subscribe()
    position = AccountPosition(
        event_time_ms=5,
        update_time_ms=4,
        balances=(Balance(asset="USDT", free=Decimal("10.50"), locked=Decimal(1)),),
    )
    update = BalanceUpdate(event_time_ms=7, asset="BTC", delta=Decimal("-0.5"), clear_time_ms=6)
    harness.broker.on_account(AccountEvent(event=position))
    harness.broker.on_account(AccountEvent(event=update))
    got = [dict(e.data) for e in sub.drain() if e.kind == "account"]
    assert got == [
        {
            "event": "outboundAccountPosition",
            "event_ms": 5,
            "update_ms": 4,
            "balances": [{"asset": "USDT", "free": "10.5", "locked": "1"}],
        },
        {"event": "balanceUpdate", "event_ms": 7, "asset": "BTC", "delta": "-0.5", "clear_ms": 6},
    ]
