"""The control API's limits against a running Vigil (issue 18): a body over 64 KiB gets
413, a reason or an operator name over 500 characters 422 naming the field, JSON nested
too deeply to parse 400 or 413 — each as a JSON body, never a 500; 5 failed
authentications from one address within a minute get that address 429 (with Retry-After)
for a minute, even with the right token, and the block is audited without the guess;
``POST /v1/reconcile`` (and ``run.py reconcile``) run one cycle and answer its result."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from runtime.clock import now_ms
from runtime.messages import InjectFault
from tests.conftest import Vigil, audited, run_py, vigil_env, wait_audited, wait_for


def post(
    vigil: Vigil, path: str, data: bytes | str, token: str | None = None, method: str = "POST"
) -> requests.Response:
    return requests.request(
        method,
        vigil.url + path,
        data=data,
        headers={
            "Authorization": f"Bearer {vigil.token if token is None else token}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )


def json_error(resp: requests.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert "error" in body and "Traceback" not in resp.text
    return body  # type: ignore[no-any-return]


# --- body size, text length, nesting --------------------------------------------------------


def test_a_body_over_64_kib_gets_413_as_json_and_does_nothing(vigil: Vigil) -> None:
    big = json.dumps({"reason": "x" * 10, "padding": "p" * (64 * 1024)})
    for path in ("/v1/halt", "/v1/orders", "/v1/cancel-all"):
        json_error(post(vigil, path, big), 413)
    assert not vigil.system.gate.state.is_red  # the halt was never read
    just_under = json.dumps({"reason": "fits", "padding": "p" * (60 * 1024)})
    assert post(vigil, "/v1/heartbeat", just_under).status_code == 200


def test_a_reason_or_an_operator_over_500_characters_gets_422_naming_the_field(
    vigil: Vigil,
) -> None:
    long = "r" * 501
    halt = json_error(post(vigil, "/v1/halt", json.dumps({"reason": long})), 422)
    assert "reason" in halt["error"] and "500" in halt["error"]
    assert not vigil.system.gate.state.is_red
    reset = {"reason": "ok", "confirm": True, "operator": "o" * 501}
    answer = json_error(post(vigil, "/v1/reset", json.dumps(reset)), 422)
    assert "operator" in answer["error"]
    resync = json_error(post(vigil, "/v1/resync", json.dumps({"reason": long})), 422)
    assert "reason" in resync["error"]
    assert post(vigil, "/v1/halt", json.dumps({"reason": "r" * 500})).status_code == 200


def test_json_nested_too_deeply_gets_400_or_413_as_json_never_500(vigil: Vigil) -> None:
    too_big = "[" * 100_000  # over 64 KiB too
    json_error(post(vigil, "/v1/orders", too_big), 413)
    for path in ("/v1/orders", "/v1/halt", "/v1/reset", "/v1/heartbeat", "/v1/reconcile"):
        deep = "[" * 50_000 + "]" * 10_000  # under 64 KiB, past the parser's recursion
        body = json_error(post(vigil, path, deep), 400)
        assert "nested" in body["error"], path
        deep_object = '{"a":' * 12_000
        json_error(post(vigil, path, deep_object), 400)
    for method, path in (("POST", "/v1/order-lists"), ("PUT", "/v1/orders/some-order")):
        body = json_error(post(vigil, path, deep, method=method), 400)
        assert "nested" in body["error"], path
    assert vigil.status()["breaker"] == "GREEN"  # the server is fine


# --- the authentication throttle ------------------------------------------------------------


def test_five_failed_authentications_block_the_address_for_a_minute_even_with_the_token(
    vigil: Vigil,
) -> None:
    guess = "guessed-token-not-to-be-written-51f0"
    for _ in range(4):
        assert post(vigil, "/v1/halt", '{"reason": "guess"}', token=guess).status_code == 401
    fifth = post(vigil, "/v1/halt", '{"reason": "guess"}', token=guess)
    json_error(fifth, 429)
    assert 55 <= int(fifth.headers["Retry-After"]) <= 60
    right = post(vigil, "/v1/halt", '{"reason": "right token, blocked address"}')
    json_error(right, 429)  # the guesser learns nothing: the right token is refused too
    assert 1 <= int(right.headers["Retry-After"]) <= 60
    assert not vigil.system.gate.state.is_red  # nothing was done
    record = wait_audited(vigil, "auth_throttled")
    assert record["remote"] == "127.0.0.1" and record["block_s"] == 60
    assert len(audited(vigil, "auth_throttled")) == 1  # one start, one record
    assert len(audited(vigil, "control_unauthorized")) == 5
    vigil.system.trail.flush()
    trail = json.dumps(vigil.system.trail.query(limit=10**6), default=str)
    assert guess not in trail and vigil.token not in trail


# --- POST /v1/reconcile ---------------------------------------------------------------------


def test_post_reconcile_runs_a_cycle_that_begins_after_the_request(vigil_factory: Any) -> None:
    # cycles every 60 s: without the request, no new result would come during the test
    vigil = vigil_factory(reconciliation={"interval_s": 60.0})
    vigil.wait_green()
    before = vigil.system.gate.last_result_ms
    asked = now_ms()
    resp = vigil.api("POST", "/v1/reconcile")
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["result"] == "HEALTHY" and answer["findings"] == []
    assert answer["started_ms"] >= asked > (before or 0)
    assert answer["at_ms"] >= answer["started_ms"]
    assert vigil.system.gate.last_result_ms == answer["started_ms"]
    assert wait_audited(vigil, "operator_reconcile")["result"] == "HEALTHY"


def test_post_reconcile_reports_a_critical_result(vigil_factory: Any) -> None:
    vigil = vigil_factory(reconciliation={"interval_s": 60.0, "balance_grace_s": 0.01})
    vigil.wait_green()
    vigil.sim.arm("balance_drift", params={"asset": "USDT", "delta": "-5"})
    answer: dict[str, Any] = {}

    def critical() -> bool:  # the first cycle sees the drift, a later one past its grace
        answer.update(vigil.api("POST", "/v1/reconcile").json())
        return answer.get("result") == "CRITICAL"

    wait_for(critical, timeout=10)
    assert any("USDT" in json.dumps(f) for f in answer["findings"])


def test_post_reconcile_answers_504_when_no_cycle_ends_in_time(vigil_factory: Any) -> None:
    vigil = vigil_factory(reconciliation={"interval_s": 60.0})
    vigil.wait_green()
    vigil.system.directory.tell("reconciler", InjectFault(kind="hang", seconds=5), sender="test")
    started = time.monotonic()
    resp = vigil.api("POST", "/v1/reconcile", {"timeout_s": 0.3})
    assert time.monotonic() - started < 2.0  # the deadline, not the hang, ended it
    assert "0.3" in json_error(resp, 504)["error"]


def test_a_bad_reconcile_body_is_refused_naming_the_field(vigil: Vigil) -> None:
    body = json_error(vigil.api("POST", "/v1/reconcile", {"timeout_s": 0}), 422)
    assert "timeout_s" in body["error"]


def test_run_py_reconcile_prints_the_result_of_a_fresh_cycle(vigil: Vigil) -> None:
    asked = now_ms()
    done = run_py(vigil_env(vigil.system.data_dir), "reconcile")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["result"] == "HEALTHY" and answer["started_ms"] >= asked
