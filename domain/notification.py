"""Notifications as pure data: which events a breaker change, an incident or a restart is,
the message they carry, the body each webhook format wants, the daily summary's schedule,
and how a webhook URL (a secret) is shown.

No I/O, no threads, no clock reads: the notifier (``assembly.notifications``) delivers.

One message per happening. It has one ``kind`` (the event it is) and the set of event names
it ``matches``: an operator halt is a ``halt`` that is also a ``red`` (a webhook subscribed
to ``red`` gets it), a reset is also a ``green``, a CRITICAL reconciliation's incident is a
``reconciliation_critical`` that is also an ``incident``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

EVENTS = (
    "red",
    "yellow",
    "green",
    "incident",
    "reset",
    "halt",
    "restart",
    "reconciliation_critical",
    "daily_summary",
)
FORMATS = ("json", "slack", "discord", "telegram")
# a webhook without ``events`` hears what needs a person (not YELLOW/GREEN, not the summary)
DEFAULT_EVENTS = ("red", "halt", "reset", "incident", "reconciliation_critical", "restart")
DAY_MS = 86_400_000
MAX_IDS = 5  # open order ids named in a message
TEXT_LIMITS = {"discord": 2000, "telegram": 4096, "slack": 40000}  # the services' limits


@dataclass(frozen=True)
class Notification:
    """What one message says. ``level``/``reason``/``since_ms`` are the breaker's state when
    it happened; the reconciliation and the open orders are the latest known."""

    kind: str
    matches: frozenset[str]
    instance: str
    at_ms: int
    level: str
    reason: str
    since_ms: int
    reconciliation: str | None = None
    reconciliation_ms: int | None = None
    open_orders: int | None = None
    open_order_ids: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- classification


def breaker_event(previous: str, level: str, source: str) -> tuple[str, frozenset[str]] | None:
    """The event a breaker change from ``previous`` to ``level`` (set by ``source``) is:
    ``(kind, matches)``, or None when the level did not change."""
    if level == previous:
        return None
    if level == "RED":
        if source == "operator":
            return "halt", frozenset({"halt", "red"})
        return "red", frozenset({"red"})
    if previous == "RED":  # only an operator's reset leaves RED
        return "reset", frozenset({"reset", "green"})
    if level == "YELLOW":
        return "yellow", frozenset({"yellow"})
    return "green", frozenset({"green"})


def incident_event(kind: str) -> tuple[str, frozenset[str]]:
    """An incident row's event: a CRITICAL reconciliation's (kind ``reconciliation``) is
    also ``reconciliation_critical``."""
    if kind == "reconciliation":
        return "reconciliation_critical", frozenset({"reconciliation_critical", "incident"})
    return "incident", frozenset({"incident"})


def summary_due(now_ms: int, at_minute: int, last_day: int | None) -> int | None:
    """The UTC day (days since the epoch) whose summary is due at ``now_ms``, or None: once
    per UTC day, from ``at_minute`` (minutes after 00:00 UTC) on."""
    day = now_ms // DAY_MS
    if day == last_day or (now_ms % DAY_MS) < at_minute * 60_000:
        return None
    return day


def day_text(day: int) -> str:
    """Days since the epoch → ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")


def parse_hhmm(text: str) -> int:
    """``"HH:MM"`` (UTC) → minutes after midnight; ValueError naming what is wrong."""
    hours, sep, minutes = text.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    return h * 60 + m


# ---------------------------------------------------------------------- rendering


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


TITLES = {
    "red": "RED: trading halted",
    "halt": "RED: halted by an operator",
    "yellow": "YELLOW: trading restricted",
    "green": "GREEN: trading allowed",
    "reset": "GREEN: RED reset by an operator",
    "incident": "incident",
    "reconciliation_critical": "reconciliation CRITICAL",
    "restart": "actor restarted",
    "daily_summary": "daily summary",
}


