"""Binance Spot stream frames to contract types: the user data stream's events (the
execution report on its hot path) and the market stream's bookTicker.

Strict (see ``reader``); an event type we do not handle becomes an ``UnhandledEvent``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

from exchange.binance.parse.lists import list_status
from exchange.binance.parse.reader import Reader, build, list_id
from exchange.binance.parse.reader import tif as _tif
from exchange.contract import (
    AccountPosition,
    Balance,
    BalanceUpdate,
    BookTicker,
    ExecutionReport,
    MalformedPayload,
    OrderState,
    OrderType,
    Side,
    StreamTerminated,
    TimeInForce,
    UnhandledEvent,
    UserEvent,
)

_E = TypeVar("_E", bound=Enum)
_M = TypeVar("_M", bound=BaseModel)

__all__ = ["book_ticker", "user_event"]


def user_event(event: object) -> UserEvent:
    """One user data event (the ``event`` object inside ``{"subscriptionId", "event"}``)."""
    r = Reader(event, "event")
    kind = r.text("e")
    if kind == "executionReport":
        return _execution_report(r)
    if kind == "listStatus":
        return list_status(r)
    if kind == "outboundAccountPosition":
        rows = []
        for i, item in enumerate(r.items("B")):
            b = Reader(item, f"outboundAccountPosition.B[{i}]")
            rows.append(
                build(Balance, b.what, asset=b.text("a"), free=b.amount("f"), locked=b.amount("l"))
            )
        return build(  # type: ignore[no-any-return]
            AccountPosition,
            kind,
            event_time_ms=r.integer("E"),
            update_time_ms=r.integer("u"),
            balances=tuple(rows),
        )
    if kind == "balanceUpdate":
        return build(  # type: ignore[no-any-return]
            BalanceUpdate,
            kind,
            event_time_ms=r.integer("E"),
            asset=r.text("a"),
            delta=r.amount("d"),
            clear_time_ms=r.integer("T"),
        )
    if kind == "eventStreamTerminated":
        return build(StreamTerminated, kind, event_time_ms=r.integer("E"))  # type: ignore[no-any-return]
    return build(  # type: ignore[no-any-return]
        UnhandledEvent,
        kind,
        event_type=kind,
        event_time_ms=r.opt_integer("E"),
        payload=dict(r.data),
    )


def _execution_report(r: Reader) -> ExecutionReport:
    """The user stream's hot path (one per fill). Every field is checked here as strictly
    as everywhere else — present, its JSON type, amounts finite decimal strings, states
    and types members of their enums — which is all the model's own validation would
    check again, so the model is filled in directly (``_filled``) instead."""
    r.what = "executionReport"
    trade_id = r.integer("t")
    order_type = _member(r, "o", OrderType, "order_type")
    tif = _tif(r.opt_text("f"), order_type)
    return _filled(
        ExecutionReport,
        {
            "kind": "executionReport",
            "event_time_ms": r.integer("E"),
            "symbol": r.text("s"),
            "client_order_id": r.text("c"),
            "orig_client_order_id": r.opt_text("C"),
            "side": _member(r, "S", Side, "side"),
            "order_type": order_type,
            "time_in_force": None if tif is None else _member(r, "f", TimeInForce, "time_in_force"),
            "quantity": r.amount("q"),
            "price": r.amount("p"),
            "stop_price": r.amount("P"),
            "execution_type": r.text("x"),
            "state": _member(r, "X", OrderState, "state"),
            "reject_reason": r.text("r"),
            "order_id": r.integer("i"),
            "last_qty": r.amount("l"),
            "cumulative_qty": r.amount("z"),
            "last_price": r.amount("L"),
            "commission": r.amount("n"),
            "commission_asset": r.opt_text("N"),
            "transaction_time_ms": r.integer("T"),
            "trade_id": None if trade_id == -1 else trade_id,
            "execution_id": r.integer("I"),
            "is_maker": r.flag("m"),
            "order_time_ms": r.integer("O"),
            "cumulative_quote_qty": r.amount("Z"),
            "last_quote_qty": r.amount("Y"),
            "order_list_id": list_id(r.opt_integer("g")),
            "trailing_delta": r.opt_integer("d"),
            "is_working": None if r.data.get("w") is None else r.flag("w"),
        },
    )


def _filled(model: type[_M], fields: dict[str, Any]) -> _M:
    """An instance of a frozen pydantic ``model`` holding ``fields``, which the caller has
    checked as its validation would (what ``model_construct`` does, without its loop over
    every field). Every field must be given: a field added to the model and not here is
    an error at once, not a missing attribute later."""
    if model not in _FILLED_OK:  # (the caller's keys are fixed: checked on the first call)
        if fields.keys() != model.model_fields.keys():
            missing = sorted(set(model.model_fields) ^ set(fields))
            raise TypeError(f"{model.__name__}: fields {missing} not filled in by the parser")
        _FILLED_OK.add(model)
    instance = model.__new__(model)
    _set(instance, "__dict__", fields)
    _set(instance, "__pydantic_fields_set__", set(fields) - {"kind"})
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance


_set = object.__setattr__
_FILLED_OK: set[type[BaseModel]] = set()


def _member(r: Reader, key: str, enum: type[_E], field: str) -> _E:
    """``key``'s text as a member of ``enum``; else malformed, named as the model would."""
    value = r.text(key)
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise MalformedPayload(
            f"{r.what}: {field}: Input should be one of {allowed}, not {value!r}"
        ) from None


def book_ticker(data: object) -> BookTicker:
    r = Reader(data, "bookTicker")
    return build(  # type: ignore[no-any-return]
        BookTicker,
        "bookTicker",
        symbol=r.text("s"),
        update_id=r.integer("u"),
        bid_price=r.amount("b"),
        bid_qty=r.amount("B"),
        ask_price=r.amount("a"),
        ask_qty=r.amount("A"),
    )
