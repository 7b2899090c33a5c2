"""``domain.notification``: which event a change is, the bodies, the schedule, redaction."""

from __future__ import annotations

import pytest

from domain.notification import (
    DAY_MS,
    Notification,
    body,
    breaker_event,
    incident_event,
    redact_url,
    scrub,
    secret_parts,
    summary_due,
)

TOKEN = "123456789:AAE-secret-bot-token"


def note(**kw: object) -> Notification:
    fields: dict[str, object] = {
        "kind": "red",
        "matches": frozenset({"red"}),
        "instance": "node-1",
        "at_ms": 1_700_000_000_000,
        "level": "RED",
        "reason": "actor broker crash",
        "since_ms": 1_700_000_000_000,
        "reconciliation": "HEALTHY",
        "reconciliation_ms": 1_699_999_999_000,
        "open_orders": 7,
        "open_order_ids": ("a1", "a2", "a3", "a4", "a5"),
    }
    fields.update(kw)
    return Notification(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("previous", "level", "source", "kind", "matches"),
    [
        ("GREEN", "RED", "supervisor", "red", {"red"}),
        ("YELLOW", "RED", "operator", "halt", {"halt", "red"}),
        ("RED", "GREEN", "", "reset", {"reset", "green"}),
        ("GREEN", "YELLOW", "breaker", "yellow", {"yellow"}),
        ("YELLOW", "GREEN", "", "green", {"green"}),
    ],
)
def test_a_breaker_change_is_one_event_matching_its_level(
    previous: str, level: str, source: str, kind: str, matches: set[str]
) -> None:
    assert breaker_event(previous, level, source) == (kind, frozenset(matches))


def test_no_change_is_no_event() -> None:
    assert breaker_event("RED", "RED", "operator") is None


def test_a_reconciliation_incident_is_reconciliation_critical() -> None:
    assert incident_event("reconciliation")[0] == "reconciliation_critical"
    assert "incident" in incident_event("reconciliation")[1]
    assert incident_event("actor_crash") == ("incident", frozenset({"incident"}))


def test_the_bodies_have_the_services_shapes_and_say_what_a_person_needs() -> None:
    n = note()
    slack, discord = body(n, "slack"), body(n, "discord")
    telegram = body(n, "telegram", "-100")
    assert set(slack) == {"text"} and set(discord) == {"content"}
    assert telegram == {"chat_id": "-100", "text": slack["text"]}
    text = slack["text"]
    for needed in ("node-1", "RED", "actor broker crash", "2023-11-14T22:13:20.000Z"):
        assert needed in text
    assert "HEALTHY at 2023-11-14T22:13:19.000Z" in text
    assert "open orders: 7 (a1, a2, a3, a4, a5, ...)" in text
    doc = body(n, "json")
    assert doc["event"] == "red" and doc["open_orders"] == {
        "count": 7,
        "ids": list(n.open_order_ids),
    }
    assert doc["breaker"]["since"] == "2023-11-14T22:13:20.000Z"


def test_a_long_message_is_cut_to_the_services_limit() -> None:
    n = note(reason="x" * 5000)
    assert len(body(n, "discord")["content"]) == 2000
    assert len(body(n, "telegram", "1")["text"]) == 4096


def test_telegram_without_a_chat_id_is_refused() -> None:
    with pytest.raises(ValueError, match="chat_id"):
        body(note(), "telegram")


def test_the_daily_summary_is_due_once_per_utc_day_from_its_time() -> None:
    day = 19_700
    at = 23 * 60 + 55
    assert summary_due(day * DAY_MS + at * 60_000 - 1, at, None) is None
    assert summary_due(day * DAY_MS + at * 60_000, at, None) == day
    assert summary_due(day * DAY_MS + at * 60_000 + 1, at, day) is None  # sent today
    assert summary_due((day + 1) * DAY_MS + at * 60_000, at, day) == day + 1


def test_a_webhook_url_is_shown_without_its_secret() -> None:
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    assert redact_url(url) == "https://api.telegram.org/***"
    assert redact_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert redact_url("https://user:pw@hooks.slack.com/services/T/B/X?x=1") == (
        "https://hooks.slack.com/***"
    )
    error = "HTTPSConnectionPool(host='api.telegram.org'): Max retries with url: "
    error += f"/bot{TOKEN}/sendMessage"
    assert TOKEN not in scrub(error, secret_parts(url))
    assert "api.telegram.org" in scrub(error, secret_parts(url))
