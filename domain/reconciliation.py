"""Reconciliation: compare the internal book with the exchange's state (Predator part 2).

Pure. Inputs are two plain snapshots taken close together, the time, the tolerances and
the ``first_seen`` map of mismatches from earlier cycles; the output is a typed result
and the updated map. Rules:

* an exchange order the book has never heard of, or a trade of such an order: CRITICAL
  at once (a ghost: someone else trades on this account); a trade whose order may be one
  of ours still in flight (no exchange id yet) ages like the rest;
* anything else that differs (in-flight orders, fills not caught up yet, a balance that
  moves with them) is a WARNING while it is younger than ``grace_ms``, and CRITICAL once
  it outlives it: never silently ignored, never a false CRITICAL;
* order lists: an open list on the exchange the book never placed, or an order in one of
  ours that is not one of its legs, is CRITICAL at once (foreign); a list open in the book
  the exchange no longer lists ages like a missing order;
* a balance that differs while nothing of ours is moving is an unexplained balance
  change: CRITICAL once it outlives a short ``balance_grace_ms``; while orders move, a
  balance difference is a WARNING that waits for a conclusive cycle (``settled`` says the
  book did not change while the exchange was read).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    HEALTHY = "HEALTHY"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True, slots=True)
class InternalOrder:
    client_order_id: str
    symbol: str
    order_id: int | None
    state: str  # domain.book.OrderState value
    executed_qty: Decimal
    updated_ms: int


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    client_order_id: str
    symbol: str
    order_id: int
    state: str
    executed_qty: Decimal


@dataclass(frozen=True, slots=True)
class ExchangeTrade:
    symbol: str
    trade_id: int
    order_id: int


@dataclass(frozen=True, slots=True)
class ListView:
    """An order list as either side knows it: its ids and its orders' client ids."""

    list_client_order_id: str
    symbol: str
    order_list_id: int | None
    legs: tuple[str, ...]


@dataclass(frozen=True)
class InternalSnapshot:
    totals: dict[str, Decimal]
    locked: dict[str, Decimal]
    orders: Mapping[str, InternalOrder]  # every order the book knows, by client id
    order_ids: Mapping[tuple[str, int], str]  # (symbol, exchange order id) → client id
    trades: frozenset[tuple[str, int]]  # (symbol, trade id) the book has accounted
    markets: dict[str, tuple[str, str]] = field(default_factory=dict)  # symbol → (base, quote)
    live: frozenset[str] | None = None  # client ids of the orders still open (None: all)
    # the book's open order lists (EXECUTING, or not yet answered), by listClientOrderId
    order_lists: Mapping[str, ListView] = field(default_factory=dict)
    # every list the book knows, open or done: listClientOrderId → its legs
    list_legs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def live_orders(self) -> list[InternalOrder]:
        if self.live is None:
            return list(self.orders.values())
        return [self.orders[cid] for cid in self.live if cid in self.orders]


@dataclass(frozen=True)
class ExchangeSnapshot:
    balances: dict[str, tuple[Decimal, Decimal]]  # asset → (free, locked)
    open_orders: tuple[ExchangeOrder, ...]
    trades: tuple[ExchangeTrade, ...]  # recent trades of the watched symbols
    open_lists: tuple[ListView, ...] = ()  # the account's open order lists


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    severity: Severity
    key: str
    detail: str
    internal: str = ""
    exchange: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "severity": self.severity.value,
            "key": self.key,
            "detail": self.detail,
            "internal": self.internal,
            "exchange": self.exchange,
        }


@dataclass(frozen=True)
class Result:
    severity: Severity
    findings: tuple[Finding, ...]
    at_ms: int
    first_seen: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Tolerances:
    epsilon: Decimal = Decimal("0.00000001")
    grace_ms: int = 10_000
    balance_grace_ms: int = 3_000
    unsettled_grace_ms: int = 60_000  # a difference on an asset that never stops moving
    # an order whose send's outcome is unknown: the broker resolves it by query within its
    # unknown window (the exchange confirming "no such order" takes that long to believe),
    # so the reconciliation's grace for it is that window and a grace more
    unknown_grace_ms: int = 25_000


OPEN = frozenset({"NEW", "PARTIALLY_FILLED"})
IN_FLIGHT = frozenset({"PENDING_NEW", "UNKNOWN"})


