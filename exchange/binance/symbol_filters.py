"""The symbol filters as the adapter keeps them: read from Binance's exchangeInfo answer
(every symbol's filters and the account's rate limits), cached (``FilterCache``: a TTL,
refetched when marked stale), and the order pre-flight that checks a request against them
before it is sent (pure: the adapter logs, audits and raises).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from domain.filters import FilterParseError, FilterViolation, SymbolFilters, check_order
from exchange.contract import (
    AuditRecord,
    FilterRejected,
    MalformedPayload,
    OrderRequest,
    Rejected,
)

__all__ = [
    "ExchangeInfo",
    "FilterCache",
    "local_reject_record",
    "preflight_failure",
    "read_exchange_info",
]


@dataclass(frozen=True)
class ExchangeInfo:
    """What the adapter keeps of exchangeInfo."""

    filters: dict[str, SymbolFilters]
    weight_limit_1m: int | None
    order_limit_10s: int | None


class FilterCache:
    """Every symbol's filters, loaded by ``load`` when missing, older than ``ttl_s``, marked
    stale (after a -1013 rejection) or asked for fresh."""

    def __init__(self, load: Callable[[], dict[str, SymbolFilters]], ttl_s: float) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._filters: dict[str, SymbolFilters] = {}
        self._fetched_at: float | None = None
        self._stale = False

    def mark_stale(self) -> None:
        self._stale = True

    def get(self, *, refresh: bool = False) -> dict[str, SymbolFilters]:
        with self._lock:
            age = None if self._fetched_at is None else time.monotonic() - self._fetched_at
            if refresh or self._stale or age is None or age > self._ttl_s:
                self._filters = self._load()
                self._fetched_at = time.monotonic()
                self._stale = False
            return dict(self._filters)


def read_exchange_info(info: object) -> ExchangeInfo:
    """Every symbol's filters and the 1-minute weight / 10-second order limits (``None``
    where absent); ``MalformedPayload`` if a symbol's filters cannot be read."""
    if not isinstance(info, dict) or not isinstance(info.get("symbols"), list):
        raise MalformedPayload("exchangeInfo: no symbols list")
    filters: dict[str, SymbolFilters] = {}
    for entry in info["symbols"]:
        try:
            parsed = SymbolFilters.from_exchange_info(entry)
        except (FilterParseError, ValueError, AttributeError) as exc:
            raise MalformedPayload(f"exchangeInfo: {exc}") from None
        filters[parsed.symbol] = parsed
    weight, orders = _rate_limits(info.get("rateLimits"))
    return ExchangeInfo(filters=filters, weight_limit_1m=weight, order_limit_10s=orders)


def _rate_limits(limits: object) -> tuple[int | None, int | None]:
    weight = orders = None
    for item in limits if isinstance(limits, list) else []:
        if not isinstance(item, dict):
            continue
        kind, interval, num = (
            item.get("rateLimitType"),
            item.get("interval"),
            item.get("intervalNum"),
        )
        if kind == "REQUEST_WEIGHT" and interval == "MINUTE" and num == 1:
            weight = item.get("limit")
        if kind == "ORDERS" and interval == "SECOND" and num == 10:
            orders = item.get("limit")
    return (
        weight if isinstance(weight, int) else None,
        orders if isinstance(orders, int) else None,
    )


def preflight_failure(
    filters: SymbolFilters, request: OrderRequest, reference_price: Decimal | None
) -> Rejected | None:
    """Why ``request`` must not be sent (``FilterRejected`` code -1013 for a filter, else
    ``Rejected``; both ``local``), or ``None`` if it passes ``filters``."""
    try:
        check_order(
            filters,
            side=request.side.value,
            order_type=request.type.value,
            quantity=request.quantity,
            price=request.price,
            stop_price=request.stop_price,
            reference_price=reference_price,
        )
    except FilterViolation as exc:
        return _not_sent(str(exc), exc.detail, FilterRejected)
    except ValueError as exc:
        return _not_sent("invalid order", str(exc), Rejected)
    return None


def _not_sent(message: str, detail: str, kind: type[Rejected]) -> Rejected:
    text = f"new_order not sent: {message} ({detail})"
    return kind(text, code=-1013 if kind is FilterRejected else None, local=True)


def local_reject_record(request: OrderRequest, rejection: Rejected) -> AuditRecord:
    """The audit trail's entry of an order the pre-flight kept off the wire."""
    return AuditRecord(
        kind="error",
        at_ms=int(time.time() * 1000),
        operation="new_order",
        params={"symbol": request.symbol, "newClientOrderId": request.client_order_id},
        code=rejection.code,
        message=rejection.message,
        outcome=type(rejection).__name__,
    )
