"""A trace file that cannot be written (a full disk): one warning, no traceback per
record, a count every so often, and a close that does not raise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from runtime.messages import PollNow
from runtime.trace import MessageTrace

FULL = Path("/dev/full")  # every write fails with ENOSPC, as on a full disk


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")
    try:
        yield lines
    finally:
        logger.remove(sink)


@pytest.fixture
def full_trace(tmp_path: Path) -> Path:
    if not FULL.exists():
        pytest.skip("/dev/full is not available here")
    path = tmp_path / "trace" / "trace.jsonl"
    path.parent.mkdir()
    path.symlink_to(FULL)
    return path


def test_a_full_trace_disk_warns_once_and_closes_cleanly(
    full_trace: Path, warnings: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    trace = MessageTrace(full_trace, report_every_s=3600)
    for _ in range(700):  # a second's worth of messages
        trace.record("broker", PollNow(), 1.0, 2.0)
    trace.close()  # does not raise, though what it holds cannot be written
    assert "Logging error" not in capfd.readouterr().err, "no traceback per record"
    assert len(warnings) == 1 and "cannot write" in warnings[0], warnings


def test_while_the_trace_fails_a_count_is_reported_every_interval(
    full_trace: Path, warnings: list[str]
) -> None:
    trace = MessageTrace(full_trace, report_every_s=0)
    for _ in range(3):
        trace.record("broker", PollNow(), 1.0, 2.0)
    trace.close()
    assert "cannot write" in warnings[0]
    assert any("records not written in the last" in w for w in warnings[1:]), warnings
    assert len(warnings) <= 3
