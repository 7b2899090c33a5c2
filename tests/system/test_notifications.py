"""Notifications: a RED that nobody sees is no safety (issue 15).

Against a real loopback webhook receiver (aiohttp): the RED of an operator halt arrives
within 2 s; a receiver that fails first still gets it; a hanging one slows neither the
breaker, the order path nor the shutdown; the bodies have the services' shapes; a webhook
URL's secret is written nowhere."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from assembly.notifications import Context, Notifier
from config.sections import NotifySettings, WebhookSettings
from domain.notification import DAY_MS
from storage.audit import open_read_only
from tests.conftest import Vigil, audited, wait_audited, wait_for
from tests.system.test_supervision import crash
from tests.system.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    rx = WebhookReceiver().start()
    try:
        yield rx
    finally:
        rx.stop()


def hook(url: str, fmt: str = "json", events: tuple[str, ...] = ("red",), **kw: Any) -> Any:
    return {"url": url, "format": fmt, "events": list(events), **kw}


def notifying(
    factory: Callable[..., Vigil],
    *hooks: Any,
    other: dict[str, Any] | None = None,
    **notify: Any,
) -> Vigil:
    vigil = factory(
        notify={"webhooks": list(hooks), **notify},
        instance={"name": "vigil-test-node"},
        **(other or {}),
    )
    vigil.wait_green()
    return vigil


def test_an_operator_halt_reaches_the_webhook_as_red_within_2_s(
    vigil_factory: Callable[..., Vigil], receiver: WebhookReceiver
) -> None:
    # cancel-on-RED off: the message must show the order resting at the trip (with it on,
    # the order's cancel can be booked before the message is composed)
    vigil = notifying(
        vigil_factory, hook(receiver.url + "/hook"), other={"broker": {"cancel_on_red": False}}
    )
    assert vigil.submit(type="LIMIT", price="59000", quantity="0.01").accepted
    wait_for(lambda: vigil.status()["orders"]["open"] == 1, timeout=5)

    tripped = time.monotonic()
    assert vigil.api("POST", "/v1/halt", {"reason": "drill 15"}).status_code == 200
    wait_for(lambda: receiver.received, timeout=2)
    assert receiver.received[0].at - tripped < 2.0

    doc = receiver.received[0].body
    assert doc["event"] == "halt" and "red" in doc["matches"]
    assert doc["instance"] == "vigil-test-node"
    assert doc["breaker"]["level"] == "RED" and "drill 15" in doc["breaker"]["reason"]
    assert doc["breaker"]["since_ms"] == vigil.system.gate.state.since_ms
    assert doc["reconciliation"]["result"] in ("HEALTHY", "WARNING")
    assert doc["open_orders"]["count"] == 1 and len(doc["open_orders"]["ids"]) == 1
    assert "drill 15" in doc["text"] and "vigil-test-node" in doc["text"]
    sent = wait_audited(vigil, "notify_sent", event="halt")
    assert sent["webhook"] == 0 and sent["attempts"] == 1
    assert sent["url"] == receiver.url + "/***"  # the path is never shown


def test_a_webhook_that_fails_three_times_still_gets_the_red_and_the_failures_are_audited(
    vigil_factory: Callable[..., Vigil], receiver: WebhookReceiver
) -> None:
    vigil = notifying(vigil_factory, hook(receiver.url + "/flaky"))
    receiver.plan = [500, 500, 500]
    vigil.api("POST", "/v1/halt", {"reason": "flaky drill"})
    wait_for(lambda: receiver.received, timeout=10)
    assert [h.status for h in receiver.requests] == [500, 500, 500, 200]
    assert receiver.received[0].body["breaker"]["level"] == "RED"
    assert wait_audited(vigil, "notify_sent", event="halt")["attempts"] == 4
    failed = audited(vigil, "notify_failed", event="halt")
    assert [(f["attempt"], f["error"]) for f in failed] == [(i, "HTTP 500") for i in (1, 2, 3)]
    # back-off: 0.5 s, then doubling
    gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert gaps[0] >= 0.45 and gaps[1] >= 0.95 and gaps[2] >= 1.9


def test_a_hanging_webhook_slows_neither_the_breaker_nor_the_order_path_nor_the_shutdown(
    vigil_factory: Callable[..., Vigil], receiver: WebhookReceiver
) -> None:
    vigil = notifying(
        vigil_factory,
        hook(receiver.url + "/slow", events=("red", "yellow", "green", "incident", "reset")),
        timeout_s=20,
        other={"policy": {"max_open_orders": 10_000}},  # fills are heard a little later
    )

    courier = vigil.system.notifier.couriers[0]

    def wire_caught_up() -> bool:
        counters = vigil.system.book.counters
        return counters["answered"] >= counters["accepted"] - 5

    def submit_latencies(n: int = 40) -> list[float]:
        out = []
        for i in range(n):
            if i % 10 == 0:  # (untimed) a strategy paced by its acknowledgments: on a loaded
                wait_for(wire_caught_up, timeout=30)  # machine the exchange's order cap
            started = time.perf_counter()
            assert vigil.submit().accepted
            out.append(time.perf_counter() - started)
        return out

    def p99(values: list[float]) -> float:
        return statistics.quantiles(values, n=100)[98]

    def events(label: str) -> float:
        """2 breaker changes and 10 incident rows; how long they held up their callers."""
        started = time.perf_counter()
        vigil.system.gate.set_yellow(label, "test")
        vigil.system.gate.clear_yellow()
        for i in range(10):
            vigil.system.store.add_incident(int(time.time() * 1000), "drill", f"{label} {i}", {})
        return time.perf_counter() - started

    # in turns (a shared machine's noise falls on both): the receiver answering, then
    # hanging with a backlog queued behind the held request (a 20 s client timeout)
    up: list[float] = []
    hanging: list[float] = []
    for round in range(4):
        receiver.hang = False
        receiver.release()
        events(f"up {round}")
        wait_for(lambda: courier.current is None and courier.queue.empty(), timeout=10)
        up += submit_latencies()
        receiver.hang = True
        assert events(f"hanging {round}") < 0.5  # none of them waited for the webhook
        wait_for(lambda: receiver.held > 0, timeout=5)
        hanging += submit_latencies()
        assert courier.current is not None and receiver.held > 0  # still hanging throughout
    assert p99(hanging) <= 2 * p99(up) + 0.005, (p99(up), p99(hanging))

    tripped = time.perf_counter()
    assert vigil.api("POST", "/v1/halt", {"reason": "hung drill"}).status_code == 200
    assert time.perf_counter() - tripped < 1.0 and vigil.system.gate.state.is_red

    stopping = time.perf_counter()
    vigil.system.stop(cancel_open=False)
    notifier_share = vigil.system.settings.notify.shutdown_s
    assert time.perf_counter() - stopping < notifier_share + 5.0
    trail = open_read_only(vigil.system.data_dir / "audit.db")
    try:
        gave_up = trail.query(kind="notify_gave_up", limit=1000)
    finally:
        trail.close()
    assert {r["reason"] for r in gave_up} == {"shutdown"}
    assert {"yellow", "incident", "halt"} <= {r["event"] for r in gave_up}


def test_slack_discord_and_telegram_bodies_have_the_services_shapes(
    vigil_factory: Callable[..., Vigil], receiver: WebhookReceiver
) -> None:
    base = receiver.url
    vigil = notifying(
        vigil_factory,
        hook(base + "/json"),
        hook(base + "/slack", "slack"),
        hook(base + "/discord", "discord"),
        hook(base + "/botTOKEN/sendMessage", "telegram", chat_id=-100123),
    )
    vigil.api("POST", "/v1/halt", {"reason": "shapes"})
    wait_for(lambda: len(receiver.received) == 4, timeout=3)
    (slack,) = receiver.bodies("/slack")
    (discord,) = receiver.bodies("/discord")
    (telegram,) = receiver.bodies("/botTOKEN/sendMessage")
    (document,) = receiver.bodies("/json")
    assert set(slack) == {"text"} and set(discord) == {"content"}
    assert set(telegram) == {"chat_id", "text"} and telegram["chat_id"] == "-100123"
    for message in (slack["text"], discord["content"], telegram["text"]):
        assert message == document["text"]
        assert "RED" in message and "shapes" in message and "vigil-test-node" in message
        assert "last reconciliation: " in message and "open orders: 0" in message


def test_every_event_kind_reaches_a_webhook_subscribed_to_it(
    vigil_factory: Callable[..., Vigil], receiver: WebhookReceiver
) -> None:
    everything = ("red", "yellow", "green", "incident", "reset", "halt", "restart")
    everything += ("reconciliation_critical",)
    vigil = notifying(vigil_factory, hook(receiver.url + "/all", events=everything))

    def kinds() -> list[str]:
        return [b["event"] for b in receiver.bodies()]

    vigil.system.gate.set_yellow("a yellow drill", "test")
    vigil.system.gate.clear_yellow()
    wait_for(lambda: kinds() == ["yellow", "green"], timeout=3)

    vigil.api("POST", "/v1/halt", {"reason": "drill"})
    tripped = vigil.system.gate.state.since_ms
    wait_for(lambda: "halt" in kinds(), timeout=3)
    wait_for(lambda: (vigil.system.gate.last_healthy_ms or 0) > tripped, timeout=5)
    assert vigil.api("POST", "/v1/reset", {"reason": "over", "confirm": True}).status_code == 200
    wait_for(lambda: "reset" in kinds(), timeout=3)
    reset = receiver.bodies()[kinds().index("reset")]
    assert reset["breaker"]["level"] == "GREEN" and "green" in reset["matches"]

    crash(vigil, "rest_poller")  # RED, an incident row, a restart
    wait_for(lambda: {"red", "incident", "restart"} <= set(kinds()), timeout=3)
    restart = receiver.bodies()[kinds().index("restart")]["detail"]
    assert restart["actor"] == "rest_poller" and restart["restarted"] is True
    incident = receiver.bodies()[kinds().index("incident")]["detail"]
    assert incident["incident_kind"] == "actor_crash"


def test_a_critical_reconciliation_is_a_reconciliation_critical_event(
    vigil_factory: Callable[..., Vigil], receiver: WebhookReceiver
) -> None:
    vigil = notifying(
        vigil_factory, hook(receiver.url + "/recon", events=("reconciliation_critical",))
    )
    vigil.sim.arm("balance_drift", params={"asset": "USDT", "delta": "-12.5"})
    wait_for(lambda: receiver.received, timeout=5)
    body = receiver.received[0].body
    assert body["event"] == "reconciliation_critical" and "incident" in body["matches"]
    assert body["detail"]["incident_kind"] == "reconciliation"
    assert [b["event"] for b in receiver.bodies()] == ["reconciliation_critical"]


def test_a_telegram_token_appears_nowhere_vigil_writes(
    vigil_factory: Callable[..., Vigil],
    receiver: WebhookReceiver,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from loguru import logger

    token = "7001234567:AAHsecretTOKENnotForAnyone_9"
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG")
    caplog.set_level("DEBUG")
    try:
        dead = "http://127.0.0.1:9"  # discard port: nothing listens, connection refused
        vigil = notifying(
            vigil_factory,
            hook(f"{receiver.url}/bot{token}/sendMessage", "telegram", chat_id="42"),
            hook(f"{dead}/bot{token}/sendMessage", "telegram", chat_id="42"),
            attempts=2,
            backoff_s=0.05,
        )
        receiver.plan = [500]
        vigil.api("POST", "/v1/halt", {"reason": "secret drill"})
        wait_for(lambda: receiver.received, timeout=5)
        wait_audited(vigil, "notify_gave_up", webhook=1)
        failed = audited(vigil, "notify_failed", webhook=1)
        assert failed and "ConnectionError" in failed[0]["error"]
        assert repr(vigil.system.settings).count("sendMessage") == 0
        vigil.system.stop(cancel_open=False)
    finally:
        logger.remove(sink)
    assert any("notify" in line for line in lines)  # the failures were logged ...
    written = "\n".join(lines) + caplog.text
    assert token not in written and "AAHsecret" not in written  # ... without the token
    for path in (tmp_path / "var").rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
            assert b"AAHsecret" not in path.read_bytes(), path


def test_the_daily_summary_goes_once_per_utc_day_on_an_injected_clock(
    receiver: WebhookReceiver,
) -> None:
    day = 20_000  # 2024-10-04
    clock = [day * DAY_MS + 23 * 3_600_000]  # 23:00 UTC
    audits: list[tuple[str, dict[str, Any]]] = []
    settings = NotifySettings(
        webhooks=(WebhookSettings(url=receiver.url + "/day", events=("daily_summary",)),),
        daily_summary_utc="23:55",
    )
    notifier = Notifier(
        settings,
        "node-7",
        audit=lambda kind, data: audits.append((kind, data)),
        context=Context,
        summary=lambda at: {"pnl": "12.5", "orders": 3, "fills": 2},
        clock=lambda: clock[0],
    ).start()
    try:
        assert not notifier.tick()  # 23:00: not yet
        clock[0] = day * DAY_MS + (23 * 60 + 55) * 60_000  # 23:55: due
        wait_for(lambda: receiver.received, timeout=3)  # the notifier's own schedule
        assert not notifier.tick()  # once a day
        clock[0] += 60_000
        assert not notifier.tick()
        doc = receiver.received[0].body
        assert doc["event"] == "daily_summary" and doc["instance"] == "node-7"
        assert doc["detail"] == {"day": "2024-10-04", "pnl": "12.5", "orders": 3, "fills": 2}
        assert "P&L 12.5, orders 3, fills 2" in doc["text"]
        clock[0] = (day + 1) * DAY_MS + (23 * 60 + 56) * 60_000  # the next day
        wait_for(lambda: len(receiver.received) == 2, timeout=3)
        assert receiver.received[1].body["detail"]["day"] == "2024-10-05"
        assert [k for k, _ in audits] == ["notify_sent", "notify_sent"]
    finally:
        notifier.stop()

    # a (re)start after the day's summary time waits for the next day: no second one
    late = Notifier(
        settings,
        "node-7",
        audit=lambda kind, data: audits.append((kind, data)),
        context=Context,
        summary=lambda at: {},
        clock=lambda: clock[0],
    ).start()
    try:
        assert not late.tick()
    finally:
        late.stop()


def test_the_daily_summary_carries_the_days_pnl_orders_and_fills(
    vigil_factory: Callable[..., Vigil], receiver: WebhookReceiver
) -> None:
    vigil = notifying(
        vigil_factory,
        hook(receiver.url + "/day", events=("daily_summary",)),
        daily_summary_utc="23:59",
    )
    assert vigil.submit().accepted  # a MARKET buy: one order, filled
    wait_for(lambda: vigil.status()["fills"] >= 1, timeout=5)
    now = int(time.time() * 1000)
    vigil.system.notifier.clock = lambda: now - now % DAY_MS + DAY_MS - 30_000  # 23:59:30
    wait_for(lambda: receiver.received, timeout=5)
    detail = receiver.received[0].body["detail"]
    assert (detail["orders"], detail["fills"]) == (1, 1)
    assert detail["pnl"] is not None  # today is valued: a number, as a string
    Decimal(detail["pnl"])


def test_a_start_into_a_latched_red_tells_the_webhook_it_is_still_red(
    vigil_factory: Callable[..., Vigil], receiver: WebhookReceiver, tmp_path: Path
) -> None:
    first = vigil_factory(data_dir=tmp_path / "var")
    first.wait_green()
    first.api("POST", "/v1/halt", {"reason": "before the restart"})
    first.system.stop(cancel_open=False)

    again = vigil_factory(
        data_dir=tmp_path / "var",
        notify={"webhooks": [hook(receiver.url + "/again")]},
        instance={"name": "restarted"},
    )
    wait_for(lambda: receiver.received, timeout=3)
    doc = receiver.received[0].body
    assert doc["event"] == "red" and doc["detail"] == {"latched": True}
    assert doc["breaker"]["level"] == "RED" and "before the restart" in doc["breaker"]["reason"]
    assert "latched before this start" in doc["text"]
    assert again.system.gate.state.is_red