def text(n: Notification) -> str:
    """The human-readable message (Slack, Discord, Telegram, and ``text`` in JSON)."""
    lines = [f"[Vigil {n.instance}] {TITLES.get(n.kind, n.kind)}"]
    if n.kind == "daily_summary":
        d = n.detail
        lines.append(
            f"day {d.get('day')} (UTC): P&L {d.get('pnl') if d.get('pnl') is not None else 'n/a'}"
            f", orders {d.get('orders')}, fills {d.get('fills')}"
        )
    elif n.kind in ("incident", "reconciliation_critical"):
        lines.append(f"incident {n.detail.get('incident')}: {n.detail.get('reason', '')}")
    elif n.kind == "restart":
        d = n.detail
        what = "restarted" if d.get("restarted") else "NOT restarted (restart intensity spent)"
        lines.append(f"actor {d.get('actor')} {d.get('failure')}: {what}; {d.get('detail', '')}")
    lines.append(
        f"breaker {n.level} since {iso(n.since_ms)}" + (f": {n.reason}" if n.reason else "")
    )
    if n.detail.get("latched"):
        lines.append("(latched before this start: RED until an operator resets it)")
    recon = n.reconciliation or "none yet"
    if n.reconciliation_ms is not None:
        recon += f" at {iso(n.reconciliation_ms)}"
    lines.append(f"last reconciliation: {recon}")
    if n.open_orders is not None:
        ids = ", ".join(n.open_order_ids)
        more = "" if n.open_orders <= len(n.open_order_ids) else ", ..."
        lines.append(f"open orders: {n.open_orders}" + (f" ({ids}{more})" if ids else ""))
    lines.append(f"at {iso(n.at_ms)}")
    return "\n".join(lines)


def document(n: Notification) -> dict[str, Any]:
    """Vigil's own JSON document (format ``json``)."""
    return {
        "source": "vigil",
        "event": n.kind,
        "matches": sorted(n.matches),
        "instance": n.instance,
        "at": iso(n.at_ms),
        "at_ms": n.at_ms,
        "breaker": {
            "level": n.level,
            "reason": n.reason,
            "since": iso(n.since_ms),
            "since_ms": n.since_ms,
        },
        "reconciliation": {
            "result": n.reconciliation,
            "at": iso(n.reconciliation_ms),
            "at_ms": n.reconciliation_ms,
        },
        "open_orders": {"count": n.open_orders, "ids": list(n.open_order_ids)},
        "detail": n.detail,
        "text": text(n),
    }


def _clip(message: str, limit: int) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


def body(n: Notification, fmt: str, chat_id: str | None = None) -> dict[str, Any]:
    """The request body for a webhook of format ``fmt``."""
    if fmt == "json":
        return document(n)
    message = _clip(text(n), TEXT_LIMITS[fmt])
    if fmt == "slack":
        return {"text": message}
    if fmt == "discord":
        return {"content": message}
    if fmt == "telegram":
        if chat_id is None:
            raise ValueError("a telegram webhook needs a chat_id")
        return {"chat_id": chat_id, "text": message}
    raise ValueError(f"unknown format {fmt!r}")


# ---------------------------------------------------------------------- secrets


def redact_url(url: str) -> str:
    """A webhook URL as Vigil shows it: scheme, host and port, never the path, query or
    credentials (a Slack/Discord webhook's path and a Telegram bot token are secrets)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "<unparsable url>"
    if ":" in host:
        host = f"[{host}]"
    where = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    return where + ("/***" if parts.path.strip("/") or parts.query else "")


def secret_parts(url: str) -> tuple[str, ...]:
    """The pieces of ``url`` that may carry a secret, longest first: the URL itself, its
    path and query, credentials, and every longer path segment (a bot token)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return (url,)
    pieces = {url, parts.path, parts.query, parts.netloc.rpartition("@")[0]}
    if parts.query:
        pieces.add(f"{parts.path}?{parts.query}")
    pieces.update(s for s in parts.path.split("/") if len(s) >= 8)
    return tuple(sorted((p for p in pieces if len(p) >= 4), key=len, reverse=True))


def scrub(message: str, secrets: tuple[str, ...]) -> str:
    """``message`` with every secret piece replaced."""
    for piece in secrets:
        message = message.replace(piece, "***")
    return message
