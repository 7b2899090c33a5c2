"""How the running process behaves: ``[supervision]``, ``[reconciliation]``, ``[broker]``,
``[poller]``, ``[demo]``, and what it keeps on disk (``[audit]``, ``[journal]``, ``[trace]``)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from config.sections.base import _Section


class SupervisionSettings(_Section):
    heartbeat_interval_s: float = Field(default=0.5, gt=0)
    hang_timeout_s: float = Field(default=1.0, gt=0)
    max_restarts: int = Field(default=3, ge=0)
    max_seconds: float = Field(default=60.0, gt=0)
    ask_timeout_s: float = Field(default=2.0, gt=0)
    io_hang_timeout_s: float | None = Field(
        default=None, gt=0, description="heartbeat deadline of actors that wait on REST calls"
    )


class ReconciliationSettings(_Section):
    interval_s: float = Field(default=5.0, gt=0)
    grace_s: float = Field(default=10.0, gt=0)
    balance_grace_s: float = Field(default=3.0, gt=0)
    unsettled_grace_s: float = Field(
        default=60.0, gt=0, description="a balance difference on an asset that never stops moving"
    )
    epsilon: Decimal = Decimal("0.00000001")
    max_age_intervals: float = Field(default=3.0, gt=0, description="older result: not fresh")
    account_wide_every: int = Field(
        default=12,
        ge=1,
        description="every Nth cycle lists the open orders of the whole account, every symbol",
    )


class BrokerSettings(_Section):
    cancel_on_red: bool = True
    on_start_existing: str = Field(default="halt", pattern="^(halt|adopt|cancel)$")
    unknown_query_interval_s: float = Field(default=0.5, gt=0)
    unknown_window_s: float = Field(default=15.0, gt=0)
    # an OCO order's expiry (its partner executed) not reported within this: confirm by REST
    list_expiry_grace_s: float = Field(default=2.0, gt=0)
    # a start after a crash, an OOM kill or a SIGKILL: RED until a person has looked
    on_unclean_restart: str = Field(default="red", pattern="^(red|resume)$")


class PollerSettings(_Section):
    interval_s: float = Field(default=2.0, gt=0)
    fast_interval_s: float = Field(default=0.5, gt=0, description="while the WebSocket is down")


class DemoSettings(_Section):
    enabled: bool = True
    interval_s: float = Field(default=1.0, gt=0)
    symbol: str = "BTCUSDT"
    quantity: Decimal = Decimal("0.001")


class AuditSettings(_Section):
    flush_interval_s: float = Field(default=0.05, gt=0, description="bounded flush delay")
    max_pages: int | None = Field(
        default=None, gt=0, description="storage quota of audit.db in SQLite pages (4 KiB)"
    )
    exchange_requests: bool = Field(
        default=True,
        description="every REST request and response to the exchange in the trail (redacted); "
        "false keeps only its errors, rate limits and stream incidents",
    )


class JournalSettings(_Section):
    checkpoint_every: int = Field(
        default=10_000,
        ge=100,
        description="journal entries between checkpoints of the book (recovery replays at "
        "most about this many after the latest one)",
    )
    keep_closed: int = Field(
        default=1_000,
        ge=0,
        description="closed orders kept whole in the book (the most recent); older ones are "
        "compacted at each checkpoint to their client order id, trade ids and fill counts",
    )
    archive: bool = Field(
        default=True,
        description="move the entries an older checkpoint covers to journal-archive-<seq>.db "
        "beside the journal (kept, never deleted); false keeps every entry in journal.db",
    )


class TraceSettings(_Section):
    level: str = Field(default="summary", pattern="^(off|summary|detail)$")
    rotation: str = "20 MB"
    retention: int = Field(default=5, ge=1)
