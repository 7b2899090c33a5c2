"""Order lists through Vigil against the simulator's true state (``GET /_sim/state``): an
OCO placed whole, one order filling and the other expiring; the expiry event lost and REST
recovering it within the grace; a protective bracket refused whole when its legs cross; a
list Vigil did not place turning the breaker RED; and the journal replaying the list."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from domain.book import OrderState
from domain.replay import replay
from runtime.messages import ListDecision, ListLeg, OrderListIntent, StatusRequest
from tests.conftest import Vigil, audited, wait_audited, wait_for

S = "BTCUSDT"
D = Decimal


def sell_oco(
    vigil: Vigil, *, qty: str = "0.01", above: str = "61000", stop: str = "59000"
) -> ListDecision:
    intent = OrderListIntent(
        symbol=S,
        list_type="OCO",
        legs=(
            ("above", ListLeg(type="LIMIT_MAKER", side="SELL", quantity=D(qty), price=D(above))),
            (
                "below",
                ListLeg(
                    type="STOP_LOSS_LIMIT", side="SELL", quantity=D(qty),
                    price=D(stop) - 100, stop_price=D(stop), time_in_force="GTC",
                ),
            ),
        ),
    )  # fmt: skip
    decision: ListDecision = vigil.system.ask("order_broker", intent)
    return decision


def truth(vigil: Vigil) -> dict[str, tuple[str, str]]:
    """The exchange's orders: client order id → (status, executed quantity)."""
    return {
        o["clientOrderId"]: (o["status"], str(D(o["executedQty"]).normalize()))
        for o in vigil.sim.state()["orders"]
    }


def booked(vigil: Vigil, cids: list[str]) -> dict[str, tuple[str, str]]:
    orders = vigil.system.book.book.orders
    return {c: (orders[c].state.value, str(orders[c].executed_qty.normalize())) for c in cids}


def sim_list(vigil: Vigil, list_id: int) -> dict[str, Any]:
    return next(o for o in vigil.sim.state()["order_lists"] if o["orderListId"] == list_id)


def assert_book_equals_truth(vigil: Vigil, decision: ListDecision) -> None:
    legs = [cid for _, cid in decision.legs]
    exchange = truth(vigil)
    assert booked(vigil, legs) == {c: exchange[c] for c in legs}
    book = vigil.system.book.book
    order_list = book.order_lists[str(decision.list_client_order_id)]
    assert order_list.order_list_id is not None
    on_sim = sim_list(vigil, order_list.order_list_id)
    assert order_list.list_order_status == on_sim["listOrderStatus"]
    assert order_list.list_status_type == on_sim["listStatusType"]
    for asset in ("BTC", "USDT"):
        bal = vigil.sim.balance(asset)
        assert book.totals[asset] == D(bal["free"]) + D(bal["locked"]), asset


def legs_of(decision: ListDecision) -> dict[str, str]:
    return dict(decision.legs)


def test_one_leg_fills_and_the_other_expires_the_book_equals_the_exchange(vigil: Vigil) -> None:
    decision = sell_oco(vigil)
    assert decision.accepted, decision.reason
    legs = legs_of(decision)
    book = vigil.system.book.book
    order_list = book.order_lists[str(decision.list_client_order_id)]
    wait_for(lambda: order_list.list_order_status == "EXECUTING", timeout=5)
    wait_for(lambda: all(book.orders[c].state is OrderState.NEW for c in legs.values()), timeout=5)
    assert book.locked() == {"BTC": D("0.01")}  # the pair's quantity once, as the exchange
    assert D(vigil.sim.balance("BTC")["locked"]) == D("0.01")
    vigil.sim.set_price(S, "61100")  # the LIMIT_MAKER fills, the stop loss expires
    wait_for(lambda: order_list.done, timeout=5)
    wait_for(lambda: book.orders[legs["below"]].state is OrderState.EXPIRED, timeout=5)
    wait_for(lambda: book.orders[legs["above"]].fills_booked, timeout=5)
    assert book.orders[legs["above"]].state is OrderState.FILLED
    assert_book_equals_truth(vigil, decision)
    assert order_list.expiry_expected == {}
    assert audited(vigil, "list_expiry_overdue") == []  # the event came: nothing to confirm
    record = audited(vigil, "list_accepted", list_client_order_id=decision.list_client_order_id)
    assert record and record[0]["roles"] == legs
    # the journal gives the same list back
    vigil.system.journal.flush()
    entries = [(e.kind, e.body) for e in vigil.system.journal.load()]
    replayed, _ = replay(entries, book.markets)
    assert replayed.order_lists == book.order_lists
    assert {c: replayed.orders[c].state for c in legs.values()} == {
        c: book.orders[c].state for c in legs.values()
    }
    assert vigil.system.gate.refusal() is None  # still trading: nothing was foreign


