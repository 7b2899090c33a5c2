"""The native API's protective orders: ``POST /v1/orders`` with STOP_LOSS_LIMIT /
TAKE_PROFIT_LIMIT, ``stop_price`` and ``trailing_delta``, and ``POST /v1/order-lists`` (OCO,
OTO, OTOCO) — each checked on the simulator's true state; a stop on the wrong side and a
crossing bracket refused with the reason, nothing reaching the exchange."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.conftest import Vigil, wait_for

S = "BTCUSDT"


def on_sim(vigil: Vigil, cid: str) -> dict[str, Any] | None:
    found = [o for o in vigil.sim.state()["orders"] if o["clientOrderId"] == cid]
    return found[0] if found else None


def test_a_stop_limit_order_is_placed_with_its_trigger(vigil: Vigil) -> None:
    answer = vigil.api(
        "POST",
        "/v1/orders",
        {"symbol": S, "side": "SELL", "type": "STOP_LOSS_LIMIT", "quantity": "0.01",
         "price": "58900", "stop_price": "59000"},
    )  # fmt: skip
    assert answer.status_code == 202, answer.text
    cid = answer.json()["client_order_id"]
    placed = wait_for(lambda: on_sim(vigil, cid), timeout=5)
    assert (placed["type"], Decimal(placed["stopPrice"]), placed["status"]) == (
        "STOP_LOSS_LIMIT", Decimal("59000"), "NEW"
    )  # fmt: skip
    order = vigil.system.book.book.orders[cid]
    assert order.stop_price == Decimal("59000") and not order.triggered
    vigil.sim.set_price(S, "58950")  # the stop triggers: an ordinary limit order from now on
    wait_for(lambda: vigil.system.book.book.orders[cid].triggered, timeout=5)


def test_a_trailing_take_profit_and_the_refusals(vigil: Vigil) -> None:
    trailing = vigil.api(
        "POST",
        "/v1/orders",
        {"symbol": S, "side": "SELL", "type": "TAKE_PROFIT_LIMIT", "quantity": "0.01",
         "price": "61000", "stop_price": "61100", "trailing_delta": 100},
    )  # fmt: skip
    assert trailing.status_code == 202, trailing.text
    cid = trailing.json()["client_order_id"]
    assert wait_for(lambda: on_sim(vigil, cid), timeout=5)["trailingDelta"] == 100
    before = len(vigil.sim.state()["orders"])
    wrong_side = vigil.api(
        "POST",
        "/v1/orders",
        {"symbol": S, "side": "SELL", "type": "STOP_LOSS_LIMIT", "quantity": "0.01",
         "price": "60900", "stop_price": "61000"},
    )  # fmt: skip
    assert wrong_side.status_code == 422
    assert "wrong side of the market" in wrong_side.json()["error"]
    no_trigger = vigil.api(
        "POST",
        "/v1/orders",
        {"symbol": S, "side": "SELL", "type": "STOP_LOSS_LIMIT", "quantity": "0.01",
         "price": "58900"},
    )  # fmt: skip
    assert no_trigger.status_code == 422
    assert "needs a stop_price or a trailing_delta" in no_trigger.json()["error"]
    assert len(vigil.sim.state()["orders"]) == before


def test_post_order_lists_places_an_oco_whole(vigil: Vigil) -> None:
    answer = vigil.api(
        "POST",
        "/v1/order-lists",
        {"symbol": S, "side": "SELL", "quantity": "0.01", "list_type": "OCO",
         "above": {"type": "LIMIT_MAKER", "price": "61000"},
         "below": {"type": "STOP_LOSS_LIMIT", "price": "58900", "stop_price": "59000",
                   "time_in_force": "GTC"}},
    )  # fmt: skip
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert set(body["orders"]) == {"above", "below"}
    lists = wait_for(lambda: vigil.sim.state()["order_lists"], timeout=5)
    assert lists[0]["listClientOrderId"] == body["list_client_order_id"]
    for role, kind in (("above", "LIMIT_MAKER"), ("below", "STOP_LOSS_LIMIT")):
        assert wait_for(lambda r=role: on_sim(vigil, body["orders"][r]), timeout=5)["type"] == kind


def test_post_order_lists_places_an_oto_and_an_otoco(vigil: Vigil) -> None:
    oto = vigil.api(
        "POST",
        "/v1/order-lists",
        {"symbol": S, "list_type": "OTO",
         "working": {"type": "LIMIT", "side": "BUY", "quantity": "0.01", "price": "59500",
                     "time_in_force": "GTC"},
         "pending": {"type": "LIMIT_MAKER", "side": "SELL", "quantity": "0.01",
                     "price": "61500"}},
    )  # fmt: skip
    assert oto.status_code == 202, oto.text
    otoco = vigil.api(
        "POST",
        "/v1/order-lists",
        {"symbol": S, "list_type": "OTOCO",
         "working": {"type": "LIMIT", "side": "BUY", "quantity": "0.01", "price": "59500",
                     "time_in_force": "GTC"},
         "pending_side": "SELL", "pending_quantity": "0.01",
         "pending_above": {"type": "LIMIT_MAKER", "price": "61500"},
         "pending_below": {"type": "STOP_LOSS", "stop_price": "58000"}},
    )  # fmt: skip
    assert otoco.status_code == 202, otoco.text
    assert set(otoco.json()["orders"]) == {"working", "above", "below"}
    wait_for(lambda: len(vigil.sim.state()["order_lists"]) == 2, timeout=5)
    pending = on_sim(vigil, oto.json()["orders"]["pending"])
    assert pending is not None and pending["status"] == "PENDING_NEW"


def test_bad_and_crossing_lists_are_refused_whole(vigil: Vigil) -> None:
    crossing = vigil.api(
        "POST",
        "/v1/order-lists",
        {"symbol": S, "side": "SELL", "quantity": "0.01", "list_type": "OCO",
         "above": {"type": "LIMIT_MAKER", "price": "58000"},
         "below": {"type": "STOP_LOSS", "stop_price": "59000"}},
    )  # fmt: skip
    assert crossing.status_code == 422
    assert "bracket legs cross" in crossing.json()["error"]
    missing = vigil.api(
        "POST",
        "/v1/order-lists",
        {"symbol": S, "side": "SELL", "quantity": "0.01", "list_type": "OCO",
         "above": {"type": "LIMIT_MAKER", "price": "61000"}},
    )  # fmt: skip
    assert missing.status_code == 422 and "OCO takes above, below" in missing.text
    floats = vigil.api(
        "POST",
        "/v1/order-lists",
        {"symbol": S, "side": "SELL", "quantity": 0.01, "list_type": "OCO",
         "above": {"type": "LIMIT_MAKER", "price": "61000"},
         "below": {"type": "STOP_LOSS", "stop_price": "59000"}},
    )  # fmt: skip
    assert floats.status_code == 422 and "not floats" in floats.text
    assert vigil.sim.state()["order_lists"] == []


def test_vigil_client_places_an_order_list_and_reads_the_refusal(vigil: Vigil) -> None:
    from vigil_client import Refused, VigilClient

    client = VigilClient.from_data_dir(vigil.system.data_dir)
    try:
        placed = client.place_order_list(
            "OCO", S, side="SELL", quantity=Decimal("0.01"),
            above={"type": "LIMIT_MAKER", "price": Decimal("61000")},
            below={"type": "STOP_LOSS", "stop_price": "59000"},
        )  # fmt: skip
        assert set(placed.orders) == {"above", "below"}
        wait_for(lambda: on_sim(vigil, placed.orders["below"]), timeout=5)
        try:
            client.place_order_list(
                "OCO", S, side="SELL", quantity="0.01",
                above={"type": "LIMIT_MAKER", "price": "58000"},
                below={"type": "STOP_LOSS", "stop_price": "59000"},
            )  # fmt: skip
        except Refused as refused:
            assert "bracket legs cross" in str(refused)
        else:
            raise AssertionError("a crossing bracket was accepted")
    finally:
        client.close()
