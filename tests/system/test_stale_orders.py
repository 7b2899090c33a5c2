"""Stale-order cleanup (``policy.max_order_age_s``) against the simulator's true state: an
order older than the limit ends CANCELED on the exchange and in the book, audited with its
age; an order whose outcome is UNKNOWN is never a target; off by default."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from runtime.messages import StatusRequest
from tests.conftest import Vigil, audited, wait_audited, wait_for
from vigil_client import VigilClient


def sim_order(vigil: Vigil, cid: str) -> dict[str, Any] | None:
    found = [o for o in vigil.sim.state()["orders"] if o["clientOrderId"] == cid]
    return found[0] if found else None


def book_state(vigil: Vigil, cid: str) -> str:
    return str(vigil.system.book.book.orders[cid].state.value)


def resting_buy(vigil: Vigil) -> str:
    below = (vigil.system.book.book.prices["BTCUSDT"] * Decimal("0.97")).quantize(Decimal("0.01"))
    decision = vigil.submit(side="BUY", type="LIMIT", quantity="0.001", price=str(below))
    assert decision.accepted, decision.reason
    return str(decision.client_order_id)


def test_an_order_older_than_the_limit_is_cancelled_and_audited(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = vigil_factory(policy={"max_order_age_s": 1.0})
    vigil.wait_green()
    # a strategy places a resting order through the native API and follows its events
    client = VigilClient.from_data_dir(vigil.system.data_dir)
    stream = client.events(kinds={"execution"}, timeout=15)
    below = (vigil.system.book.book.prices["BTCUSDT"] * Decimal("0.97")).quantize(Decimal("0.01"))
    cid = client.place("BTCUSDT", "BUY", "LIMIT", "0.001", str(below)).client_order_id
    told = []
    for event in stream:  # reported to the strategy as CANCELED, the normal way
        if event.data["client_order_id"] == cid:
            told.append(event.data["execution_type"])
            if event.data["execution_type"] == "CANCELED":
                break
    stream.close()
    client.close()
    assert told == ["NEW", "CANCELED"]
    # cancelled by Vigil, on the exchange (its true state) and in the book
    wait_for(lambda: (sim_order(vigil, cid) or {}).get("status") == "CANCELED", timeout=10)
    wait_for(lambda: book_state(vigil, cid) == "CANCELED", timeout=5)
    record = wait_audited(vigil, "stale_order_cancelled", client_order_id=cid)
    assert record["max_order_age_s"] == 1.0 and record["age_s"] >= 1.0
    assert record["attempt"] == 1 and record["state"] == "NEW"
    assert record["requested_by"] == "stale-order cleanup"
    # journaled before the wire, as every cancel is
    journaled = [
        e.body
        for e in vigil.system.journal.load()
        if e.kind == "cancel_requested" and e.body["client_order_id"] == cid
    ]
    assert len(journaled) == 1 and journaled[0]["requested_by"] == "stale-order cleanup"
    # the strategy's view (GET /v1/orders) says CANCELED, and trading goes on
    orders = vigil.api("GET", "/v1/orders").json()["orders"]
    assert orders[cid]["state"] == "CANCELED"
    assert vigil.system.gate.refusal() is None
    cycle = vigil.api("POST", "/v1/reconcile", {"timeout_s": 10}).json()
    assert cycle["result"] == "HEALTHY", cycle  # the book agrees with the exchange


def test_an_order_whose_outcome_is_unknown_is_never_cancelled_as_stale(
    vigil_factory: Callable[..., Vigil],
) -> None:
    # an unknown order stays unknown until the exchange has denied it for 8 s
    vigil = vigil_factory(
        policy={"max_order_age_s": 0.5},
        broker={"unknown_window_s": 8.0},
        breaker={
            "triggers": {
                "market_data": {"threshold": 0, "red_threshold": 0},
                "cpu": {"threshold": 0},
                "unknown_orders": {"threshold": 0},
                "timeouts": {"threshold": 0},
            }
        },
    )
    vigil.wait_green()
    vigil.sim.arm("unknown_status", params={"placed": False}, count=1)
    unknown = resting_buy(vigil)
    wait_for(lambda: book_state(vigil, unknown) == "UNKNOWN", timeout=5)
    # a resting order placed after it is cancelled as stale while the first is still unknown
    rests = resting_buy(vigil)
    wait_audited(vigil, "stale_order_cancelled", client_order_id=rests, timeout=10)
    wait_for(lambda: (sim_order(vigil, rests) or {}).get("status") == "CANCELED", timeout=5)
    assert book_state(vigil, unknown) == "UNKNOWN"  # older than the limit, and untouched
    # resolved as never placed (REJECTED), never cancelled by the stale sweep
    wait_for(lambda: book_state(vigil, unknown) == "REJECTED", timeout=20)
    assert not audited(vigil, "stale_order_cancelled", client_order_id=unknown)
    assert not [
        e for e in vigil.system.journal.load() if e.body.get("client_order_id") == unknown
        and e.kind == "cancel_requested"
    ]  # fmt: skip
    assert not audited(vigil, "cancel_failed", client_order_id=unknown)
    assert sim_order(vigil, unknown) is None


def test_stale_order_cleanup_is_off_by_default(vigil: Vigil) -> None:
    assert vigil.system.settings.policy.max_order_age_s is None
    cid = resting_buy(vigil)
    wait_for(lambda: (sim_order(vigil, cid) or {}).get("status") == "NEW", timeout=5)
    placed = vigil.system.ask("rest_poller", StatusRequest())["last_poll_ms"] or 0
    # the poller (whose beat drives the sweep) looks at the book for 2 s more
    wait_for(
        lambda: (
            (vigil.system.ask("rest_poller", StatusRequest())["last_poll_ms"] or 0) > placed + 2_000
        ),
        timeout=10,
    )
    assert (sim_order(vigil, cid) or {}).get("status") == "NEW"
    assert book_state(vigil, cid) == "NEW"
    assert not audited(vigil, "stale_order_cancelled")
