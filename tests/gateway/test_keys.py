"""Strategy keys: ``run.py keys add|list|revoke`` as an operator runs them (the file is
private, ``list`` never shows a secret, bad input refused), and a running gateway honouring
an added or revoked key within 2 s, checked with an unmodified python-binance."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest
from binance.exceptions import BinanceAPIException

from storage.strategy_keys import (
    KeyRing,
    StrategyKeyError,
    add_key,
    keys_path,
    parse_notional,
    parse_symbols,
    read_keys,
    revoke_key,
)
from tests.conftest import ROOT, run_py, vigil_env, wait_for
from tests.gateway.conftest import Gateway

PROFILE = ROOT / "config" / "sim.toml"


def test_keys_commands(tmp_path: Path) -> None:
    env = vigil_env(tmp_path / "var")
    added = run_py(
        env,
        "keys",
        "add",
        "bot1",
        "--symbols",
        "BTCUSDT,ethusdt",
        "--max-order-notional",
        "100.5",
        "--max-open-orders",
        "3",
    )
    assert added.returncode == 0, added.stderr
    line = json.loads(added.stdout)
    assert set(line) == {"name", "api_key", "api_secret"}
    assert line["name"] == "bot1" and len(line["api_key"]) == 64 and len(line["api_secret"]) == 64
    path = keys_path(tmp_path / "var")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    again = run_py(env, "keys", "add", "bot1")
    assert again.returncode == 1 and "exists" in again.stderr
    add_key(path, "bot2")  # (the command's own code; one process less)

    listed = run_py(env, "keys", "list")
    assert listed.returncode == 0
    assert line["api_secret"] not in listed.stdout and line["api_key"] not in listed.stdout
    rows = [json.loads(r) for r in listed.stdout.splitlines()]
    assert rows[0] == {
        "name": "bot1",
        "symbols": ["BTCUSDT", "ETHUSDT"],
        "max_order_notional": "100.5",
        "max_open_orders": 3,
        "revoked": False,
        "created_ms": rows[0]["created_ms"],
    }
    assert rows[1]["name"] == "bot2" and rows[1]["symbols"] is None

    revoked = run_py(env, "keys", "revoke", "--config", str(PROFILE), "bot1")
    assert revoked.returncode == 0, revoked.stderr
    assert [k.revoked for k in read_keys(path).values()] == [True, False]


def test_bad_key_commands(tmp_path: Path) -> None:
    path = keys_path(tmp_path)
    with pytest.raises(StrategyKeyError, match="key name"):
        add_key(path, "bot 2")
    with pytest.raises(StrategyKeyError, match="no key named"):
        revoke_key(path, "nobody")
    with pytest.raises(StrategyKeyError, match="at least 1"):
        add_key(path, "bot3", max_open_orders=0)


def test_limits_are_checked() -> None:
    with pytest.raises(StrategyKeyError, match="not a number"):
        parse_notional("lots")
    with pytest.raises(StrategyKeyError, match="positive"):
        parse_notional("-1")
    with pytest.raises(StrategyKeyError, match="not a symbol"):
        parse_symbols("BTC USDT")
    assert parse_symbols("btcusdt, ETHUSDT") == ("BTCUSDT", "ETHUSDT")


def test_key_ring_sees_a_change_without_a_restart(tmp_path: Path) -> None:
    path = keys_path(tmp_path)
    ring = KeyRing(path, check_every_s=0.0)
    key = add_key(path, "bot1")
    assert ring.lookup(key.api_key) == key
    assert "secret" not in repr(key) and key.secret not in repr(key)
    revoke_key(path, "bot1")
    assert ring.lookup(key.api_key) is None and ring.revoked("bot1")


def test_a_damaged_keys_file_fails_closed(tmp_path: Path) -> None:
    path = keys_path(tmp_path)
    key = add_key(path, "bot1")
    ring = KeyRing(path, check_every_s=0.0)
    assert ring.lookup(key.api_key) == key
    good = path.read_text()
    path.write_text(good[: len(good) // 2])  # half a file: nobody trades
    assert ring.lookup(key.api_key) is None and ring.error
    path.write_text(good + " ")  # good again (a different size: seen as a change)
    assert ring.lookup(key.api_key) == key and ring.error is None


def test_running_gateway_honours_add_and_revoke_within_2s(gateway: Gateway) -> None:
    path = keys_path(gateway.vigil.system.data_dir)
    key = add_key(path, "late")  # no reload asked: the gateway must notice by itself
    client = gateway.client_for(key.api_key, key.secret)
    started = time.monotonic()
    wait_for(lambda: _works(client), timeout=2.0)
    revoke_key(path, "late")
    started = time.monotonic()

    def refused() -> bool:
        try:
            client.get_account()
        except BinanceAPIException as exc:
            return bool(exc.code == -2015)
        return False

    wait_for(refused, timeout=2.0)
    assert time.monotonic() - started < 2.0


def _works(client: object) -> bool:
    try:
        client.get_account()  # type: ignore[attr-defined]
    except BinanceAPIException:
        return False
    return True


def test_unknown_key_and_no_key(gateway: Gateway) -> None:
    client = gateway.client_for("A" * 64, "B" * 64)
    with pytest.raises(BinanceAPIException) as unknown:
        client.get_account()
    assert unknown.value.code == -2015 and unknown.value.status_code == 401
    nokey = gateway.client_for("", "B" * 64)
    with pytest.raises(BinanceAPIException) as missing:
        nokey.get_account()
    assert missing.value.code == -2014


@pytest.mark.parametrize(
    "edit",
    [
        {"name": ""},  # no strategy at all: it would act as the operator
        {"name": "bad name"},
        {"api_key": ""},
        {"secret": ""},
    ],
)
def test_a_hand_edited_key_against_the_rules_fails_closed(
    tmp_path: Path, edit: dict[str, str]
) -> None:
    path = keys_path(tmp_path)
    key = add_key(path, "bot1")
    ring = KeyRing(path, check_every_s=0.0)
    document = json.loads(path.read_text())
    document["keys"][0].update(edit)
    path.write_text(json.dumps(document))
    with pytest.raises(StrategyKeyError):
        read_keys(path)
    assert ring.lookup(key.api_key) is None and ring.error  # nobody trades on it
