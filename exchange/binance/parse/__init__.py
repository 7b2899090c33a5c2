"""Binance Spot payloads to contract types, strictly: the namespace of every reader.

Every reader checks presence and type of each field it uses and raises ``MalformedPayload``
naming the field; amounts must be decimal strings (a float is malformed). Unknown extra fields
are ignored (Binance adds fields without notice). ``reader`` holds the field reader,
``answers`` the REST answers, ``lists`` the order lists, ``events`` the stream frames.
"""

from exchange.binance.parse.answers import (
    api_restrictions,
    balances,
    cancel_ack,
    depth,
    order_ack,
    order_status,
    order_statuses,
    replace_ack,
    server_time,
    trade,
    trades,
)
from exchange.binance.parse.events import book_ticker, user_event
from exchange.binance.parse.lists import list_status, order_list_status, order_list_statuses
from exchange.binance.parse.reader import as_list, decode_json

__all__ = [
    "api_restrictions",
    "as_list",
    "balances",
    "book_ticker",
    "cancel_ack",
    "decode_json",
    "depth",
    "list_status",
    "order_ack",
    "order_list_status",
    "order_list_statuses",
    "order_status",
    "order_statuses",
    "replace_ack",
    "server_time",
    "trade",
    "trades",
    "user_event",
]
