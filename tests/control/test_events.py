"""``GET /v1/events`` (Server-Sent Events) and ``GET /`` (the status page) against a running
Vigil: the token, breaker events at once on a halt, order and fill events as the broker
books them, the status every second, the heartbeat comment, a client that goes away is
unsubscribed, and the page itself is served without the token and holds no data."""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from typing import Any

import requests

from tests.conftest import Vigil, audited, wait_for

MARKET = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}


class EventStream:
    """``GET /v1/events`` read on a thread: every event as (kind, data), every comment as
    ("comment", text)."""

    def __init__(self, vigil: Vigil, token: str | None = None) -> None:
        self.response = requests.get(
            vigil.url + "/v1/events",
            headers={"Authorization": f"Bearer {token or vigil.token}"},
            stream=True,
            timeout=10,
        )
        assert self.response.status_code == 200, self.response.text
        self.items: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        kind, data = "message", ""
        try:
            for raw in self.response.iter_lines(chunk_size=1):
                line = raw.decode()
                if line.startswith(":"):
                    self.items.put(("comment", line[1:].strip()))
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and data:
                    self.items.put((kind, json.loads(data)))
                    kind, data = "message", ""
        except Exception:  # closed by the test
            return

    def wait(self, kind: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The first ``kind`` event whose fields equal ``match``, within ``timeout``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got, data = self.items.get(timeout=left)
            except queue.Empty:
                break
            if got == kind and all(data.get(k) == v for k, v in match.items()):
                return data  # type: ignore[no-any-return]
        raise AssertionError(f"no {kind} event {match} within {timeout}s")

    def close(self) -> None:
        self.response.close()


def test_events_need_the_token_and_a_refusal_is_audited(vigil: Vigil) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": vigil.token}):
        resp = requests.get(vigil.url + "/v1/events", headers=headers, timeout=5)
        assert resp.status_code == 401
        assert resp.json() == {"error": "unauthorized"}
    assert audited(vigil, "control_unauthorized", path="/v1/events")
    # the token is accepted only in the header: never in the URL
    resp = requests.get(vigil.url + "/v1/events", params={"token": vigil.token}, timeout=5)
    assert resp.status_code == 401


def test_the_stream_is_event_stream_and_starts_with_the_breaker_state(vigil: Vigil) -> None:
    stream = EventStream(vigil)
    try:
        assert stream.response.headers["Content-Type"].startswith("text/event-stream")
        assert stream.response.headers["Cache-Control"] == "no-store"
        first = stream.wait("breaker", timeout=2)
        assert first["level"] == "GREEN"
        assert set(first) == {"level", "reason", "source", "since_ms"}
    finally:
        stream.close()


def test_a_halt_sends_a_red_breaker_event_within_two_seconds(vigil: Vigil) -> None:
    stream = EventStream(vigil)
    try:
        stream.wait("breaker", level="GREEN")
        halted = time.monotonic()
        assert vigil.api("POST", "/v1/halt", {"reason": "events test"}).status_code == 200
        red = stream.wait("breaker", timeout=2, level="RED")
        assert time.monotonic() - halted < 2
        assert red["reason"] == "operator halt: events test"
        assert red["source"] == "operator"
        # and the status events say so too
        assert stream.wait("status", timeout=3, breaker="RED")["reason"] == red["reason"]
    finally:
        stream.close()


def test_an_order_sends_order_and_fill_events(vigil: Vigil) -> None:
    stream = EventStream(vigil)
    try:
        stream.wait("breaker")
        resp = vigil.api("POST", "/v1/orders", MARKET)
        assert resp.status_code == 202, resp.text
        cid = resp.json()["client_order_id"]
        filled = stream.wait("order", client_order_id=cid, state="FILLED")
        assert filled["symbol"] == "BTCUSDT"
        assert filled["side"] == "BUY"
        assert filled["executed_qty"] == "0.00100000"  # amounts are strings
        fill = stream.wait("fill", client_order_id=cid)
        assert fill["symbol"] == "BTCUSDT"
        assert fill["side"] == "BUY"
        assert fill["qty"] == "0.00100000"
        assert isinstance(fill["price"], str)
        assert fill["price"] == vigil.sim.state()["trades"][-1]["price"]
    finally:
        stream.close()


def test_the_status_comes_every_second_as_get_status_has_it(vigil: Vigil) -> None:
    stream = EventStream(vigil)
    try:
        first = stream.wait("status", timeout=3)
        started = time.monotonic()
        second = stream.wait("status", timeout=3)
        assert 0.5 < time.monotonic() - started < 2.5
        assert set(first) == set(vigil.status()) == set(second)
        assert first["breaker"] == "GREEN"
        equity = first["equity"]
        assert equity["quote"] == "USDT"
        assert isinstance(equity["value"], str) and equity["value"]
    finally:
        stream.close()


def test_a_comment_heartbeat_keeps_the_stream_alive(vigil: Vigil) -> None:
    vigil.system.control.heartbeat_every_s = 0.2
    vigil.system.control.status_every_s = 60.0  # nothing else on the wire but heartbeats
    stream = EventStream(vigil)
    try:
        beats = 0
        deadline = time.monotonic() + 3
        while beats < 3 and time.monotonic() < deadline:
            kind, text = stream.items.get(timeout=3)
            beats += kind == "comment" and text == "keep-alive"
        assert beats == 3
    finally:
        stream.close()


def test_a_client_that_goes_away_is_unsubscribed(vigil: Vigil) -> None:
    bus = vigil.system.events
    assert bus.subscribers == 0
    streams = [EventStream(vigil), EventStream(vigil)]
    wait_for(lambda: bus.subscribers == 2, timeout=3)
    streams[0].close()
    wait_for(lambda: bus.subscribers == 1, timeout=5)
    streams[1].wait("status")  # the other goes on
    streams[1].close()
    wait_for(lambda: bus.subscribers == 0, timeout=5)


def test_a_subscriber_that_never_reads_never_slows_the_broker(vigil: Vigil) -> None:
    stuck = vigil.system.events.subscribe(maxsize=2)
    everything = vigil.system.events.subscribe(maxsize=100_000)  # what was published
    try:
        cids = [vigil.submit().client_order_id for _ in range(4)]
        book = vigil.system.book.book
        wait_for(lambda: all(book.orders[c].state.value == "FILLED" for c in cids), timeout=10)
        assert stuck.dropped > 0  # the oldest went; the newest two are kept
        kept = stuck.drain()
        seen = everything.drain()  # (account events may still arrive in between)
        assert len(kept) == 2
        # the two it kept are the newest it was given: every one before them was dropped
        last = next(i for i, e in enumerate(seen) if e is kept[-1])
        assert seen[last - 1] is kept[0] and stuck.dropped == last - 1
        assert any(e.data.get("client_order_id") == cids[-1] for e in seen[: last + 1])
    finally:
        stuck.close()
        everything.close()


# ------------------------------------------------------------------ the page


def test_the_page_is_served_without_the_token_and_holds_no_data(vigil: Vigil) -> None:
    assert vigil.submit().accepted
    resp = requests.get(vigil.url + "/", timeout=5)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    assert resp.headers["Cache-Control"] == "no-store"
    html = resp.text
    assert "<script>" in html and "sessionStorage" in html
    assert vigil.token not in html
    for data in ("vgl-", "USDT", "GREEN\n", "HEALTHY "):
        assert data not in html, data
    assert not re.search(r"https?://", html.replace("http://www.w3.org/2000/svg", ""))  # no CDN
    assert not audited(vigil, "control_unauthorized", path="/")
    assert requests.head(vigil.url + "/", timeout=5).status_code == 200
    # only GET and HEAD of the page itself go without the token
    assert requests.post(vigil.url + "/", timeout=5).status_code == 401
    assert requests.get(vigil.url + "/v1/status", timeout=5).status_code == 401


def test_the_page_may_run_only_its_own_script_and_talk_only_to_its_origin(vigil: Vigil) -> None:
    resp = requests.get(vigil.url + "/", timeout=5)
    csp = dict(
        part.strip().split(" ", 1) for part in resp.headers["Content-Security-Policy"].split(";")
    )
    assert csp["default-src"] == "'none'"
    assert csp["connect-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp["script-src"] and "unsafe-eval" not in csp["script-src"]
    assert csp["script-src"].startswith("'sha256-")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
