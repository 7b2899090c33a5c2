"""``python run.py sim`` as a user runs it: a JSON line first, then it serves until SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, SimHandle, run_py, start_run_py, vigil_env, wait_for


def test_run_py_sim_prints_its_urls_and_serves_any_binance_client() -> None:
    proc = subprocess.Popen(
        [sys.executable, "run.py", "sim", "--port", "0", "--seed", "5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        assert set(info) == {"rest", "ws_api", "streams", "api_key", "api_secret"}
        assert info["rest"].startswith("http://127.0.0.1:")
        assert info["ws_api"].endswith("/ws-api/v3")
        handle = SimHandle.__new__(SimHandle)
        handle.rest, handle.api_key, handle.api_secret = (
            info["rest"],
            info["api_key"],
            info["api_secret"],
        )
        order = handle.client().create_order(
            symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001"
        )
        assert order["status"] == "FILLED"
        assert requests.get(f"{info['rest']}/_sim/state", timeout=5).json()["trades"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_run_py_sim_with_a_bad_config_exits_2_naming_the_field(tmp_path: Path) -> None:
    profile = tmp_path / "bad.toml"
    profile.write_text('[simulator]\nseed = "not a number"\n')
    result = run_py(None, "sim", "--config", str(profile), timeout=30)
    assert result.returncode == 2
    assert "seed" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("profile", ["config/testnet.toml", "config/live.toml"])
def test_an_external_exchange_without_credentials_exits_2_and_writes_nothing(
    tmp_path: Path, profile: str
) -> None:
    """Missing credentials are bad configuration: exit 2 before the data directory is
    opened (a new user once found the lock, the audit trail and the journal created)."""
    data_dir = tmp_path / "var"
    env = vigil_env(data_dir)
    env.pop("BINANCE_API_KEY", None)
    env.pop("BINANCE_API_SECRET", None)
    result = run_py(env, "--config", profile, "--live", timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "BINANCE_API_KEY and BINANCE_API_SECRET must be set" in result.stderr
    assert "Traceback" not in result.stderr
    assert not data_dir.exists() or not any(data_dir.iterdir())


def test_a_second_run_on_the_embedded_simulator_says_its_book_is_an_earlier_runs(
    tmp_path: Path,
) -> None:
    """The embedded simulator is new on every run; the data directory is not. A newcomer's
    second ``python run.py`` went RED (balance) without a word of why: it now says so at
    start, and how to start clean or adopt the new exchange's state."""
    data_dir = tmp_path / "var"
    env = vigil_env(data_dir, VIGIL_DEMO__ENABLED="false")
    outs = []
    for _ in range(2):
        proc = start_run_py(env)
        try:
            wait_for((data_dir / "control.json").exists, timeout=30)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
        outs.append(out)
    assert "starts afresh" not in outs[0]
    assert "starts afresh on every run" in outs[1] and "resync --confirm" in outs[1]
