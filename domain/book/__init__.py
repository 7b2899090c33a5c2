"""The internal book: Vigil's own record of orders, executions, balances and positions.

- ``_lists``: an order list (OCO/OTO/OTOCO) with its legs and the expiries it makes due;
- ``_ledger``: orders, their states, fills and what a fill did (the records);
- ``_commitments``: what the live orders reserve, as exact running totals;
- ``_portfolio``: positions at average cost, P&L, the day's mark, equity;
- ``_compaction``: what is kept of closed orders compacted away, and which are due;
- ``_book_lists``: the book's order-list operations (a part of ``Book``);
- ``_accounting``: each fill accounted once, into balances and positions (a part of ``Book``);
- ``_book``: ``Book``, which composes them and applies every update.
"""

from __future__ import annotations

from domain.book._book import Book
from domain.book._commitments import Commitments, Share
from domain.book._compaction import Compacted, compactable, due
from domain.book._ledger import (
    OPEN_ON_EXCHANGE,
    STOP_TYPES,
    TERMINAL,
    VENUE_STATES,
    ZERO,
    Accounted,
    BookOrder,
    Execution,
    Market,
    OrderState,
)
from domain.book._lists import LIST_DONE, ROLES, BookOrderList
from domain.book._portfolio import DAY_MS, DayMark, Position

__all__ = [
    "DAY_MS",
    "LIST_DONE",
    "OPEN_ON_EXCHANGE",
    "ROLES",
    "STOP_TYPES",
    "TERMINAL",
    "VENUE_STATES",
    "ZERO",
    "Accounted",
    "Book",
    "BookOrder",
    "BookOrderList",
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
