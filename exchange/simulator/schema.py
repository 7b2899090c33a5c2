"""Typed fields of the control API's JSON bodies, and their strict validation.

A :class:`Field` is a type (``number``, ``integer``, ``decimal``, ``boolean``, ``string``,
``choice``, ``json``), a default and bounds. :func:`read_body` parses a request body so
that every JSON number arrives exact (``Decimal``) and ``NaN``/``Infinity`` are refused,
and :func:`check_object` checks an object against a table of fields: an unknown key, a
wrong type, a non-finite number or a value out of bounds raises :class:`BadField` naming
the field, so nothing is ever silently ignored or left to fail later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

FIELD_TYPES = ("number", "integer", "decimal", "boolean", "string", "choice", "json")


class BadField(ValueError):
    """A control API request refused with 400; ``field`` names the offending field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def body(self) -> dict[str, Any]:
        return {"error": str(self), "field": self.field}


@dataclass(frozen=True)
class Field:
    """One field: its type, its default (None: required, or computed where documented), bounds.

    ``low``/``high`` bound numbers (inclusive, or exclusive with ``low_open``) and a string's
    length; ``choices`` lists a ``choice`` field's values; ``aliases`` maps other JSON values
    that mean one of them (``503`` for ``"503"``).
    """

    type: str
    default: Any = None
    low: Decimal | None = None
    high: Decimal | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()
    aliases: Mapping[Any, str] | None = None
    required: bool = False
    doc: str = ""

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type!r}")

    def default_text(self) -> str:
        """The default as the documentation shows it."""
        if self.doc:
            return self.doc
        return "—" if self.default is None else json.dumps(_jsonable(self.default))


class NonFinite:
    """``NaN``, ``Infinity`` or ``-Infinity`` in a body: kept so the field can be named."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def read_body(text: str, *, allow_empty: bool = False) -> dict[str, Any]:
    """A JSON object from a request body, numbers as exact ``Decimal``/``int``."""
    if not text.strip():
        if allow_empty:
            return {}
        raise BadField("body", "expected a JSON object, got an empty body")
    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=NonFinite)
    except ValueError as exc:
        raise BadField("body", f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadField("body", f"expected a JSON object, got {type(value).__name__}")
    return value


def check_object(
    where: str, raw: Any, fields: Mapping[str, Field], *, fill_defaults: bool = True
) -> dict[str, Any]:
    """``raw`` checked against ``fields``: typed values, defaults filled in.

    ``where`` prefixes the field names in errors (``"params."``); unknown keys are refused.
    """
    if not isinstance(raw, dict):
        raise BadField(where.rstrip(".") or "body", "expected a JSON object")
    for key in raw:
        if key not in fields:
            known = ", ".join(fields) or "none"
            raise BadField(f"{where}{key}", f"unknown field (known: {known})")
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in raw:
            out[name] = check_value(f"{where}{name}", raw[name], spec)
        elif spec.required:
            raise BadField(f"{where}{name}", "required")
        elif fill_defaults and spec.default is not None:
            out[name] = spec.default
    return out


def check_value(name: str, value: Any, spec: Field) -> Any:
    """One value checked against its field; the typed value, or BadField naming ``name``."""
    kind = spec.type
    if kind == "boolean":
        if not isinstance(value, bool):
            raise BadField(name, f"expected true or false, got {_show(value)}")
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise BadField(name, f"expected a string, got {_show(value)}")
        _bounds(name, Decimal(len(value)), spec, what="length")
        return value
    if kind == "choice":
        if spec.aliases and _hashable(value) and value in spec.aliases:
            return spec.aliases[value]
        if not isinstance(value, str) or value not in spec.choices:
            raise BadField(name, f"expected one of {', '.join(spec.choices)}, got {_show(value)}")
        return value
    if kind == "json":
        return _plain_json(name, value)
    number = _number(name, value, accept_strings=kind == "decimal")
    if kind == "integer" and not isinstance(value, int):
        raise BadField(name, f"expected an integer, got {_show(value)}")
    _bounds(name, number, spec)
    if kind == "integer":
        return int(number)
    if kind == "number":
        return float(number)
    return number  # decimal


def _number(name: str, value: Any, *, accept_strings: bool) -> Decimal:
    if isinstance(value, NonFinite):
        raise BadField(name, f"must be finite, got {value}")
    if isinstance(value, bool):
        raise BadField(name, f"expected a number, got {_show(value)}")
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str) and accept_strings:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise BadField(name, f"expected a decimal number, got {_show(value)}") from None
    else:
        wanted = "a number or a numeric string" if accept_strings else "a number"
        raise BadField(name, f"expected {wanted}, got {_show(value)}")
    if not number.is_finite():
        raise BadField(name, f"must be finite, got {_show(value)}")
    return number


def _bounds(name: str, number: Decimal, spec: Field, what: str = "value") -> None:
    if spec.low is not None:
        if spec.low_open and number <= spec.low:
            raise BadField(name, f"{what} must be greater than {spec.low}, got {number}")
        if number < spec.low:
            raise BadField(name, f"{what} must be at least {spec.low}, got {number}")
    if spec.high is not None and number > spec.high:
        raise BadField(name, f"{what} must be at most {spec.high}, got {_short(number)}")


def _plain_json(name: str, value: Any) -> Any:
    """A JSON value with exact numbers turned back into plain JSON numbers (finite ones)."""
    if isinstance(value, NonFinite):
        raise BadField(name, f"must be finite, got {value}")
    if isinstance(value, Decimal):
        if not value.is_finite() or abs(value) > Decimal("1e300"):
            raise BadField(name, f"must be a finite number, got {_short(value)}")
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain_json(name, v) for v in value]
    if isinstance(value, dict):
        return {k: _plain_json(name, v) for k, v in value.items()}
    return value


def _jsonable(value: Any) -> Any:
    """A typed value as JSON shows it (a Decimal as its string)."""
    return str(value) if isinstance(value, Decimal) else value


def jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in values.items()}


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | bool | Decimal) or value is None


def _short(number: Decimal) -> str:
    text = str(number)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _show(value: Any) -> str:
    text = str(value) if isinstance(value, Decimal) else json.dumps(value, default=str)
    return text if len(text) <= 60 else f"{text[:57]}..."
