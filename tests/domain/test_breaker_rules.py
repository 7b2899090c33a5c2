"""Breaker rules: every measure at its exact edges, escalation to RED, windows, cool-down,
and what YELLOW allows. Table-driven, no threads, no clock."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.sections import BreakerSettings, ReconciliationSettings
from config.settings import VigilSettings
from domain.breaker import Level
from domain.breaker_rules import (
    CATALOG,
    DEFAULT_TRIGGERS,
    SPECS,
    BreakerRules,
    Evidence,
    Measure,
    Rule,
    RuleSpec,
    Trigger,
    YellowCoolDown,
    YellowLimits,
    yellow_refusal,
)

D = Decimal
T0 = 1_000_000


def rules_with(name: str, trigger: Trigger) -> BreakerRules:
    """Only ``name`` switched on."""
    off = {n: Trigger(D(0)) for n in SPECS}
    return BreakerRules({**off, name: trigger}, T0)


def feed(
    rules: BreakerRules, kind: str, times: int, at: int = T0, value: str | None = None
) -> None:
    for i in range(times):
        rules.observe(Evidence(kind, at + i, None if value is None else D(value)))


# --- one row per trigger of the catalogue: the evidence that drives it, and what it means -----

# (rule, evidence kind, how many events / the sample, expected level at the default trigger)
EVERY_TRIGGER = [
    ("api_errors", "poll_failed", 5, None, Level.YELLOW),
    ("api_errors", "reconciliation_failed", 20, None, Level.RED),
    ("ping_failures", "ping_failed", 3, None, Level.YELLOW),
    ("ping_failures", "ping_failed", 10, None, Level.RED),
    ("rejects", "order_rejected", 5, None, Level.YELLOW),
    ("timeouts", "unknown_outcome", 3, None, Level.YELLOW),
    ("timeouts", "unknown_outcome", 10, None, Level.RED),
    ("rate_limited", "rate_limit_http_429", 1, None, Level.YELLOW),
    ("ban", "rate_limit_http_418", 1, None, Level.RED),
    ("reconciliation_failures", "reconciliation_failed", 3, None, Level.RED),
    ("slippage", "slippage_bps", 1, "50.01", Level.YELLOW),
    ("slippage", "slippage_bps", 1, "500.01", Level.RED),
    ("partial_fills", "partial_fill", 50, None, Level.YELLOW),
    ("unknown_orders", "unknown_orders", 1, "3", Level.YELLOW),
    ("unknown_orders", "unknown_orders", 1, "6", Level.RED),  # more than 5
    ("order_latency", "order_latency_p95_ms", 1, "2000.1", Level.YELLOW),
    ("memory", "memory_mb", 1, "2049", Level.YELLOW),
    ("memory", "memory_mb", 1, "4097", Level.RED),
    ("cpu", "cpu_pct", 1, "95.1", Level.YELLOW),
    ("disk_free", "disk_free_mb", 1, "1023", Level.YELLOW),
    ("disk_free", "disk_free_mb", 1, "99", Level.RED),
    ("actor_restarts", "actor_restart", 3, None, Level.RED),
    ("inbox_backlog", "inbox_backlog", 1, "20001", Level.YELLOW),
    ("reconnects", "stream_disconnected", 5, None, Level.YELLOW),
    ("consecutive_losses", "losing_trade", 5, None, Level.YELLOW),
    ("position_invariant", "position_invariant", 1, None, Level.RED),
]


@pytest.mark.parametrize(("rule", "kind", "times", "value", "level"), EVERY_TRIGGER)
def test_each_trigger_fires_at_its_default_threshold_with_its_level(
    rule: str, kind: str, times: int, value: str | None, level: Level
) -> None:
    rules = rules_with(rule, DEFAULT_TRIGGERS[rule])
    feed(rules, kind, times - 1, value=value)
    if value is None:  # one event short of the threshold: not (yet) this level
        short = rules.evaluate(T0 + 100).firing.get(rule)
        assert short is None or short.level is not level
        feed(rules, kind, 1, at=T0 + 50)
    else:
        feed(rules, kind, 1, value=value)
    verdict = rules.evaluate(T0 + 100).firing[rule]
    assert verdict.level is level
    assert verdict.reason.startswith(f"{rule}: ")


@pytest.mark.parametrize(
    ("measure_rule", "kind", "samples", "fires"),
    [
        ("slippage", "slippage_bps", ["50"], False),  # equal to the limit: within it
        ("slippage", "slippage_bps", ["50.0000000001"], True),
        ("slippage", "slippage_bps", ["-900"], False),  # better than the mid
        ("disk_free", "disk_free_mb", ["1024"], False),
        ("disk_free", "disk_free_mb", ["1023.999"], True),
        ("order_latency", "order_latency_p95_ms", ["1999", "2000"], False),
    ],
)
def test_above_and_below_are_strict_at_the_exact_threshold(
    measure_rule: str, kind: str, samples: list[str], fires: bool
) -> None:
    rules = rules_with(measure_rule, DEFAULT_TRIGGERS[measure_rule])
    for i, s in enumerate(samples):
        rules.observe(Evidence(kind, T0 + i, D(s)))
    assert (measure_rule in rules.evaluate(T0 + 10).firing) is fires


def test_a_count_forgets_events_older_than_its_window() -> None:
    rules = rules_with("rejects", Trigger(D(3), Level.YELLOW, window_s=10))
    feed(rules, "order_rejected", 2, at=T0)
    feed(rules, "order_rejected", 1, at=T0 + 9_000)
    assert "rejects" in rules.evaluate(T0 + 9_999).firing
    assert "rejects" not in rules.evaluate(T0 + 10_000).firing  # the first two fell out


def test_a_sample_fires_only_while_it_is_inside_the_window() -> None:
    rules = rules_with("slippage", Trigger(D(50), Level.YELLOW, window_s=5))
    rules.observe(Evidence("slippage_bps", T0, D(120)))
    assert "slippage" in rules.evaluate(T0 + 4_999).firing
    assert "slippage" not in rules.evaluate(T0 + 5_000).firing


@given(
    st.sampled_from([Measure.ABOVE, Measure.BELOW]),
    st.lists(st.tuples(st.integers(0, 3_000), st.integers(-50, 50), st.booleans()), max_size=60),
)
def test_a_windowed_sample_measure_is_the_max_or_min_of_the_window(
    measure: Measure, steps: list[tuple[int, int, bool]]
) -> None:
    """The running max / min kept as samples come equals the max / min of every sample
    still in the window, at every step (samples and looks interleaved, equal values)."""
    spec = RuleSpec("r", "execution", measure, frozenset({"k"}))  # type: ignore[arg-type]
    rule = Rule(spec, Trigger(D(1), Level.YELLOW, window_s=5), T0)
    seen: list[tuple[int, Decimal]] = []
    now = T0
    for gap, value, look in steps:
        now += gap
        if look:
            window = [v for at, v in seen if at > now - 5_000]
            expected = (max if measure is Measure.ABOVE else min)(window) if window else None
            assert rule.measure(now) == expected
        else:
            rule.observe(Evidence("k", now, D(value)))
            seen.append((now, D(value)))


def test_evidence_re_judges_only_the_rules_it_feeds_and_the_tick_judges_all() -> None:
    rules = BreakerRules(
        {
            "rejects": Trigger(D(2), Level.YELLOW, window_s=10),
            "slippage": Trigger(D(50), Level.YELLOW, window_s=10),
        },
        T0,
    )
    feed(rules, "order_rejected", 2, at=T0)
    a = rules.evaluate(T0 + 1, ["order_rejected"])
    assert [v.rule for v in a.started] == ["rejects"] and a.yellow_seen == a.started
    # past the rejects' window, a slippage sample judges slippage only: rejects keeps its
    # verdict (not seen again now), until the next full evaluation drops it
    rules.observe(Evidence("slippage_bps", T0 + 10_500, D(60)))
    a = rules.evaluate(T0 + 10_500, ["slippage_bps"])
    assert set(a.firing) == {"rejects", "slippage"}
    assert [v.rule for v in a.started] == ["slippage"] and not a.stopped
    assert [v.rule for v in a.yellow_seen] == ["slippage"]
    a = rules.evaluate(T0 + 10_500)
    assert set(a.firing) == {"slippage"} and a.stopped == ("rejects",)
    # a success ends a run: evidence of an ok kind re-judges the rule it ends
    rules = rules_with("ping_failures", Trigger(D(2), Level.YELLOW))
    feed(rules, "ping_failed", 2)
    assert "ping_failures" in rules.evaluate(T0 + 2, ["ping_failed"]).firing
    rules.observe(Evidence("ping_ok", T0 + 3))
    assert rules.evaluate(T0 + 3, ["ping_ok"]).stopped == ("ping_failures",)


# --- gauges: the latest sample is the state now --------------------------------------------

GAUGES = ["unknown_orders", "memory", "cpu", "disk_free", "inbox_backlog", "daily_loss",
          "drawdown"]  # fmt: skip


def test_the_gauges_are_the_rules_that_describe_the_present() -> None:
    assert sorted(s.name for s in CATALOG if s.gauge) == sorted(GAUGES)
    assert all(s.condition for s in CATALOG if s.gauge or s.measure is Measure.SILENCE)


def test_a_gauge_reported_only_on_change_stays_true_until_it_changes() -> None:
    rules = rules_with("unknown_orders", DEFAULT_TRIGGERS["unknown_orders"])
    rules.observe(Evidence("unknown_orders", T0, D(4)))
    day = 86_400_000
    assert rules.evaluate(T0 + day).firing["unknown_orders"].level is Level.YELLOW
    rules.observe(Evidence("unknown_orders", T0 + day, D(6)))
    assert rules.evaluate(T0 + day).firing["unknown_orders"].level is Level.RED
    rules.observe(Evidence("unknown_orders", T0 + day + 1, D(0)))  # resolved: the latest counts
    assert "unknown_orders" not in rules.evaluate(T0 + day + 1).firing


@pytest.mark.parametrize(("sample", "level"), [("5", Level.YELLOW), ("5.0001", Level.RED)])
def test_a_gauge_is_strict_at_its_red_line(sample: str, level: Level) -> None:
    rules = rules_with("unknown_orders", DEFAULT_TRIGGERS["unknown_orders"])
    rules.observe(Evidence("unknown_orders", T0, D(sample)))
    assert rules.evaluate(T0).firing["unknown_orders"].level is level


def test_a_one_day_gauge_costs_one_sample_however_many_came() -> None:
    rules = rules_with("daily_loss", Trigger(D(100), Level.RED))
    for i in range(10_000):
        rules.observe(Evidence("daily_loss", T0 + i, D(i % 150 + 50)))
    assert len(rules.rules["daily_loss"].events) == 1
    assert rules.evaluate(T0 + 10_000).firing["daily_loss"].value == D(9_999 % 150 + 50)


# --- a reset: the counting starts over, the conditions carry over ----------------------------


def test_afresh_forgets_the_counts_and_keeps_silences_and_gauges() -> None:
    rules = BreakerRules(
        {
            **{n: Trigger(D(0)) for n in SPECS},
            "rejects": Trigger(D(2), Level.YELLOW, 60),
            "market_data": Trigger(D(30), Level.YELLOW, 0, D(120)),
            "disk_free": Trigger(D(1024), Level.YELLOW, 0, D(100)),
        },
        T0,
    )
    now = T0 + 121_000  # no market data since the start
    feed(rules, "order_rejected", 2, at=now - 1_000)
    rules.observe(Evidence("disk_free_mb", T0, D(50)))
    assert set(rules.evaluate(now).firing) == {"rejects", "market_data", "disk_free"}
    assert {v.rule for v in rules.red_conditions(now)} == {"market_data", "disk_free"}
    fresh = rules.afresh(now)
    assert set(fresh.evaluate(now).firing) == {"market_data", "disk_free"}
    assert fresh.rules["rejects"].events == deque()
    # the feed comes back and the disk is freed: nothing left
    fresh.observe(Evidence("market_data", now + 1))
    fresh.observe(Evidence("disk_free_mb", now + 1, D(5000)))
    assert fresh.evaluate(now + 2).firing == {}
    assert fresh.red_conditions(now + 2) == []


def test_a_counting_rule_needs_a_window() -> None:
    with pytest.raises(ValueError, match="'rejects' counts over a window"):
        BreakerRules({"rejects": Trigger(D(5), Level.YELLOW, window_s=0)}, T0)
    BreakerRules({"unknown_orders": Trigger(D(2), Level.YELLOW, window_s=0)}, T0)  # a gauge
    with pytest.raises(ValueError, match=r"triggers\.rejects\.window_s must be above 0"):
        BreakerSettings(triggers={"rejects": {"window_s": 0}})
    with pytest.raises(ValueError, match="yellow_cool_down_s"):
        BreakerSettings(yellow_cool_down_s=0)  # 0 would forget a cause as it is noted
    with pytest.raises(ValueError, match="market_data_report_s"):  # a live feed looks silent
        BreakerSettings(market_data_report_s=5, triggers={"market_data": {"threshold": 5}})
    BreakerSettings(market_data_report_s=5, triggers={"market_data": {"threshold": 0}})


def test_a_success_ends_a_run_of_failures() -> None:
    rules = rules_with("ping_failures", Trigger(D(3), Level.YELLOW, red_threshold=D(5)))
    feed(rules, "ping_failed", 2)
    rules.observe(Evidence("ping_ok", T0 + 10))
    feed(rules, "ping_failed", 2, at=T0 + 20)
    assert rules.evaluate(T0 + 30).firing == {}
    feed(rules, "ping_failed", 1, at=T0 + 40)
    assert rules.evaluate(T0 + 50).firing["ping_failures"].level is Level.YELLOW


def test_a_critical_reconciliation_ends_a_run_of_failed_cycles() -> None:
    rules = rules_with("reconciliation_failures", Trigger(D(2), Level.RED))
    feed(rules, "reconciliation_failed", 1)
    rules.observe(Evidence("reconciliation_critical", T0 + 5))
    feed(rules, "reconciliation_failed", 1, at=T0 + 10)
    assert rules.evaluate(T0 + 20).firing == {}


def test_a_cycle_held_back_by_a_429_is_a_failed_cycle_but_not_an_api_error() -> None:
    rules = BreakerRules(
        {
            **{n: Trigger(D(0)) for n in SPECS},
            "reconciliation_failures": Trigger(D(3), Level.RED),
            "api_errors": Trigger(D(1), Level.YELLOW, 30),
        },
        T0,
    )
    feed(rules, "reconciliation_held_back", 2)
    feed(rules, "poll_held_back", 5, at=T0 + 10)
    assert rules.evaluate(T0 + 20).firing == {}
    feed(rules, "reconciliation_failed", 1, at=T0 + 30)  # mixed: still one run
    firing = rules.evaluate(T0 + 40).firing
    assert firing["reconciliation_failures"].level is Level.RED
    assert firing["api_errors"].level is Level.YELLOW  # only the real failure counts there
    assert rules.measures(T0 + 40)["api_errors"] == "1"


@pytest.mark.parametrize(
    ("silent_ms", "level"),
    [(30_000, None), (30_001, Level.YELLOW), (120_000, Level.YELLOW), (120_001, Level.RED)],
)
def test_the_market_data_dead_mans_switch_yellow_then_red(
    silent_ms: int, level: Level | None
) -> None:
    rules = rules_with("market_data", DEFAULT_TRIGGERS["market_data"])
    rules.observe(Evidence("market_data", T0 + 1_000))
    verdict = rules.evaluate(T0 + 1_000 + silent_ms).firing.get("market_data")
    assert (verdict.level if verdict else None) is level


def test_silence_counts_from_the_start_when_nothing_ever_came() -> None:
    rules = rules_with("market_data", Trigger(D(5), Level.YELLOW))
    assert rules.evaluate(T0 + 5_000).firing == {}
    assert "market_data" in rules.evaluate(T0 + 5_001).firing


def test_the_operator_heartbeat_is_off_by_default_and_on_when_configured() -> None:
    assert not DEFAULT_TRIGGERS["operator_heartbeat"].enabled
    assert "operator_heartbeat" not in BreakerRules(DEFAULT_TRIGGERS, T0).rules
    rules = rules_with("operator_heartbeat", Trigger(D(10), Level.YELLOW))
    rules.observe(Evidence("operator_heartbeat", T0 + 5_000))
    assert rules.evaluate(T0 + 15_000).firing == {}
    assert "operator_heartbeat" in rules.evaluate(T0 + 15_001).firing


def test_a_threshold_of_zero_switches_a_trigger_off() -> None:
    rules = rules_with("ban", Trigger(D(0), Level.RED))
    feed(rules, "rate_limit_http_418", 5)
    assert rules.evaluate(T0 + 10).firing == {}


def test_a_red_threshold_alone_keeps_the_trigger_on() -> None:
    rules = rules_with("timeouts", Trigger(D(0), Level.YELLOW, red_threshold=D(2)))
    feed(rules, "unknown_outcome", 1)
    assert rules.evaluate(T0 + 10).firing == {}
    feed(rules, "unknown_outcome", 1, at=T0 + 5)
    assert rules.evaluate(T0 + 10).firing["timeouts"].level is Level.RED


def test_transitions_are_reported_once_started_escalated_and_stopped() -> None:
    rules = rules_with("timeouts", Trigger(D(1), Level.YELLOW, window_s=10, red_threshold=D(2)))
    feed(rules, "unknown_outcome", 1)
    first = rules.evaluate(T0 + 1)
    assert [(v.rule, v.level) for v in first.started] == [("timeouts", Level.YELLOW)]
    assert rules.evaluate(T0 + 2).started == ()  # still firing: no new transition
    feed(rules, "unknown_outcome", 1, at=T0 + 3)
    assert [v.level for v in rules.evaluate(T0 + 4).started] == [Level.RED]
    assert rules.evaluate(T0 + 20_000).stopped == ("timeouts",)


def test_the_reason_names_the_measure_and_the_limit() -> None:
    rules = rules_with("api_errors", DEFAULT_TRIGGERS["api_errors"])
    for i in range(5):
        rules.observe(Evidence("poll_failed", T0 + i, detail="RequestError: 503"))
    verdict = rules.evaluate(T0 + 10).firing["api_errors"]
    assert verdict.reason == "api_errors: 5 errors in 30s (limit 5) — RequestError: 503"


def test_an_unknown_trigger_name_is_refused() -> None:
    with pytest.raises(KeyError, match="nope"):
        BreakerRules({"nope": Trigger(D(1))}, T0)


def test_the_catalogue_covers_every_area_of_the_issue() -> None:
    assert {s.area for s in CATALOG} == {
        "exchange",
        "reconciliation",
        "execution",
        "infrastructure",
        "risk",
        "liveness",
    }


# --- YELLOW's cool-down ------------------------------------------------------------------------


def test_yellow_may_clear_only_after_every_cause_has_been_gone_for_the_cool_down() -> None:
    cool = YellowCoolDown(cool_down_s=10)
    cool.note("rejects", "rejects: 5", T0)
    cool.note("reconnects", "reconnects: 5", T0 + 4_000)
    assert not cool.may_clear(T0 + 9_999)
    assert list(cool.active(T0 + 10_000)) == ["reconnects"]  # the first one cooled down
    assert not cool.may_clear(T0 + 13_999)
    assert cool.may_clear(T0 + 14_000)


def test_a_cause_seen_again_restarts_its_cool_down() -> None:
    cool = YellowCoolDown(cool_down_s=10)
    cool.note("rejects", "r", T0)
    cool.note("rejects", "r", T0 + 8_000)
    assert not cool.may_clear(T0 + 17_999)
    assert cool.may_clear(T0 + 18_000)


# --- what YELLOW allows ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "causes", "reduces", "recent", "refusal"),
    [
        (YellowLimits(), ["rejects"], True, 0, None),
        (YellowLimits(), ["rejects"], False, 0, "YELLOW: only orders that reduce exposure"),
        (YellowLimits(reduce_only=False), ["rejects"], False, 5, None),
        (
            YellowLimits(reduce_only=False),
            ["rejects"],
            False,
            6,
            "YELLOW: 6 orders in the last minute, limit 6",
        ),
        (YellowLimits(), ["market_data"], True, 0, "YELLOW: trading paused (market_data)"),
        (
            YellowLimits(),
            ["rejects", "operator_heartbeat"],
            True,
            0,
            "YELLOW: trading paused (operator_heartbeat)",
        ),
        (YellowLimits(pause_on=frozenset()), ["market_data"], True, 0, None),
        (
            YellowLimits(max_orders_per_minute=0),
            [],
            True,
            0,
            "YELLOW: 0 orders in the last minute, limit 0",
        ),
    ],
)
def test_yellow_refusal_table(
    limits: YellowLimits, causes: list[str], reduces: bool, recent: int, refusal: str | None
) -> None:
    got = yellow_refusal(limits, causes, reduces_exposure=reduces, orders_last_minute=recent)
    assert got == refusal


# --- configuration -----------------------------------------------------------------------------


def test_settings_derive_the_reconciliation_triggers_and_apply_overrides() -> None:
    breaker = BreakerSettings(
        triggers={"ban": {"level": "YELLOW"}, "api_errors": {"threshold": "7", "window_s": 5}}
    )
    recon = ReconciliationSettings(interval_s=2, max_age_intervals=4)
    t = breaker.resolved_triggers(recon)
    assert t["reconciliation_failures"].threshold == D(4)
    assert t["reconciliation_stale"].threshold == D(8) and t["reconciliation_stale"].red_threshold
    assert t["ban"].level is Level.YELLOW and t["ban"].threshold == D(1)
    assert (t["api_errors"].threshold, t["api_errors"].window_s) == (D(7), 5)
    assert t["api_errors"].red_threshold == D(20)  # unset keys keep the default


def test_settings_refuse_an_unknown_trigger_name() -> None:
    with pytest.raises(ValueError, match="unknown breaker trigger 'api_erors'"):
        BreakerSettings(triggers={"api_erors": {"threshold": 1}})


def test_a_trigger_can_be_set_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_BREAKER__TRIGGERS__REJECTS__THRESHOLD", "9")
    monkeypatch.setenv("VIGIL_BREAKER__YELLOW_COOL_DOWN_S", "12")
    settings = VigilSettings()
    assert settings.breaker.yellow_cool_down_s == 12
    assert settings.breaker.resolved_triggers(settings.reconciliation)["rejects"].threshold == 9
