"""Durable state in SQLite (WAL): the RED latch and incidents (``vigil.db``), the
write-ahead journal (``journal.db``) and the audit trail (``audit.db``)."""

from storage.audit import AuditTrail
from storage.journal import Journal, JournalCorrupt
from storage.store import SCHEMA_VERSION, Store, StoreError

__all__ = ["SCHEMA_VERSION", "AuditTrail", "Journal", "JournalCorrupt", "Store", "StoreError"]
