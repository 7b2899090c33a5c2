"""The pre-trade policy guard: pure checks every intent passes before the breaker gate.

Each check gives a verdict (gate, passed, reason); the first failure refuses the intent.
Quantities and prices are brought to the exchange's filters first (toward safety), so an
order that would fail a filter never reaches the wire. A limit left unset (None) is off
and casts no verdict. Every limit admits an order that lands exactly on it; the daily
loss limit, once reached, admits only orders that reduce exposure.

``policy_input_from_book`` builds the input from the broker's ``Book`` (balances less what
our own open orders reserve, positions, exposure, order counts), so the broker's order
path needs one call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from domain.book import DAY_MS, Book
from domain.filters import (
    FilterViolation,
    SymbolFilters,
    check_order,
    quantize_price,
    quantize_quantity,
)
from domain.money import MoneyError
from domain.protective import STOPS, trigger_refusal

ORDER_TYPES = (  # what Vigil places
    "LIMIT",
    "MARKET",
    "LIMIT_MAKER",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
)
UNPRICED_TYPES = ("MARKET", "STOP_LOSS", "TAKE_PROFIT")  # no limit price
TIF_TYPES = ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")  # those that take a time in force
TIMES_IN_FORCE = ("GTC", "IOC", "FOK")  # a LIMIT's (LIMIT_MAKER and MARKET take none)


@dataclass(frozen=True)
class PolicyLimits:
    symbols: frozenset[str]
    max_order_notional: Decimal = Decimal("5000")
    max_open_orders: int = 50
    fat_finger_pct: Decimal = Decimal("5")  # limit price within this % of the reference mid
    denied_symbols: frozenset[str] = frozenset()
    max_position_notional: Decimal | None = None  # per symbol, quote, incl. open buys
    max_total_exposure: Decimal | None = None  # all positions and open buys, quote
    # |position + open buys - open sells| per symbol, in quote at the mid, with the order
    max_directional_notional: Decimal | None = None
    max_orders_per_minute: int | None = None
    max_orders_per_day: int | None = None
    max_daily_loss: Decimal | None = None  # quote; reached: only exposure-reducing orders
    max_reference_age_ms: int | None = 30_000  # a symbol's mid older than this is no reference


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
    open_orders: int  # ours, every symbol, in flight or resting (our own limit counts these)
    extra: dict[str, str] = field(default_factory=dict)
    symbol_open_orders: int | None = None  # this symbol's (the exchange's MAX_NUM_ORDERS)
    reference_age_ms: int | None = 0  # how old the reference price is; None: unknown
    position_qty: Decimal = Decimal(0)  # base held in this symbol (spot: long only)
    total_exposure: Decimal = Decimal(0)  # quote value of every position and open buy
    open_buy_notional: Decimal = Decimal(0)  # this symbol's open buys, remaining, quote
    open_sell_notional: Decimal = Decimal(0)
    open_sell_qty: Decimal = Decimal(0)  # base our live sells in this symbol may still take
    orders_last_minute: int = 0  # orders placed in the last 60 s, this one not included
    orders_today: int = 0  # since 00:00 UTC
    # since the UTC day's mark, quote (negative: a loss); None: cannot be valued yet
    daily_pnl: Decimal | None = Decimal(0)
    time_in_force: str | None = None  # as asked (None: the type's default)
    stop_price: Decimal | None = None  # a stop's trigger price (None: not a stop, or trailing)


def reduces_exposure(
    side: str, quantity: Decimal, position_qty: Decimal, selling: Decimal = Decimal(0)
) -> bool:
    """Spot: only a SELL of no more than what we hold, less what our live sells (``selling``)
    already take from it, makes the position smaller."""
    return side == "SELL" and 0 < quantity <= position_qty - selling


def check_intent(intent: PolicyInput, limits: PolicyLimits) -> Decision:
    verdicts: list[Verdict] = []

    def verdict(gate: str, ok: bool, reason: str = "") -> bool:
        verdicts.append(Verdict(gate, ok, "" if ok else reason))
        return ok

    if not verdict("symbol", intent.symbol in limits.symbols, f"{intent.symbol} is not allowed"):
        return Decision(tuple(verdicts))
    if intent.symbol in limits.denied_symbols:
        verdicts[-1] = Verdict("symbol", False, f"{intent.symbol} is denied")
        return Decision(tuple(verdicts))
    if not verdict("side", intent.side in ("BUY", "SELL"), f"bad side {intent.side!r}"):
        return Decision(tuple(verdicts))
    if not verdict("type", intent.type in ORDER_TYPES, f"type {intent.type} not allowed"):
        return Decision(tuple(verdicts))
    tif = intent.time_in_force
    if tif is not None and not verdict(
        "time_in_force",
        intent.type in TIF_TYPES and tif in TIMES_IN_FORCE,
        f"time_in_force {tif} not allowed for {intent.type}"
        if intent.type in TIF_TYPES
        else f"a {intent.type} order takes no time_in_force",
    ):
        return Decision(tuple(verdicts))
    if not verdict(
        "quantity", intent.quantity.is_finite() and intent.quantity > 0, "quantity must be positive"
    ):
        return Decision(tuple(verdicts))
    if intent.type not in UNPRICED_TYPES:
        ok = intent.price is not None and intent.price.is_finite() and intent.price > 0
        if not verdict("price", ok, f"a {intent.type} needs a positive price"):
            return Decision(tuple(verdicts))
    elif not verdict("price", intent.price is None, f"a {intent.type} order takes no price"):
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
    # one symbol's feed can freeze while others stream (the dead man's switch, fed by any
    # symbol, would not notice): a stale mid would value orders and centre the band
    age, max_age = intent.reference_age_ms, limits.max_reference_age_ms
    if max_age is not None and (age is None or age > max_age):
        seen = "of unknown age" if age is None else f"{age / 1000:g}s old"
        verdicts[-1] = Verdict(
            "reference_price", False, f"the reference price is {seen}, limit {max_age / 1000:g}s"
        )
        return Decision(tuple(verdicts))
    if intent.type in STOPS:  # a stop's trigger on the wrong side would fire at once
        why = trigger_refusal(intent.side, intent.type, intent.stop_price, reference)
        if not verdict("trigger", why is None, why or ""):
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
            stop_price=intent.stop_price,
            reference_price=reference,
            open_orders=(
                intent.open_orders
                if intent.symbol_open_orders is None
                else intent.symbol_open_orders
            ),
        )
        verdict("filters", True)
    except (FilterViolation, MoneyError) as exc:
        verdict("filters", False, str(exc))
        return Decision(tuple(verdicts))
    unit = price if price is not None else intent.stop_price or reference
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
    assert reference is not None
    _risk_checks(intent, limits, qty, notional, reference, verdict)
    return Decision(tuple(verdicts), qty, price)


def _risk_checks(
    intent: PolicyInput,
    limits: PolicyLimits,
    qty: Decimal,
    notional: Decimal,
    reference: Decimal,
    verdict: Callable[[str, bool, str], bool],
) -> None:
    """The account-level limits, each only when configured."""
    buy = intent.side == "BUY"
    if limits.max_orders_per_minute is not None:
        n, cap = intent.orders_last_minute, limits.max_orders_per_minute
        verdict("orders_per_minute", n < cap, f"{n} orders in the last minute, limit {cap}")
    if limits.max_orders_per_day is not None:
        n, cap = intent.orders_today, limits.max_orders_per_day
        verdict("orders_per_day", n < cap, f"{n} orders today, limit {cap}")
    if limits.max_position_notional is not None:
        after = intent.position_qty * reference + intent.open_buy_notional + notional
        cap_d = limits.max_position_notional
        verdict(
            "max_position",
            not buy or after <= cap_d,
            f"{intent.symbol} position would be {after}, limit {cap_d}",
        )
    if limits.max_total_exposure is not None:
        total = intent.total_exposure + notional
        cap_d = limits.max_total_exposure
        verdict(
            "total_exposure",
            not buy or total <= cap_d,
            f"total exposure would be {total}, limit {cap_d}",
        )
    if limits.max_directional_notional is not None:
        # where this symbol leaves us if every live order fills: the position, plus open
        # buys, less open sells; an order that brings it closer to flat always passes
        before = (
            intent.position_qty * reference + intent.open_buy_notional - intent.open_sell_notional
        )
        after = before + (notional if buy else -notional)
        cap_d = limits.max_directional_notional
        verdict(
            "directional_exposure",
            abs(after) <= cap_d or abs(after) < abs(before),
            f"{intent.symbol} net {'long' if after > 0 else 'short'} {abs(after)} with the "
            f"order, limit {cap_d}",
        )
    if limits.max_daily_loss is not None:
        cap_d = limits.max_daily_loss
        reduces = reduces_exposure(intent.side, qty, intent.position_qty, intent.open_sell_qty)
        if intent.daily_pnl is None:  # fail closed: a loss that cannot be seen may be there
            verdict(
                "daily_loss",
                reduces,
                "today's P&L cannot be valued yet (a position has no price): only orders "
                "that reduce exposure",
            )
        else:
            loss = -intent.daily_pnl
            verdict(
                "daily_loss",
                loss < cap_d or reduces,
                f"daily loss {loss} reached the limit {cap_d}: only orders that reduce exposure",
            )


def policy_input_from_book(
    book: Book,
    *,
    symbol: str,
    side: str,
    type: str,
    quantity: Decimal,
    price: Decimal | None,
    filters: SymbolFilters | None,
    now_ms: int,
    price_clock_ms: int | None = None,
    time_in_force: str | None = None,
    stop_price: Decimal | None = None,
) -> PolicyInput:
    """Everything the guard needs about the account, read from the book at ``now_ms``.

    Free balances are totals less what our own live orders may still take (acknowledged
    or not: an intent in flight reserves too); exposure values positions at the reference
    mid (their cost when there is none) plus open buys. The order figures come from the
    book's running commitments, so the cost does not grow with the open orders;
    ``daily_pnl`` is realized + unrealized since the day's mark (``Book.day``: set when the
    UTC day is first seen, kept in the journal, so a restart keeps it; None while today
    is not marked: a position has no price yet). A reference price's age is measured on
    the clock its times were taken with (``price_clock_ms``, the broker's monotonic
    milliseconds; ``now_ms`` when not given)."""
    market = book.markets.get(symbol)
    commitments = book.commitments
    committed = dict(commitments.committed)
    notional = dict(commitments.notional)
    for o in commitments.unpriced.values():  # MARKET orders in flight: at the reference
        mark = book.prices.get(o.symbol)
        if mark is None:
            continue
        value = max(o.quantity - o.executed_qty, Decimal(0)) * mark
        notional[(o.symbol, o.side)] = notional.get((o.symbol, o.side), Decimal(0)) + value
        if o.side == "BUY":
            quote = book.markets[o.symbol].quote
            committed[quote] = committed.get(quote, Decimal(0)) + value

    def free(asset: str | None) -> Decimal:
        if asset is None:
            return Decimal(0)
        return book.totals.get(asset, Decimal(0)) - committed.get(asset, Decimal(0))

    exposure = Decimal(0)
    for s, pos in book.positions.items():
        mark = book.prices.get(s)
        exposure += pos.quantity * mark if mark is not None else pos.cost
    for (_, held_side), value in notional.items():  # (not ``side``: the intent's)
        if held_side == "BUY":
            exposure += value
    buys = notional.get((symbol, "BUY"), Decimal(0))
    sells = notional.get((symbol, "SELL"), Decimal(0))
    position = book.positions.get(symbol)
    day_start = now_ms - now_ms % DAY_MS
    seen_ms = book.price_ms.get(symbol)
    return PolicyInput(
        symbol=symbol,
        side=side,
        type=type,
        quantity=quantity,
        price=price,
        time_in_force=time_in_force,
        reference_price=book.prices.get(symbol),
        reference_age_ms=None
        if seen_ms is None
        else max((now_ms if price_clock_ms is None else price_clock_ms) - seen_ms, 0),
        filters=filters,
        free_quote=free(market.quote if market else None),
        free_base=free(market.base if market else None),
        open_orders=len(book.live),
        symbol_open_orders=commitments.per_symbol.get(symbol, 0),
        position_qty=position.quantity if position else Decimal(0),
        total_exposure=exposure,
        open_buy_notional=buys,
        open_sell_notional=sells,
        open_sell_qty=commitments.selling.get(symbol, Decimal(0)),
        orders_last_minute=book.intents_since(now_ms - 60_000 + 1),
        orders_today=book.intents_since(day_start),
        daily_pnl=book.daily_pnl(now_ms) if book.day_marked(now_ms) else None,
        stop_price=stop_price,
    )
