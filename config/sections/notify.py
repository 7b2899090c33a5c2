"""``[notify]``: the webhooks told about breaker changes, incidents, restarts and the day
(each URL a secret, never shown), and ``[instance]``: the name this Vigil signs them with."""

from __future__ import annotations

import socket
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from config.sections.base import _Section
from config.sections.endpoints import is_loopback
from domain.notification import DEFAULT_EVENTS, EVENTS, FORMATS, parse_hhmm


def _int_as_text(value: Any) -> Any:
    """A Telegram chat id may be written as a number (``-1001234567890``)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class WebhookSettings(_Section):
    """One ``[[notify.webhooks]]`` entry. The URL is a secret (a Slack/Discord webhook's
    path, a Telegram bot token): it is never shown, not even in a validation error."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    url: SecretStr
    format: str = "json"
    events: tuple[str, ...] = DEFAULT_EVENTS
    chat_id: Annotated[str | None, BeforeValidator(_int_as_text)] = Field(
        default=None, validate_default=True, description="Telegram's chat id (format telegram)"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, url: SecretStr) -> SecretStr:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(url.get_secret_value())
            host = parts.hostname or ""
        except ValueError:
            raise ValueError("not a URL") from None
        if not host or not (
            parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))
        ):
            raise ValueError(
                "must be https://..., or http:// on loopback (127.0.0.1, ::1, localhost)"
            )
        return url

    @field_validator("format")
    @classmethod
    def _format(cls, fmt: str) -> str:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
        return fmt

    @field_validator("events")
    @classmethod
    def _events(cls, events: tuple[str, ...]) -> tuple[str, ...]:
        for event in events:
            if event not in EVENTS:
                raise ValueError(f"unknown event {event!r} (one of {', '.join(EVENTS)})")
        return events

    @field_validator("chat_id")
    @classmethod
    def _chat_id(cls, chat_id: str | None, info: ValidationInfo) -> str | None:
        fmt = info.data.get("format")
        if fmt == "telegram" and not chat_id:
            raise ValueError("required for format telegram")
        if fmt != "telegram" and chat_id is not None:
            raise ValueError(f"applies to format telegram only, not {fmt!r}")
        return chat_id

    def __repr__(self) -> str:
        return f"WebhookSettings(format={self.format!r}, events={self.events!r}, url=<secret>)"


class NotifySettings(_Section):
    """``[notify]``: webhooks told about breaker changes, incidents, restarts and the day."""

    webhooks: tuple[WebhookSettings, ...] = ()
    timeout_s: float = Field(default=3.0, gt=0, le=30, description="per request")
    attempts: int = Field(default=5, ge=1, le=20)
    backoff_s: float = Field(default=0.5, gt=0, description="first retry delay, then doubled")
    give_up_s: float = Field(default=30.0, gt=0, description="no retry starts after this")
    queue_size: int = Field(default=100, ge=1, description="per webhook; the oldest is dropped")
    shutdown_s: float = Field(default=2.0, ge=0, le=30, description="the queue's share of a stop")
    daily_summary_utc: str = Field(default="23:55", description="HH:MM UTC, once a day")

    @field_validator("daily_summary_utc")
    @classmethod
    def _summary_time(cls, text: str) -> str:
        parse_hhmm(text)
        return text

    @property
    def daily_summary_minute(self) -> int:
        return parse_hhmm(self.daily_summary_utc)


class InstanceSettings(_Section):
    """``[instance]``: how this Vigil names itself in notifications."""

    name: str = Field(default_factory=socket.gethostname, min_length=1)
