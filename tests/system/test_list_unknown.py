"""An order list whose placement answer was lost (the simulator's ``lost_response``: the
list is placed, then the connection dropped with no answer) against the simulator's true
state: the outcome is UNKNOWN, nothing is sent again, and the book re-learns the list's
orderListId and status by REST (``GET /api/v3/orderList`` by its listClientOrderId) and
its orders by their client order ids — the user stream's events lost as well, so REST
is the only way; reconciliation is HEALTHY after."""

from __future__ import annotations

from domain.book import OrderState
from tests.conftest import Vigil, audited, wait_audited, wait_for
from tests.system.test_order_lists import assert_book_equals_truth, sell_oco


def test_a_list_whose_answer_was_lost_is_re_learned_by_rest_never_resent(vigil: Vigil) -> None:
    vigil.wait_green()
    vigil.sim.arm("lost_response", count=1)
    vigil.sim.arm("drop_events", count=1000)  # nor does the user stream tell (no listStatus event)
    decision = sell_oco(vigil)
    assert decision.accepted, decision.reason
    list_cid = str(decision.list_client_order_id)
    legs = [cid for _, cid in decision.legs]
    outcome = wait_audited(vigil, "list_send_outcome", list_client_order_id=list_cid, timeout=5)
    assert outcome["outcome"] == "unknown", outcome

    book = vigil.system.book.book
    order_list = book.order_lists[list_cid]
    resolved = wait_audited(vigil, "list_resolved", list_client_order_id=list_cid, timeout=10)
    assert resolved["via"] == "rest"
    wait_for(lambda: all(book.orders[c].state is OrderState.NEW for c in legs), timeout=10)
    wait_for(lambda: order_list.list_order_status == "EXECUTING", timeout=5)

    vigil.sim.clear()
    # the exchange's true state: the list placed once, its two orders, nothing sent twice
    state = vigil.sim.state()
    ours = [ol for ol in state["order_lists"] if ol["listClientOrderId"] == list_cid]
    assert len(ours) == 1 and len(state["order_lists"]) == 1
    assert sorted(o["clientOrderId"] for o in state["orders"]) == sorted(legs)
    assert order_list.order_list_id == ours[0]["orderListId"]
    assert order_list.list_status_type == ours[0]["listStatusType"]
    assert_book_equals_truth(vigil, decision)
    sent = [
        r
        for r in vigil.system.trail.query(kind="exchange_request", limit=10**5)
        if r.get("operation") == "place_order_list"
    ]
    assert len(sent) <= 1  # (the trail may not have flushed it yet)
    assert audited(vigil, "list_accepted", list_client_order_id=list_cid)
    cycle = vigil.api("POST", "/v1/reconcile", {"timeout_s": 10}).json()
    assert cycle["result"] == "HEALTHY", cycle
    assert not vigil.system.book.state.unknown_since
