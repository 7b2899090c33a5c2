"""Key hygiene as a user meets it: ``python run.py`` against ``python run.py sim``.

A key that can do more than spot trading is refused at start-up, naming the permission,
before anything trades; a safe key without an IP restriction starts with a warning (on
stderr and as ``key_warning`` in the audit trail).
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import (
    external_exchange_env,
    run_py,
    simulator_process,
    start_run_py,
    wait_for,
)


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Vigil started once against a simulator whose key can trade futures and margin."""
    data_dir = tmp_path_factory.mktemp("refused") / "var"
    with simulator_process("--tick-interval", "0") as info:
        armed = requests.post(
            f"{info['rest']}/_sim/faults",
            json={
                "kind": "dangerous_key",
                "params": {
                    "enable_withdrawals": False,
                    "enable_futures": True,
                    "enable_margin": True,
                },
            },
            timeout=5,
        )
        assert armed.status_code == 200, armed.text
        result = run_py(external_exchange_env(info, data_dir), timeout=60)
        state = requests.get(f"{info['rest']}/_sim/state", timeout=5).json()
    audit = run_py(external_exchange_env(info, data_dir), "audit", "--kind", "key_refused")
    yield {"result": result, "state": state, "data_dir": data_dir, "audit": audit}


def test_a_dangerous_key_is_refused_naming_the_permissions(refused: dict[str, object]) -> None:
    result = refused["result"]
    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode != 0
    assert "enableMargin" in result.stderr and "enableFutures" in result.stderr
    assert "Traceback" not in result.stderr
    assert "vigil: running" not in result.stdout
    state = refused["state"]
    assert isinstance(state, dict)
    assert state["orders"] == [], "nothing was sent"
    data_dir = refused["data_dir"]
    assert isinstance(data_dir, Path)
    assert not (data_dir / "control.json").exists()
    audit = refused["audit"]
    assert isinstance(audit, subprocess.CompletedProcess)
    record = json.loads(audit.stdout.splitlines()[0])
    assert record["kind"] == "key_refused"
    assert record["permissions"] == ["enableMargin", "enableFutures"]


def test_a_dangerous_key_exits_2(refused: dict[str, object]) -> None:
    result = refused["result"]
    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 2


def test_a_safe_key_without_ip_restriction_starts_and_warns(tmp_path: Path) -> None:
    profile = tmp_path / "sim.toml"
    profile.write_text("[simulator]\ntick_interval = 0\napi_restrictions = {ip_restrict = false}\n")
    data_dir = tmp_path / "var"
    with simulator_process("--config", str(profile)) as info:
        env = external_exchange_env(info, data_dir, demo__enabled="false")
        vigil = start_run_py(env)
        try:
            wait_for(lambda: (data_dir / "control.json").exists(), timeout=30)
        finally:
            vigil.send_signal(signal.SIGTERM)
            out, err = vigil.communicate(timeout=30)
    assert vigil.returncode == 0, err
    assert "vigil: running" in out
    assert "no IP restriction" in err
    audit = run_py(env, "audit", "--kind", "key_warning")
    records = [json.loads(line) for line in audit.stdout.splitlines()]
    assert len(records) == 1 and "ipRestrict false" in records[0]["warning"]
