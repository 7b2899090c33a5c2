"""The strict field reader every Binance payload parser uses (``Reader``) and the shared
field conventions (GTC kept only where it means something, -1 as "not in a list").

Each accessor checks presence and JSON type and raises ``MalformedPayload`` naming the field;
amounts must be decimal strings (a float is malformed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from domain.money import MoneyError, to_decimal
from exchange.contract import MalformedPayload

__all__ = ["Reader", "as_list", "build", "decode_json", "list_id", "tif"]


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


class Reader:
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


def build(model: type[Any], what: str, **fields: Any) -> Any:
    try:
        return model(**fields)
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise MalformedPayload(f"{what}: {errors}") from None


def as_list(answer: object) -> list[Any]:
    """A REST answer that must be a JSON array."""
    if not isinstance(answer, list):
        raise MalformedPayload(f"expected a list, got {type(answer).__name__}")
    return answer


def list_id(value: int | None) -> int | None:
    # Binance's -1 means "not in an order list"
    return None if value is None or value < 0 else value


def tif(value: str | None, order_type: str) -> str | None:
    # Binance reports GTC for every type; the contract keeps it only where it means something
    if order_type in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        return value
    return None
