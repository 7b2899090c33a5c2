"""``GET /metrics``: every number the status shows, in Prometheus's text format.

Read from the running system at scrape time (the status as ``GET /v1/status`` assembles
it, the breaker's rules included) plus the latency histograms the order path and the
reconciler record into (``runtime.timings``). Names follow Prometheus's conventions: a
``vigil_`` prefix, ``_total`` on counters, base units (seconds, ratios); money is a
``Decimal`` everywhere else and becomes a float only here, because Prometheus has no
decimals. A series with no value yet (today's P&L before the day is marked, a rule without
a measure) is left out rather than exported as a made-up number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from runtime.timings import Histogram

if TYPE_CHECKING:
    from assembly.system import VigilSystem

LEVELS = {"GREEN": 0, "YELLOW": 1, "RED": 2}
RESULTS = ("HEALTHY", "WARNING", "CRITICAL", "FAILED")
UP_STREAMS = ("subscribed",)  # a stream in any other state delivers nothing
QUANTILES = {"p50": "0.5", "p95": "0.95", "p99": "0.99", "max": "1"}
HISTOGRAMS = {  # name → (the Timings field, help)
    "vigil_intent_to_wire_seconds": (
        "intent_to_wire",
        "the broker took an intent in → the wire began its send (admission, write-ahead, queue)",
    ),
    "vigil_place_to_ack_seconds": (
        "place_to_ack",
        "the wire began a send → the exchange's acknowledgment came back",
    ),
    "vigil_reconciliation_cycle_seconds": (
        "reconciliation_cycle",
        "one reconciliation cycle, start to result (FAILED cycles too)",
    ),
}


def number(value: Any) -> float | None:
    """A status figure (a Decimal's string, an int, a float) as a float for the exposition;
    None when there is none (or it is not a finite number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None
    return out if math.isfinite(out) else None


def histogram(name: str, help_text: str, source: Histogram) -> HistogramMetricFamily:
    snap = source.snapshot()
    buckets = [("+Inf" if math.isinf(le) else repr(le), count) for le, count in snap.buckets]
    return HistogramMetricFamily(name, help_text, buckets=buckets, sum_value=snap.sum)


class SystemCollector:
    """Prometheus metrics read from the running system at scrape time. ``status`` is the
    status as ``GET /v1/status`` answers it (with ``breaker_rules``)."""

    def __init__(self, system: VigilSystem, status: Callable[[], dict[str, Any]]) -> None:
        self.system = system
        self.status = status

    def collect(self) -> Iterator[Metric]:
        status = self.status()
        yield from self._breaker(status)
        yield from self._actors(status)
        yield from self._reconciliation(status)
        yield from self._book(status)
        yield from self._process(status)
        timings = self.system.ctx.services.timings
        for name, (attr, help_text) in HISTOGRAMS.items():
            yield histogram(name, help_text, getattr(timings, attr))

    # ---------------------------------------------------------------- families

    @staticmethod
    def _breaker(status: dict[str, Any]) -> Iterator[Metric]:
        yield gauge("vigil_breaker_level", "0 GREEN, 1 YELLOW, 2 RED", LEVELS[status["breaker"]])
        yield gauge(
            "vigil_breaker_since_timestamp_seconds",
            "when the breaker entered its current level (Unix time)",
            status["since_ms"] / 1000 if status.get("since_ms") else None,
        )
        yield gauge(
            "vigil_trading_allowed",
            "1 if new orders may go now (the gate and YELLOW's pauses allow them)",
            1 if status["trading"] == "allowed" else 0,
        )
        rules = status.get("breaker_rules") or {}
        measures: dict[str, Any] = rules.get("measures") or {}
        firing: dict[str, Any] = rules.get("firing") or {}
        fire = GaugeMetricFamily(
            "vigil_breaker_rule_firing",
            "1 if the breaker rule fires now, else 0 (every rule of the catalogue)",
            labels=["rule"],
        )
        measure = GaugeMetricFamily(
            "vigil_breaker_rule_measure",
            "the breaker rule's current measure, in the rule's own unit (see GET /v1/status)",
            labels=["rule"],
        )
        for rule in sorted(set(measures) | set(firing)):
            fire.add_metric([rule], 1 if rule in firing else 0)
            value = number(measures.get(rule))
            if value is not None:
                measure.add_metric([rule], value)
        yield fire
        yield measure

    @staticmethod
    def _actors(status: dict[str, Any]) -> Iterator[Metric]:
        alive = GaugeMetricFamily("vigil_actor_alive", "1 if the actor runs", labels=["actor"])
        for name, ok in status["actors"].items():
            alive.add_metric([name], 1 if ok else 0)
        yield alive
        restarts = GaugeMetricFamily("vigil_actor_restarts", "restarts so far", labels=["actor"])
        for name, count in status["restarts"].items():
            restarts.add_metric([name], count)
        yield restarts
        inbox = GaugeMetricFamily(
            "vigil_inbox_depth", "messages waiting in the actor's inbox", labels=["actor"]
        )
        for name, depth in sorted(status.get("inboxes", {}).items()):
            inbox.add_metric([name], depth)
        yield inbox
        streams = GaugeMetricFamily(
            "vigil_stream_up", "1 if the exchange stream is subscribed", labels=["stream"]
        )
        for name, state in sorted(status.get("streams", {}).items()):
            streams.add_metric([name], 1 if state in UP_STREAMS else 0)
        yield streams

    @staticmethod
    def _reconciliation(status: dict[str, Any]) -> Iterator[Metric]:
        recon = status["reconciliation"]
        yield gauge(
            "vigil_reconciliation_healthy",
            "1 if the last result was HEALTHY",
            1 if recon["result"] == "HEALTHY" else 0,
        )
        result = GaugeMetricFamily(
            "vigil_reconciliation_result", "1 for the last result, 0 others", labels=["result"]
        )
        for name in RESULTS:
            result.add_metric([name], 1 if recon["result"] == name else 0)
        yield result
        yield gauge(
            "vigil_reconciliation_last_timestamp_seconds",
            "when the cycle of the last result began (Unix time)",
            recon["at_ms"] / 1000 if recon.get("at_ms") else None,
        )
        yield gauge(
            "vigil_reconciliation_last_healthy_timestamp_seconds",
            "when the cycle of the last HEALTHY result began (Unix time)",
            recon["last_healthy_ms"] / 1000 if recon.get("last_healthy_ms") else None,
        )
        yield gauge(
            "vigil_reconciliation_age_seconds",
            "seconds since the last reconciliation result (since the start, before the first)",
            status.get("reconciliation_age_s"),
        )

    @staticmethod
    def _book(status: dict[str, Any]) -> Iterator[Metric]:
        orders = GaugeMetricFamily("vigil_orders", "orders in the book", labels=["kind"])
        for kind, count in status.get("orders", {}).items():
            orders.add_metric([kind], count)
        yield orders
        yield gauge(
            "vigil_orders_open_under_red",
            "our orders still open, in flight or unknown while RED",
            status.get("orders_open_under_red"),
        )
        fills = CounterMetricFamily(
            "vigil_fills", "fills accounted in the book", labels=["symbol", "side"]
        )
        for symbol, sides in sorted(status.get("fills_by_symbol", {}).items()):
            for side, count in sorted(sides.items()):
                fills.add_metric([symbol, side], count)
        yield fills
        counters = status.get("counters", {})
        intents = CounterMetricFamily(
            "vigil_intents", "intents the broker decided, by outcome", labels=["outcome"]
        )
        for outcome in ("accepted", "refused"):
            if outcome in counters:
                intents.add_metric([outcome], counters[outcome])
        yield intents
        if "sent" in counters:
            yield counter(
                "vigil_orders_sent", "orders that went (or may have gone) out", counters["sent"]
            )
        if "answered" in counters:
            yield counter(
                "vigil_send_answers", "sends the wire had an answer for", counters["answered"]
            )
        balance = GaugeMetricFamily(
            "vigil_balance", "the book's total balance of the asset", labels=["asset"]
        )
        for asset, amount in sorted(status.get("balances", {}).items()):
            value = number(amount)
            if value is not None:
                balance.add_metric([asset], value)
        yield balance
        risk = status.get("risk") or {}
        yield gauge(
            "vigil_daily_pnl",
            "P&L since the UTC day's mark, in the quote asset (absent until the day is marked)",
            number(risk.get("daily_pnl")),
        )
        yield gauge(
            "vigil_equity",
            "the balances valued in the quote asset at the reference prices",
            number(risk.get("equity")),
        )
        yield gauge(
            "vigil_peak_equity",
            "today's peak equity, in the quote asset",
            number(risk.get("peak_equity")),
        )
        yield gauge(
            "vigil_unknown_orders", "orders whose outcome is unknown", risk.get("unknown_orders")
        )
        yield gauge(
            "vigil_unvalued_assets",
            "assets held without a price (left out of the equity)",
            len(risk["unvalued_assets"]) if "unvalued_assets" in risk else None,
        )
        latency = GaugeMetricFamily(
            "vigil_execution_latency_seconds",
            "recent order latency per symbol: leg place_ack or place_fill, nearest-rank quantile",
            labels=["symbol", "leg", "quantile"],
        )
        slippage = GaugeMetricFamily(
            "vigil_execution_slippage_ratio",
            "recent fills' slippage against the arrival mid (0.0001 = 1 bp; positive = worse)",
            labels=["symbol", "quantile"],
        )
        for symbol, legs in sorted(status.get("execution", {}).items()):
            for leg, stats in sorted(legs.items()):
                for key, q in QUANTILES.items():
                    value = number(stats.get(key))
                    if value is None:
                        continue
                    if leg == "slippage_bps":
                        slippage.add_metric([symbol, q], value / 10_000)
                    else:
                        latency.add_metric([symbol, leg, q], value / 1000)
        yield latency
        yield slippage

    @staticmethod
    def _process(status: dict[str, Any]) -> Iterator[Metric]:
        yield counter(
            "vigil_malformed_payloads",
            "exchange messages that failed to parse",
            status["malformed_payloads"],
        )
        journal = status.get("journal", {})
        yield gauge(
            "vigil_journal_entries", "entries in the durable journal", journal.get("entries")
        )
        yield gauge(
            "vigil_journal_pending", "journal entries not yet on disk", journal.get("pending")
        )
        audit = status.get("audit", {})
        yield gauge(
            "vigil_audit_lag_seconds",
            "seconds since the oldest audit record not yet on disk was written (0: all durable)",
            audit.get("lag_s"),
        )
        yield gauge("vigil_audit_pending", "audit records not yet on disk", audit.get("pending"))
        weight = status.get("exchange_weight", {})
        yield gauge(
            "vigil_exchange_weight_used",
            "request weight used in the exchange's current minute",
            weight.get("used_1m"),
        )
        yield gauge(
            "vigil_exchange_weight_limit",
            "the exchange's request weight limit per minute",
            weight.get("limit_1m"),
        )


def gauge(name: str, help_text: str, value: float | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text)
    if value is not None:
        family.add_metric([], value)
    return family


def counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def registry(system: VigilSystem, status: Callable[[], dict[str, Any]]) -> CollectorRegistry:
    """A registry of its own per control API (one process may run several systems in
    tests): Vigil's collector and the process's (CPU, memory, file descriptors)."""
    out = CollectorRegistry()
    out.register(SystemCollector(system, status))
    ProcessCollector(registry=out)
    return out
