"""The control API (``control/server.py``) against a running Vigil on the embedded simulator:
the bearer token, ``POST /v1/orders`` validation, the book's ``GET`` endpoints, the status
fields the interface contract names, ``POST /v1/reset``'s confirmation, ``GET /v1/incidents``
and ``GET /metrics``. Where an order is involved the simulator's true state is the judge.

(Already covered elsewhere: a missing or wrong token audited without the guess in
tests/system/test_operator_cli.py; a reset refused for a missing HEALTHY reconciliation and
an empty reason in tests/system/test_halt.py; orders refused while RED in the fault tests.)
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from runtime.messages import InjectFault
from tests.conftest import Vigil, audited, wait_audited, wait_for

ACTORS = {"audit_logger", "breaker", "order_broker", "reconciler", "rest_poller", "ws_listener"}
RESTING = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001"}
# far enough below the seeded simulator's BTCUSDT mid (about 60,000) to rest, and inside
# the policy's fat-finger band
RESTING_PRICE = "59000"
MARKET = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}

ENDPOINTS = [
    ("GET", "/v1/status"),
    ("POST", "/v1/orders"),
    ("GET", "/v1/orders"),
    ("GET", "/v1/balances"),
    ("POST", "/v1/halt"),
    ("POST", "/v1/reset"),
    ("POST", "/v1/resync"),
    ("POST", "/v1/cancel-all"),
    ("GET", "/v1/incidents"),
    ("GET", "/metrics"),
    ("POST", "/v1/heartbeat"),
    ("POST", "/v1/reconcile"),
]


def sim_orders(vigil: Vigil) -> dict[str, dict[str, Any]]:
    """The exchange's true orders by client order id."""
    return {o["clientOrderId"]: o for o in vigil.sim.state()["orders"]}


def book_orders(vigil: Vigil) -> dict[str, dict[str, Any]]:
    resp = vigil.api("GET", "/v1/orders")
    assert resp.status_code == 200, resp.text
    return resp.json()["orders"]  # type: ignore[no-any-return]


