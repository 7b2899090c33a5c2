"""Admission: whether one intent may become an order, and the record of why.

An intent passes, in order, the duplicate check (its client order id is new to the book),
the policy guard (``domain.policy``), the breaker gate (RED and the reconciliation
evidence: the gate's refusal, if any) and, while YELLOW, what YELLOW still allows (a lower
rate, only orders that reduce exposure, nothing while a pausing cause is active). The
answer carries every gate's verdict, so the audit record shows why an order went or did
not, and the quantity and price the policy quantized to the exchange's filters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from domain.book import BookOrder
from domain.breaker_rules import YellowLimits, yellow_refusal
from domain.market_impact import FillEstimate
from domain.money import plain
from domain.policy import PolicyInput, PolicyLimits, check_intent, reduces_exposure
from domain.strategy_limits import StrategyLimits, check_strategy


class Refusal(StrEnum):
    """Which gate refused an intent."""

    DUPLICATE = "duplicate"  # the client order id is already in the book
    POLICY = "policy"  # a limit of the policy guard or of the strategy's own limits
    FILTER = "filter"  # an exchange filter (the exchange would refuse it: Binance -1013)
    BREAKER = "breaker"  # RED, no fresh HEALTHY reconciliation, or YELLOW's limits
    STORAGE = "storage"  # the intent could not be made durable: RED


@dataclass(frozen=True, slots=True)
class GateVerdict:
    gate: str
    passed: bool
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "passed": self.passed, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class YellowView:
    """What the order path knows of YELLOW: its limits and the causes active now."""

    limits: YellowLimits
    causes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer for one intent. ``quantity``/``price`` are what would be sent (quantized
    by the policy); ``refusal`` and ``reason`` say why not, when it is refused."""

    verdicts: tuple[GateVerdict, ...]
    quantity: Decimal
    price: Decimal | None
    refusal: Refusal | None = None
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.refusal is None

    def verdict_dicts(self) -> list[dict[str, Any]]:
        return [v.as_dict() for v in self.verdicts]


def admit(
    account: PolicyInput,
    limits: PolicyLimits,
    *,
    duplicate: bool,
    breaker_refusal: str | None,
    yellow: YellowView | None,
    strategy: str = "",
    strategy_limits: StrategyLimits | None = None,
    strategy_open_orders: int = 0,
    duplicate_reason: str = "",
) -> Admission:
    """Judge one intent. ``account`` is the policy's view of the book for it,
    ``breaker_refusal`` the gate's refusal (None: the gate is open), ``yellow`` set while
    the breaker is YELLOW; ``strategy_limits`` (a gateway key's) stack on the policy's,
    with ``strategy_open_orders`` that strategy's orders open now."""
    if duplicate:
        reason = duplicate_reason or "already in the book"
        return Admission(
            (GateVerdict("client_order_id", False, reason),),
            account.quantity,
            account.price,
            Refusal.DUPLICATE,
            f"duplicate client order id: {reason}",
        )
    decision = check_intent(account, limits)
    verdicts = [GateVerdict(v.gate, v.passed, v.reason) for v in decision.verdicts]
    quantity = decision.quantity or account.quantity
    price = decision.price

    def refused(refusal: Refusal, reason: str) -> Admission:
        return Admission(tuple(verdicts), quantity, price, refusal, reason)

    if not decision.accepted:
        failed = next(v for v in decision.verdicts if not v.passed)
        # a filter of the exchange's (the exchange would refuse it), not one of our limits
        kind = (
            Refusal.FILTER
            if failed.gate == "filters" and account.filters is not None
            else Refusal.POLICY
        )
        return refused(kind, f"policy: {decision.reason}")
    if strategy_limits is not None:
        # valued as [policy] values it: a stop without a limit price at its trigger
        unit = price if price is not None else account.stop_price or account.reference_price
        reasons = check_strategy(
            strategy,
            strategy_limits,
            symbol=account.symbol,
            notional=None if unit is None else quantity * unit,
            open_orders=strategy_open_orders,
        )
        verdicts.append(GateVerdict("strategy", not reasons, "; ".join(reasons)))
        if reasons:
            return refused(Refusal.POLICY, reasons[0])
    # the breaker's verdicts join the policy's, so the audit shows why an order went
    verdicts.append(GateVerdict("breaker", breaker_refusal is None, breaker_refusal or ""))
    if breaker_refusal is not None:
        return refused(Refusal.BREAKER, f"breaker: {breaker_refusal}")
    if yellow is not None:
        reduces = reduces_exposure(
            account.side, quantity, account.position_qty, account.open_sell_qty
        )
        refusal = yellow_refusal(
            yellow.limits,
            yellow.causes,
            reduces_exposure=reduces,
            orders_last_minute=account.orders_last_minute,
        )
        why = refusal or ("reduces exposure" if reduces else "")
        verdicts.append(GateVerdict("yellow", refusal is None, why))
        if refusal is not None:
            return refused(Refusal.BREAKER, f"breaker: {refusal}")
    return Admission(tuple(verdicts), quantity, price)


def check_market_impact(
    admission: Admission, estimate: FillEstimate | None, max_bps: Decimal
) -> Admission:
    """A MARKET order admitted so far, judged by what the book would do to it: refused when
    the book cannot fill it, or when its expected average is more than ``max_bps`` from the
    mid (or when there is no book to judge by: fail closed)."""
    if estimate is None:
        ok, reason = False, "no order book depth to estimate the fill"
    elif not estimate.fills_whole:
        fillable, wanted = plain(estimate.fillable), plain(estimate.wanted)
        ok, reason = False, f"the book can fill {fillable} of {wanted}"
    else:
        bps = estimate.slippage_bps
        ok = bps is not None and bps <= max_bps
        reason = (
            f"expected average {plain(estimate.average or estimate.mid)} is {bps} bps from "
            f"the mid {plain(estimate.mid)}, limit {plain(max_bps)}"
        )
    verdict = GateVerdict("market_impact", ok, reason)
    verdicts = (*admission.verdicts, verdict)
    if ok:
        return Admission(verdicts, admission.quantity, admission.price)
    return Admission(
        verdicts,
        admission.quantity,
        admission.price,
        Refusal.POLICY,
        f"policy: market_impact: {reason}",
    )


def intent_record(order: BookOrder, verdicts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The audit record of an accepted intent (recovery rebuilds it from the journal when
    a crash took it from the trail)."""
    return {
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "quantity": str(order.quantity),
        "price": str(order.price),
        "time_in_force": order.time_in_force,
        "strategy": order.strategy,
        "strategy_order_id": order.strategy_order_id,
        "verdicts": list(verdicts),
    }
