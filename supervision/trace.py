"""The message trace: one JSON line per handled message, to a rotating file.

Each line: ``ts`` (end of handling, epoch s), ``sender``, ``receiver``, ``type``,
``cid`` (correlation id), ``enqueued``, ``started``, ``ended`` (epoch s), ``outcome``
(``ok`` or ``error: ...``) and, at level ``detail``, ``fields`` (the message's public
fields, stringified). Writing goes through a loguru sink with ``enqueue=True``, so an actor
never waits on the disk; rotation keeps ``retention`` files of ``rotation`` size.
Secrets never reach the trace: messages carry none (credentials live in the adapter).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

from loguru import logger

LEVELS = ("off", "summary", "detail")


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
        self._key = uuid.uuid4().hex
        self._sink_id: int | None = None
        self._log = logger.bind(vigil_trace=self._key)
        if self.level != "off" and path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            key = self._key
            self._sink_id = logger.add(
                path,
                format="{message}",
                filter=lambda record: record["extra"].get("vigil_trace") == key,
                rotation=rotation,
                retention=retention,
                enqueue=True,
                level="TRACE",
            )

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
        if self.level == "detail" and dataclasses.is_dataclass(message):
            entry["fields"] = {
                f.name: str(getattr(message, f.name))
                for f in dataclasses.fields(message)
                if f.name not in ("correlation_id", "created_at", "sender")
            }
        self._log.log("TRACE", json.dumps(entry, default=str, separators=(",", ":")))

    def close(self) -> None:
        if self._sink_id is not None:
            try:
                logger.remove(self._sink_id)  # waits for the queue to drain
            except ValueError:
                pass
            self._sink_id = None


def read_trace(path: Path) -> list[dict[str, Any]]:
    """Every record in the trace file and its rotated siblings, oldest first."""
    files = sorted(path.parent.glob(f"{path.stem}*{path.suffix}"), key=lambda p: p.stat().st_mtime)
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
