"""Raw signed requests to the simulator (``requests``, HMAC-SHA256 as rest-api.md shows), and
a field-by-field comparison of an answer with the shape the reference documents."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import requests

from exchange.simulator.auth import hmac_hex
from tests.conftest import SimHandle


class AnyInt:
    """Stands for any JSON integer (not a boolean): ids and times the simulator chooses."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and not isinstance(other, bool)

    def __repr__(self) -> str:
        return "<int>"


class AnyStr:
    """Stands for any string: client order ids the simulator generates."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)

    def __repr__(self) -> str:
        return "<str>"


INT = AnyInt()
STR = AnyStr()


def signed(sim: SimHandle, method: str, path: str, **params: Any) -> requests.Response:
    values = {k: str(v) for k, v in params.items() if v is not None}  # None: not sent
    query = urlencode({**values, "timestamp": int(time.time() * 1000)})
    query += "&signature=" + hmac_hex(sim.api_secret, query)
    return requests.request(
        method, f"{sim.rest}{path}?{query}", headers={"X-MBX-APIKEY": sim.api_key}, timeout=5
    )


def ok(sim: SimHandle, method: str, path: str, **params: Any) -> Any:
    resp = signed(sim, method, path, **params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def field_by_field(actual: Any, expected: Any, path: str = "$") -> list[str]:
    """Every difference: a missing or unexpected field, a value (or JSON type) that differs."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        out = [f"{path}.{k}: missing" for k in expected if k not in actual]
        out += [
            f"{path}.{k}: not documented here ({actual[k]!r})" for k in actual if k not in expected
        ]
        for key in expected:
            if key in actual:
                out += field_by_field(actual[key], expected[key], f"{path}.{key}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {actual!r}"]
        return [
            d
            for i, (a, e) in enumerate(zip(actual, expected, strict=True))
            for d in field_by_field(a, e, f"{path}[{i}]")
        ]
    if isinstance(expected, AnyInt | AnyStr):
        return [] if expected == actual else [f"{path}: {actual!r} is not {expected!r}"]
    if type(actual) is not type(expected) or actual != expected:
        return [f"{path}: {actual!r} != {expected!r}"]
    return []
