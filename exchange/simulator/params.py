"""Request parameters as Binance reads them: the raw ``k=v`` pairs to typed values.

:func:`parse_params` merges the query string and a form body (duplicates are -1101), and
:class:`Request` gives a handler each parameter typed, refusing bad ones with Binance's
codes: -1102 (mandatory, missing), -1105 (empty), -1100 (illegal characters). A
:class:`Route` is one REST endpoint: method, path, request weight, signed or not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from exchange.protocol.errors import illegal
from exchange.simulator.errors import ApiError, mandatory

DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
INTEGER_RE = re.compile(r"-?[0-9]{1,19}")
CLIENT_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")

Params = dict[str, str]
__all__ = ["Params", "Request", "Route", "illegal", "parse_params"]


def parse_params(query_string: str, method: str, content_type: str, body: str) -> Params:
    """The query string's and the form body's parameters; the query string wins."""
    params: Params = {}
    sources = [parse_qsl(query_string, keep_blank_values=True)]
    if body and method in ("POST", "PUT", "DELETE"):
        if content_type not in (
            "application/x-www-form-urlencoded",
            "",
            "text/plain",
            "application/octet-stream",
        ):
            raise ApiError(-1102, "Field value was empty or malformed.")
        sources.append(parse_qsl(body, keep_blank_values=True))
    for pairs in reversed(sources):  # query string wins over body
        seen: set[str] = set()
        for key, value in pairs:
            if key in seen:
                raise ApiError(-1101, "Duplicate values for a parameter detected.")
            seen.add(key)
            params[key] = value
    return params


@dataclass
class Request:
    """One REST request's parameters, read typed by the handler."""

    params: Params
    http: web.Request | None = None
    read: set[str] = field(default_factory=set)

    def get(self, name: str) -> str | None:
        value = self.params.get(name)
        if value == "":
            raise ApiError(-1105, f"Parameter '{name}' was empty.")
        return value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise mandatory(name)
        return value

    def decimal(self, name: str) -> Decimal | None:
        value = self.get(name)
        if value is None:
            return None
        if not DECIMAL_RE.match(value):
            raise illegal(name, "^([0-9]{1,20})(\\.[0-9]{1,20})?$")
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the regex already guards this
            raise ApiError(-1100, f"Illegal characters found in parameter '{name}'.") from None

    def integer(self, name: str) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if not INTEGER_RE.fullmatch(value):
            raise illegal(name, "^-?[0-9]{1,19}$")
        return int(value)

    def client_id(self, name: str) -> str | None:
        value = self.get(name)
        if value is not None and not CLIENT_ID_RE.match(value):
            raise illegal(name, "^[\\.A-Z\\:/a-z0-9_-]{1,36}$")
        return value


Handler = Callable[[Request], Any]


@dataclass(frozen=True)
class Route:
    """One REST endpoint."""

    method: str
    path: str
    weight: int
    signed: bool
    handler: Handler
    is_order: bool = False
    #: how many orders it adds to the unfilled order count (an OTOCO: 3)
    unfilled: int = 1
    #: the handler counts its orders itself (cancelReplace's orderRateLimitExceededMode)
    orders_by_handler: bool = False
