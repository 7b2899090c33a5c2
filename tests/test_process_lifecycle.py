"""The main job as a process among others: one instance per data directory (``vigil.lock``),
the stop signals (SIGTERM, SIGHUP, SIGQUIT, a second Ctrl-C), and a private data directory.

Each test runs real ``run.py`` processes against a simulator process (``run.py sim``).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ROOT, external_exchange_env, run_py, simulator_process, wait_for


@pytest.fixture
def exchange() -> Iterator[dict[str, str]]:
    with simulator_process("--tick-interval", "0", "--seed", "5") as info:
        yield info


def env_for(info: dict[str, str], data_dir: Path) -> dict[str, str]:
    return external_exchange_env(
        info,
        data_dir,
        demo__enabled="false",
        reconciliation__interval_s="0.5",
        poller__interval_s="0.3",
    )


class Main:
    """``python run.py`` (the main job) with its output read line by line as it comes."""

    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [sys.executable, "run.py", "--status-every", "600"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr))
        ]
        for reader in self.readers:
            reader.start()
        wait_for(lambda: self.control() or self.proc.poll() is not None, timeout=30)
        assert self.proc.poll() is None, "".join(self.stderr)
        self.url = self.control()["url"]
        self.token = (data_dir / "control.token").read_text()

    def _read(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def control(self) -> dict[str, Any]:
        """control.json, once it carries this process's PID."""
        try:
            document = json.loads((self.data_dir / "control.json").read_text())
        except (OSError, ValueError):
            return {}
        return document if document.get("pid") == self.proc.pid else {}  # type: ignore[no-any-return]

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return requests.request(
            method,
            self.url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )

    def said(self, text: str, err: bool = False) -> bool:
        return any(text in line for line in (self.stderr if err else self.stdout))

    def wait(self, timeout: float = 40) -> int:
        code = self.proc.wait(timeout=timeout)
        for reader in self.readers:  # all the output read
            reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def mains() -> Iterator[list[Main]]:
    started: list[Main] = []
    yield started
    for main in started:
        if main.proc.poll() is None:
            os.kill(main.proc.pid, signal.SIGCONT)
            main.proc.send_signal(signal.SIGTERM)
            try:
                main.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                main.kill()


def snapshot(data_dir: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and directory under the data dir: (size, mtime_ns, mode)."""
    out = {}
    for root, dirs, files in os.walk(data_dir):
        for name in (*dirs, *files):
            path = Path(root) / name
            st = os.lstat(path)
            out[str(path.relative_to(data_dir))] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out


def test_a_second_main_job_on_the_same_data_dir_exits_2_naming_the_first_and_writes_nothing(
    exchange: dict[str, str], tmp_path: Path, mains: list[Main]
) -> None:
    data_dir = tmp_path / "var"
    env = env_for(exchange, data_dir)
    first = Main(env, data_dir)
    mains.append(first)
    wait_for(lambda: first.api("GET", "/v1/status").json()["trading"] == "allowed", timeout=20)
    control_before = (data_dir / "control.json").read_text()
    os.kill(first.proc.pid, signal.SIGSTOP)  # frozen: whatever changes now is the second's
    try:
        before = snapshot(data_dir)
        started = time.monotonic()
        second = run_py(env, timeout=30)
        took = time.monotonic() - started
        after = snapshot(data_dir)
    finally:
        os.kill(first.proc.pid, signal.SIGCONT)
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"pid {first.proc.pid}" in second.stderr and first.url in second.stderr
    assert "already running" in second.stderr
    assert took < 15  # at once: no exchange, no store, no waiting
    assert after == before  # the same files, sizes, modification times and modes
    assert (data_dir / "control.json").read_text() == control_before  # still the first's
    # the operator commands take no lock: they still reach the first
    status = run_py(env, "status")
    assert status.returncode == 0, status.stderr
    assert "breaker" in json.loads(status.stdout)  # (its freeze above may have tripped it)
    first.proc.send_signal(signal.SIGTERM)
    assert first.wait() == 0, "".join(first.stderr)
    assert not (data_dir / "control.json").exists()
    assert not (data_dir / "control.token").exists()


def test_a_killed_instances_lock_is_no_obstacle_and_the_data_dir_is_private(
    exchange: dict[str, str], tmp_path: Path, mains: list[Main]
) -> None:
    data_dir = tmp_path / "var"
    env = env_for(exchange, data_dir)
    first = Main(env, data_dir)
    mains.append(first)
    assert (data_dir / "vigil.lock").read_text().strip() == str(first.proc.pid)
    first.kill()  # SIGKILL: the lock file stays, the OS lock goes with the process
    # an operator (or a careless copy) loosened the permissions in the meantime
    os.chmod(data_dir, 0o755)
    for name in ("vigil.db", "audit.db", "control.token"):
        os.chmod(data_dir / name, 0o644)
    os.chmod(data_dir / "trace", 0o755)

    second = Main(env, data_dir)
    mains.append(second)
    for path in (data_dir, data_dir / "vigil.db", data_dir / "audit.db", data_dir / "trace"):
        assert second.said(f"{path} was accessible to other users", err=True), path
    # the unclean stop left an incident folder; everything in the data dir is private
    wait_for(lambda: list(data_dir.glob("incidents/*/*")), timeout=10)
    assert second.api("GET", "/v1/status").json()["reason"].startswith("unclean stop at ")
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    loose = {
        str(path.relative_to(data_dir)): oct(stat.S_IMODE(path.lstat().st_mode))
        for path in data_dir.rglob("*")
        if stat.S_IMODE(path.lstat().st_mode) != (0o700 if path.is_dir() else 0o600)
    }
    assert loose == {}
    names = {p.name for p in data_dir.iterdir()}
    assert {"vigil.db-wal", "audit.db-wal", "journal.db", "trace", "incidents"} <= names
    second.proc.send_signal(signal.SIGTERM)
    assert second.wait() == 0, "".join(second.stderr)


def rest_an_order(main: Main, info: dict[str, str], cid: str) -> None:
    state = requests.get(f"{info['rest']}/_sim/state", timeout=5).json()
    price = (Decimal(state["prices"]["BTCUSDT"]["mid"]) * Decimal("0.97")).quantize(Decimal("0.01"))
    body = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.001",
        "price": str(price),
        "client_order_id": cid,
    }
    answer = main.api("POST", "/v1/orders", body)
    assert answer.status_code == 202, answer.text
    wait_for(lambda: cid in sim_status(info), timeout=10)
    assert sim_status(info)[cid] == "NEW"


def sim_status(info: dict[str, str]) -> dict[str, str]:
    """The exchange's true state: client order id -> status."""
    state = requests.get(f"{info['rest']}/_sim/state", timeout=5).json()
    return {o["clientOrderId"]: o["status"] for o in state["orders"]}


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGQUIT])
def test_sighup_and_sigquit_stop_gracefully_cancelling_resting_orders(
    exchange: dict[str, str], tmp_path: Path, mains: list[Main], signum: int
) -> None:
    data_dir = tmp_path / "var"
    main = Main(env_for(exchange, data_dir), data_dir)
    mains.append(main)
    wait_for(lambda: main.api("GET", "/v1/status").json()["trading"] == "allowed", timeout=20)
    rest_an_order(main, exchange, "resting-1")
    rest_an_order(main, exchange, "resting-2")
    main.proc.send_signal(signum)
    assert main.wait() == 0, "".join(main.stderr)
    assert main.said("vigil: stopping") and main.said("vigil: stopped")
    assert sim_status(exchange) == {"resting-1": "CANCELED", "resting-2": "CANCELED"}
    assert not (data_dir / "control.json").exists()


