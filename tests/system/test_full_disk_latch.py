"""RED tripped on a full disk survives a restart (red.latch is written in place, without
allocating). Needs root to mount a small tmpfs; skipped otherwise."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Vigil


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write until the disk is full, to the last byte; returns the filler file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_red_tripped_on_a_full_disk_survives_a_restart(
    small_disk: Path, vigil_factory: Callable[..., Vigil]
) -> None:
    data_dir = small_disk / "var"
    # no "unclean stop" RED: the stop on a full disk cannot write its clean-stop mark,
    # and the latch alone must bring RED back
    resume = {"on_unclean_restart": "resume"}
    settings = {"broker": resume, "trace": {"level": "off"}}
    first = vigil_factory(data_dir=data_dir, **settings)
    first.wait_green(timeout=20)
    filler = fill(small_disk)
    halted = first.api("POST", "/v1/halt", {"reason": "disk full drill"})
    assert halted.status_code == 200, halted.text
    assert first.system.gate.state.is_red
    first.system.stop(cancel_open=False)
    filler.unlink()  # space again

    second = vigil_factory(data_dir=data_dir, sim=first.system.simulator, **settings)
    state = second.system.gate.state
    assert state.is_red, state
    # the halt, or the storage failure the full disk tripped first (RED keeps its first
    # reason); either way the store could not hold it and the latch file brought it back
    assert "disk full drill" in state.reason or "disk is full" in state.reason, state
    assert not second.submit().accepted
