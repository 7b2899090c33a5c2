"""The message trace: one JSON line per handled message, to a rotating file.

Each line: ``ts`` (end of handling, epoch s), ``sender``, ``receiver``, ``type``,
``cid`` (correlation id), ``order`` (the client order id it is about, if any),
``enqueued``, ``started``, ``ended`` (epoch s), ``outcome`` (``ok`` or ``error: ...``)
and, at level ``detail``, ``fields`` (the message's public fields, stringified).

An actor only puts a small dict on an in-process queue; the standard library's
``QueueListener`` thread turns it into JSON and writes it through a
``RotatingFileHandler`` (``rotation`` size, ``retention`` old files: ``trace.jsonl.1`` …).
Secrets never reach the trace: messages carry none (credentials live in the adapter).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import logging.handlers
import queue
import re
from pathlib import Path
from typing import Any

LEVELS = ("off", "summary", "detail")
_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def size_in_bytes(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?B?)\s*", text.upper())
    if match is None:
        raise ValueError(f"trace rotation must look like '20 MB', not {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


class _Json:
    """Serialised only when the writer thread formats the record."""

    __slots__ = ("entry",)

    def __init__(self, entry: dict[str, Any]) -> None:
        self.entry = entry

    def __str__(self) -> str:
        return json.dumps(self.entry, default=str, separators=(",", ":"))


class MessageTrace:
    def __init__(
        self,
        path: Path | None,
        level: str = "summary",
        rotation: str = "20 MB",
        retention: int = 5,
    ) -> None:
        if level not in LEVELS:
            raise ValueError(f"trace level must be one of {LEVELS}")
        self.level = level if path is not None else "off"
        self.path = path
        self._queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self._listener: logging.handlers.QueueListener | None = None
        if self.level != "off" and path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=size_in_bytes(rotation), backupCount=retention, encoding="utf-8"
            )
            handler.setFormatter(logging.Formatter("%(message)s"))
            self._listener = logging.handlers.QueueListener(self._queue, handler)
            self._listener.start()

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
        record = logging.LogRecord("vigil.trace", logging.INFO, "", 0, _Json(entry), None, None)
        self._queue.put(record)

    def close(self) -> None:
        """Write out what is queued, then stop the writer thread."""
        if self._listener is not None:
            self._listener.stop()
            for handler in self._listener.handlers:
                handler.close()
            self._listener = None


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


def order_of(message: Any) -> str | None:
    """The client order id a message is about, if any (for ``trace --order``)."""
    for path in ("client_order_id", "report.order_client_id", "status.client_order_id"):
        value: Any = message
        for part in path.split("."):
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
