"""audit_logger: the audit trail, one JSON line per record with a gap-free sequence number.

Format (``<data dir>/audit/audit.jsonl``): ``{"seq": n, "ts": epoch_s, "kind": ..., ...}``.
The sequence continues across restarts (read back from the last line). Records are
written and flushed to the OS as they arrive; ``Flush`` (ask) fsyncs. Secrets never
arrive here: adapter records are scrubbed at the source and no message carries one.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import IO, Any

from actors.messages import AuditEvent, Flush, StatusRequest
from supervision.actor import VigilActor


def last_sequence(path: Path) -> int:
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 65536))
        lines = fh.read().splitlines()
    for line in reversed(lines):
        try:
            return int(json.loads(line)["seq"])
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line: the one before it counts
    return 0


class AuditLogger(VigilActor):
    name = "audit_logger"
    handlers = {AuditEvent: "record", Flush: "flush", StatusRequest: "status"}

    def started(self) -> None:
        self.path: Path = self.ctx.service("data_dir") / "audit" / "audit.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.seq = last_sequence(self.path)
        self.file: IO[str] = self.path.open("a", encoding="utf-8")

    def record(self, message: AuditEvent) -> int:
        self.seq += 1
        entry: dict[str, Any] = {
            "seq": self.seq,
            "ts": time.time(),
            "kind": message.kind,
            "cid": message.correlation_id,
            "from": message.sender,
            **message.data,
        }
        self.file.write(json.dumps(entry, default=str, separators=(",", ":")) + "\n")
        self.file.flush()
        return self.seq

    def flush(self, message: Flush) -> int:
        self.file.flush()
        os.fsync(self.file.fileno())
        return self.seq

    def status(self, message: StatusRequest) -> dict[str, Any]:
        return {"seq": self.seq, "path": str(self.path)}

    def stopping(self) -> None:
        file = getattr(self, "file", None)
        if file is not None and not file.closed:
            file.flush()
            os.fsync(file.fileno())
            file.close()
