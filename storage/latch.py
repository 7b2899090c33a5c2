"""``red.latch``: the RED latch in a file that a full disk cannot refuse.

A fixed-size file (``SIZE`` bytes) created, written in full and fsync'd when the store
first opens, then only ever overwritten in place — ``os.pwrite`` of the same ``SIZE``
bytes at offset 0, then ``fsync`` — so writing it allocates nothing: a RED trip is durable
here even when SQLite cannot write ``vigil.db`` (a full disk). The store writes it on
every move into or out of RED, before its SQLite row, and records in it any write of the
latch that failed in SQLite (``failures``). (On a copy-on-write filesystem — btrfs, ZFS —
an overwrite allocates too: keep the data directory on ext4/xfs for this guarantee.)

Layout: one header line ``VIGIL-RED-LATCH 1 <crc32 hex> <length>`` then that many bytes of
JSON ``{"level": "RED"|"CLEAR", "reason", "source", "since_ms", "written_ms",
"failures": [...]}``, padded with spaces. A file whose header or checksum does not hold (a
torn write, damage) reads as RED: fail closed.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SIZE = 4096
MAGIC = b"VIGIL-RED-LATCH 1"
MAX_FAILURES = 5
MAX_TEXT = 400


class LatchUnreadable(OSError):
    """The latch file exists but does not hold a valid record."""


@dataclass(frozen=True)
class LatchRecord:
    level: str = "CLEAR"  # "RED" or "CLEAR"
    reason: str = ""
    source: str = ""
    since_ms: int = 0
    written_ms: int = 0
    failures: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_red(self) -> bool:
        return self.level == "RED"


def encode(record: LatchRecord) -> bytes:
    failures = [f[:MAX_TEXT] for f in record.failures[-MAX_FAILURES:]]
    reason = record.reason
    while True:
        body = json.dumps(
            {
                "level": record.level,
                "reason": reason,
                "source": record.source[:MAX_TEXT],
                "since_ms": record.since_ms,
                "written_ms": record.written_ms,
                "failures": failures,
            },
            separators=(",", ":"),
        ).encode()
        header = b"%s %08x %d\n" % (MAGIC, zlib.crc32(body), len(body))
        if len(header) + len(body) <= SIZE:
            return (header + body).ljust(SIZE, b" ")
        if failures:
            failures = failures[1:]
        else:
            reason = reason[: max(0, len(reason) // 2)]


def decode(data: bytes) -> LatchRecord:
    line, _, rest = data.partition(b"\n")
    parts = line.split(b" ")
    if len(data) != SIZE or not line.startswith(MAGIC + b" ") or len(parts) != 4:
        raise LatchUnreadable("red.latch has no valid header")
    try:
        crc, length = int(parts[2], 16), int(parts[3])
    except ValueError:
        raise LatchUnreadable("red.latch has no valid header") from None
    body = rest[:length]
    if len(body) != length or zlib.crc32(body) != crc:
        raise LatchUnreadable("red.latch fails its checksum (a torn or damaged write)")
    try:
        raw: dict[str, Any] = json.loads(body)
        return LatchRecord(
            level=str(raw["level"]),
            reason=str(raw["reason"]),
            source=str(raw["source"]),
            since_ms=int(raw["since_ms"]),
            written_ms=int(raw["written_ms"]),
            failures=tuple(str(f) for f in raw["failures"]),
        )
    except (ValueError, KeyError, TypeError):
        raise LatchUnreadable("red.latch does not hold a valid record") from None


class LatchFile:
    """The open latch file (the descriptor stays open: a write needs no ``open``)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def create(cls, path: Path, record: LatchRecord) -> LatchFile:
        """Write a new latch file in full (allocated now, while there is room) and make it
        and its directory entry durable."""
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.pwrite(fd, encode(record), 0)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            raise
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        return cls(path, fd)

    @classmethod
    def open(cls, path: Path) -> LatchFile:
        """Open an existing latch file (``FileNotFoundError`` if there is none)."""
        return cls(path, os.open(path, os.O_RDWR))

    def read(self) -> LatchRecord:
        """The record; ``LatchUnreadable`` when the file does not hold a valid one."""
        return decode(os.pread(self._fd, SIZE + 1, 0))

    def write(self, record: LatchRecord) -> None:
        """Overwrite in place, same size, then fsync: no allocation (raises ``OSError``)."""
        data = encode(record)
        if os.pwrite(self._fd, data, 0) != SIZE:
            raise OSError("red.latch: short write")
        os.fsync(self._fd)

    def close(self) -> None:
        try:
            os.close(self._fd)
        except OSError:
            pass


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
