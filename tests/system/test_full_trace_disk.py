"""A running Vigil whose trace cannot be written: trading goes on, one warning, and a
graceful stop still closes the journal and the store."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from loguru import logger

from tests.conftest import Vigil, wait_for

FULL = Path("/dev/full")


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")
    try:
        yield lines
    finally:
        logger.remove(sink)


def test_a_full_trace_disk_does_not_stop_a_clean_shutdown(
    vigil_factory: Callable[..., Vigil],
    tmp_path: Path,
    warnings: list[str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    if not FULL.exists():
        pytest.skip("/dev/full is not available here")
    data_dir = tmp_path / "var"
    (data_dir / "trace").mkdir(parents=True)
    (data_dir / "trace" / "trace.jsonl").symlink_to(FULL)
    vigil = vigil_factory(data_dir=data_dir)
    vigil.wait_green()
    assert vigil.submit(client_order_id="traced").accepted
    wait_for(lambda: vigil.status()["fills"] >= 1)
    vigil.system.stop(cancel_open=False)  # does not raise
    assert vigil.system.trace.lost > 10  # many records were handled, none written
    assert "Logging error" not in capfd.readouterr().err
    trace_warnings = [w for w in warnings if w.startswith("trace:")]
    assert len(trace_warnings) == 1 and "cannot write" in trace_warnings[0], trace_warnings
    # the store and the journal were closed after the trace: the clean-stop mark is there
    with sqlite3.connect(data_dir / "vigil.db") as db:
        (run,) = db.execute("SELECT value FROM meta WHERE key = 'run'").fetchone()
    assert '"stopped_ms": null' not in run
