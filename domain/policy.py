"""The pre-trade policy guard: pure checks every intent passes before the breaker gate.

Each check gives a verdict (gate, passed, reason); the first failure refuses the intent.
Quantities and prices are brought to the exchange's filters first (toward safety), so an
order that would fail a filter never reaches the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from domain.filters import (
    FilterViolation,
    SymbolFilters,
    check_order,
    quantize_price,
    quantize_quantity,
)
from domain.money import MoneyError


@dataclass(frozen=True)
class PolicyLimits:
    symbols: frozenset[str]
    max_order_notional: Decimal = Decimal("5000")
    max_open_orders: int = 50
    fat_finger_pct: Decimal = Decimal("5")  # limit price within this % of the reference mid


@dataclass(frozen=True)
class Verdict:
    gate: str
    passed: bool
    reason: str = ""


@dataclass(frozen=True)
class Decision:
    verdicts: tuple[Verdict, ...]
    quantity: Decimal | None = None
    price: Decimal | None = None

    @property
    def accepted(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def reason(self) -> str:
        failed = [v for v in self.verdicts if not v.passed]
        return f"{failed[0].gate}: {failed[0].reason}" if failed else ""


@dataclass
class PolicyInput:
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None
    reference_price: Decimal | None
    filters: SymbolFilters | None
    free_quote: Decimal
    free_base: Decimal
    open_orders: int
    extra: dict[str, str] = field(default_factory=dict)


def check_intent(intent: PolicyInput, limits: PolicyLimits) -> Decision:
    verdicts: list[Verdict] = []

    def verdict(gate: str, ok: bool, reason: str = "") -> bool:
        verdicts.append(Verdict(gate, ok, "" if ok else reason))
        return ok

    if not verdict("symbol", intent.symbol in limits.symbols, f"{intent.symbol} is not allowed"):
        return Decision(tuple(verdicts))
    if not verdict("side", intent.side in ("BUY", "SELL"), f"bad side {intent.side!r}"):
        return Decision(tuple(verdicts))
    if not verdict("type", intent.type in ("LIMIT", "MARKET"), f"type {intent.type} not allowed"):
        return Decision(tuple(verdicts))
    if not verdict(
        "quantity", intent.quantity.is_finite() and intent.quantity > 0, "quantity must be positive"
    ):
        return Decision(tuple(verdicts))
    if intent.type == "LIMIT":
        ok = intent.price is not None and intent.price.is_finite() and intent.price > 0
        if not verdict("price", ok, "a LIMIT needs a positive price"):
            return Decision(tuple(verdicts))
    elif not verdict("price", intent.price is None, "a MARKET order takes no price"):
        return Decision(tuple(verdicts))
    f = intent.filters
    if not verdict("filters", f is not None, "no exchange filters for the symbol yet"):
        return Decision(tuple(verdicts))
    assert f is not None
    reference = intent.reference_price
    # every order needs the market's price: MARKET to value it, LIMIT for the fat-finger
    # band and the exchange's percent-price filter
    if not verdict(
        "reference_price",
        reference is not None and reference > 0,
        "no reference price for the symbol yet",
    ):
        return Decision(tuple(verdicts))
    try:
        qty = quantize_quantity(intent.quantity, f, market=intent.type == "MARKET")
        price = quantize_price(intent.price, f, intent.side) if intent.price is not None else None
        check_order(
            f,
            side=intent.side,
            order_type=intent.type,
            quantity=qty,
            price=price,
            reference_price=reference,
            open_orders=intent.open_orders,
        )
        verdict("filters", True)
    except (FilterViolation, MoneyError) as exc:
        verdict("filters", False, str(exc))
        return Decision(tuple(verdicts))
    unit = price if price is not None else reference
    assert unit is not None
    notional = qty * unit
    verdict(
        "max_order_notional",
        notional <= limits.max_order_notional,
        f"notional {notional} above {limits.max_order_notional}",
    )
    verdict(
        "max_open_orders",
        intent.open_orders < limits.max_open_orders,
        f"{intent.open_orders} open orders, limit {limits.max_open_orders}",
    )
    if price is not None and reference is not None:
        band = reference * limits.fat_finger_pct / 100
        verdict(
            "fat_finger",
            abs(price - reference) <= band,
            f"price {price} more than {limits.fat_finger_pct}% from the mid {reference}",
        )
    if intent.side == "BUY":
        verdict(
            "balance", notional <= intent.free_quote, f"needs {notional}, free {intent.free_quote}"
        )
    else:
        verdict("balance", qty <= intent.free_base, f"needs {qty}, free {intent.free_base}")
    return Decision(tuple(verdicts), qty, price)
