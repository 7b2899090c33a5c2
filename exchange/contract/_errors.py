"""The contract's failures: every adapter failure is an ``ExchangeError``, typed so that a
caller can act on it:

* ``NotSent`` (and ``RateLimited``): provably never executed (connect error, our own
  throttle/ban gate, a 429/418 refusal): safe to retry.
* ``UnknownOutcome``: the request may have executed (read timeout after sending, lost
  response, HTTP 5xx, -1006, -1007): resolve by querying, never by re-sending.
* ``Rejected`` (and ``DuplicateClientOrderId``, ``OrderNotFound``, ``FilterRejected``): the
  exchange (or the local pre-flight) refused it; it did not execute.
* ``AuthError``, ``ClockSkew``: the request did not execute; retrying will not help by
  itself.
* ``MalformedPayload``: the exchange sent something we cannot read.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """Base of every adapter failure. Text is scrubbed of secrets and signatures."""

    def __init__(
        self, message: str, *, code: int | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code}, http={self.http_status})"


class NotSent(ExchangeError):
    """Provably never executed on the venue: safe to retry."""


class RateLimited(NotSent):
    """Refused for rate limits (by the venue with 429/418/-1015, or by our own gate)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float,
        banned: bool = False,
        local: bool = False,
        backing_off: bool = False,
        code: int | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status)
        self.retry_after_s = retry_after_s
        self.banned = banned
        self.local = local
        # held back by the gate the venue's own 429/418 closed (for its Retry-After): the
        # refusal was the evidence; our pre-emptive throttle is local but not backing off
        self.backing_off = backing_off


def backing_off(exc: BaseException) -> bool:
    """Held back by the gate a venue's 429/418 closed: nothing was asked of the venue."""
    return isinstance(exc, RateLimited) and exc.backing_off


class UnknownOutcome(ExchangeError):
    """The request may or may not have executed: resolve by query, never by re-sending."""

    def __init__(
        self,
        message: str,
        *,
        client_order_id: str | None = None,
        code: int | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status)
        self.client_order_id = client_order_id


class Rejected(ExchangeError):
    """The venue (or the local pre-flight, ``local=True``) refused the request."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        local: bool = False,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status)
        self.local = local


class DuplicateClientOrderId(Rejected):
    """-2010 "Duplicate order sent.": an order with this client id exists; resolve by query."""


class OrderNotFound(Rejected):
    """-2013 / -2011: the venue knows no such (open) order."""


class FilterRejected(Rejected):
    """A symbol filter refused the order (-1013, or the local pre-flight before the wire)."""


class AuthError(ExchangeError):
    """Key, permission or signature refused (401, -2014, -2015, -1022); did not execute."""


class ClockSkew(ExchangeError):
    """-1021 persisted after a clock re-sync and one retry; did not execute."""


class MalformedPayload(ExchangeError):
    """The venue sent a payload that does not have the documented shape."""


class UnsafeApiKey(Exception):
    """The exchange key may do more than spot trading (withdraw, transfer, margin, futures,
    options) or its permissions cannot be read on a live exchange: Vigil refuses to start.

    Not an ``ExchangeError``: nothing failed on the wire; this is a start-up refusal
    (``run.py`` exits 2). ``permissions`` are Binance's names of the offending permissions.
    """

    def __init__(self, message: str, permissions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.permissions = permissions
