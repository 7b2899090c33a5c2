"""``GET /metrics`` (``control/metrics.py``) against a running Vigil on the embedded simulator:
every number of the status as a Prometheus series, named and typed by Prometheus's
conventions, parsed with prometheus-client's own parser; the latency histograms fed by the
order path and the reconciler; the money figures equal to the status's Decimals.

(The existing series' values through an order and an actor crash:
tests/control/test_server.py. A real Prometheus scraping Vigil, and promtool over the
deploy files: tests/control/test_prometheus.py.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.messages import InjectFault, StatusRequest
from runtime.timings import Histogram
from tests.conftest import Vigil, wait_for

MARKET = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}

# name → type, as ``text_string_to_metric_families`` names them (a counter without _total)
FAMILIES = {
    # the breaker
    "vigil_breaker_level": "gauge",
    "vigil_breaker_since_timestamp_seconds": "gauge",
    "vigil_breaker_rule_firing": "gauge",
    "vigil_breaker_rule_measure": "gauge",
    "vigil_trading_allowed": "gauge",
    # actors and streams
    "vigil_actor_alive": "gauge",
    "vigil_actor_restarts": "gauge",
    "vigil_inbox_depth": "gauge",
    "vigil_stream_up": "gauge",
    # reconciliation
    "vigil_reconciliation_healthy": "gauge",
    "vigil_reconciliation_result": "gauge",
    "vigil_reconciliation_last_timestamp_seconds": "gauge",
    "vigil_reconciliation_last_healthy_timestamp_seconds": "gauge",
    "vigil_reconciliation_age_seconds": "gauge",
    # the book
    "vigil_orders": "gauge",
    "vigil_orders_open_under_red": "gauge",
    "vigil_fills": "counter",
    "vigil_intents": "counter",
    "vigil_orders_sent": "counter",
    "vigil_send_answers": "counter",
    "vigil_balance": "gauge",
    "vigil_daily_pnl": "gauge",
    "vigil_equity": "gauge",
    "vigil_peak_equity": "gauge",
    "vigil_unknown_orders": "gauge",
    "vigil_unvalued_assets": "gauge",
    "vigil_execution_latency_seconds": "gauge",
    "vigil_execution_slippage_ratio": "gauge",
    # the process
    "vigil_malformed_payloads": "counter",
    "vigil_journal_entries": "gauge",
    "vigil_journal_pending": "gauge",
    "vigil_audit_lag_seconds": "gauge",
    "vigil_audit_pending": "gauge",
    "vigil_exchange_weight_used": "gauge",
    "vigil_exchange_weight_limit": "gauge",
    # latency histograms
    "vigil_intent_to_wire_seconds": "histogram",
    "vigil_place_to_ack_seconds": "histogram",
    "vigil_reconciliation_cycle_seconds": "histogram",
}
HISTOGRAMS = [n for n, t in FAMILIES.items() if t == "histogram"]
Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def text(vigil: Vigil) -> str:
    resp = vigil.api("GET", "/metrics")
    assert resp.status_code == 200, resp.text
    return resp.text


def scrape(vigil: Vigil) -> tuple[dict[str, str], Samples]:
    """``GET /metrics`` parsed: family name → type, and sample name → labels → value."""
    exposition = text(vigil)
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(exposition):
        types[family.name] = family.type
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return types, samples


def value(vigil: Vigil, name: str, **labels: str) -> float | None:
    return scrape(vigil)[1].get(name, {}).get(tuple(sorted(labels.items())))


def place_market(vigil: Vigil, cid: str) -> None:
    resp = vigil.api("POST", "/v1/orders", {**MARKET, "client_order_id": cid})
    assert resp.status_code == 202, resp.text
    wait_for(lambda: vigil.status()["orders"]["filled"] >= 1, timeout=5)


# --- names and types ---------------------------------------------------------------------


def test_every_status_figure_is_a_family_with_its_type(vigil: Vigil) -> None:
    exposition = text(vigil)
    types, samples = scrape(vigil)
    missing = {n: t for n, t in FAMILIES.items() if types.get(n) != t}
    assert not missing, f"missing or mistyped: {missing}"
    # Prometheus's conventions: the vigil_ prefix, _total on every counter's sample
    for name, kind in types.items():
        if name.startswith("process_"):
            continue
        assert name.startswith("vigil_"), name
        if kind == "counter":
            assert f"# TYPE {name}_total counter" in exposition, name
    # a histogram exposes its buckets (+Inf among them), its sum and its count
    for name in HISTOGRAMS:
        buckets = samples[f"{name}_bucket"]
        assert (("le", "+Inf"),) in buckets
        assert f"{name}_count" in samples and f"{name}_sum" in samples


def test_breaker_rules_one_series_each(vigil: Vigil) -> None:
    """Every rule of the catalogue has a firing series (0 or 1) and its measure."""
    rules = vigil.status()["breaker_rules"]
    _, samples = scrape(vigil)
    firing = {dict(k)["rule"]: v for k, v in samples["vigil_breaker_rule_firing"].items()}
    assert set(firing) == set(rules["measures"]) and set(firing.values()) == {0.0}
    measured = {dict(k)["rule"] for k in samples["vigil_breaker_rule_measure"]}
    assert measured == {r for r, m in rules["measures"].items() if m is not None}
    assert value(vigil, "vigil_breaker_level") == 0.0
    assert value(vigil, "vigil_trading_allowed") == 1.0

    assert vigil.api("POST", "/v1/halt", {"reason": "metrics test"}).ok
    wait_for(lambda: value(vigil, "vigil_breaker_level") == 2.0, timeout=3)
    assert value(vigil, "vigil_trading_allowed") == 0.0


def test_a_firing_rule_reads_1(vigil_factory: Callable[..., Vigil]) -> None:
    """The memory rule at 1 MB fires at once (YELLOW): its series says 1, its measure is
    the process's resident memory in MB, as the status shows it."""
    quiet = {"market_data": {"threshold": 0, "red_threshold": 0}, "cpu": {"threshold": 0}}
    triggers = {**quiet, "memory": {"threshold": 1, "window_s": 5}}
    v = vigil_factory(breaker={"tick_s": 0.05, "triggers": triggers})
    wait_for(lambda: value(v, "vigil_breaker_rule_firing", rule="memory") == 1.0, timeout=4)
    assert value(v, "vigil_breaker_level") == 1.0
    assert (value(v, "vigil_breaker_rule_measure", rule="memory") or 0) > 1
    assert value(v, "vigil_breaker_rule_firing", rule="rejects") == 0.0


