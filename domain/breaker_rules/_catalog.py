"""The breaker's catalogue: every rule as a row of data (``RuleSpec``: a name, what it
measures, the ``EvidenceKind``s that feed it, its default ``Trigger``), like a supervisor's
child specs; a new rule is a row, not a new code path.

Every subsystem reports *evidence* (``Evidence``: a kind, a time, maybe a number); a rule
measures the evidence of its kinds one way (``Measure``) and compares the measure with its
trigger (threshold, window, YELLOW or RED, and an optional higher threshold that means
RED). A threshold of 0 switches a trigger off. How each measure fires is the engine's
contract (``domain.breaker_rules._engine``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from domain.breaker import Level


class Measure(StrEnum):
    COUNT = "count"  # events in a sliding window
    CONSECUTIVE = "consecutive"  # failures in a row, reset by a success
    ABOVE = "above"  # a sample in the window above the threshold
    BELOW = "below"  # a sample in the window below the threshold
    SILENCE = "silence"  # seconds since the last event


class EvidenceKind(StrEnum):
    """Every kind of evidence the breaker is sent. Those in the first groups feed a rule of
    ``CATALOG``; the last group feeds none (a RED or YELLOW input acts by its severity, the
    rest is audited only). ``Evidence.kind`` is a plain string: a member equals its value."""

    # exchange
    POLL_FAILED = "poll_failed"
    PING_FAILED = "ping_failed"
    PING_OK = "ping_ok"
    ORDER_REJECTED = "order_rejected"
    UNKNOWN_OUTCOME = "unknown_outcome"
    RATE_LIMIT_HTTP_429 = "rate_limit_http_429"
    RATE_LIMIT_ORDER_RATE = "rate_limit_order_rate"
    RATE_LIMIT_HTTP_418 = "rate_limit_http_418"
    # reconciliation
    RECONCILIATION_OK = "reconciliation_ok"
    RECONCILIATION_FAILED = "reconciliation_failed"
    RECONCILIATION_HELD_BACK = "reconciliation_held_back"
    RECONCILIATION_CRITICAL = "reconciliation_critical"
    # execution
    SLIPPAGE_BPS = "slippage_bps"
    PARTIAL_FILL = "partial_fill"
    UNKNOWN_ORDERS = "unknown_orders"
    ORDER_LATENCY_P95_MS = "order_latency_p95_ms"
    # infrastructure
    MEMORY_MB = "memory_mb"
    CPU_PCT = "cpu_pct"
    DISK_FREE_MB = "disk_free_mb"
    INBOX_BACKLOG = "inbox_backlog"
    ACTOR_RESTART = "actor_restart"
    STREAM_DISCONNECTED = "stream_disconnected"
    # risk
    DAILY_LOSS = "daily_loss"
    DRAWDOWN_PCT = "drawdown_pct"
    LOSING_TRADE = "losing_trade"
    WINNING_TRADE = "winning_trade"
    POSITION_INVARIANT = "position_invariant"
    # liveness
    MARKET_DATA = "market_data"
    OPERATOR_HEARTBEAT = "operator_heartbeat"
    # read by no rule
    EXISTING_ORDERS = "existing_orders"  # RED: open orders on the exchange at start-up
    UNKNOWN_ORDER = "unknown_order"  # RED: a report of an order the book never placed
    UNKNOWN_STUCK = "unknown_stuck"  # RED: an order's outcome still unknown
    IMPOSSIBLE_REPORT = "impossible_report"  # RED: a report that breaks the book's invariants
    ANOTHER_INSTANCE = "another_instance"  # RED: another Vigil trades this exchange account
    MALFORMED_PAYLOAD = "malformed_payload"  # YELLOW: the exchange sent something unreadable
    POLL_OVERDUE = "poll_overdue"  # YELLOW: a REST poll running too long
    POLL_HELD_BACK = "poll_held_back"  # a poll held back by our own rate-limit gate
    RATE_LIMIT_THROTTLED = "rate_limit_throttled"  # our pre-emptive throttle
    RATE_LIMIT_GATE_CLOSED = "rate_limit_gate_closed"  # a request held at the gate a 429/418 closed


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation from a subsystem: ``kind`` names it, ``value`` is its number (samples)."""

    kind: str
    at_ms: int
    value: Decimal | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Trigger:
    """When a rule fires and what it means. ``red_threshold`` (optional) is a second, farther
    threshold at which the rule means RED whatever ``level`` says; 0 switches a trigger off."""

    threshold: Decimal
    level: Level = Level.YELLOW
    window_s: float = 60.0
    red_threshold: Decimal | None = None

    @property
    def enabled(self) -> bool:
        return self.threshold != 0 or (self.red_threshold is not None and self.red_threshold != 0)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A catalogue entry: what a rule measures and which evidence feeds it."""

    name: str
    area: str  # exchange | reconciliation | execution | infrastructure | risk | liveness
    measure: Measure
    kinds: frozenset[EvidenceKind]
    ok_kinds: frozenset[EvidenceKind] = frozenset()  # CONSECUTIVE: evidence that ends a run
    default: Trigger = Trigger(Decimal(0))
    unit: str = ""
    gauge: bool = False  # ABOVE/BELOW: the latest sample is the state now (no window)

    @property
    def windowed(self) -> bool:
        """Whether ``Trigger.window_s`` means anything for this rule."""
        return self.measure is Measure.COUNT or (
            self.measure in (Measure.ABOVE, Measure.BELOW) and not self.gauge
        )

    @property
    def condition(self) -> bool:
        """Describes the present (a silence, a gauge) rather than counting past evidence."""
        return self.measure is Measure.SILENCE or self.gauge


def _spec(
    name: str,
    area: str,
    measure: Measure,
    kinds: Iterable[EvidenceKind],
    default: Trigger,
    *,
    ok: Iterable[EvidenceKind] = (),
    unit: str = "",
    gauge: bool = False,
) -> RuleSpec:
    return RuleSpec(name, area, measure, frozenset(kinds), frozenset(ok), default, unit, gauge)


D = Decimal
K = EvidenceKind
Y, R = Level.YELLOW, Level.RED

CATALOG: tuple[RuleSpec, ...] = (
    # exchange
    _spec(
        "api_errors",
        "exchange",
        Measure.COUNT,
        [K.POLL_FAILED, K.RECONCILIATION_FAILED],
        Trigger(D(5), Y, 30, D(20)),
        unit="errors",
    ),
    _spec(
        "ping_failures",
        "exchange",
        Measure.CONSECUTIVE,
        [K.PING_FAILED],
        Trigger(D(3), Y, 0, D(10)),
        ok=[K.PING_OK],
        unit="pings",
    ),
    _spec(
        "rejects",
        "exchange",
        Measure.COUNT,
        [K.ORDER_REJECTED],
        Trigger(D(5), Y, 60),
        unit="rejects",
    ),
    _spec(
        "timeouts",
        "exchange",
        Measure.COUNT,
        [K.UNKNOWN_OUTCOME],
        Trigger(D(3), Y, 60, D(10)),
        unit="timeouts",
    ),
    _spec(
        "rate_limited",
        "exchange",
        Measure.COUNT,
        [K.RATE_LIMIT_HTTP_429, K.RATE_LIMIT_ORDER_RATE],
        Trigger(D(1), Y, 60),
        unit="refusals",
    ),
    _spec(
        "ban",
        "exchange",
        Measure.COUNT,
        [K.RATE_LIMIT_HTTP_418],
        Trigger(D(1), R, 600),
        unit="bans",
    ),
    _spec(
        "malformed_payload",
        "exchange",
        Measure.COUNT,
        [K.MALFORMED_PAYLOAD],
        Trigger(D(1), Y, 1),
        unit="payloads",
    ),
    _spec(
        "poll_overdue",
        "exchange",
        Measure.COUNT,
        [K.POLL_OVERDUE],
        Trigger(D(1), Y, 1),
        unit="polls",
    ),
    # the book: what only the order path can see
    _spec(
        "existing_orders",
        "reconciliation",
        Measure.COUNT,
        [K.EXISTING_ORDERS],
        Trigger(D(1), R, 86400),
        unit="starts",
    ),
    _spec(
        "unknown_order",
        "reconciliation",
        Measure.COUNT,
        [K.UNKNOWN_ORDER],
        Trigger(D(1), R, 86400),
        unit="reports",
    ),
    _spec(
        "another_instance",
        "reconciliation",
        Measure.COUNT,
        [K.ANOTHER_INSTANCE],
        Trigger(D(1), R, 86400),
        unit="orders",
    ),
    _spec(
        "impossible_report",
        "reconciliation",
        Measure.COUNT,
        [K.IMPOSSIBLE_REPORT],
        Trigger(D(1), R, 86400),
        unit="reports",
    ),
    _spec(
        "unknown_stuck",
        "execution",
        Measure.COUNT,
        [K.UNKNOWN_STUCK],
        Trigger(D(1), R, 86400),
        unit="orders",
    ),
    # reconciliation (defaults derived from [reconciliation] by the settings)
    _spec(
        "reconciliation_failures",
        "reconciliation",
        Measure.CONSECUTIVE,
        [K.RECONCILIATION_FAILED, K.RECONCILIATION_HELD_BACK],
        Trigger(D(3), R, 0),
        ok=[K.RECONCILIATION_OK, K.RECONCILIATION_CRITICAL],
        unit="cycles",
    ),
    _spec(
        "reconciliation_stale",
        "reconciliation",
        Measure.SILENCE,
        [K.RECONCILIATION_OK],
        Trigger(D(15), Y, 0, D(30)),
        unit="s",
    ),
    # execution
    _spec(
        "slippage",
        "execution",
        Measure.ABOVE,
        [K.SLIPPAGE_BPS],
        Trigger(D(50), Y, 60, D(500)),
        unit="bps",
    ),
    _spec(
        "partial_fills",
        "execution",
        Measure.COUNT,
        [K.PARTIAL_FILL],
        Trigger(D(50), Y, 60),
        unit="partial fills",
    ),
    _spec(
        "unknown_orders",
        "execution",
        Measure.ABOVE,
        [K.UNKNOWN_ORDERS],
        Trigger(D(2), Y, 0, D(5)),
        unit="orders",
        gauge=True,
    ),
    _spec(
        "order_latency",
        "execution",
        Measure.ABOVE,
        [K.ORDER_LATENCY_P95_MS],
        Trigger(D(2000), Y, 60),  # sent on acks only: it must age out when orders stop
        unit="ms",
    ),
    # infrastructure
    _spec(
        "memory",
        "infrastructure",
        Measure.ABOVE,
        [K.MEMORY_MB],
        Trigger(D(2048), Y, 0, D(4096)),
        unit="MB",
        gauge=True,
    ),
    _spec(
        "cpu",
        "infrastructure",
        Measure.ABOVE,
        [K.CPU_PCT],
        Trigger(D(95), Y, 0),
        unit="%",
        gauge=True,
    ),
    _spec(
        "disk_free",
        "infrastructure",
        Measure.BELOW,
        [K.DISK_FREE_MB],
        Trigger(D(1024), Y, 0, D(100)),
        unit="MB",
        gauge=True,
    ),
    _spec(
        "actor_restarts",
        "infrastructure",
        Measure.COUNT,
        [K.ACTOR_RESTART],
        Trigger(D(3), R, 300),
        unit="restarts",
    ),
    _spec(
        "inbox_backlog",
        "infrastructure",
        Measure.ABOVE,
        [K.INBOX_BACKLOG],
        Trigger(D(20000), Y, 0),
        unit="messages",
        gauge=True,
    ),
    _spec(
        "reconnects",
        "infrastructure",
        Measure.COUNT,
        [K.STREAM_DISCONNECTED],
        Trigger(D(5), Y, 60),
        unit="disconnects",
    ),
    # risk (off until the book reports them; the policy guard has its own limits)
    _spec(
        "daily_loss",
        "risk",
        Measure.ABOVE,
        [K.DAILY_LOSS],
        Trigger(D(0), R, 0),
        unit="quote",
        gauge=True,
    ),
    _spec(
        "drawdown",
        "risk",
        Measure.ABOVE,
        [K.DRAWDOWN_PCT],
        Trigger(D(0), R, 0),
        unit="%",
        gauge=True,
    ),
    _spec(
        "consecutive_losses",
        "risk",
        Measure.CONSECUTIVE,
        [K.LOSING_TRADE],
        Trigger(D(5), Y, 0),
        ok=[K.WINNING_TRADE],
        unit="trades",
    ),
    _spec(
        "position_invariant",
        "risk",
        Measure.COUNT,
        [K.POSITION_INVARIANT],
        Trigger(D(1), R, 86400),
        unit="breaks",
    ),
    # dead man's switches
    _spec(
        "market_data",
        "liveness",
        Measure.SILENCE,
        [K.MARKET_DATA],
        Trigger(D(30), Y, 0, D(120)),
        unit="s",
    ),
    _spec(
        "operator_heartbeat",
        "liveness",
        Measure.SILENCE,
        [K.OPERATOR_HEARTBEAT],
        Trigger(D(0), Y, 0),
        unit="s",
    ),
)

SPECS: dict[str, RuleSpec] = {s.name: s for s in CATALOG}
DEFAULT_TRIGGERS: dict[str, Trigger] = {s.name: s.default for s in CATALOG}

# evidence that says "still alive": not audited one by one (the transitions are)
LIVENESS_KINDS: frozenset[EvidenceKind] = frozenset(
    {K.MARKET_DATA, K.PING_OK, K.OPERATOR_HEARTBEAT, K.RECONCILIATION_OK}
)
