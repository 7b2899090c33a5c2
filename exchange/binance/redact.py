"""Scrub secrets, API keys and signatures out of any text before it is logged or raised."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

__all__ = ["MIN_SECRET_CHARS", "Redactor", "scrub_library_logs"]

_SIGNATURE = re.compile(r"(signature[\"']?\s*[=:]\s*[\"']?)[^&\"'\s,}]+", re.IGNORECASE)
_KEY_HEADER = re.compile(r"(X-MBX-APIKEY[\"']?\s*[=:]\s*[\"']?)[^&\"'\s,}]+", re.IGNORECASE)
_API_KEY_PARAM = re.compile(r"(apiKey[\"']?\s*[=:]\s*[\"']?)[^&\"'\s,}]+")
MASK = "***"
MIN_SECRET_CHARS = 8  # a shorter value would mask its letters in every word: refused at start


class Redactor:
    """Replaces every known secret value (of at least ``MIN_SECRET_CHARS``: a one-letter
    secret would mask that letter everywhere) and every signature/key field with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        kept = {s for s in secrets if len(s) >= MIN_SECRET_CHARS}
        self._secrets = sorted(kept, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        text = _SIGNATURE.sub(rf"\g<1>{MASK}", text)
        text = _KEY_HEADER.sub(rf"\g<1>{MASK}", text)
        return _API_KEY_PARAM.sub(rf"\g<1>{MASK}", text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


class _SignatureFilter(logging.Filter):
    """Scrubs signatures from stdlib log records (urllib3 logs signed URLs at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        scrubbed = _KEY_HEADER.sub(rf"\g<1>{MASK}", _SIGNATURE.sub(rf"\g<1>{MASK}", text))
        if scrubbed != text:
            record.msg, record.args = scrubbed, None
        return True


_FILTER = _SignatureFilter()
_SCRUBBED_LOGGERS = ("urllib3.connectionpool", "binance.client", "binance.base_client")


def scrub_library_logs() -> None:
    """Attach the signature scrubber to the stdlib loggers of urllib3 and python-binance."""
    for name in _SCRUBBED_LOGGERS:
        target = logging.getLogger(name)
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