# --- the histograms ----------------------------------------------------------------------


def test_order_path_histograms_count_an_order(vigil: Vigil) -> None:
    for name in ("vigil_intent_to_wire_seconds", "vigil_place_to_ack_seconds"):
        assert value(vigil, f"{name}_count") == 0.0
    place_market(vigil, "mx-hist")
    _, samples = scrape(vigil)
    for name in ("vigil_intent_to_wire_seconds", "vigil_place_to_ack_seconds"):
        assert samples[f"{name}_count"][()] == 1.0, name
        assert 0 < samples[f"{name}_sum"][()] < 5, name
        counts = [v for _, v in sorted_buckets(samples[f"{name}_bucket"])]
        assert counts == sorted(counts) and counts[-1] == 1.0  # cumulative, all counted
    # the wire's answer came after its send began: place→ack covers the exchange's round trip
    ack_ms = vigil.status()["execution"]["BTCUSDT"]["place_ack"]["max"]
    assert samples["vigil_place_to_ack_seconds_sum"][()] == pytest.approx(ack_ms / 1000, abs=0.01)


def test_a_refused_intent_is_not_timed_but_counted(vigil: Vigil) -> None:
    resp = vigil.api("POST", "/v1/orders", {**MARKET, "quantity": "1000"})  # over the policy
    assert resp.status_code == 422, resp.text
    _, samples = scrape(vigil)
    assert samples["vigil_intents_total"][(("outcome", "refused"),)] == 1.0
    assert samples["vigil_intents_total"][(("outcome", "accepted"),)] == 0.0
    assert samples["vigil_intent_to_wire_seconds_count"][()] == 0.0


def test_reconciliation_cycles_are_timed(vigil: Vigil) -> None:
    """Every cycle (one each 0.3 s here) is observed, and a cycle is not free."""
    first = value(vigil, "vigil_reconciliation_cycle_seconds_count") or 0.0
    assert first >= 1
    wait_for(lambda: (value(vigil, "vigil_reconciliation_cycle_seconds_count") or 0) >= first + 2)
    assert (value(vigil, "vigil_reconciliation_cycle_seconds_sum") or 0) > 0


def sorted_buckets(buckets: dict[Any, float]) -> list[tuple[float, float]]:
    return sorted((float(dict(k)["le"]), v) for k, v in buckets.items())


