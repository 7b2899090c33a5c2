"""Binance's error answer, ``{"code": ..., "msg": ...}`` with an HTTP status.

Every refusal the simulated exchange gives a Binance client is an :class:`ApiError` (the
one of :mod:`exchange.protocol.errors`, shared with the strategy gateway); the helpers build
the messages that several modules share, worded as ``errors.md`` words them.
"""

from __future__ import annotations

from exchange.protocol.errors import ApiError, mandatory, not_required

__all__ = ["ApiError", "filter_failure", "insufficient_balance", "mandatory", "not_required"]


def insufficient_balance() -> ApiError:
    return ApiError(-2010, "Account has insufficient balance for requested action.")


def filter_failure(filter_type: str) -> ApiError:
    """-1013 with Binance's message for the filter the order failed."""
    return ApiError(-1013, f"Filter failure: {filter_type}")
