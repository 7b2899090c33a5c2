"""Cancel-replace admission: the order a cancel-replace replaces is cancelled first, in the
same exchange request, and with STOP_ON_FAILURE nothing new is placed unless that cancel
succeeded — so the new order is judged against the account *without* the old one: its
reserved funds free, its notional out of exposure and open buys/sells, one open order
fewer. Pure: the caller passes the book and the account it read from it.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from domain.book import Book
from domain.policy import PolicyInput


def without_replaced(account: PolicyInput, book: Book, client_order_id: str) -> PolicyInput:
    """``account`` (read from ``book`` for the new order) as it is once ``client_order_id``
    (an order of ours live on the same symbol) is cancelled; unchanged when that order is
    not live in the book or is on another symbol."""
    old = book.live.get(client_order_id)
    if old is None or old.symbol != account.symbol:
        return account
    market = book.markets.get(old.symbol)
    share = book.commitments.shares.get(client_order_id)
    changes: dict[str, object] = {
        "open_orders": max(account.open_orders - 1, 0),
        "symbol_open_orders": None
        if account.symbol_open_orders is None
        else max(account.symbol_open_orders - 1, 0),
    }
    if share is not None and market is not None:
        notional = share.notional or Decimal(0)
        if share.asset == market.quote:
            changes["free_quote"] = account.free_quote + share.amount
        elif share.asset == market.base:
            changes["free_base"] = account.free_base + share.amount
        if old.side == "BUY":
            changes["open_buy_notional"] = max(account.open_buy_notional - notional, Decimal(0))
            changes["total_exposure"] = account.total_exposure - notional
        else:
            changes["open_sell_notional"] = max(account.open_sell_notional - notional, Decimal(0))
            changes["open_sell_qty"] = max(account.open_sell_qty - share.amount, Decimal(0))
    return replace(account, **changes)  # type: ignore[arg-type]
