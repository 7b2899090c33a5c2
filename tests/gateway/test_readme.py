"""The README's "Run your bot behind Vigil" snippets work as written: each python block of
that section, run as its own process beside a running Vigil (its data dir ``var``), with a
key from ``run.py keys add``; the simulator's true state shows what they did."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_py, vigil_env
from tests.gateway.conftest import Gateway


def snippets() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Run your bot behind Vigil", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_has_both_snippets() -> None:
    blocks = snippets()
    assert len(blocks) == 2
    assert "binance.client" in blocks[0] and "ccxt" in blocks[1]


@pytest.mark.parametrize("which", [0, 1], ids=["python-binance", "ccxt"])
def test_snippet_runs_as_written(gateway: Gateway, which: int) -> None:
    data_dir = gateway.vigil.system.data_dir
    assert data_dir.name == "var"
    added = run_py(vigil_env(data_dir), "keys", "add", f"readme{which}")
    assert added.returncode == 0, added.stderr
    key = json.loads(added.stdout)
    before = len(gateway.vigil.sim.state()["orders"])
    done = subprocess.run(
        [sys.executable, "-c", snippets()[which]],
        cwd=Path(data_dir).parent,
        env={
            **vigil_env(data_dir),
            "BOT_API_KEY": key["api_key"],
            "BOT_API_SECRET": key["api_secret"],
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("NEW", "True")
    orders = gateway.vigil.sim.state()["orders"][before:]
    assert [o["status"] for o in orders] == ["CANCELED"]
