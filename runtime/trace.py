"""The message trace: one JSON line per handled message, to a rotating file.

Each line: ``ts`` (end of handling, epoch s), ``sender``, ``receiver``, ``type``,
``cid`` (correlation id), ``order`` (the client order id it is about, if any),
``enqueued``, ``started``, ``ended`` (epoch s), ``outcome`` (``ok`` or ``error: ...``)
and, at level ``detail``, ``fields`` (the message's public fields, stringified).

An actor only puts a small dict on an in-process queue; the trace's writer thread takes
what has queued up (up to ``BATCH`` records, every ``BATCH_PAUSE_S``), turns each into JSON
and writes them with one write and one flush through a ``RotatingFileHandler``
(``rotation`` size, ``retention`` old files: ``trace.jsonl.1`` …; the size is checked
before every line). Under a flood of messages the cost per record is its JSON, not a
system call.
Secrets never reach the trace: messages carry none (credentials live in the adapter).

The trace is a diagnostic, not durable state: a record that cannot be written (a full
disk) is dropped and counted — one warning, then a count every ``REPORT_EVERY_S`` — never
a traceback per record, and ``close()`` never raises (the journal and the store still close
after it at shutdown).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import logging.handlers
import os
import queue
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

from loguru import logger

LEVELS = ("off", "summary", "detail")
_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def size_in_bytes(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?B?)\s*", text.upper())
    if match is None:
        raise ValueError(f"trace rotation must look like '20 MB', not {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


_ENCODE = json.JSONEncoder(default=str, separators=(",", ":")).encode  # (made once)


def _line(entry: dict[str, Any]) -> str:
    return _ENCODE(entry)


REPORT_EVERY_S = 60.0  # while trace writes fail: one warning, then a count this often
BATCH = 5000  # records written (and flushed) at once at most
BATCH_PAUSE_S = 0.02  # the writer's pause between two batches
_STOP = object()  # the writer thread's last item


class _TraceFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file whose write failures are counted and reported at a bounded rate
    (``logging.Handler.handleError`` prints a traceback to stderr for every record)."""

    def __init__(self, path: Path, max_bytes: int, retention: int, report_every_s: float) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=retention, encoding="utf-8")
        self.report_every_s = report_every_s
        self.failed = 0  # records not written since the last report
        self.lost = 0  # records not written in all
        self._failing = False
        self._next_report = 0.0
        self._report_lock = threading.Lock()
        self._looked_at: object = None  # the stream whose file was looked at
        self._regular = False  # that file is a regular one (only such a file is rotated)

    def write_lines(self, lines: list[str]) -> None:
        """Write a batch: one flush, the rotation size checked before each line (only a
        regular file is rotated). A batch that fails counts each of its lines as lost,
        as one record at a time would."""
        try:
            if self.stream is None:
                self.stream = self._open()
            stream = self.stream
            if stream is not self._looked_at:  # (one stat per file opened, not per batch)
                self._looked_at, self._regular = stream, os.path.isfile(self.baseFilename)
            rotate = self.maxBytes > 0 and self._regular
            stream.seek(0, 2)
            pos = stream.tell()
            chunk: list[str] = []
            for line in lines:
                size = len(line) + 1
                if rotate and pos > 0 and pos + size >= self.maxBytes:
                    stream.write("".join(chunk))
                    chunk = []
                    self.doRollover()  # closes and reopens self.stream
                    stream, pos = self.stream, 0
                    self._looked_at = stream
                chunk.append(line + "\n")
                pos += size
            stream.write("".join(chunk))
            stream.flush()
        except Exception:
            for _ in lines:
                self.handleError(None)  # type: ignore[arg-type]
            return
        self._written_again()

    def _written_again(self) -> None:
        if self._failing and self.stream is not None:
            with self._report_lock:
                if self._failing:
                    self._failing = False
                    logger.warning(
                        "trace: writing {} again ({} records were lost)",
                        self.baseFilename,
                        self.lost,
                    )

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        # drop what the stream holds (it would fail again, and grow): the next record
        # opens the file afresh
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                stream.close()
            except Exception:
                pass
        now = time.monotonic()
        with self._report_lock:
            self.failed += 1
            self.lost += 1
            if not self._failing:
                self._failing = True
                self._next_report = now + self.report_every_s
                self.failed = 0
                logger.warning(
                    "trace: cannot write {} ({}); trace records are dropped and counted "
                    "until it can",
                    self.baseFilename,
                    exc,
                )
            elif now >= self._next_report:
                logger.warning(
                    "trace: {} records not written in the last {:.0f}s ({})",
                    self.failed,
                    self.report_every_s,
                    exc,
                )
                self.failed = 0
                self._next_report = now + self.report_every_s

    def close(self) -> None:
        try:
            super().close()
        except Exception as exc:  # buffered lines that cannot be flushed are lost, counted
            logger.warning("trace: {} not closed cleanly ({})", self.baseFilename, exc)


