"""The policy guard through the running system: every decision is audited with each gate's
verdict, and a symbol whose market feed froze gets no orders while another symbol streams
(the dead man's switch, fed by any symbol, stays quiet)."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from domain.admission import Refusal
from tests.conftest import Vigil, audited, wait_audited, wait_for

MAX_AGE_S = 2.0


def test_a_frozen_symbol_gets_no_orders_while_another_streams(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = vigil_factory(
        policy={"max_reference_age_s": MAX_AGE_S},
        # the market-data switch on: it must not be what stops BTCUSDT here
        breaker={"market_data_report_s": 0.05, "triggers": {"market_data": {"threshold": 5}}},
    )
    book = vigil.system.book.book
    eth = Decimal(vigil.sim.state()["prices"]["ETHUSDT"]["mid"])
    step = [0]

    def eth_streams() -> None:
        """ETHUSDT's book moves (one tick either way): a bookTicker for ETHUSDT only."""
        step[0] += 1
        vigil.sim.set_price("ETHUSDT", str(eth + Decimal("0.01") * (step[0] % 2)))

    eth_streams()
    vigil.wait_green()
    wait_for(lambda: "ETHUSDT" in book.prices, timeout=5)
    # BTCUSDT's last ticker ages past the limit while ETHUSDT keeps streaming
    seen = book.price_ms["BTCUSDT"]

    def btc_stale() -> bool:
        eth_streams()
        return time.monotonic() * 1000 - seen > MAX_AGE_S * 1000 + 100  # the broker's clock

    wait_for(btc_stale, timeout=5, interval=0.1)
    btc_mid = book.prices["BTCUSDT"]
    refused = vigil.submit(type="LIMIT", price=str(btc_mid), quantity="0.01")
    assert not refused.accepted and refused.refusal is Refusal.POLICY
    assert refused.reason.startswith("policy: reference_price: the reference price is ")
    assert refused.reason.endswith("s old, limit 2s")
    record = wait_audited(vigil, "intent_refused", client_order_id=refused.client_order_id)
    assert record["verdicts"][-1]["gate"] == "reference_price"
    assert not record["verdicts"][-1]["passed"]
    # ETHUSDT, streaming, trades; the breaker saw market data all along
    fresh = book.price_ms["ETHUSDT"]
    eth_streams()
    wait_for(lambda: book.price_ms["ETHUSDT"] > fresh, timeout=3)
    eth_mid = book.prices["ETHUSDT"]
    went = vigil.submit(symbol="ETHUSDT", type="LIMIT", price=str(eth_mid - 1), quantity="0.01")
    assert went.accepted, went.reason
    assert vigil.system.gate.state.level.value == "GREEN"
    # BTCUSDT's feed comes back: a fresh mid is a reference again
    vigil.sim.set_price("BTCUSDT", str(btc_mid))
    wait_for(lambda: book.price_ms["BTCUSDT"] > seen, timeout=3)
    again = vigil.submit(type="LIMIT", price=str(btc_mid - 1), quantity="0.01")
    assert again.accepted, again.reason
    both = {"ETHUSDT", "BTCUSDT"}
    wait_for(lambda: {o["symbol"] for o in vigil.sim.state()["orders"]} == both, timeout=3)


def test_an_accepted_intent_records_the_breakers_verdict_and_the_refused_duplicate_its_own(
    vigil: Vigil,
) -> None:
    mid = vigil.system.book.book.prices["BTCUSDT"]
    first = vigil.submit(type="LIMIT", price=str(mid - 100), quantity="0.01")
    assert first.accepted, first.reason
    record = audited(vigil, "intent_accepted", client_order_id=first.client_order_id)[0]
    gates = {v["gate"]: v["passed"] for v in record["verdicts"]}
    assert gates["breaker"] is True and gates["fat_finger"] is True and gates["balance"] is True
    duplicate = vigil.submit(
        type="LIMIT",
        price=str(mid - 100),
        quantity="0.01",
        client_order_id=first.client_order_id,
    )
    assert not duplicate.accepted and duplicate.refusal is Refusal.DUPLICATE
    # a refusal is audited through the audit logger: written a moment later
    refused = wait_audited(vigil, "intent_refused", client_order_id=first.client_order_id)
    assert refused["verdicts"] == [
        {"gate": "client_order_id", "passed": False, "reason": "already in the book"}
    ]
