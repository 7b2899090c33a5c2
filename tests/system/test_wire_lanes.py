"""The wire's lanes (``exchange.wire_lanes``) against the simulator's true state: with
several lanes sending at once, a RED still stops every send queued in any of them, and a
cancel never overtakes its own order's send (it shares that order's lane)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from actors.order_broker.wire import Wire, lane_of
from exchange.contract import OrderListRequest, OrderRequest
from runtime.clock import now_ms
from tests.conftest import Vigil, wait_for

LANES = 4
HOLD_S = 0.6  # the exchange holds each order's answer this long (under the 1 s read timeout)


def resting_buy(vigil: Vigil) -> str:
    below = (vigil.system.book.book.prices["BTCUSDT"] * Decimal("0.97")).quantize(Decimal("0.01"))
    decision = vigil.submit(side="BUY", type="LIMIT", quantity="0.001", price=str(below))
    assert decision.accepted, decision.reason
    return str(decision.client_order_id)


def on_exchange(vigil: Vigil) -> dict[str, dict[str, Any]]:
    return {o["clientOrderId"]: o for o in vigil.sim.state()["orders"]}


def test_a_red_stops_the_sends_queued_in_every_lane(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = vigil_factory(exchange={"wire_lanes": LANES})
    vigil.wait_green()
    counters = vigil.system.book.counters
    answered = counters["answered"]
    # a slow exchange: every order is taken at once, its answer held, so each lane is busy
    vigil.sim.arm("timeout_after_accept", params={"delay": HOLD_S}, count=1000)
    cids = [resting_buy(vigil) for _ in range(40)]  # journaled, handed to the wire
    lanes = {lane_of(cid, LANES) for cid in cids}
    assert len(lanes) >= 2  # 40 ids over 4 lanes
    # one order of each lane in use is on the exchange (its answer held): all lanes busy
    wait_for(lambda: len(set(cids) & set(on_exchange(vigil))) >= len(lanes), timeout=5)
    resp = vigil.api("POST", "/v1/halt", {"reason": "drill"})
    assert resp.status_code == 200 and resp.json()["breaker"] == "RED"
    red_at_ms = vigil.system.gate.state.since_ms
    in_flight = vigil.system.gate.sending_at_red
    # every send the wire was given has its outcome (the queued ones: refused by the gate)
    wait_for(lambda: counters["answered"] >= answered + len(cids), timeout=10)
    vigil.sim.clear()
    placed = on_exchange(vigil)
    ours = set(cids) & set(placed)
    # several lanes were sending at once when RED tripped, at most one send each ...
    assert 2 <= len(in_flight) <= LANES
    assert len({lane_of(cid, LANES) for cid in in_flight}) == len(in_flight)
    sent_at = [placed[cid]["time"] for cid in in_flight]
    assert max(sent_at) - min(sent_at) < HOLD_S * 1000, "side by side, not one after another"
    # ... and, on the exchange's own clock, nothing reached it after the trip but those
    late = {cid for cid in ours if placed[cid]["time"] > red_at_ms}
    assert late <= in_flight
    assert len(ours) < len(cids) // 2, "the queued sends were stopped"
    for cid in set(cids) - ours:
        assert vigil.system.book.book.orders[cid].state.value == "REJECTED"


def test_a_cancel_never_overtakes_its_own_orders_send(vigil_factory: Callable[..., Vigil]) -> None:
    vigil = vigil_factory(exchange={"wire_lanes": LANES})
    vigil.wait_green()
    # the exchange takes the order at once and reports it NEW on the user stream, but
    # holds the answer to the send: the book knows the order before the send has returned
    vigil.sim.arm("timeout_after_accept", params={"delay": HOLD_S}, count=1)
    cid = resting_buy(vigil)
    book = vigil.system.book.book
    wait_for(lambda: book.orders[cid].order_id is not None, timeout=5)
    resp = vigil.api("DELETE", f"/v1/orders/{cid}")
    handed_at = now_ms()
    assert resp.status_code == 202, resp.text
    wait_for(lambda: on_exchange(vigil)[cid]["status"] == "CANCELED", timeout=5)
    order = on_exchange(vigil)[cid]
    # the cancel was handed to the wire while the send was still waiting for its answer
    # (the other lanes idle), and reached the exchange only once that answer had come
    assert handed_at < order["time"] + HOLD_S * 1000
    assert order["updateTime"] >= order["time"] + HOLD_S * 1000


def ids_on_other_lanes(prefix: str, lane: int) -> Iterator[str]:
    """Client order ids whose own hash is not ``lane``."""
    return (f"{prefix}{n}" for n in itertools.count() if lane_of(f"{prefix}{n}", LANES) != lane)


def test_list_legs_and_a_replacement_share_the_lane_that_placed_them(vigil: Vigil) -> None:
    # a wire of a broker instance that does not own the book: each request is refused at
    # the ownership check, so nothing reaches the exchange; what is checked is the lanes
    system = vigil.system
    memory = system.book
    wire = Wire(system.adapter, system.gate, system.directory, memory, -1, lanes=LANES)
    before = vigil.sim_orders()
    try:
        list_id = "wl-list"
        home = lane_of(list_id, LANES)
        above, below = itertools.islice(ids_on_other_lanes("wl-leg", home), 2)
        price = vigil.system.book.book.prices["BTCUSDT"]
        oco = OrderListRequest(
            list_type="OCO", symbol="BTCUSDT", list_client_order_id=list_id,
            above=OrderRequest(
                symbol="BTCUSDT", side="SELL", type="LIMIT_MAKER", quantity="0.001",
                price=str((price * Decimal("1.02")).quantize(Decimal("0.01"))),
                client_order_id=above,
            ),
            below=OrderRequest(
                symbol="BTCUSDT", side="SELL", type="STOP_LOSS_LIMIT", quantity="0.001",
                price=str((price * Decimal("0.97")).quantize(Decimal("0.01"))),
                stop_price=str((price * Decimal("0.98")).quantize(Decimal("0.01"))),
                client_order_id=below,
            ),
        )  # fmt: skip
        wire.send_list(oco, "c1")
        # the legs' cancels go where the list went, not where their own ids hash
        assert wire.lane(above) == wire.lane(below) == home
        old = "wl-old"
        new = next(ids_on_other_lanes("wl-new", lane_of(old, LANES)))
        replacement = OrderRequest(
            symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.001",
            price=str((price * Decimal("0.97")).quantize(Decimal("0.01"))),
            time_in_force="GTC", client_order_id=new,
        )  # fmt: skip
        wire.send_replace(replacement, old, "c2", None)
        assert wire.lane(new) == lane_of(old, LANES)  # the new order's cancels follow it
        assert wire.lane("wl-other") == lane_of("wl-other", LANES)  # others: their hash
    finally:
        wire.close()
    assert vigil.sim_orders() == before