def metrics(vigil: Vigil) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """``GET /metrics`` parsed as Prometheus text: sample name → labels → value."""
    resp = vigil.api("GET", "/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def healthy_since(vigil: Vigil, tripped_ms: int) -> None:
    """Wait for a HEALTHY reconciliation that began after ``tripped_ms``."""
    wait_for(lambda: (vigil.system.gate.last_healthy_ms or 0) > tripped_ms, timeout=5)


# --- the bearer token -----------------------------------------------------------------------


@pytest.fixture
def unthrottled(vigil_factory: Callable[..., Vigil]) -> Vigil:
    """A Vigil that answers more failed authentications than the throttle's 5 with 401
    (these tests make many; the throttle has its own in tests/control/test_limits.py)."""
    v = vigil_factory(control={"auth_max_failures": 1000})
    v.wait_green()
    return v


def test_every_endpoint_refuses_a_request_without_the_token_and_does_nothing(
    unthrottled: Vigil,
) -> None:
    vigil = unthrottled
    bodies: dict[str, dict[str, Any]] = {
        "/v1/orders": {**RESTING, "price": RESTING_PRICE, "client_order_id": "no-token"},
        "/v1/halt": {"reason": "intruder"},
        "/v1/resync": {"confirm": True},
    }
    for method, path in ENDPOINTS:
        resp = requests.request(method, vigil.url + path, json=bodies.get(path), timeout=5)
        assert resp.status_code == 401, (method, path, resp.status_code)
        assert resp.json() == {"error": "unauthorized"}, (method, path)
    assert vigil.system.gate.state.level.value == "GREEN"  # the halt did nothing
    assert sim_orders(vigil) == {}  # the order never reached the exchange
    assert book_orders(vigil) == {}  # nor the book
    refused = {(r["method"], r["path"]) for r in audited(vigil, "control_unauthorized")}
    assert refused == set(ENDPOINTS)  # each refusal is audited


def test_only_the_exact_token_with_the_bearer_scheme_is_accepted(unthrottled: Vigil) -> None:
    vigil = unthrottled
    token = vigil.token
    near_misses = [
        f"Bearer {token[:-1]}",  # a prefix of the token
        f"Bearer {token}x",  # the token and more
        f"Bearer {token.swapcase()}",
        f"Basic {token}",
        token,  # no scheme
        "Bearer ",
        "",
    ]
    for header in near_misses:
        resp = requests.post(
            vigil.url + "/v1/halt",
            json={"reason": "near miss"},
            headers={"Authorization": header},
            timeout=5,
        )
        assert resp.status_code == 401, header
    assert not vigil.system.gate.state.is_red
    ok = requests.get(
        vigil.url + "/v1/status", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert ok.status_code == 200
    records = json.dumps(audited(vigil, "control_unauthorized"))
    assert len(audited(vigil, "control_unauthorized")) == len(near_misses)
    assert token[:-1] not in records  # neither the guesses nor the token are written down
    assert token.swapcase() not in records


# --- POST /v1/orders ------------------------------------------------------------------------


def test_a_good_order_is_accepted_with_202_and_reaches_the_exchange_once(vigil: Vigil) -> None:
    body = {**RESTING, "price": RESTING_PRICE, "client_order_id": "ctl-good"}
    resp = vigil.api("POST", "/v1/orders", body)
    assert resp.status_code == 202, resp.text
    answer = resp.json()
    assert answer["client_order_id"] == "ctl-good" and answer["correlation_id"]
    wait_for(lambda: "ctl-good" in sim_orders(vigil), timeout=5)
    placed = sim_orders(vigil)["ctl-good"]
    assert (placed["symbol"], placed["side"], placed["type"]) == ("BTCUSDT", "BUY", "LIMIT")
    assert Decimal(placed["origQty"]) == Decimal("0.001")
    assert Decimal(placed["price"]) == Decimal(RESTING_PRICE)
    assert placed["owner"] == "account" and placed["status"] == "NEW"
    assert list(sim_orders(vigil)) == ["ctl-good"]
    # the decision is audited under the correlation id the API answered with
    record = wait_audited(vigil, "intent_accepted", client_order_id="ctl-good")
    assert record["cid"] == answer["correlation_id"]


def test_an_order_without_a_client_order_id_gets_one_that_the_exchange_sees(
    vigil: Vigil,
) -> None:
    resp = vigil.api("POST", "/v1/orders", MARKET)
    assert resp.status_code == 202, resp.text
    cid = resp.json()["client_order_id"]
    assert cid
    wait_for(lambda: sim_orders(vigil).get(cid, {}).get("status") == "FILLED", timeout=5)
    assert list(sim_orders(vigil)) == [cid]


def test_a_malformed_order_is_refused_with_422_and_nothing_is_sent(vigil: Vigil) -> None:
    bad: list[tuple[dict[str, Any], str]] = [
        ({**MARKET, "quantity": 0.001}, "not floats"),
        ({**RESTING, "price": 59000.5}, "not floats"),
        ({**MARKET, "leverage": "10"}, "leverage"),
        ({**MARKET, "side": "HOLD"}, "side"),
        ({**MARKET, "side": "buy"}, "side"),
        ({**MARKET, "type": "STOP_LOSS"}, "type"),
        ({k: v for k, v in MARKET.items() if k != "quantity"}, "quantity"),
        ({**MARKET, "quantity": "a lot"}, "quantity"),
        ({**MARKET, "client_order_id": "spaces are not allowed"}, "client_order_id"),
        ({**MARKET, "client_order_id": "x" * 37}, "client_order_id"),
        ({**MARKET, "symbol": ""}, "symbol"),
    ]
    for body, names in bad:
        resp = vigil.api("POST", "/v1/orders", body)
        assert resp.status_code == 422, (body, resp.status_code, resp.text)
        answer = resp.json()
        assert answer["error"] == "bad order", body
        assert names in answer["detail"], (body, answer)
    for raw in ("not json", "[1, 2]", '"BTCUSDT"'):
        resp = requests.post(
            vigil.url + "/v1/orders",
            data=raw,
            headers={"Authorization": f"Bearer {vigil.token}"},
            timeout=5,
        )
        assert resp.status_code == 422, (raw, resp.text)
        assert resp.json()["error"] == "bad order"
    # none reached the broker, the book or the exchange
    assert audited(vigil, "intent_accepted") == audited(vigil, "intent_refused") == []
    assert book_orders(vigil) == {}
    assert sim_orders(vigil) == {}


def test_a_policy_refusal_is_422_with_the_reason_and_nothing_is_sent(vigil: Vigil) -> None:
    # 1 BTC at about 60,000 is far beyond the default max_order_notional of 5,000
    resp = vigil.api("POST", "/v1/orders", {**MARKET, "quantity": "1", "client_order_id": "big"})
    assert resp.status_code == 422, resp.text
    answer = resp.json()
    assert "policy" in answer["error"] and "notional" in answer["error"]
    assert answer["client_order_id"] == "big"
    assert sim_orders(vigil) == {}
    assert wait_audited(vigil, "intent_refused", client_order_id="big")


def test_a_second_order_with_the_same_client_order_id_is_refused_with_409(vigil: Vigil) -> None:
    body = {**RESTING, "price": RESTING_PRICE, "client_order_id": "ctl-twice"}
    assert vigil.api("POST", "/v1/orders", body).status_code == 202
    wait_for(lambda: sim_orders(vigil).get("ctl-twice", {}).get("status") == "NEW", timeout=5)
    again = vigil.api("POST", "/v1/orders", body)
    assert again.status_code == 409, again.text
    assert again.json()["client_order_id"] == "ctl-twice"
    copies = [o for o in vigil.sim.state()["orders"] if o["clientOrderId"] == "ctl-twice"]
    assert len(copies) == 1


# --- GET /v1/orders, GET /v1/balances -------------------------------------------------------


def test_get_orders_shows_the_book_as_the_exchange_has_it(vigil: Vigil) -> None:
    assert book_orders(vigil) == {}
    resting = {**RESTING, "price": RESTING_PRICE, "client_order_id": "ctl-rests"}
    assert vigil.api("POST", "/v1/orders", resting).status_code == 202
    assert vigil.api("POST", "/v1/orders", {**MARKET, "client_order_id": "ctl-fills"}).ok

    def settled() -> bool:
        ours = book_orders(vigil)
        truth = sim_orders(vigil)
        return (
            set(ours) == set(truth) == {"ctl-rests", "ctl-fills"}
            and ours["ctl-rests"]["state"] == "NEW"
            and ours["ctl-fills"]["state"] == "FILLED"
        )

    wait_for(settled, timeout=5)
    ours, truth = book_orders(vigil), sim_orders(vigil)
    for cid in ("ctl-rests", "ctl-fills"):
        mine, theirs = ours[cid], truth[cid]
        assert mine["state"] == theirs["status"], cid
        assert mine["order_id"] == theirs["orderId"], cid
        assert (mine["symbol"], mine["side"], mine["type"]) == (
            theirs["symbol"],
            theirs["side"],
            theirs["type"],
        ), cid
        assert Decimal(mine["quantity"]) == Decimal(theirs["origQty"]), cid
        assert Decimal(mine["executed_qty"]) == Decimal(theirs["executedQty"]), cid
    assert Decimal(ours["ctl-rests"]["price"]) == Decimal(RESTING_PRICE)
    assert Decimal(ours["ctl-fills"]["executed_qty"]) == Decimal("0.001")


def test_get_balances_equals_the_exchange_and_shows_what_a_resting_order_locks(
    vigil: Vigil,
) -> None:
    resting = {**RESTING, "price": RESTING_PRICE, "client_order_id": "ctl-locks"}
    assert vigil.api("POST", "/v1/orders", resting).status_code == 202
    assert vigil.api("POST", "/v1/orders", {**MARKET, "client_order_id": "ctl-buys"}).ok

    def matches() -> bool:
        truth = vigil.sim.state()["balances"]
        answer = vigil.api("GET", "/v1/balances").json()
        if set(answer) != {"balances", "locked", "positions"}:
            return False
        ours, locked = answer["balances"], answer["locked"]
        return (
            all(
                Decimal(ours.get(asset, "0")) == Decimal(b["free"]) + Decimal(b["locked"])
                and Decimal(locked.get(asset, "0")) == Decimal(b["locked"])
                for asset, b in truth.items()
            )
            and sim_orders(vigil).get("ctl-buys", {}).get("status") == "FILLED"
        )

    wait_for(matches, timeout=5)
    answer = vigil.api("GET", "/v1/balances").json()
    # 0.001 BTC at 59,000 rests: 59 USDT locked, exactly
    assert Decimal(answer["locked"]["USDT"]) == Decimal("59")
    assert Decimal(answer["balances"]["BTC"]) > Decimal("1")  # the market buy filled
    assert "BTCUSDT" in answer["positions"]


# --- GET /v1/status -------------------------------------------------------------------------


def test_status_has_the_fields_the_contract_names(vigil: Vigil) -> None:
    before_ms = int(time.time() * 1000)
    wait_for(lambda: (vigil.system.gate.last_result_ms or 0) >= before_ms - 60_000)
    status = vigil.status()
    assert status["breaker"] == "GREEN"
    assert isinstance(status["reason"], str)
    assert status["trading"] == "allowed"
    recon = status["reconciliation"]
    assert recon["result"] in ("HEALTHY", "WARNING")
    assert isinstance(recon["at_ms"], int) and abs(recon["at_ms"] - before_ms) < 60_000
    assert status["actors"] == dict.fromkeys(ACTORS, True)


def test_status_follows_a_halt_and_a_crash(vigil: Vigil) -> None:
    resp = vigil.api("POST", "/v1/halt", {"reason": "status drill"})
    assert resp.status_code == 200
    assert resp.json()["breaker"] == "RED" and "status drill" in resp.json()["reason"]
    status = vigil.status()
    assert status["breaker"] == "RED"
    assert "status drill" in status["reason"]
    assert status["trading"] != "allowed" and "RED" in status["trading"]
    # a crashed actor is restarted and alive again, and the restart is counted
    supervisor = vigil.system.supervisor
    generation = supervisor.children["rest_poller"].generation
    vigil.system.directory.tell("rest_poller", InjectFault(kind="raise"), sender="test")
    wait_for(lambda: supervisor.children["rest_poller"].generation > generation, timeout=3)
    wait_for(lambda: vigil.status()["actors"] == dict.fromkeys(ACTORS, True), timeout=3)
    assert vigil.status()["restarts"]["rest_poller"] == 1
    assert vigil.status()["breaker"] == "RED"  # a restart clears nothing


# --- POST /v1/reset -------------------------------------------------------------------------


def test_a_reset_without_confirm_is_refused_with_409_even_when_it_could_clear(
    vigil: Vigil,
) -> None:
    vigil.api("POST", "/v1/halt", {"reason": "confirm drill"})
    tripped = vigil.system.gate.state.since_ms
    healthy_since(vigil, tripped)  # a confirmed reset would now be allowed
    for body in ({"reason": "no confirm"}, {"reason": "said no", "confirm": False}):
        resp = vigil.api("POST", "/v1/reset", body)
        assert resp.status_code == 409, body
        assert resp.json() == {"ok": False, "reason": "a reset needs confirm"}
        assert vigil.status()["breaker"] == "RED"
    assert audited(vigil, "reset") == []
    confirmed = vigil.api("POST", "/v1/reset", {"reason": "drill over", "confirm": True})
    assert confirmed.status_code == 200, confirmed.text
    assert vigil.status()["breaker"] == "GREEN"


def test_a_reset_when_not_red_is_refused_with_409(vigil: Vigil) -> None:
    resp = vigil.api("POST", "/v1/reset", {"reason": "nothing to reset", "confirm": True})
    assert resp.status_code == 409
    assert resp.json()["ok"] is False and "not RED" in resp.json()["reason"]


def test_a_halt_needs_a_reason(vigil: Vigil) -> None:
    for body in ({}, {"reason": 5}):
        assert vigil.api("POST", "/v1/halt", body).status_code == 422, body
    assert not vigil.system.gate.state.is_red


def test_a_refused_operator_body_is_answered_with_valid_json(vigil: Vigil) -> None:
    resp = vigil.api("POST", "/v1/halt", {"reason": ""})
    assert resp.status_code == 422
    assert resp.headers["Content-Type"].startswith("application/json")
    assert "reason" in resp.json()["error"]


# --- GET /v1/incidents ----------------------------------------------------------------------


def test_a_critical_reconciliation_is_listed_as_an_incident_with_its_folder(
    vigil: Vigil,
) -> None:
    assert vigil.api("GET", "/v1/incidents").json() == {"incidents": []}
    vigil.sim.arm("ghost_order", params={"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01"})
    wait_for(lambda: vigil.system.gate.state.is_red, timeout=5)

    def reconciliation_incidents() -> list[dict[str, Any]]:
        listed = vigil.api("GET", "/v1/incidents").json()["incidents"]
        return [i for i in listed if i["kind"] == "reconciliation"]

    incident = wait_for(reconciliation_incidents, timeout=3)[0]
    assert set(incident) >= {"id", "at_ms", "kind", "reason", "detail"}
    assert incident["detail"]["result"] == "CRITICAL"
    assert any(f["kind"] == "unknown_order" for f in incident["detail"]["findings"])
    folder = Path(incident["detail"]["folder"])
    assert folder.is_dir() and (folder / "report.txt").exists()
    assert folder.parent == vigil.system.data_dir / "incidents"


# --- GET /metrics ---------------------------------------------------------------------------


def test_metrics_are_prometheus_text_that_follows_the_system(vigil: Vigil) -> None:
    m = metrics(vigil)
    assert m["vigil_breaker_level"] == {(): 0.0}
    assert m["vigil_actor_alive"] == {(("actor", a),): 1.0 for a in ACTORS}
    assert m["vigil_actor_restarts"] == {(("actor", a),): 0.0 for a in ACTORS}
    assert m["vigil_malformed_payloads_total"] == {(): 0.0}
    assert m["vigil_reconciliation_healthy"] == {(): 1.0}
    assert m["vigil_orders"][(("kind", "total"),)] == 0.0

    assert vigil.api("POST", "/v1/orders", {**MARKET, "client_order_id": "ctl-metric"}).ok
    wait_for(lambda: metrics(vigil)["vigil_orders"][(("kind", "filled"),)] == 1.0, timeout=5)
    assert sim_orders(vigil)["ctl-metric"]["status"] == "FILLED"
    assert metrics(vigil)["vigil_orders"][(("kind", "total"),)] == 1.0

    supervisor = vigil.system.supervisor
    generation = supervisor.children["reconciler"].generation
    vigil.system.directory.tell("reconciler", InjectFault(kind="raise"), sender="test")
    wait_for(lambda: supervisor.children["reconciler"].generation > generation, timeout=3)
    m = metrics(vigil)
    assert m["vigil_breaker_level"] == {(): 2.0}  # RED
    assert m["vigil_actor_restarts"][(("actor", "reconciler"),)] == 1.0


def test_metrics_families_have_their_types(vigil: Vigil) -> None:
    text = vigil.api("GET", "/metrics").text
    types = {f.name: f.type for f in text_string_to_metric_families(text)}
    # the series kept from the first version (every one: tests/control/test_metrics.py)
    kept = {
        "vigil_breaker_level": "gauge",
        "vigil_actor_alive": "gauge",
        "vigil_actor_restarts": "gauge",
        "vigil_orders": "gauge",
        "vigil_malformed_payloads": "counter",
        "vigil_reconciliation_healthy": "gauge",
    }
    assert {name: types.get(name) for name in kept} == kept


def test_the_202_says_what_is_sent_when_the_order_was_quantized(vigil: Vigil) -> None:
    resp = vigil.api(
        "POST",
        "/v1/orders",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.0012345",
            "price": "59000.129",
        },
    )
    assert resp.status_code == 202, resp.text
    answer = resp.json()
    # floored to the lot step (0.00001) and, for a BUY, the price down to the tick (0.01)
    assert (answer["type"], answer["quantity"], answer["price"]) == (
        "LIMIT",
        "0.00123",
        "59000.12",
    )
    cid = answer["client_order_id"]
    wait_for(lambda: any(o["clientOrderId"] == cid for o in vigil.sim.state()["orders"]))
    (sent,) = [o for o in vigil.sim.state()["orders"] if o["clientOrderId"] == cid]
    assert Decimal(sent["origQty"]) == Decimal("0.00123")
    assert Decimal(sent["price"]) == Decimal("59000.12")


def test_the_control_api_serves_tls_when_given_a_certificate(
    vigil_factory: Callable[..., Vigil], tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    vigil = vigil_factory(control={"tls_cert": str(cert), "tls_key": str(key)})
    assert vigil.url.startswith("https://")
    answer = requests.get(
        f"{vigil.url}/v1/status",
        headers={"Authorization": f"Bearer {vigil.token}"},
        verify=str(cert),
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["breaker"] in ("GREEN", "YELLOW", "RED")
    with pytest.raises(requests.ConnectionError):  # plain HTTP is not served
        requests.get(vigil.url.replace("https://", "http://") + "/v1/status", timeout=5)
