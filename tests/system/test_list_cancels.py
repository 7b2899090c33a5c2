"""Cancelling an order list's legs against the simulator's true state (``GET /_sim/state``):
the exchange cancels a whole list when one of its orders is cancelled, so Vigil's own
cancels (emergency flatten, cancel-on-RED, stale-order cleanup) send one cancel per open
list — never a second one to a sibling the first already ended, which the exchange could
only refuse (-2011, unknown order) — and end with the whole list gone."""

from __future__ import annotations

from collections.abc import Callable

from domain.book import OrderState
from runtime.messages import ListDecision
from tests.conftest import Vigil, audited, wait_audited, wait_for
from tests.system.test_order_lists import sell_oco, sim_list


def placed_oco(vigil: Vigil) -> tuple[ListDecision, list[str], int]:
    """An OCO resting on the exchange (both legs NEW in the book); its legs and list id."""
    decision = sell_oco(vigil)
    assert decision.accepted, decision.reason
    legs = [cid for _, cid in decision.legs]
    book = vigil.system.book.book
    order_list = book.order_lists[str(decision.list_client_order_id)]
    wait_for(lambda: order_list.list_order_status == "EXECUTING", timeout=5)
    wait_for(lambda: all(book.orders[c].state is OrderState.NEW for c in legs), timeout=5)
    assert order_list.order_list_id is not None
    return decision, legs, order_list.order_list_id


def assert_list_cancelled_whole(vigil: Vigil, legs: list[str], list_id: int) -> None:
    book = vigil.system.book.book
    wait_for(lambda: all(book.orders[c].state is OrderState.CANCELED for c in legs), timeout=5)
    state = vigil.sim.state()
    assert state["open_orders"] == []
    assert {o["clientOrderId"]: o["status"] for o in state["orders"] if o["clientOrderId"] in legs}
    assert all(o["status"] == "CANCELED" for o in state["orders"] if o["clientOrderId"] in legs)
    on_sim = sim_list(vigil, list_id)
    assert (on_sim["listOrderStatus"], on_sim["listStatusType"]) == ("ALL_DONE", "ALL_DONE")
    assert audited(vigil, "cancel_failed") == []  # no cancel the exchange had to refuse
    journaled = [e.body for e in vigil.system.journal.load() if e.kind == "cancel_requested"]
    assert len([j for j in journaled if j["client_order_id"] in legs]) <= 1


def test_flatten_with_an_open_oco_cancels_it_whole_and_reports_no_error(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = vigil_factory(broker={"cancel_on_red": False})  # the flatten's own cancels
    vigil.wait_green()
    _, legs, list_id = placed_oco(vigil)
    assert vigil.api("POST", "/v1/halt", {"reason": "drill"}).status_code == 200
    resp = vigil.api("POST", "/v1/flatten", {"confirm": True, "reason": "drill flatten"})
    report = resp.json()
    assert resp.status_code == 200, report
    assert report["ok"] is True and report["errors"] == [], report
    assert sorted((o["client_order_id"], o["state"]) for o in report["cancelled"]) == sorted(
        (c, "CANCELED") for c in legs
    )
    assert_list_cancelled_whole(vigil, legs, list_id)
    sent = audited(vigil, "flatten_cancel")
    assert len(sent) == 1 and sent[0]["client_order_id"] in legs


def test_cancel_on_red_cancels_an_open_oco_once_and_does_not_retry(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = vigil_factory(broker={"cancel_on_red": True})
    vigil.wait_green()
    _, legs, list_id = placed_oco(vigil)
    assert vigil.api("POST", "/v1/halt", {"reason": "drill"}).status_code == 200
    assert_list_cancelled_whole(vigil, legs, list_id)
    duty = vigil.system.book.state.cancel_duty
    wait_for(lambda: duty.attempts == {}, timeout=10)  # the duty is done: no retry
    assert len(audited(vigil, "cancel_on_red")) == 1


def test_a_stale_oco_is_cancelled_whole(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = vigil_factory(policy={"max_order_age_s": 1.0})
    vigil.wait_green()
    decision, legs, list_id = placed_oco(vigil)
    record = wait_audited(vigil, "stale_order_cancelled", timeout=10)
    assert record["client_order_id"] in legs
    assert record["order_list"] == decision.list_client_order_id
    assert_list_cancelled_whole(vigil, legs, list_id)
    assert len(audited(vigil, "stale_order_cancelled")) == 1