def reconcile(
    internal: InternalSnapshot,
    exchange: ExchangeSnapshot,
    now_ms: int,
    tolerances: Tolerances,
    first_seen: dict[str, int] | None = None,
    *,
    settled: bool = True,
    moving_assets: frozenset[str] | None = None,
) -> Result:
    seen_before = first_seen or {}
    seen: dict[str, int] = {}
    findings: list[Finding] = []

    def aged(
        key: str, kind: str, detail: str, grace: int, internal_v: str, exchange_v: str
    ) -> None:
        since = seen_before.get(key, now_ms)
        seen[key] = since
        severity = Severity.CRITICAL if now_ms - since > grace else Severity.WARNING
        findings.append(Finding(kind, severity, key, detail, internal_v, exchange_v))

    def critical(key: str, kind: str, detail: str, internal_v: str, exchange_v: str) -> None:
        seen[key] = seen_before.get(key, now_ms)
        findings.append(Finding(kind, Severity.CRITICAL, key, detail, internal_v, exchange_v))

    # --- open orders, both directions
    on_exchange: dict[str, ExchangeOrder] = {}
    for ex in exchange.open_orders:
        cid = ex.client_order_id
        known = internal.orders.get(cid)
        if known is None:
            cid_by_id = internal.order_ids.get((ex.symbol, ex.order_id))
            known = internal.orders.get(cid_by_id) if cid_by_id else None
        if known is None:
            critical(
                f"unknown_order:{ex.symbol}:{ex.order_id}",
                "unknown_order",
                f"exchange has open order {ex.symbol} #{ex.order_id} ({cid}) the book never saw",
                "absent",
                f"{ex.state} executed {ex.executed_qty}",
            )
            continue
        on_exchange[known.client_order_id] = ex
        if known.state not in OPEN:
            aged(
                f"order_state:{known.client_order_id}",
                "order_state",
                f"{known.client_order_id} is {known.state} in the book, open on the exchange",
                tolerances.grace_ms,
                known.state,
                ex.state,
            )
        elif known.executed_qty != ex.executed_qty:
            aged(
                f"order_fill:{known.client_order_id}",
                "order_fill",
                f"{known.client_order_id} executed quantity differs",
                tolerances.grace_ms,
                str(known.executed_qty),
                str(ex.executed_qty),
            )
    live = internal.live_orders()
    for order in live:
        if order.client_order_id in on_exchange:
            continue
        if order.state in OPEN:
            aged(
                f"missing_order:{order.client_order_id}",
                "missing_order",
                f"{order.client_order_id} is {order.state} in the book, not open on the exchange",
                tolerances.grace_ms,
                order.state,
                "not open",
            )
        elif order.state in IN_FLIGHT:
            unknown = order.state == "UNKNOWN"
            aged(
                f"in_flight:{order.client_order_id}",
                "in_flight",
                f"{order.client_order_id} is {order.state}: outcome not confirmed yet",
                max(tolerances.grace_ms, tolerances.unknown_grace_ms)
                if unknown
                else tolerances.grace_ms,
                order.state,
                "not open",
            )

    _compare_lists(internal, exchange, tolerances, aged, critical)

    # --- trades: every exchange trade must be in the execution log
    # An order in flight has no exchange id in the book yet, so a trade of it looks foreign
    # until its acknowledgment lands: on a symbol with orders in flight, an unknown trade
    # ages like any catch-up; with nothing in flight it is CRITICAL at once.
    in_flight_symbols = {o.symbol for o in live if o.state in IN_FLIGHT}
    for trade in exchange.trades:
        if (trade.symbol, trade.trade_id) in internal.trades:
            continue
        if (trade.symbol, trade.order_id) in internal.order_ids:
            aged(
                f"missing_trade:{trade.symbol}:{trade.trade_id}",
                "missing_trade",
                f"trade {trade.symbol} #{trade.trade_id} of our order #{trade.order_id} "
                "not in the execution log yet",
                tolerances.grace_ms,
                "absent",
                f"trade #{trade.trade_id}",
            )
        elif trade.symbol in in_flight_symbols:
            aged(
                f"unknown_trade:{trade.symbol}:{trade.trade_id}",
                "unknown_trade",
                f"trade {trade.symbol} #{trade.trade_id} of order #{trade.order_id}, not ours "
                "unless it is one in flight",
                tolerances.grace_ms,
                "absent",
                f"trade #{trade.trade_id}",
            )
        else:
            critical(
                f"unknown_trade:{trade.symbol}:{trade.trade_id}",
                "unknown_trade",
                f"trade {trade.symbol} #{trade.trade_id} of an order the book does not know "
                f"(#{trade.order_id})",
                "absent",
                f"trade #{trade.trade_id}",
            )

    # --- balances: totals per asset, and what open orders lock
    # An asset is "moving" while something of ours may change it: an order of one of its
    # symbols in flight or catching up, or a change of the book while the exchange was read
    # (``moving_assets``; without it, ``settled=False`` means every asset). On a still asset
    # a difference is unexplained: it ages with ``balance_grace_ms``. On a moving asset it
    # may be those movements: WARNING, CRITICAL only past ``unsettled_grace_ms``.
    moving = _moving(internal, findings, in_flight_symbols, settled, moving_assets)

    def balance(key: str, asset: str, kind: str, detail: str, ours: str, theirs: str) -> None:
        if moving is not None and asset not in moving:
            aged(key, kind, detail, tolerances.balance_grace_ms, ours, theirs)
        else:
            grace = tolerances.unsettled_grace_ms
            aged(key, kind, f"{detail} (orders moving)", grace, ours, theirs)

    assets = set(exchange.balances) | {a for a, v in internal.totals.items() if v}
    for asset in sorted(assets):
        free, locked = exchange.balances.get(asset, (Decimal(0), Decimal(0)))
        ours = internal.totals.get(asset, Decimal(0))
        if abs((free + locked) - ours) > tolerances.epsilon:
            balance(
                f"balance:{asset}",
                asset,
                "balance",
                f"{asset}: book holds {ours}, exchange holds {free + locked}",
                str(ours),
                str(free + locked),
            )
        our_locked = internal.locked.get(asset, Decimal(0))
        if abs(locked - our_locked) > tolerances.epsilon:
            balance(
                f"locked:{asset}",
                asset,
                "locked",
                f"{asset}: open orders lock {our_locked} in the book, {locked} on the exchange",
                str(our_locked),
                str(locked),
            )

    if any(f.severity is Severity.CRITICAL for f in findings):
        severity = Severity.CRITICAL
    elif findings:
        severity = Severity.WARNING
    else:
        severity = Severity.HEALTHY
    return Result(severity, tuple(findings), now_ms, seen)