# --- the book, money ---------------------------------------------------------------------


def test_fills_and_money_equal_the_status(vigil: Vigil) -> None:
    assert value(vigil, "vigil_fills_total", symbol="BTCUSDT", side="BUY") is None
    place_market(vigil, "mx-fill")
    wait_for(lambda: value(vigil, "vigil_fills_total", symbol="BTCUSDT", side="BUY") == 1.0)
    status = vigil.status()
    assert status["fills_by_symbol"] == {"BTCUSDT": {"BUY": 1}}
    _, samples = scrape(vigil)
    assert samples["vigil_intents_total"][(("outcome", "accepted"),)] == 1.0
    assert samples["vigil_orders_sent_total"][()] == 1.0
    # money: a Decimal in the status, the nearest float at the exposition
    risk = status["risk"]
    book = vigil.system.book.book
    expected = book.equity("USDT")[0].quantize(Decimal("1E-8"))  # shown to 8 decimals
    assert Decimal(risk["equity"]) == expected
    assert samples["vigil_equity"][()] == float(expected)
    assert samples["vigil_peak_equity"][()] == float(Decimal(risk["peak_equity"]))
    assert samples["vigil_daily_pnl"][()] == float(Decimal(risk["daily_pnl"]))
    balances = {dict(k)["asset"]: v for k, v in samples["vigil_balance"].items()}
    assert balances == {a: float(Decimal(v)) for a, v in status["balances"].items()}


def test_journal_entries_count_the_journal(vigil: Vigil) -> None:
    before = value(vigil, "vigil_journal_entries")
    assert before is not None and 0 < before <= vigil.system.journal.last_seq
    place_market(vigil, "mx-journal")
    wait_for(lambda: (value(vigil, "vigil_journal_entries") or 0) > before)


def test_exchange_weight_and_inboxes(vigil: Vigil) -> None:
    _, samples = scrape(vigil)
    limits = vigil.system.adapter.limits
    assert 0 < samples["vigil_exchange_weight_used"][()] <= limits.weight_limit_1m
    assert samples["vigil_exchange_weight_limit"][()] == limits.weight_limit_1m
    actors = {dict(k)["actor"] for k in samples["vigil_inbox_depth"]}
    assert actors == set(vigil.status()["actors"])
    assert all(v >= 0 for v in samples["vigil_inbox_depth"].values())


def test_inbox_depth_counts_waiting_messages(vigil: Vigil) -> None:
    """Messages told to a busy actor wait in its inbox: the depth shows them."""
    directory = vigil.system.directory
    directory.tell("rest_poller", InjectFault(kind="hang", seconds=0.4), sender="test")
    for _ in range(5):
        directory.tell("rest_poller", StatusRequest(), sender="test")
    depth = value(vigil, "vigil_inbox_depth", actor="rest_poller")
    assert depth is not None and depth >= 3


def test_audit_lag_is_the_oldest_record_not_on_disk(
    vigil_factory: Callable[..., Vigil],
) -> None:
    v = vigil_factory(audit={"flush_interval_s": 30.0})  # the flusher stays out of the way
    v.wait_green()
    trail = v.system.trail
    trail.append("metrics_test", {"n": 1})
    wait_for(lambda: (value(v, "vigil_audit_lag_seconds") or 0) >= 0.5, timeout=3)
    assert (value(v, "vigil_audit_pending") or 0) >= 1
    trail.flush()  # what the actors write from here on is younger than 0.5 s for a while
    assert (value(v, "vigil_audit_lag_seconds") or 0) < 0.5


# --- the histogram object ----------------------------------------------------------------


def test_histogram_buckets_are_cumulative_and_inclusive() -> None:
    h = Histogram((0.1, 1.0))
    for seconds in (0.05, 0.1, 0.5, 1.0, 3.0, -0.01):  # a negative span counts as 0
        h.observe(seconds)
    snap = h.snapshot()
    assert snap.buckets == ((0.1, 3), (1.0, 5), (float("inf"), 6))
    assert snap.count == 6 and snap.sum == pytest.approx(4.65)
    with pytest.raises(ValueError):
        Histogram((1.0, 0.5))


def test_histogram_loses_nothing_across_threads() -> None:
    h = Histogram()
    threads = [
        threading.Thread(target=lambda: [h.observe(0.001) for _ in range(5000)]) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert h.snapshot().count == 20_000
