"""Armed faults of the simulated exchange (``POST /_sim/faults``), and their parameter table.

:data:`FAULT_SCHEMA` is the one definition of every fault kind: what it does, whether it
acts once at arming time, and each parameter's type, default and bounds. Validation at arm
time (:func:`parse_arm`) and the code carrying the faults out both read it, so an armed
fault's ``params`` always hold every parameter, typed and in bounds.

A fault is a kind, its parameters, and a budget: a number of triggers (``count``), a
lifetime (``duration`` seconds), or both; whichever runs out first disarms it. Faults
that act once at arming time (ghost_order, balance_drift, ws_disconnect,
stream_terminated) are carried out by the server and never stay armed.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchange.simulator.schema import BadField, Field, check_object, jsonable

D = Decimal


@dataclass(frozen=True)
class FaultKind:
    """One fault kind: what it does, its parameters, and whether it acts once when armed."""

    effect: str
    params: Mapping[str, Field] = field(default_factory=dict)
    one_shot: bool = False
    #: the budget when the request gives neither count nor duration
    default_count: int | None = 1
    default_duration: float | None = None


def _seconds(default: float, high: int = 3600) -> Field:
    return Field("number", default, low=D(0), low_open=True, high=D(high))


FAULT_SCHEMA: dict[str, FaultKind] = {
    "timeout_after_accept": FaultKind(
        "the new order is accepted, its response held `delay` s — past the client's timeout",
        {"delay": _seconds(30.0)},
    ),
    "lost_response": FaultKind(
        "the new order (or a new order list, OCO, OTO or OTOCO) is accepted, then the "
        "connection is dropped with no response"
    ),
    "unknown_status": FaultKind(
        "HTTP `status` with `code`; the order was placed unless `placed` is false",
        {
            "status": Field("integer", 503, low=D(400), high=D(599)),
            "code": Field("integer", -1007, low=D(-99999), high=D(-1)),
            "placed": Field("boolean", True),
        },
    ),
    "reject_orders": FaultKind(
        "new orders rejected with `code`, `msg`, `http_status`",
        {
            "code": Field("integer", -2010, low=D(-99999), high=D(-1)),
            "msg": Field(
                "string", "This action is disabled on this account.", low=D(1), high=D(500)
            ),
            "http_status": Field("integer", 400, low=D(400), high=D(599)),
        },
    ),
    "slippage": FaultKind(
        "taker fills `bps` basis points worse than the book",
        {"bps": Field("decimal", D(100), low=D(0), low_open=True, high=D(10000))},
    ),
    "duplicate_events": FaultKind("user data events delivered twice"),
    "drop_events": FaultKind("user data events never delivered"),
    "drop_list_expiry": FaultKind(
        "the executionReport of an OCO's other order expiring (`eR` `OCO_TRIGGER`, when its "
        "partner executes) is never delivered; the order is EXPIRED all the same (REST shows "
        "it) and the listStatus ALL_DONE is delivered"
    ),
    "malformed_events": FaultKind(
        "user data events carrying `field` (an executionReport's `z`, cumulative filled "
        "quantity, by default) delivered with it set to `value`; events without the field "
        "pass untouched and spend nothing",
        {
            "field": Field("string", "z", low=D(1), high=D(32)),
            "value": Field("json", "garbage"),
        },
    ),
    "delay_events": FaultKind(
        "user data events delivered `delay_ms` later",
        {"delay_ms": Field("number", 2000.0, low=D(0), low_open=True, high=D(600_000))},
    ),
    "outage": FaultKind(
        'every REST call answers 503 (-1008), or with `mode: "refuse"` has its connection '
        'dropped; `scope: "all"` also refuses new WebSocket API connections',
        {
            "mode": Field("choice", "503", choices=("503", "refuse"), aliases={503: "503"}),
            "scope": Field("choice", "rest", choices=("rest", "all")),
        },
        default_count=None,
        default_duration=5.0,
    ),
    "rate_limit_storm": FaultKind(
        "the next `count_429` requests get 429 with Retry-After `retry_after`, then a 418 "
        "ban for `ban_seconds`",
        {
            "count_429": Field("integer", 3, low=D(1), high=D(10_000)),
            "retry_after": Field("integer", 1, low=D(1), high=D(3600)),
            "ban_seconds": Field("integer", 10, low=D(0), high=D(86_400)),
        },
    ),
    "clock_skew": FaultKind(
        "the server clock moves by `offset_ms` until cleared: -1021 until the client "
        "re-syncs with /api/v3/time",
        # (the default is past python-binance's own recvWindow of 10,000 ms: at exactly
        # 10,000 a request answered within its millisecond passed)
        {"offset_ms": Field("integer", 15000, low=D(-86_400_000), high=D(86_400_000))},
        default_count=None,
    ),
    "ghost_order": FaultKind(
        "a LIMIT order placed on the account by another client",
        {
            "symbol": Field("string", None, low=D(1), high=D(20), doc="the first symbol"),
            "side": Field("choice", "BUY", choices=("BUY", "SELL")),
            "quantity": Field(
                "decimal", None, low=D(0), low_open=True, high=D(10**12), doc="100 times minQty"
            ),
            "price": Field(
                "decimal",
                None,
                low=D(0),
                low_open=True,
                high=D(10**12),
                doc="half (BUY) or 1.5 times (SELL) the mid",
            ),
            "client_order_id": Field(
                "string", None, low=D(1), high=D(36), doc="ghost-<nanoseconds>"
            ),
        },
        one_shot=True,
    ),
    "balance_drift": FaultKind(
        "a silent change of `delta` on `asset`: no event",
        {
            "asset": Field("string", "USDT", low=D(1), high=D(20)),
            "delta": Field("decimal", D(-1), low=D(-(10**15)), high=D(10**15)),
        },
        one_shot=True,
    ),
    "ws_disconnect": FaultKind(
        "WebSocket connections cut (`target` user, market or all; `mode` abort or close)",
        {
            "target": Field("choice", "all", choices=("user", "market", "all")),
            "mode": Field("choice", "abort", choices=("abort", "close")),
        },
        one_shot=True,
    ),
    "dangerous_key": FaultKind(
        "the demo key looks dangerous: `GET /sapi/v1/account/apiRestrictions` reports each "
        "permission whose parameter is true as enabled, until cleared",
        {
            name: Field("boolean", name == "enable_withdrawals")
            for name in (
                "enable_withdrawals",
                "enable_internal_transfer",
                "permits_universal_transfer",
                "enable_margin",
                "enable_portfolio_margin_trading",
                "enable_futures",
                "enable_vanilla_options",
            )
        },
        default_count=None,
    ),
    "stream_terminated": FaultKind(
        "eventStreamTerminated sent and the user data subscriptions ended", one_shot=True
    ),
}

#: every fault kind and what it does (derived from FAULT_SCHEMA)
FAULT_KINDS: dict[str, str] = {kind: spec.effect for kind, spec in FAULT_SCHEMA.items()}

ONE_SHOT = frozenset(kind for kind, spec in FAULT_SCHEMA.items() if spec.one_shot)

#: the top level of a POST /_sim/faults body
ARM_FIELDS: dict[str, Field] = {
    "kind": Field("choice", None, choices=tuple(FAULT_SCHEMA), required=True),
    "params": Field("json", None),
    "count": Field("integer", None, low=D(1), high=D(1_000_000)),
    "duration": Field("number", None, low=D(0), low_open=True, high=D(86_400)),
}


@dataclass(frozen=True)
class ArmRequest:
    """A validated fault request: every parameter present and typed, the budget settled."""

    kind: str
    params: dict[str, Any]
    count: int | None
    duration: float | None


def parse_arm(body: Any) -> ArmRequest:
    """Check a ``POST /_sim/faults`` body against the table; BadField names what is wrong."""
    if not isinstance(body, dict):
        raise BadField("body", "expected a JSON object with a 'kind'")
    kind = body.get("kind")
    if isinstance(kind, str) and kind not in FAULT_SCHEMA:
        raise BadField("kind", f"unknown fault kind {kind!r}; known: {', '.join(FAULT_SCHEMA)}")
    spec = FAULT_SCHEMA.get(kind) if isinstance(kind, str) else None
    for key in body:
        if key not in ARM_FIELDS and spec is not None and key in spec.params:
            raise BadField(key, f"unknown top-level field; {kind}'s parameters go in 'params'")
    top = check_object("", {k: v for k, v in body.items() if k != "params"}, ARM_FIELDS)
    spec = FAULT_SCHEMA[top["kind"]]
    raw_params = body.get("params")
    params = check_object("params.", {} if raw_params is None else raw_params, spec.params)
    count, duration = top.get("count"), top.get("duration")
    if count is None and duration is None:
        count, duration = spec.default_count, spec.default_duration
    return ArmRequest(top["kind"], params, count, duration)


class FaultError(ValueError):
    """A fault request the simulator cannot arm (unknown kind, bad parameter)."""


@dataclass
class Fault:
    fault_id: int
    kind: str
    params: dict[str, Any]
    count: int | None
    expires_at: float | None
    armed_at: float = field(default_factory=time.monotonic)
    triggered: int = 0

    def live(self, now: float) -> bool:
        if self.count is not None and self.triggered >= self.count:
            return False
        return self.expires_at is None or now < self.expires_at

    def as_json(self) -> dict[str, Any]:
        remaining = (
            None if self.expires_at is None else max(0.0, self.expires_at - time.monotonic())
        )
        return {
            "id": self.fault_id,
            "kind": self.kind,
            "params": jsonable(self.params),
            "count": self.count,
            "triggered": self.triggered,
            "seconds_left": remaining,
        }


class FaultBook:
    """The armed faults. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self.history: list[dict[str, Any]] = []

    def arm(
        self,
        kind: str,
        params: dict[str, Any] | None = None,
        count: int | None = None,
        duration: float | None = None,
    ) -> Fault:
        """Arm a fault whose values :func:`parse_arm` checked (one-shot kinds: record it)."""
        if kind not in FAULT_SCHEMA:
            raise FaultError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_SCHEMA)}")
        fault = Fault(
            fault_id=next(self._ids),
            kind=kind,
            params=dict(params or {}),
            count=count,
            expires_at=None if duration is None else time.monotonic() + duration,
        )
        with self._lock:
            if kind not in ONE_SHOT:
                self._faults.append(fault)
            self.history.append(
                {"id": fault.fault_id, "kind": kind, "params": jsonable(fault.params)}
            )
        return fault

    def take(self, kind: str) -> Fault | None:
        """The live fault of ``kind``, spending one of its triggers; None if none is armed."""
        return self.take_if(kind, lambda fault: True)

    def take_if(self, kind: str, accept: Callable[[Fault], bool]) -> Fault | None:
        """The first live fault of ``kind`` that ``accept``s, spending one of its triggers."""
        now = time.monotonic()
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and fault.live(now) and accept(fault):
                    fault.triggered += 1
                    return fault
            self._faults = [f for f in self._faults if f.live(now)]
        return None

    def peek(self, kind: str) -> Fault | None:
        """The live fault of ``kind`` without spending a trigger."""
        now = time.monotonic()
        with self._lock:
            return next((f for f in self._faults if f.kind == kind and f.live(now)), None)

    def clear(self, kind: str | None = None) -> int:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if kind is not None and f.kind != kind]
            return before - len(self._faults)

    def armed(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            return [f.as_json() for f in self._faults if f.live(now)]
