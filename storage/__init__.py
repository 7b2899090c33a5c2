"""Durable state in SQLite (WAL): the RED latch, incidents, and later the journal."""

from storage.store import SCHEMA_VERSION, Store, StoreError

__all__ = ["SCHEMA_VERSION", "Store", "StoreError"]
