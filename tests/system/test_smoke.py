from __future__ import annotations

from tests.conftest import Vigil, wait_for


def test_an_intent_reaches_the_exchange_and_the_book_matches(vigil: Vigil) -> None:
    decision = vigil.submit()
    assert decision.accepted, decision.reason
    wait_for(lambda: vigil.sim_orders() == 1)
    wait_for(lambda: vigil.status()["fills"] >= 1)
    wait_for(lambda: vigil.status()["reconciliation"]["result"] == "HEALTHY", timeout=5)
    assert vigil.status()["breaker"] == "GREEN"