def _moving(
    internal: InternalSnapshot,
    findings: list[Finding],
    in_flight_symbols: set[str],
    settled: bool,
    moving_assets: frozenset[str] | None,
) -> set[str] | None:
    """Assets something of ours may be changing right now; None means "all of them"."""
    busy_symbols = set(in_flight_symbols)
    for f in findings:
        order = internal.orders.get(f.key.split(":", 1)[1]) if ":" in f.key else None
        if order is not None:
            busy_symbols.add(order.symbol)
        elif f.kind in ("missing_trade", "unknown_trade"):
            busy_symbols.add(f.key.split(":")[1])
    if moving_assets is None and not settled:
        return None
    if not internal.markets:  # no symbol → asset map: anything moving moves everything
        return None if (busy_symbols or moving_assets) else set()
    moving = set(moving_assets or ())
    for symbol in busy_symbols:
        moving.update(internal.markets.get(symbol, ()))
    return moving


def _compare_lists(
    internal: InternalSnapshot,
    exchange: ExchangeSnapshot,
    tolerances: Tolerances,
    aged: Any,
    critical: Any,
) -> None:
    """Order lists and their legs, both directions."""
    listed: set[str] = set()
    for ex in exchange.open_lists:
        legs = internal.list_legs.get(ex.list_client_order_id)
        if legs is None:
            critical(
                f"unknown_order_list:{ex.symbol}:{ex.order_list_id}",
                "unknown_order_list",
                f"exchange has open order list {ex.symbol} #{ex.order_list_id} "
                f"({ex.list_client_order_id}) the book never placed: orders {', '.join(ex.legs)}",
                "absent",
                "open",
            )
            continue
        listed.add(ex.list_client_order_id)
        for leg in ex.legs:
            if leg not in legs:
                critical(
                    f"foreign_leg:{ex.list_client_order_id}:{leg}",
                    "foreign_leg",
                    f"order {leg} in our order list {ex.list_client_order_id} is not one "
                    "Vigil placed",
                    f"legs {', '.join(legs)}",
                    leg,
                )
    for view in internal.order_lists.values():
        if view.list_client_order_id in listed:
            continue
        aged(
            f"missing_order_list:{view.list_client_order_id}",
            "missing_order_list",
            f"order list {view.list_client_order_id} is open in the book, not on the exchange",
            tolerances.grace_ms,
            "open",
            "not open",
        )
