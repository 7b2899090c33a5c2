"""A system's own files: ``control.json``/``control.token`` written atomically and removed
only by the process whose PID they carry; the data directory's lock; a shutdown whose
steps each survive the failure of another."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

import run
from assembly.instance import AlreadyRunning, InstanceLock
from assembly.system import VigilSystem
from storage import StoreError
from tests.conftest import Vigil, make_settings


def test_stop_leaves_a_control_json_carrying_another_pid_in_place(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = vigil_factory()
    data_dir = vigil.system.data_dir
    theirs = json.dumps({"url": "http://127.0.0.1:1", "pid": os.getpid() + 1, "exchange": {}})
    (data_dir / "control.json").write_text(theirs)
    (data_dir / "control.token").write_text("their-token")
    assert vigil.system.stop(cancel_open=False) == []
    assert (data_dir / "control.json").read_text() == theirs
    assert (data_dir / "control.token").read_text() == "their-token"


def test_stop_removes_its_own_control_files_and_releases_the_lock(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = vigil_factory()
    data_dir = vigil.system.data_dir
    assert json.loads((data_dir / "control.json").read_text())["pid"] == os.getpid()
    assert vigil.system.stop(cancel_open=False) == []
    assert not (data_dir / "control.json").exists()
    assert not (data_dir / "control.token").exists()
    InstanceLock.acquire(data_dir).release()  # the lock is free again


def test_a_second_system_on_a_locked_data_dir_is_refused_and_touches_nothing(
    vigil_factory: Callable[..., Vigil],
) -> None:
    vigil = vigil_factory()
    data_dir = vigil.system.data_dir
    control = (data_dir / "control.json").read_text()
    second = VigilSystem(make_settings(data_dir), simulator=vigil.system.simulator)
    with pytest.raises(AlreadyRunning) as refused:
        second.start()
    assert f"pid {os.getpid()}" in str(refused.value) and vigil.url in str(refused.value)
    assert second.stop(cancel_open=False) == []  # a failed start's stop deletes nothing
    assert (data_dir / "control.json").read_text() == control
    assert (data_dir / "control.token").read_text() == vigil.token
    assert vigil.status()["breaker"] in ("GREEN", "YELLOW")  # the first goes on


def test_the_token_is_never_written_into_an_existing_file_or_a_planted_link(
    vigil_factory: Callable[..., Vigil], tmp_path: Path
) -> None:
    vigil = vigil_factory()
    data_dir = vigil.system.data_dir
    token_path = data_dir / "control.token"
    elsewhere = tmp_path / "planted"
    elsewhere.write_text("")
    os.chmod(elsewhere, 0o644)
    token_path.unlink()
    os.link(elsewhere, token_path)  # a hard link someone else can read
    vigil.system.write_control_files(vigil.url, "new-secret-1")
    assert elsewhere.read_text() == ""
    token_path.unlink()
    token_path.symlink_to(elsewhere)  # a symbolic link to a readable file
    vigil.system.write_control_files(vigil.url, "new-secret-2")
    assert elsewhere.read_text() == ""
    assert not token_path.is_symlink() and token_path.read_text() == "new-secret-2"
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "control.json").stat().st_mode) == 0o600
    assert sorted(p.name for p in data_dir.glob(".control*")) == []  # no temporary left


def test_a_failing_trace_audit_sink_and_store_do_not_stop_the_rest_of_the_shutdown(
    vigil_factory: Callable[..., Vigil], monkeypatch: pytest.MonkeyPatch
) -> None:
    vigil = vigil_factory()
    system = vigil.system
    data_dir = system.data_dir

    def broken(what: str) -> Callable[..., None]:
        def fail(*args: object, **kwargs: object) -> None:
            raise StoreError(f"{what} is broken")

        return fail

    monkeypatch.setattr(system.trace, "close", broken("the trace"))
    monkeypatch.setattr(system, "_flush_audit", broken("the audit sink"))
    monkeypatch.setattr(system.store, "end_run", broken("the store"))
    journal_closed = []
    real_close = system.journal.close
    monkeypatch.setattr(system.journal, "close", lambda: journal_closed.append(real_close()))
    failures = system.stop(cancel_open=False)
    assert [f.split(":")[0] for f in failures] == [
        "flushing the audit trail",
        "closing the message trace",
        "writing the clean-stop mark",
    ]
    assert "the store is broken" in failures[-1]
    # every later step still ran: the journal closed, the control files gone, the lock free
    assert journal_closed and not system.instance.held  # type: ignore[union-attr]
    assert not (data_dir / "control.json").exists()
    assert system.stop_failures == failures


def test_the_main_job_exits_1_naming_the_failed_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert run.stopped([]) == 0
    assert capsys.readouterr().out == "vigil: stopped\n"
    assert run.stopped(["closing the message trace: OSError: disk full"]) == 1
    err = capsys.readouterr().err
    assert "vigil: stopped with errors: closing the message trace: OSError: disk full" in err
