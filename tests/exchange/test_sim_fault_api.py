"""The fault and control API is strict: every bad input is refused with 400 naming the
offending field, and nothing is armed or changed.

One row per bad input; bodies are raw text so that non-JSON numbers (``NaN``,
``Infinity``, ``1e400``) reach the server exactly as a careless client would send them.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.conftest import SimHandle

FAULTS = "/_sim/faults"
TICK = "/_sim/tick"
PRICE = "/_sim/price"
DEPOSIT = "/_sim/deposit"

# (path, raw body, the field the 400 must name)
BAD_INPUTS: list[tuple[str, str, str]] = [
    # the body itself
    (FAULTS, "not json", "body"),
    (FAULTS, "[1, 2]", "body"),
    (FAULTS, "", "body"),
    # the kind
    (FAULTS, '{"kind": "meteor"}', "kind"),
    (FAULTS, "{}", "kind"),
    (FAULTS, '{"kind": 7}', "kind"),
    # unknown or misplaced top-level keys
    (FAULTS, '{"kind": "slippage", "bogus": 1}', "bogus"),
    (FAULTS, '{"kind": "outage", "seconds": 45}', "seconds"),
    (FAULTS, '{"kind": "timeout_after_accept", "delay": 1}', "delay"),
    (FAULTS, '{"kind": "outage", "mode": "refuse"}', "mode"),
    # unknown parameters for the kind
    (FAULTS, '{"kind": "outage", "params": {"seconds": 45}}', "params.seconds"),
    (FAULTS, '{"kind": "slippage", "params": {"delay": 1}}', "params.delay"),
    (FAULTS, '{"kind": "lost_response", "params": {"delay": 1}}', "params.delay"),
    (FAULTS, '{"kind": "slippage", "params": [1]}', "params"),
    # wrong types
    (FAULTS, '{"kind": "slippage", "params": {"bps": "lots"}}', "params.bps"),
    (FAULTS, '{"kind": "slippage", "params": {"bps": true}}', "params.bps"),
    (FAULTS, '{"kind": "unknown_status", "params": {"placed": "yes"}}', "params.placed"),
    (FAULTS, '{"kind": "unknown_status", "params": {"status": "503"}}', "params.status"),
    (FAULTS, '{"kind": "reject_orders", "params": {"msg": 5}}', "params.msg"),
    (FAULTS, '{"kind": "clock_skew", "params": {"offset_ms": 1.5}}', "params.offset_ms"),
    (FAULTS, '{"kind": "outage", "params": {"mode": "sometimes"}}', "params.mode"),
    (FAULTS, '{"kind": "outage", "params": {"scope": "world"}}', "params.scope"),
    (FAULTS, '{"kind": "ws_disconnect", "params": {"target": "everything"}}', "params.target"),
    (FAULTS, '{"kind": "ghost_order", "params": {"side": "HOLD"}}', "params.side"),
    (FAULTS, '{"kind": "slippage", "count": 1.5}', "count"),
    (FAULTS, '{"kind": "slippage", "count": "3"}', "count"),
    (FAULTS, '{"kind": "slippage", "count": true}', "count"),
    (FAULTS, '{"kind": "outage", "duration": "5"}', "duration"),
    # non-finite numbers
    (FAULTS, '{"kind": "balance_drift", "params": {"delta": "NaN"}}', "params.delta"),
    (FAULTS, '{"kind": "balance_drift", "params": {"delta": "-Infinity"}}', "params.delta"),
    (FAULTS, '{"kind": "balance_drift", "params": {"delta": NaN}}', "params.delta"),
    (FAULTS, '{"kind": "outage", "duration": 1e400}', "duration"),
    (FAULTS, '{"kind": "outage", "duration": NaN}', "duration"),
    (FAULTS, '{"kind": "outage", "duration": Infinity}', "duration"),
    (FAULTS, '{"kind": "timeout_after_accept", "params": {"delay": 1e400}}', "params.delay"),
    (FAULTS, '{"kind": "malformed_events", "params": {"value": Infinity}}', "params.value"),
    (FAULTS, '{"kind": "malformed_events", "params": {"value": 1e400}}', "params.value"),
    # out of bounds
    (FAULTS, '{"kind": "outage", "duration": 0}', "duration"),
    (FAULTS, '{"kind": "outage", "duration": -5}', "duration"),
    (FAULTS, '{"kind": "outage", "duration": 86401}', "duration"),
    (FAULTS, '{"kind": "slippage", "count": 0}', "count"),
    (FAULTS, '{"kind": "slippage", "count": 1000001}', "count"),
    (FAULTS, '{"kind": "slippage", "params": {"bps": 0}}', "params.bps"),
    (FAULTS, '{"kind": "slippage", "params": {"bps": "10001"}}', "params.bps"),
    (FAULTS, '{"kind": "timeout_after_accept", "params": {"delay": 0}}', "params.delay"),
    (FAULTS, '{"kind": "timeout_after_accept", "params": {"delay": 3601}}', "params.delay"),
    (FAULTS, '{"kind": "delay_events", "params": {"delay_ms": -1}}', "params.delay_ms"),
    (FAULTS, '{"kind": "unknown_status", "params": {"status": 200}}', "params.status"),
    (FAULTS, '{"kind": "reject_orders", "params": {"code": 2010}}', "params.code"),
    (FAULTS, '{"kind": "rate_limit_storm", "params": {"count_429": 0}}', "params.count_429"),
    (FAULTS, '{"kind": "ghost_order", "params": {"quantity": "-1"}}', "params.quantity"),
    (FAULTS, '{"kind": "ghost_order", "params": {"price": 0}}', "params.price"),
    (
        FAULTS,
        '{"kind": "ghost_order", "params": {"client_order_id": ""}}',
        "params.client_order_id",
    ),
    (FAULTS, '{"kind": "ghost_order", "params": {"symbol": "XYZUSDT"}}', "params.symbol"),
    # POST /_sim/tick
    (TICK, '{"steps": 10001}', "steps"),
    (TICK, '{"steps": 0}', "steps"),
    (TICK, '{"steps": -3}', "steps"),
    (TICK, '{"steps": "5"}', "steps"),
    (TICK, '{"steps": 2.5}', "steps"),
    (TICK, '{"steps": 1e400}', "steps"),
    (TICK, '{"steps": NaN}', "steps"),
    (TICK, '{"step": 5}', "step"),
    # POST /_sim/price
    (PRICE, '{"symbol": "BTCUSDT", "price": -1}', "price"),
    (PRICE, '{"symbol": "BTCUSDT", "price": 0}', "price"),
    (PRICE, '{"symbol": "BTCUSDT", "price": "NaN"}', "price"),
    (PRICE, '{"symbol": "BTCUSDT", "price": 1e400}', "price"),
    (PRICE, '{"symbol": "BTCUSDT", "price": "abc"}', "price"),
    (PRICE, '{"symbol": "BTCUSDT", "price": "0.001"}', "price"),
    (PRICE, '{"symbol": "BTCUSDT"}', "price"),
    (PRICE, '{"symbol": "XYZUSDT", "price": "10"}', "symbol"),
    (PRICE, '{"price": "10"}', "symbol"),
    (PRICE, '{"symbol": "BTCUSDT", "price": "10", "when": "now"}', "when"),
    # POST /_sim/deposit
    (DEPOSIT, '{"asset": "USDT", "amount": "Infinity"}', "amount"),
    (DEPOSIT, '{"asset": "USDT", "amount": "lots"}', "amount"),
    (DEPOSIT, '{"asset": "USDT", "amount": 0}', "amount"),
    (DEPOSIT, '{"asset": "USDT", "amount": 1e400}', "amount"),
    (DEPOSIT, '{"asset": "USDT", "amount": "-1000000"}', "amount"),
    (DEPOSIT, '{"amount": "5"}', "asset"),
    (DEPOSIT, '{"asset": 5, "amount": "5"}', "asset"),
    (DEPOSIT, '{"asset": "USDT", "amount": "5", "memo": "x"}', "memo"),
]


def _snapshot(sim: SimHandle) -> dict[str, Any]:
    state = sim.state()
    faults = requests.get(f"{sim.rest}/_sim/faults", timeout=5).json()
    return {
        "balances": state["balances"],
        "deposits": state["deposits"],
        "prices": state["prices"],
        "orders": state["orders"],
        "armed": faults["armed"],
        "history": faults["history"],
        "rate_limits": state["rate_limits"],
    }


@pytest.mark.parametrize(
    ("path", "body", "field"), BAD_INPUTS, ids=[f"{p}:{b}" for p, b, _ in BAD_INPUTS]
)
def test_bad_input_is_refused_with_400_naming_the_field_and_changes_nothing(
    sim: SimHandle, path: str, body: str, field: str
) -> None:
    before = _snapshot(sim)
    resp = requests.post(
        f"{sim.rest}{path}", data=body, headers={"Content-Type": "application/json"}, timeout=5
    )
    assert resp.status_code == 400, resp.text
    answer = resp.json()  # always JSON (never NaN or Infinity in it)
    assert answer["field"] == field, answer
    assert field in answer["error"]
    after = _snapshot(sim)
    assert after == before
    assert after["armed"] == [] and after["history"] == []


def test_clearing_an_unknown_kind_is_refused_naming_it(sim: SimHandle) -> None:
    resp = requests.delete(f"{sim.rest}/_sim/faults", params={"kind": "meteor"}, timeout=5)
    assert resp.status_code == 400 and resp.json()["field"] == "kind"


@pytest.mark.parametrize(
    ("body", "params"),
    [
        ('{"kind": "slippage", "params": {"bps": "12.5"}}', {"bps": "12.5"}),
        ('{"kind": "slippage", "params": {"bps": 12.5}}', {"bps": "12.5"}),
        ('{"kind": "outage", "params": {"mode": 503}}', {"mode": "503", "scope": "rest"}),
        ('{"kind": "timeout_after_accept", "params": {"delay": 2}}', {"delay": 2.0}),
        (
            '{"kind": "malformed_events", "params": {"value": 1.5}}',
            {"field": "z", "value": 1.5},
        ),
    ],
)
def test_good_values_are_armed_typed_with_defaults_filled_in(
    sim: SimHandle, body: str, params: dict[str, Any]
) -> None:
    resp = requests.post(f"{sim.rest}{FAULTS}", data=body, timeout=5)
    assert resp.status_code == 200, resp.text
    assert resp.json()["armed"]["params"] == params


def test_a_tick_of_the_maximum_size_is_accepted(sim: SimHandle) -> None:
    resp = requests.post(f"{sim.rest}{TICK}", json={"steps": 10_000}, timeout=30)
    assert resp.status_code == 200 and resp.json()["steps"] == 10_000


def test_decimal_values_accept_numbers_and_numeric_strings(sim: SimHandle) -> None:
    for amount in ("2.5", 2.5):
        resp = requests.post(
            f"{sim.rest}{DEPOSIT}", json={"asset": "USDT", "amount": amount}, timeout=5
        )
        assert resp.status_code == 200, resp.text
    assert sim.balance("USDT")["free"] == "100005.00000000"
    sim.set_price("BTCUSDT", "61000.5")
    assert sim.state()["prices"]["BTCUSDT"]["mid"] == "61000.50000000"


def test_the_user_docs_list_every_kind_and_parameter_of_the_schema() -> None:
    from exchange.simulator import FAULT_SCHEMA
    from tests.conftest import ROOT

    documented: set[tuple[str, str]] = set()
    kind = ""
    for line in (ROOT / "docs" / "simulator.md").read_text().splitlines():
        cells = [c.strip() for c in line.replace("\\|", "/").strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("kind", "---"):
            continue  # only the five-column parameter table
        kind = cells[0].strip("`") or kind
        documented.add((kind, cells[1].strip("`")))
    expected = {(k, p) for k, spec in FAULT_SCHEMA.items() for p in spec.params}
    expected |= {(k, "—") for k, spec in FAULT_SCHEMA.items() if not spec.params}
    assert documented == expected


@pytest.mark.parametrize("path", [FAULTS, TICK, PRICE, DEPOSIT])
def test_a_body_that_is_not_utf8_is_refused_naming_the_body(sim: SimHandle, path: str) -> None:
    resp = requests.post(f"{sim.rest}{path}", data=b'{"kind": "\xff"}', timeout=5)
    assert resp.status_code == 400 and resp.json()["field"] == "body"


def test_simulated_exchange_is_still_importable_from_the_server_module() -> None:
    from exchange.simulator import SimulatedExchange, server

    assert server.SimulatedExchange is SimulatedExchange
