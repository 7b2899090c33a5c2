"""The operator commands read ``control.json`` defensively: a malformed or unreadable file is
named as such (exit 1, no traceback), and the control token goes only to a loopback URL
unless the operator gives ``--url`` explicitly."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

import run
from control import operator_cli
from tests.conftest import Vigil, run_py, vigil_env

REMOTE = "http://192.0.2.1:9"  # TEST-NET-1: documentation only, never contacted


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"url": "http://127.0.0.1:1", "pid"', "Expecting"),  # truncated
        ("[]", "expected a JSON object, found list"),
        ("{}", "missing 'url', 'pid'"),
        ('{"url": "http://127.0.0.1:1"}', "missing 'pid'"),
        ('{"url": 8080, "pid": 1}', "'url' must be a string, not int"),
        ('{"url": "http://127.0.0.1:1", "pid": "1"}', "'pid' must be an integer, not str"),
        ('{"url": "127.0.0.1:1", "pid": 1}', "not an http(s) URL"),
        ('{"url": "http://127.0.0.1:99999", "pid": 1}', "not a URL"),
        ("", "Expecting value"),
        (b"\xff\xfe", "utf-8"),
    ],
)
def test_a_malformed_control_json_is_named_as_such(
    tmp_path: Path, content: str | bytes, reason: str
) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    path = data_dir / "control.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    (data_dir / "control.token").write_text("a-token")
    result = run_py(vigil_env(data_dir), "status", timeout=30)
    assert result.returncode == 1
    assert f"control.json in {data_dir} is malformed: " in result.stderr
    assert reason in result.stderr
    assert "Traceback" not in result.stderr and "no running Vigil" not in result.stderr


def test_an_unreadable_control_json_is_named_as_such(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    (data_dir / "control.json").mkdir(parents=True)  # unreadable even for root
    result = run_py(vigil_env(data_dir), "halt", "--reason", "x", timeout=30)
    assert result.returncode == 1
    assert f"control.json in {data_dir} cannot be read: Is a directory" in result.stderr
    assert "Traceback" not in result.stderr and "no running Vigil" not in result.stderr


def test_a_missing_token_file_is_named_without_a_traceback(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "control.json").write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": 1}))
    result = run_py(vigil_env(data_dir), "status", timeout=30)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"cannot read the control token from {data_dir / 'control.token'}" in result.stderr


def write_remote_control(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    document = {"url": REMOTE, "pid": 4242, "exchange": {}}
    (data_dir / "control.json").write_text(json.dumps(document))
    (data_dir / "control.token").write_text("secret-never-sent")


def test_a_control_json_pointing_at_another_host_is_refused_before_any_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "var"
    write_remote_control(data_dir)
    connections: list[Any] = []
    import requests

    monkeypatch.setattr(requests, "request", lambda *a, **kw: connections.append((a, kw)))
    monkeypatch.setattr(requests.Session, "request", lambda *a, **kw: connections.append(a))
    for key in [k for k in os.environ if k.startswith("VIGIL_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("VIGIL_DATA_DIR", str(data_dir))
    for argv in (["status"], ["halt", "--reason", "r"], ["cancel-all"]):
        with pytest.raises(SystemExit) as refused:
            run.main(argv)
        assert refused.value.code == 1
        err = capsys.readouterr().err
        assert f"points at {REMOTE}, which is not a loopback address" in err
        assert "--url" in err and "secret-never-sent" not in err
    assert connections == []


def test_the_remote_refusal_from_the_command_line_is_quick(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    write_remote_control(data_dir)
    started = time.monotonic()
    result = run_py(vigil_env(data_dir), "status", timeout=30)
    assert result.returncode == 1 and "not a loopback address" in result.stderr
    assert "cannot reach" not in result.stderr
    assert time.monotonic() - started < 20  # no connection attempt (it would hang ~30 s)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8", "http://127.1.2.3:8/", "http://[::1]:8", "http://localhost:8"]
)
def test_loopback_urls_are_accepted(url: str) -> None:
    assert operator_cli.url_is_loopback(operator_cli.control_url({"url": url, "pid": 1}))


@pytest.mark.parametrize(
    "url", [REMOTE, "http://10.0.0.1:8", "http://example.com:8", "http://[::ffff:c000:201]:8"]
)
def test_other_urls_are_not_loopback(url: str) -> None:
    assert not operator_cli.url_is_loopback(url)


def test_an_explicit_url_and_token_file_are_used_as_given(vigil: Vigil, tmp_path: Path) -> None:
    data_dir = vigil.system.data_dir
    env = vigil_env(data_dir)
    document = json.loads((data_dir / "control.json").read_text())
    (data_dir / "control.json").write_text(json.dumps({**document, "url": REMOTE}))
    assert "not a loopback" in run_py(env, "status").stderr
    explicit = run_py(env, "status", "--url", vigil.url)
    assert explicit.returncode == 0, explicit.stderr
    assert json.loads(explicit.stdout)["breaker"] == "GREEN"
    token_file = tmp_path / "token"
    token_file.write_text(vigil.token + "\n")
    (data_dir / "control.token").unlink()
    with_file = run_py(env, "status", "--url", vigil.url + "/", "--token-file", str(token_file))
    assert with_file.returncode == 0, with_file.stderr
    (data_dir / "control.json").write_text(json.dumps(document))  # its own, for its stop
