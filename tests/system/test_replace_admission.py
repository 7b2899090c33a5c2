"""Cancel-replace admission through the broker against the simulator's true state: the old
order's reserved funds are the new order's (the exchange cancels it first in the same
request), so a replace that only fits with them is placed; and when the cancel half fails
(STOP_ON_FAILURE, -2022) nothing new is placed."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from exchange.simulator import SimulatedExchange, SimulatorConfig
from tests.conftest import Vigil, wait_audited, wait_for

S = "BTCUSDT"
USDT = Decimal("1000")  # one resting buy of 590 leaves 410 free


def on_sim(vigil: Vigil, cid: str) -> dict[str, Any] | None:
    found = [o for o in vigil.sim.state()["orders"] if o["clientOrderId"] == cid]
    return found[0] if found else None


def book_state(vigil: Vigil, cid: str) -> str:
    return str(vigil.system.book.book.orders[cid].state.value)


def small_account(vigil_factory: Callable[..., Vigil], **overrides: Any) -> Vigil:
    balances = {"USDT": USDT, "BTC": Decimal(0), "ETH": Decimal(0), "BNB": Decimal(0)}
    exchange = SimulatedExchange(SimulatorConfig(tick_interval=0, seed=3, balances=balances))
    vigil = vigil_factory(sim=exchange.start(), own_sim=True, **overrides)
    vigil.wait_green()
    return vigil


def order(price: str) -> dict[str, str]:
    return {"symbol": S, "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": price}


def resting_buy(vigil: Vigil, price: str = "59000") -> str:
    answer = vigil.api("POST", "/v1/orders", order(price))
    assert answer.status_code == 202, answer.text
    cid = str(answer.json()["client_order_id"])
    wait_for(lambda: book_state(vigil, cid) == "NEW", timeout=5)
    return cid


def test_a_replace_that_fits_only_with_the_old_orders_funds_is_placed(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = small_account(vigil_factory)
    old = resting_buy(vigil)
    second = vigil.api("POST", "/v1/orders", order("59100"))  # 591 > the 410 left free
    assert second.status_code == 422 and "balance" in second.text, second.text
    answer = vigil.api("PUT", f"/v1/orders/{old}", order("59100"))  # 591 <= 410 + 590
    assert answer.status_code == 202, answer.text
    new = answer.json()["client_order_id"]
    wait_for(lambda: book_state(vigil, new) == "NEW" and book_state(vigil, old) == "CANCELED")
    assert (on_sim(vigil, old) or {}).get("status") == "CANCELED"
    assert (on_sim(vigil, new) or {}).get("status") == "NEW"
    assert Decimal(vigil.sim.balance("USDT")["locked"]) == Decimal("591")
    assert [o["clientOrderId"] for o in vigil.sim.state()["open_orders"]] == [new]


def test_when_the_cancel_half_fails_nothing_new_is_placed(
    vigil_factory: Callable[..., Vigil],
) -> None:
    # the poller and reconciliation slowed so the book keeps believing the old order open
    vigil = small_account(
        vigil_factory, poller={"interval_s": 30}, reconciliation={"interval_s": 30}
    )
    old = resting_buy(vigil)
    # the book does not hear of the cancel below: every user event dropped for a while (a
    # count of one could be spent on the resting order's own late account event instead —
    # it was, under load, and the book heard of the cancel)
    vigil.sim.arm("drop_events", duration=30)
    vigil.sim.client().cancel_order(symbol=S, origClientOrderId=old)  # gone on the exchange
    assert book_state(vigil, old) == "NEW"
    before = len(vigil.sim.state()["orders"])
    answer = vigil.api("PUT", f"/v1/orders/{old}", order("59100"))
    assert answer.status_code == 202, answer.text  # the book's view: the replace is admissible
    new = answer.json()["client_order_id"]
    outcome = wait_audited(vigil, "send_outcome", client_order_id=new, timeout=5)
    assert outcome["code"] == -2022 and "new order was not attempted" in outcome["detail"]
    wait_for(lambda: book_state(vigil, new) == "REJECTED")
    assert on_sim(vigil, new) is None and len(vigil.sim.state()["orders"]) == before
    assert vigil.sim.state()["open_orders"] == []
    assert Decimal(vigil.sim.balance("USDT")["locked"]) == 0
