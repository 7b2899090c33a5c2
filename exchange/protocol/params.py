"""Request parameters as Binance reads them: the raw ``k=v`` pairs to typed values.

:func:`parse_params` merges the query string and a form body (duplicates are -1101);
:class:`Params` gives a handler each parameter typed, refusing bad ones with Binance's
codes (-1102 missing, -1105 empty, -1100 illegal characters), and :meth:`Params.done`
refuses parameters the endpoint never read (-1104).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

from exchange.protocol.errors import ApiError, illegal, mandatory, unread

DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
INTEGER_RE = re.compile(r"-?[0-9]{1,19}")
CLIENT_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
SIGNING = frozenset({"timestamp", "recvWindow", "signature"})  # read by the signature check
FORM_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "", "text/plain", "application/octet-stream"}
)


def parse_params(query_string: str, method: str, content_type: str, body: str) -> dict[str, str]:
    """The query string's and the form body's parameters; the query string wins."""
    params: dict[str, str] = {}
    sources = [parse_qsl(query_string, keep_blank_values=True)]
    if body and method in ("POST", "PUT", "DELETE"):
        if content_type not in FORM_TYPES:
            raise ApiError(-1102, "Field value was empty or malformed.")
        sources.append(parse_qsl(body, keep_blank_values=True))
    for pairs in reversed(sources):
        seen: set[str] = set()
        for key, value in pairs:
            if key in seen:
                raise ApiError(-1101, "Duplicate values for a parameter detected.")
            seen.add(key)
            params[key] = value
    return params


class Params:
    """One request's parameters, read typed; what was read is remembered for ``done``."""

    def __init__(self, params: dict[str, str]) -> None:
        self.raw = params
        self.read: set[str] = set(SIGNING)

    def get(self, name: str) -> str | None:
        self.read.add(name)
        value = self.raw.get(name)
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
        if not DECIMAL_RE.fullmatch(value):
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
        if value is not None and not CLIENT_ID_RE.fullmatch(value):
            raise illegal(name, "^[\\.A-Z\\:/a-z0-9_-]{1,36}$")
        return value

    def done(self) -> None:
        """-1104 if a parameter was sent that the endpoint never read."""
        extra = set(self.raw) - self.read
        if extra:
            raise unread(len(set(self.raw) - extra), len(self.raw))
