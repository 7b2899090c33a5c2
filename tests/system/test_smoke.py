from __future__ import annotations

from tests.conftest import wait_for
from tests.system.conftest import Vigil


def test_an_intent_reaches_the_exchange_and_the_book_matches(vigil: Vigil) -> None:
    decision = vigil.submit()
    assert decision.accepted, decision.reason
    wait_for(lambda: vigil.sim_orders() == 1)
    wait_for(lambda: vigil.status()["fills"] >= 1)
    wait_for(lambda: vigil.status()["reconciliation"]["result"] == "HEALTHY", timeout=5)
    assert vigil.status()["breaker"] == "GREEN"