def test_a_second_ctrl_c_says_what_the_stop_is_still_waiting_for(
    exchange: dict[str, str], tmp_path: Path, mains: list[Main]
) -> None:
    data_dir = tmp_path / "var"
    main = Main(env_for(exchange, data_dir), data_dir)
    mains.append(main)
    wait_for(lambda: main.api("GET", "/v1/status").json()["trading"] == "allowed", timeout=20)
    rest_an_order(main, exchange, "stuck-1")
    # the exchange's REST API is down: the shutdown's cancel cannot get through
    outage = {"kind": "outage", "duration": 60}
    requests.post(f"{exchange['rest']}/_sim/faults", json=outage, timeout=5).raise_for_status()
    main.proc.send_signal(signal.SIGINT)
    wait_for(lambda: main.said("vigil: stopping"), timeout=10)
    main.proc.send_signal(signal.SIGINT)  # the impatient operator
    wait_for(lambda: main.said("vigil: still stopping: ", err=True), timeout=10)
    assert main.wait() == 0, "".join(main.stderr)
    line = next(line for line in main.stderr if "still stopping" in line)
    assert "still stopping: cancelling open orders (1 left)" in line
    assert not main.said("Traceback", err=True) and not main.said("KeyboardInterrupt", err=True)
    assert main.said("vigil: stopped")


def test_a_slow_start_says_what_it_is_doing_and_repeated_warnings_are_counted(
    exchange: dict[str, str], tmp_path: Path, mains: list[Main]
) -> None:
    # the exchange's REST API is down for the first seconds: the start waits on its rules.
    # Long enough that a start slowed by a loaded machine (imports alone can take seconds)
    # still meets the outage, short enough to stay within the 10 s of one throttled warning
    outage = {"kind": "outage", "duration": 7}
    requests.post(f"{exchange['rest']}/_sim/faults", json=outage, timeout=5).raise_for_status()
    data_dir = tmp_path / "var"
    main = Main(env_for(exchange, data_dir), data_dir)
    mains.append(main)
    assert main.said("vigil: starting: reading the exchange's rules (", err=True)
    failures = [line for line in main.stderr if "exchangeInfo failed" in line]
    assert len(failures) == 1, failures  # the same warning again within 10 s is counted
