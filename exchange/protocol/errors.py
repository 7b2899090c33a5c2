"""Binance's error answer, ``{"code": ..., "msg": ...}`` with an HTTP status, and the
messages several checks share, worded as ``errors.md`` words them."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Binance error: ``{"code": code, "msg": msg}`` with an HTTP status."""

    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.http_status = http_status

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> ApiError:
    """-1102: a mandatory parameter was not sent, was empty/null, or malformed."""
    return ApiError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def not_required(name: str) -> ApiError:
    """-1106: a parameter was sent when not required."""
    return ApiError(-1106, f"Parameter '{name}' sent when not required.")


def illegal(name: str, legal: str) -> ApiError:
    """-1100 naming the parameter and its legal range."""
    return ApiError(
        -1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'."
    )


def unread(read: int, sent: int) -> ApiError:
    """-1104: parameters the endpoint does not take."""
    return ApiError(
        -1104,
        f"Not all sent parameters were read; read '{read}' parameter(s) but was sent '{sent}'.",
    )


def bad_symbol() -> ApiError:
    return ApiError(-1121, "Invalid symbol.")


def too_much_weight(limit: int) -> ApiError:
    """-1003 (HTTP 429): the request weight budget is spent."""
    return ApiError(
        -1003,
        f"Too much request weight used; current limit is {limit} request weight per 1 "
        "MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
        429,
    )


def bad_api_key_format() -> ApiError:
    return ApiError(-2014, "API-key format invalid.", 401)


def rejected_api_key() -> ApiError:
    return ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
