"""audit_logger: feeds the audit trail (``storage.audit.AuditTrail``, rows in ``audit.db``).

Every record gets the next sequence number; records are group-committed within the
trail's flush interval (``Flush``, an ask, commits at once). Records that gate safety
(an intent before its order is sent, RED) do not pass through here: their writers append
them durably themselves, so they are on disk before the caller proceeds.
"""

from __future__ import annotations

from typing import Any

from runtime.actor import VigilActor
from runtime.messages import AuditEvent, Flush, StatusRequest
from storage import StoreError
from storage.audit import AuditTrail


class AuditLogger(VigilActor):
    name = "audit_logger"
    handlers = {AuditEvent: "record", Flush: "flush", StatusRequest: "status"}

    def started(self) -> None:
        self.trail: AuditTrail = self.ctx.services.trail

    def record(self, message: AuditEvent) -> int:
        return self.trail.append(
            message.kind, message.data, cid=message.correlation_id, actor=message.sender or None
        )

    def flush(self, message: Flush) -> int:
        """Commit now; returns the last durable sequence number. A failing disk is the
        trail's to report (RED), not a crash of this actor: what is not durable stays queued."""
        try:
            return self.trail.flush()
        except StoreError:
            return self.trail.durable_seq

    def status(self, message: StatusRequest) -> dict[str, Any]:
        return {"durable_seq": self.trail.durable_seq, "pending": self.trail.pending}
