"""Malformed payloads, one place: REST answers read through a parser whose ``MalformedPayload``
is counted, logged, audited and reported; every malformed payload (the streams' too) fanned
out to the listeners, a failing listener logged and skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from loguru import logger

from exchange.binance.redact import Redactor
from exchange.contract import AuditRecord, AuditSink, MalformedPayload

__all__ = ["MalformedReports"]

_T = TypeVar("_T")


class MalformedReports:
    """The adapter's malformed-payload listeners and its count of malformed REST answers."""

    def __init__(
        self,
        *,
        audit: AuditSink,
        redact: Redactor,
        listener: Callable[[MalformedPayload], None] | None = None,
    ) -> None:
        self._audit = audit
        self._redact = redact
        self._listeners: list[Callable[[MalformedPayload], None]] = [listener] if listener else []
        self.rest_count = 0

    def add_listener(self, listener: Callable[[MalformedPayload], None]) -> None:
        self._listeners.append(listener)

    def report(self, exc: MalformedPayload) -> None:
        """Tell every listener (the streams' ``on_malformed``)."""
        for listener in list(self._listeners):
            try:
                listener(exc)
            except Exception as err:
                logger.error("malformed-payload listener failed: {}", self._redact(repr(err)))

    def read(self, what: str, reader: Callable[[Any], _T], payload: Any) -> _T:
        """Parse a REST answer; a malformed one is counted, logged, reported and raised."""
        try:
            return reader(payload)
        except MalformedPayload as exc:
            raise self._rest_answer(what, exc) from None

    def _rest_answer(self, what: str, exc: MalformedPayload) -> MalformedPayload:
        self.rest_count += 1
        logger.bind(component="binance.rest", op=what).warning("malformed answer: {}", exc.message)
        self._audit(
            AuditRecord(
                kind="malformed",
                at_ms=int(time.time() * 1000),
                operation=what,
                message=exc.message,
            )
        )
        self.report(exc)
        return exc
