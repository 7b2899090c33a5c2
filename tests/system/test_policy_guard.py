"""The policy guard through the running system: every decision is audited with each gate's
verdict, and a symbol whose market feed froze gets no orders while another symbol streams
(the dead man's switch, fed by any symbol, stays quiet)."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from domain.admission import Refusal
from exchange.simulator import SimulatedExchange, SimulatorConfig
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


def thin_book_vigil(vigil_factory: Callable[..., Vigil], **overrides: Any) -> Vigil:
    """BTCUSDT with a thin book: 0.001, 0.002, ... BTC per level, levels 20 USDT apart."""
    base = SimulatorConfig(tick_interval=0, seed=3)
    symbols = [
        s.model_copy(update={"level_qty": Decimal("0.001"), "level_gap_ticks": 2000})
        if s.symbol == "BTCUSDT"
        else s
        for s in base.symbols
    ]
    sim = SimulatedExchange(base.model_copy(update={"symbols": symbols})).start()
    vigil = vigil_factory(sim=sim, own_sim=True, **overrides)
    vigil.wait_green()
    return vigil


def sim_orders(vigil: Vigil) -> list[dict[str, Any]]:
    return list(vigil.sim.state()["orders"])


def test_a_market_order_the_book_cannot_fill_is_refused_before_it_is_sent(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = thin_book_vigil(vigil_factory)
    refused = vigil.submit(quantity="0.06")  # 10 levels hold 0.055
    assert not refused.accepted and refused.refusal is Refusal.POLICY
    assert "market_impact: the book can fill 0.055 of 0.06" in refused.reason
    assert sim_orders(vigil) == []
    record = wait_audited(vigil, "intent_refused", client_order_id=refused.client_order_id)
    assert record["market_estimate"]["fillable"] == "0.055"


def test_a_market_order_expected_to_slip_too_far_is_refused_and_a_small_one_goes(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = thin_book_vigil(vigil_factory, policy={"max_market_slippage_bps": 10})
    refused = vigil.submit(quantity="0.05")  # through 10 levels, 20 USDT apart: ~19 bps
    assert not refused.accepted and refused.refusal is Refusal.POLICY
    assert "bps from the mid" in refused.reason and "limit 10" in refused.reason
    assert sim_orders(vigil) == []
    accepted = vigil.submit(quantity="0.003")  # the first two levels
    assert accepted.accepted
    wait_for(lambda: len(sim_orders(vigil)) == 1)
    record = wait_audited(vigil, "intent_accepted", client_order_id=accepted.client_order_id)
    assert Decimal(record["market_estimate"]["slippage_bps"]) <= 10
    assert [v["gate"] for v in record["verdicts"]][-1] == "market_impact"


def test_a_market_order_can_be_sent_as_a_limit_ioc_at_the_protection_price(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = thin_book_vigil(vigil_factory, policy={"market_as_limit_ioc": True})
    accepted = vigil.submit(quantity="0.003")
    assert accepted.accepted
    wait_for(lambda: len(sim_orders(vigil)) == 1)
    (sent,) = sim_orders(vigil)
    assert (sent["type"], sent["timeInForce"]) == ("LIMIT", "IOC")
    record = wait_audited(vigil, "intent_accepted", client_order_id=accepted.client_order_id)
    mid = Decimal(record["market_estimate"]["mid"])
    assert Decimal(sent["price"]) <= mid * Decimal("1.005")  # never worse than 50 bps
    assert Decimal(sent["price"]) > mid
    assert record["sent_as"] == "LIMIT IOC"
