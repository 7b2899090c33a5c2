"""Binance Spot payloads to contract types, strictly.

Every reader checks presence and type of each field it uses and raises ``MalformedPayload``
naming the field; amounts must be decimal strings (a float is malformed). Unknown extra fields
are ignored (Binance adds fields without notice).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from domain.money import MoneyError, to_decimal
from exchange.contract import (
    AccountPosition,
    ApiRestrictions,
    Balance,
    BalanceUpdate,
    BookTicker,
    CancelAck,
    ExecutionReport,
    Fill,
    ListOrderRef,
    ListStatus,
    MalformedPayload,
    OrderAck,
    OrderBookDepth,
    OrderListStatus,
    OrderState,
    OrderStatus,
    OrderType,
    ReplaceAck,
    Side,
    StreamTerminated,
    TimeInForce,
    Trade,
    UnhandledEvent,
    UserEvent,
)

_E = TypeVar("_E", bound=Enum)
_M = TypeVar("_M", bound=BaseModel)

__all__ = [
    "api_restrictions",
    "balances",
    "book_ticker",
    "cancel_ack",
    "decode_json",
    "order_ack",
    "order_list_status",
    "order_status",
    "replace_ack",
    "server_time",
    "trade",
    "user_event",
]


def decode_json(text: str | bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayload(f"{what}: not JSON ({len(text)} bytes)") from None


#: decimal strings already converted (Decimal is immutable): a stream repeats the same few
#: ("0.00000000", an order's price and quantity in each of its reports); forgotten whole
#: when full, so it stays small
_DECIMALS: dict[str, Decimal] = {}
_DECIMALS_KEPT = 4096


class _Reader:
    def __init__(self, data: object, what: str) -> None:
        if not isinstance(data, Mapping):
            raise MalformedPayload(f"{what}: expected an object, got {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self.what = what

    def fail(self, key: str, reason: str) -> MalformedPayload:
        return MalformedPayload(f"{self.what}.{key}: {reason}")

    def raw(self, key: str) -> Any:
        if key not in self.data:
            raise self.fail(key, "missing")
        return self.data[key]

    def text(self, key: str, *, empty_ok: bool = False) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or (not value and not empty_ok):
            raise self.fail(key, f"expected a string, got {type(value).__name__}")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {type(value).__name__}")
        return value

    def integer(self, key: str) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {type(value).__name__}")
        return value

    def opt_integer(self, key: str) -> int | None:
        return None if self.data.get(key) is None else self.integer(key)

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self.fail(key, f"expected a boolean, got {type(value).__name__}")
        return value

    def amount(self, key: str) -> Decimal:
        value = self.raw(key)
        if type(value) is str:
            known = _DECIMALS.get(value)
            if known is not None:
                return known
        elif not isinstance(value, str):
            raise self.fail(key, f"expected a decimal string, got {type(value).__name__}")
        try:
            result = to_decimal(value, key)
        except MoneyError:
            raise self.fail(key, "not a decimal string") from None
        if len(_DECIMALS) >= _DECIMALS_KEPT:
            _DECIMALS.clear()
        _DECIMALS[value] = result
        return result

    def opt_amount(self, key: str) -> Decimal | None:
        return None if self.data.get(key) is None else self.amount(key)

    def items(self, key: str) -> list[Any]:
        value = self.raw(key)
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {type(value).__name__}")
        return value


def _build(model: type[Any], what: str, **fields: Any) -> Any:
    try:
        return model(**fields)
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise MalformedPayload(f"{what}: {errors}") from None


# --- REST -----------------------------------------------------------------------------------------

#: permissions every apiRestrictions answer carries (Binance's documented example)
_RESTRICTION_FLAGS = (
    "ipRestrict",
    "enableReading",
    "enableSpotAndMarginTrading",
    "enableWithdrawals",
    "enableInternalTransfer",
    "permitsUniversalTransfer",
    "enableMargin",
    "enableFutures",
    "enableVanillaOptions",
)
#: permissions Binance added later: absent means not granted
_OPTIONAL_RESTRICTION_FLAGS = (
    "enablePortfolioMarginTrading",
    "enableFixApiTrade",
    "enableFixReadOnly",
)


def api_restrictions(data: object) -> ApiRestrictions:
    """``GET /sapi/v1/account/apiRestrictions``: every documented permission a boolean."""
    r = _Reader(data, "apiRestrictions")
    fields: dict[str, Any] = {_snake(k): r.flag(k) for k in _RESTRICTION_FLAGS}
    for key in _OPTIONAL_RESTRICTION_FLAGS:
        if r.data.get(key) is not None:
            fields[_snake(key)] = r.flag(key)
    fields["create_time"] = r.opt_integer("createTime")
    fields["trading_authority_expiration_time"] = r.opt_integer("tradingAuthorityExpirationTime")
    return _build(ApiRestrictions, "apiRestrictions", **fields)  # type: ignore[no-any-return]


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def server_time(data: object) -> int:
    return _Reader(data, "time").integer("serverTime")


def order_status(data: object) -> OrderStatus:
    r = _Reader(data, "order")
    stop = r.opt_amount("stopPrice")
    return _build(  # type: ignore[no-any-return]
        OrderStatus,
        "order",
        symbol=r.text("symbol"),
        order_id=r.integer("orderId"),
        client_order_id=r.text("clientOrderId"),
        side=r.text("side"),
        type=r.text("type"),
        state=r.text("status"),
        price=r.amount("price"),
        orig_qty=r.amount("origQty"),
        executed_qty=r.amount("executedQty"),
        cumulative_quote_qty=r.amount("cummulativeQuoteQty"),
        stop_price=stop if stop else None,
        time_in_force=_tif(r.opt_text("timeInForce"), r.text("type")),
        time_ms=r.opt_integer("time") or r.opt_integer("transactTime"),
        update_time_ms=r.opt_integer("updateTime"),
        order_list_id=_list_id(r.opt_integer("orderListId")),
        trailing_delta=r.opt_integer("trailingDelta"),
    )


def _list_id(value: int | None) -> int | None:
    # Binance's -1 means "not in an order list"
    return None if value is None or value < 0 else value


def order_list_status(data: object) -> OrderListStatus:
    """An order list (``orderList`` answers; ``orderReports`` when the answer has them)."""
    r = _Reader(data, "orderList")
    refs = tuple(
        _list_ref(item, f"orderList.orders[{i}]") for i, item in enumerate(r.items("orders"))
    )
    reports = tuple(
        order_status(item) for item in (r.items("orderReports") if "orderReports" in r.data else [])
    )
    return _build(  # type: ignore[no-any-return]
        OrderListStatus,
        "orderList",
        order_list_id=r.integer("orderListId"),
        contingency_type=r.text("contingencyType"),
        list_status_type=r.text("listStatusType"),
        list_order_status=r.text("listOrderStatus"),
        list_client_order_id=r.text("listClientOrderId"),
        transaction_time_ms=r.integer("transactionTime"),
        symbol=r.text("symbol"),
        orders=refs,
        order_reports=reports,
    )


def _list_ref(
    data: object, what: str, keys: tuple[str, str, str] = ("symbol", "orderId", "clientOrderId")
) -> ListOrderRef:
    r = _Reader(data, what)
    return _build(  # type: ignore[no-any-return]
        ListOrderRef,
        what,
        symbol=r.text(keys[0]),
        order_id=r.integer(keys[1]),
        client_order_id=r.text(keys[2]),
    )


def _tif(value: str | None, order_type: str) -> str | None:
    # Binance reports GTC for every type; the contract keeps it only where it means something
    if order_type in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        return value
    return None


def order_ack(data: object) -> OrderAck:
    r = _Reader(data, "newOrder")
    fills = tuple(_fill(item, i) for i, item in enumerate(r.data.get("fills") or []))
    state = r.opt_text("status")
    return _build(  # type: ignore[no-any-return]
        OrderAck,
        "newOrder",
        symbol=r.text("symbol"),
        order_id=r.integer("orderId"),
        client_order_id=r.text("clientOrderId"),
        transact_time_ms=r.integer("transactTime"),
        state=state,
        executed_qty=r.opt_amount("executedQty"),
        cumulative_quote_qty=r.opt_amount("cummulativeQuoteQty"),
        fills=fills,
    )


def _fill(data: object, index: int) -> Fill:
    r = _Reader(data, f"newOrder.fills[{index}]")
    return _build(  # type: ignore[no-any-return]
        Fill,
        r.what,
        trade_id=r.integer("tradeId"),
        price=r.amount("price"),
        qty=r.amount("qty"),
        commission=r.amount("commission"),
        commission_asset=r.opt_text("commissionAsset"),
    )


def cancel_ack(data: object) -> CancelAck:
    r = _Reader(data, "cancel")
    return _build(  # type: ignore[no-any-return]
        CancelAck,
        "cancel",
        symbol=r.text("symbol"),
        order_id=r.integer("orderId"),
        orig_client_order_id=r.text("origClientOrderId"),
        client_order_id=r.text("clientOrderId"),
        state=r.text("status"),
        executed_qty=r.amount("executedQty"),
    )


def replace_ack(data: object) -> ReplaceAck:
    """A cancel-replace whose halves both succeeded."""
    r = _Reader(data, "cancelReplace")
    if r.text("cancelResult") != "SUCCESS" or r.text("newOrderResult") != "SUCCESS":
        raise r.fail("cancelResult", "a 200 answer with a failed half")
    return _build(  # type: ignore[no-any-return]
        ReplaceAck,
        "cancelReplace",
        cancel=cancel_ack(r.raw("cancelResponse")),
        new_order=order_ack(r.raw("newOrderResponse")),
    )


def trade(data: object) -> Trade:
    r = _Reader(data, "trade")
    return _build(  # type: ignore[no-any-return]
        Trade,
        "trade",
        symbol=r.text("symbol"),
        trade_id=r.integer("id"),
        order_id=r.integer("orderId"),
        price=r.amount("price"),
        qty=r.amount("qty"),
        quote_qty=r.amount("quoteQty"),
        commission=r.amount("commission"),
        commission_asset=r.text("commissionAsset"),
        time_ms=r.integer("time"),
        is_buyer=r.flag("isBuyer"),
        is_maker=r.flag("isMaker"),
    )


def depth(data: object, symbol: str) -> OrderBookDepth:
    r = _Reader(data, "depth")

    def side(key: str) -> tuple[tuple[Decimal, Decimal], ...]:
        levels = []
        for i, level in enumerate(r.items(key)):
            if not (isinstance(level, list) and len(level) >= 2):
                raise r.fail(f"{key}[{i}]", "expected [price, quantity]")
            price = _Reader({"price": level[0], "qty": level[1]}, f"depth.{key}[{i}]")
            levels.append((price.amount("price"), price.amount("qty")))
        return tuple(levels)

    return _build(  # type: ignore[no-any-return]
        OrderBookDepth,
        "depth",
        symbol=symbol,
        update_id=r.integer("lastUpdateId"),
        bids=side("bids"),
        asks=side("asks"),
    )


def balances(account: object) -> dict[str, Balance]:
    r = _Reader(account, "account")
    out: dict[str, Balance] = {}
    for i, item in enumerate(r.items("balances")):
        b = _Reader(item, f"account.balances[{i}]")
        asset = b.text("asset")
        out[asset] = _build(
            Balance, b.what, asset=asset, free=b.amount("free"), locked=b.amount("locked")
        )
    return out


# --- streams --------------------------------------------------------------------------------------


def user_event(event: object) -> UserEvent:
    """One user data event (the ``event`` object inside ``{"subscriptionId", "event"}``)."""
    r = _Reader(event, "event")
    kind = r.text("e")
    if kind == "executionReport":
        return _execution_report(r)
    if kind == "listStatus":
        return _list_status(r)
    if kind == "outboundAccountPosition":
        rows = []
        for i, item in enumerate(r.items("B")):
            b = _Reader(item, f"outboundAccountPosition.B[{i}]")
            rows.append(
                _build(Balance, b.what, asset=b.text("a"), free=b.amount("f"), locked=b.amount("l"))
            )
        return _build(  # type: ignore[no-any-return]
            AccountPosition,
            kind,
            event_time_ms=r.integer("E"),
            update_time_ms=r.integer("u"),
            balances=tuple(rows),
        )
    if kind == "balanceUpdate":
        return _build(  # type: ignore[no-any-return]
            BalanceUpdate,
            kind,
            event_time_ms=r.integer("E"),
            asset=r.text("a"),
            delta=r.amount("d"),
            clear_time_ms=r.integer("T"),
        )
    if kind == "eventStreamTerminated":
        return _build(StreamTerminated, kind, event_time_ms=r.integer("E"))  # type: ignore[no-any-return]
    return _build(  # type: ignore[no-any-return]
        UnhandledEvent,
        kind,
        event_type=kind,
        event_time_ms=r.opt_integer("E"),
        payload=dict(r.data),
    )


def _execution_report(r: _Reader) -> ExecutionReport:
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
            "order_list_id": _list_id(r.opt_integer("g")),
            "trailing_delta": r.opt_integer("d"),
            "is_working": None if r.data.get("w") is None else r.flag("w"),
        },
    )


def _list_status(r: _Reader) -> ListStatus:
    r.what = "listStatus"
    refs = tuple(
        _list_ref(item, f"listStatus.O[{i}]", ("s", "i", "c"))
        for i, item in enumerate(r.items("O"))
    )
    return _build(  # type: ignore[no-any-return]
        ListStatus,
        r.what,
        event_time_ms=r.integer("E"),
        symbol=r.text("s"),
        order_list_id=r.integer("g"),
        contingency_type=r.text("c"),
        list_status_type=r.text("l"),
        list_order_status=r.text("L"),
        list_reject_reason=r.text("r"),
        list_client_order_id=r.text("C"),
        transaction_time_ms=r.integer("T"),
        orders=refs,
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


def _member(r: _Reader, key: str, enum: type[_E], field: str) -> _E:
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
    r = _Reader(data, "bookTicker")
    return _build(  # type: ignore[no-any-return]
        BookTicker,
        "bookTicker",
        symbol=r.text("s"),
        update_id=r.integer("u"),
        bid_price=r.amount("b"),
        bid_qty=r.amount("B"),
        ask_price=r.amount("a"),
        ask_qty=r.amount("A"),
    )
