"""The internal book: Vigil's own record of orders, executions, balances and positions.

- ``_ledger``: orders, their states, fills and what a fill did (the records);
- ``_commitments``: what the live orders reserve, as exact running totals;
- ``_portfolio``: positions at average cost, P&L, the day's mark, equity;
- ``_compaction``: what is kept of closed orders compacted away, and which are due;
- ``_book``: ``Book``, which composes them and applies every update.
"""

from __future__ import annotations

from domain.book._book import Book
from domain.book._commitments import Commitments, Share
from domain.book._compaction import Compacted, compactable, due
from domain.book._ledger import (
    OPEN_ON_EXCHANGE,
    TERMINAL,
    VENUE_STATES,
    ZERO,
    Accounted,
    BookOrder,
    Execution,
    Market,
    OrderState,
)
from domain.book._portfolio import DAY_MS, DayMark, Position

__all__ = [
    "DAY_MS",
    "OPEN_ON_EXCHANGE",
    "TERMINAL",
    "VENUE_STATES",
    "ZERO",
    "Accounted",
    "Book",
    "BookOrder",
    "Commitments",
    "Compacted",
    "DayMark",
    "Execution",
    "Market",
    "OrderState",
    "Position",
    "Share",
    "compactable",
    "due",
]