class MessageTrace:
    def __init__(
        self,
        path: Path | None,
        level: str = "summary",
        rotation: str = "20 MB",
        retention: int = 5,
        report_every_s: float = REPORT_EVERY_S,
    ) -> None:
        if level not in LEVELS:
            raise ValueError(f"trace level must be one of {LEVELS}")
        self.level = level if path is not None else "off"
        self.path = path
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._closing = threading.Event()
        self._handler: _TraceFileHandler | None = None
        if self.level != "off" and path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = _TraceFileHandler(path, size_in_bytes(rotation), retention, report_every_s)
            self._handler = handler
            self._writer = threading.Thread(
                target=self._write_forever, args=(handler,), name="trace-writer", daemon=True
            )
            self._writer.start()

    def _write_forever(self, handler: _TraceFileHandler) -> None:
        """The writer thread: what has queued up, in batches, until ``close()``."""
        take, take_more = self._queue.get, self._queue.get_nowait
        while True:
            batch = [take()]
            try:
                while len(batch) < BATCH:
                    batch.append(take_more())
            except queue.Empty:
                pass
            stop = _STOP in batch
            lines = []
            for entry in batch:
                if entry is not _STOP:
                    try:
                        lines.append(_line(entry))
                    except Exception:  # (default=str: not expected) lost, and counted
                        handler.handleError(None)  # type: ignore[arg-type]
            if lines:
                handler.write_lines(lines)
            if stop:
                return
            # let a flood gather into bigger batches (fewer writes and wake-ups); a record
            # is on disk within about this long, and close() writes out what is queued
            self._closing.wait(BATCH_PAUSE_S)

    def record(
        self, receiver: str, message: Any, started: float, ended: float, outcome: str = "ok"
    ) -> None:
        if self.level == "off":
            return
        entry: dict[str, Any] = {
            "ts": ended,
            "sender": getattr(message, "sender", "") or "",
            "receiver": receiver,
            "type": type(message).__name__,
            "cid": getattr(message, "correlation_id", None),
            "enqueued": getattr(message, "created_at", None),
            "started": started,
            "ended": ended,
            "outcome": outcome,
        }
        order = order_of(message)
        if order is not None:
            entry["order"] = order
            state = state_of(message)
            if state:
                entry["state"] = state
        if self.level == "detail" and dataclasses.is_dataclass(message):
            entry["fields"] = {
                f.name: str(getattr(message, f.name))
                for f in dataclasses.fields(message)
                if f.name not in ("correlation_id", "created_at", "sender")
            }
        self._queue.put(entry)

    def close(self) -> None:
        """Write out what is queued, then stop the writer thread. Never raises: what cannot
        be written is lost (and was reported), and shutdown goes on."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        self._queue.put(_STOP)
        self._closing.set()
        writer.join()
        if self._handler is not None:
            try:
                self._handler.close()
            except Exception as exc:
                logger.warning("trace: not closed cleanly ({})", exc)

    @property
    def lost(self) -> int:
        """Records that could not be written (a full disk), since the start."""
        return 0 if self._handler is None else self._handler.lost


def read_trace(path: Path) -> list[dict[str, Any]]:
    """Every record in the trace file and its rotated siblings, oldest first."""
    files = sorted(path.parent.glob(f"{path.name}*"), key=lambda p: p.stat().st_mtime)
    records: list[dict[str, Any]] = []
    for file in files:
        for line in file.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a torn last line after a crash
    return sorted(records, key=lambda r: r.get("started") or 0)


_ORDER_PATHS = (("client_order_id",), ("report", "order_client_id"), ("status", "client_order_id"))
_PATHS_OF: dict[type, tuple[tuple[str, ...], ...]] = {}  # message type → the paths it has


def order_of(message: Any) -> str | None:
    """The client order id a message is about, if any (for ``trace --order``)."""
    kind = type(message)
    paths = _PATHS_OF.get(kind)
    if paths is None:  # (a missing attribute costs an exception: looked for once per type)
        paths = tuple(p for p in _ORDER_PATHS if hasattr(kind, p[0]))
        _PATHS_OF[kind] = paths
    for path in paths:
        value: Any = message
        for part in path:
            value = getattr(value, part, None)
        if isinstance(value, str) and value:
            return value
    return None


def state_of(message: Any) -> str:
    """What a message says happened to its order, for the journey: a send's outcome, an
    execution report's type, state and filled quantity, a snapshot's state."""
    outcome = getattr(message, "outcome", None)
    if isinstance(outcome, str):
        return outcome
    report = getattr(message, "report", None)
    if report is not None:
        return f"{report.execution_type} {report.state.value} {report.cumulative_qty}"
    status = getattr(message, "status", None)
    if status is not None and hasattr(status, "state"):
        return f"{status.state.value} {status.executed_qty}"
    return ""
