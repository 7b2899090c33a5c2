"""Binance's error answer, ``{"code": ..., "msg": ...}`` with an HTTP status.

Every refusal the simulated exchange gives a Binance client is an :class:`ApiError`; the
helpers build the messages that several modules share, worded as ``errors.md`` words them.
"""

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


def insufficient_balance() -> ApiError:
    return ApiError(-2010, "Account has insufficient balance for requested action.")


def mandatory(name: str) -> ApiError:
    """-1102: a mandatory parameter was not sent, was empty/null, or malformed."""
    return ApiError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def not_required(name: str) -> ApiError:
    """-1106: a parameter was sent when not required."""
    return ApiError(-1106, f"Parameter '{name}' sent when not required.")


def filter_failure(filter_type: str) -> ApiError:
    """-1013 with Binance's message for the filter the order failed."""
    return ApiError(-1013, f"Filter failure: {filter_type}")
