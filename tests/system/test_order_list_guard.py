"""Order lists through the broker: what the guard judges of a list, and a list refused whole."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from domain.admission import Refusal
from domain.book import OrderState
from domain.replay import compact_entry
from runtime.messages import IntentDecision, ListDecision, ListLeg, OrderListIntent
from storage.journal import Journal
from tests.conftest import Vigil, wait_for

S = "BTCUSDT"
D = Decimal


def test_an_otos_pending_order_is_judged_by_the_policy_guard(vigil: Vigil) -> None:
    """Found by review: ``actors.order_broker.lists.judged_roles`` judged only an
    OTO's working order ("the pending ones spend what it buys"), but nothing makes the
    pending order spend what the working one buys: its side and quantity are free. A pending
    BUY of 1 BTC (59,000 USDT, over ``policy.max_order_notional`` = 5,000) is refused alone
    and accepted behind a 0.001 BTC working order: the exchange places it, unjudged, the
    moment the working order fills."""
    big = D("1")
    alone: IntentDecision = vigil.submit(side="BUY", type="LIMIT", quantity=str(big), price="59000")
    assert not alone.accepted and "max_order_notional" in alone.reason  # the guard's rule
    intent = OrderListIntent(
        symbol=S,
        list_type="OTO",
        legs=(
            (
                "working",
                ListLeg(type="LIMIT", side="BUY", quantity=D("0.001"), price=D("59000"),
                        time_in_force="GTC"),
            ),
            (
                "pending",
                ListLeg(type="LIMIT", side="BUY", quantity=big, price=D("59000"),
                        time_in_force="GTC"),
            ),
        ),
    )  # fmt: skip
    decision: ListDecision = vigil.system.ask("order_broker", intent)
    assert not decision.accepted, "an unjudged pending order went to the exchange"


def test_a_list_reusing_a_compacted_orders_id_is_refused_whole(
    vigil_factory: Callable[..., Vigil], tmp_path: Path
) -> None:
    """A regression test (found by review): a list's duplicate check looks at ``book.orders`` only,
    not at the ids of orders compacted away (``Book.knows_id``), as a single intent's does.
    A list whose leg reuses such an id is journaled (durable) and then ``add_list_intent``
    raises half-way: the book keeps the list and its first leg, the caller gets an
    exception, and the journal holds a ``list_intent`` that every later replay fails on."""
    data_dir = tmp_path / "var"
    first = vigil_factory(data_dir=data_dir)
    first.wait_green()
    first.sim.arm("reject_orders")  # x1 is closed at once (REJECTED, nothing to book)
    assert first.submit(
        type="LIMIT", quantity="0.001", price="59000", client_order_id="x1"
    ).accepted
    wait_for(lambda: first.system.book.book.orders["x1"].state is OrderState.REJECTED)
    first.system.stop(cancel_open=False)
    journal = Journal(data_dir / "journal.db")  # as a checkpoint's compaction writes it
    journal.append("compact", compact_entry(["x1"], 0), durable=True)
    journal.close()
    second = vigil_factory(data_dir=data_dir, sim=first.system.simulator)
    second.wait_green()
    assert "x1" in second.system.book.book.compacted.ids
    intent = OrderListIntent(
        symbol=S,
        list_type="OCO",
        legs=(
            ("above", ListLeg(type="LIMIT_MAKER", side="SELL", quantity=D("0.001"),
                              price=D("61000"), client_order_id="fresh")),
            ("below", ListLeg(type="STOP_LOSS_LIMIT", side="SELL", quantity=D("0.001"),
                              price=D("58900"), stop_price=D("59000"), time_in_force="GTC",
                              client_order_id="x1")),
        ),
    )  # fmt: skip
    decision: ListDecision = second.system.ask("order_broker", intent)
    assert not decision.accepted and decision.refusal is Refusal.DUPLICATE
    assert not second.system.book.book.order_lists  # nothing of it in the book