def test_a_lost_expiry_is_confirmed_by_rest_after_the_grace(
    vigil_factory: Callable[..., Vigil],
) -> None:
    # the poller's own round is far away: only the grace's confirmation can find it
    vigil = vigil_factory(
        broker={"list_expiry_grace_s": 0.3}, poller={"interval_s": 60, "fast_interval_s": 60}
    )
    vigil.wait_green()
    # quiet: the streams are up (their start-up catch-up polls were asked for) and the
    # poller's last poll (the timer's first) ended a while ago: the next is 60 s away
    wait_for(
        lambda: (
            vigil.system.ask("ws_listener", StatusRequest())["streams"]
            == {"user": "subscribed", "market": "subscribed"}
        ),
        timeout=5,
    )

    def poller_quiet() -> bool:
        last = vigil.system.ask("rest_poller", StatusRequest())["last_poll_ms"]
        return bool(last) and int(time.time() * 1000) - int(last) > 300

    wait_for(poller_quiet, timeout=5)
    vigil.sim.arm("drop_list_expiry")
    decision = sell_oco(vigil)
    assert decision.accepted, decision.reason
    legs = legs_of(decision)
    book = vigil.system.book.book
    order_list = book.order_lists[str(decision.list_client_order_id)]
    wait_for(lambda: all(book.orders[c].state is OrderState.NEW for c in legs.values()), timeout=5)
    vigil.sim.set_price(S, "61100")
    wait_for(lambda: order_list.done, timeout=5)  # listStatus ALL_DONE still comes
    record = wait_audited(vigil, "list_expiry_overdue", timeout=5, client_order_id=legs["below"])
    assert record["waited_ms"] >= 300
    wait_for(lambda: book.orders[legs["below"]].state is OrderState.EXPIRED, timeout=5)
    assert truth(vigil)[legs["below"]] == ("EXPIRED", "0")
    assert_book_equals_truth(vigil, decision)
    assert order_list.expiry_expected == {}
    assert vigil.system.gate.refusal() is None


def test_a_bracket_whose_legs_cross_is_refused_whole(vigil: Vigil) -> None:
    before = len(vigil.sim.state()["orders"])
    decision = sell_oco(vigil, above="58000", stop="59000")
    assert not decision.accepted
    assert "bracket legs cross" in decision.reason
    assert str(decision.list_client_order_id) not in vigil.system.book.book.order_lists
    assert not any(c in vigil.system.book.book.orders for _, c in decision.legs)
    assert len(vigil.sim.state()["orders"]) == before  # nothing reached the exchange
    wait_audited(vigil, "list_refused", list_client_order_id=decision.list_client_order_id)


def test_a_foreign_order_list_turns_the_breaker_red(vigil: Vigil) -> None:
    vigil.sim.client().create_oco_order(
        symbol=S, side="SELL", quantity="0.01", aboveType="LIMIT_MAKER", abovePrice="61000",
        belowType="STOP_LOSS_LIMIT", belowStopPrice="59000", belowPrice="58900",
        belowTimeInForce="GTC", listClientOrderId="someone-else-oco",
    )  # fmt: skip
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=10)
    reason = vigil.system.gate.state.reason
    assert "never placed" in reason or "unknown" in reason.lower(), reason

    # and the reconciliation names the list itself (CRITICAL), not only its orders
    def list_finding() -> list[dict[str, Any]]:
        return [
            f
            for r in audited(vigil, "reconciliation", result="CRITICAL")
            for f in r["findings"]
            if f["kind"] == "unknown_order_list"
        ]

    found = wait_for(list_finding, timeout=10)
    assert "someone-else-oco" in found[0]["detail"]
