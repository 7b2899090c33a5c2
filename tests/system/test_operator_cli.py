"""The operator's side, as a user drives it: ``run.py`` commands against a running Vigil
(found through ``<data dir>/control.json``), the control API's token check, incidents,
the trace filters, and the main job's refusal of a bad configuration."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from runtime.messages import InjectFault, ReconcileNow
from tests.conftest import (
    ROOT,
    Vigil,
    audited,
    run_py,
    start_run_py,
    vigil_env,
    wait_audited,
    wait_for,
)


def answer(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def test_halt_cancel_all_and_resync_from_the_command_line(vigil: Vigil) -> None:
    env = vigil_env(vigil.system.data_dir)
    assert vigil.submit(
        type="LIMIT", price="59000", quantity="0.01", client_order_id="cli-rest"
    ).accepted
    wait_for(lambda: [o["clientOrderId"] for o in vigil.sim.state()["open_orders"]] == ["cli-rest"])
    done = run_py(env, "cancel-all")
    assert done.returncode == 0, done.stderr
    wait_for(lambda: vigil.sim.state()["open_orders"] == [], timeout=5)
    assert wait_audited(vigil, "cancel_all")["orders"] == ["cli-rest"]

    refused = run_py(env, "resync", "--confirm")  # only while RED
    assert refused.returncode == 1 and "only while RED" in refused.stdout

    halted = run_py(env, "halt", "--reason", "cli drill")
    assert halted.returncode == 0, halted.stderr
    assert answer(halted)["breaker"] == "RED"
    assert "cli drill" in vigil.system.gate.state.reason

    unconfirmed = run_py(env, "resync")
    assert unconfirmed.returncode == 1 and "--confirm" in unconfirmed.stderr
    resynced = run_py(env, "resync", "--confirm", "--reason", "after the drill")
    assert resynced.returncode == 0, resynced.stdout + resynced.stderr
    assert answer(resynced)["ok"] is True
    wait_audited(vigil, "resync", reason="after the drill")
    assert vigil.system.gate.state.is_red  # a resync never clears RED


def test_no_running_vigil_is_a_clear_error(tmp_path: Path) -> None:
    result = run_py(vigil_env(tmp_path / "nothing-here"), "status")
    assert result.returncode == 1 and "no running Vigil found" in result.stderr


def test_a_missing_or_wrong_token_gets_401_and_is_audited(vigil: Vigil) -> None:
    bare = requests.get(vigil.url + "/v1/status", timeout=5)
    wrong = requests.post(
        vigil.url + "/v1/halt",
        json={"reason": "intruder"},
        headers={"Authorization": "Bearer not-the-token"},
        timeout=5,
    )
    assert (bare.status_code, wrong.status_code) == (401, 401)
    assert not vigil.system.gate.state.is_red
    wait_audited(vigil, "control_unauthorized", path="/v1/status", method="GET")
    record = wait_audited(vigil, "control_unauthorized", path="/v1/halt", method="POST")
    assert "not-the-token" not in json.dumps(record)  # the guess is not written down either
    assert vigil.token not in json.dumps(audited(vigil, "control_unauthorized"))


def test_incidents_are_listed_by_the_control_api(vigil: Vigil) -> None:
    assert vigil.api("GET", "/v1/incidents").json()["incidents"] == []
    vigil.system.directory.tell("rest_poller", InjectFault(kind="raise"), sender="test")
    listed = wait_for(lambda: vigil.api("GET", "/v1/incidents").json()["incidents"], timeout=3)
    assert listed[0]["kind"] == "actor_crash" and listed[0]["detail"]["actor"] == "rest_poller"


def trace_lines(env: dict[str, str], *filters: str) -> list[str]:
    result = run_py(env, "trace", *filters)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if " -> " in line]


def test_the_trace_filters_by_actor_type_correlation_id_and_time(vigil: Vigil) -> None:
    env = vigil_env(vigil.system.data_dir)
    decisions = [vigil.submit(quantity="0.001") for _ in range(2)]
    assert all(d.accepted for d in decisions)
    wait_for(lambda: vigil.status()["fills"] >= 2, timeout=5)
    vigil.system.trace.close()  # what is queued is written out (the process would on exit)
    intents = trace_lines(env, "--actor", "order_broker", "--type", "OrderIntent")
    assert len(intents) == 2
    assert all("-> order_broker OrderIntent" in line for line in intents)
    one = decisions[0].correlation_id
    by_cid = trace_lines(env, "--cid", one)
    assert by_cid and all(f"cid={one}" in line for line in by_cid)
    assert not any(f"cid={decisions[1].correlation_id}" in line for line in by_cid)
    assert trace_lines(env, "--since", "600")
    old = run_py(env, "trace", "--since", "0.000001")  # nothing is that recent any more
    assert "no matching trace records" in old.stderr and old.returncode == 1


def test_a_message_that_cannot_be_delivered_is_traced_as_dropped(vigil: Vigil) -> None:
    env = vigil_env(vigil.system.data_dir)
    assert not vigil.system.directory.tell("nobody", ReconcileNow(), sender="timer")
    vigil.system.trace.close()
    (line,) = trace_lines(env, "--actor", "nobody")
    assert "timer -> nobody ReconcileNow" in line and "dropped: receiver not running" in line


def test_trace_follow_shows_records_as_they_are_written(vigil: Vigil) -> None:
    env = vigil_env(vigil.system.data_dir)
    follower = start_run_py(env, "trace", "--follow", "--type", "OrderIntent")
    try:
        decision = vigil.submit(quantity="0.001", client_order_id="followed")
        assert decision.accepted
        assert follower.stdout is not None
        line = follower.stdout.readline()  # blocks until the follower prints it
        assert "OrderIntent" in line and f"cid={decision.correlation_id}" in line
    finally:
        follower.terminate()
        follower.communicate(timeout=10)


def test_the_main_job_refuses_a_bad_profile_or_environment_value_naming_the_field(
    tmp_path: Path,
) -> None:
    profile = tmp_path / "bad.toml"
    profile.write_text('[reconciliation]\ninterval_s = "often"\n')
    from_file = run_py(vigil_env(tmp_path / "var"), "--config", str(profile))
    assert from_file.returncode == 2
    assert "reconciliation.interval_s" in from_file.stderr
    from_env = run_py(vigil_env(tmp_path / "var", VIGIL_CONTROL__PORT="not-a-port"))
    assert from_env.returncode == 2
    assert "control.port" in from_env.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[control\nport = 1\n")
    unreadable = run_py(vigil_env(tmp_path / "var"), "--config", str(broken))
    assert unreadable.returncode == 2 and "broken.toml" in unreadable.stderr
    assert not (tmp_path / "var" / "control.json").exists()  # nothing started


def test_a_live_start_without_a_risk_limit_exits_2_naming_it_before_any_network(
    tmp_path: Path,
) -> None:
    live = (Path(__file__).resolve().parents[2] / "config" / "live.toml").read_text()
    lines = live.splitlines(keepends=True)
    profile = tmp_path / "live.toml"
    profile.write_text("".join(line for line in lines if not line.startswith("max_daily_loss")))
    with socket.create_server(("127.0.0.1", 0)) as listener:  # the exchange it would reach
        listener.setblocking(False)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        env = vigil_env(
            tmp_path / "var",
            VIGIL_EXCHANGE__REST_URL=url,
            VIGIL_EXCHANGE__WS_API_URL=url.replace("http", "ws"),
            VIGIL_EXCHANGE__STREAM_URL=url.replace("http", "ws"),
            BINANCE_API_KEY="live-key-not-used",
            BINANCE_API_SECRET="live-secret-not-used",
        )
        result = run_py(env, "--config", str(profile), "--live", timeout=30)
        assert result.returncode == 2, result.stderr
        assert "policy.max_daily_loss" in result.stderr and "off" in result.stderr
        assert "policy.max_total_exposure" not in result.stderr  # only what is missing
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody called the exchange
    assert not (tmp_path / "var").exists()  # nor wrote anything

    whole = run_py(vigil_env(tmp_path / "var"), "--config", str(profile))  # without --live
    assert whole.returncode == 2 and "policy.max_daily_loss" in whole.stderr


def test_a_reader_that_stops_reading_ends_a_command_without_a_traceback(vigil: Vigil) -> None:
    """``run.py audit | head``: the pipe closes under the command; it ends quietly."""
    env = vigil_env(vigil.system.data_dir)
    vigil.system.trace.close()
    for command in ("audit", "trace"):
        piped = subprocess.run(
            f"{sys.executable} run.py {command} | true",
            shell=True,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr, piped.stderr


def test_run_py_audit_archives_old_records_and_reads_an_archive_back(vigil: Vigil) -> None:
    """``audit --archive-older-than-days`` beside the running instance: the records of an
    earlier month move to an archive file, ``--check`` still finds no gap, ``--file``
    reads them back; less than a day is refused (exit 2)."""
    env = vigil_env(vigil.system.data_dir)
    trail = vigil.system.trail
    trail.flush()
    last = trail.durable_seq
    db = sqlite3.connect(vigil.system.data_dir / "audit.db")
    db.execute("UPDATE audit SET ts = ts - 40 * 86400 WHERE seq <= ?", (last - 1,))
    db.commit()
    db.close()
    moved = run_py(env, "audit", "--archive-older-than-days", "30")
    assert moved.returncode == 0, moved.stderr
    report = json.loads(moved.stdout)
    assert report["moved"] == last - 1 and report["last_seq"] == last - 1
    vigil.api("POST", "/v1/halt", {"reason": "a record after the archiving"})
    check = run_py(env, "audit", "--check")
    assert check.returncode == 0 and "continuous" in check.stderr, check.stderr
    back = run_py(env, "audit", "--file", report["file"], "--limit", "100000")
    assert len(back.stdout.splitlines()) == last - 1
    too_soon = run_py(env, "audit", "--archive-older-than-days", "0.5")
    assert too_soon.returncode == 2 and "1 day" in too_soon.stderr
