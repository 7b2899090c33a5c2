"""Binance's history endpoints with a ``limit`` and no starting point (``orderId``,
``fromId``, ``startTime``) answer the most recent items, oldest first (rest-api.md, "General
API Information" and the notes of ``allOrders`` / ``myTrades`` / ``allOrderList``): a bot
that pages its history with ``limit`` must see its newest orders, trades and lists."""

from __future__ import annotations

from binance.client import Client

from tests.gateway.conftest import Gateway
from tests.gateway.test_lists_python_binance import place_oco
from tests.gateway.test_orders_python_binance import place_limit

S = "BTCUSDT"


def test_all_orders_with_a_limit_are_the_most_recent(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    for i in range(3):
        place_limit(client, f"hist-{i}", str(59000 - i * 100))
    every = [o["clientOrderId"] for o in client.get_all_orders(symbol=S)]
    assert every == ["hist-0", "hist-1", "hist-2"]
    latest = [o["clientOrderId"] for o in client.get_all_orders(symbol=S, limit=2)]
    assert latest == ["hist-1", "hist-2"]
    # from an orderId: the oldest from it (the paging a client does)
    first = client.get_all_orders(symbol=S)[0]["orderId"]
    paged = client.get_all_orders(symbol=S, orderId=first, limit=2)
    assert [o["clientOrderId"] for o in paged] == ["hist-0", "hist-1"]


def test_my_trades_with_a_limit_are_the_most_recent(gateway: Gateway) -> None:
    client: Client = gateway.client("bot1")
    for i in range(3):
        client.create_order(
            symbol=S, side="BUY", type="MARKET", quantity="0.001", newClientOrderId=f"mkt-{i}"
        )
    every = client.get_my_trades(symbol=S)
    assert len(every) >= 3
    latest = client.get_my_trades(symbol=S, limit=2)
    assert [t["id"] for t in latest] == [t["id"] for t in every[-2:]]
    paged = client.get_my_trades(symbol=S, fromId=every[0]["id"], limit=2)
    assert [t["id"] for t in paged] == [t["id"] for t in every[:2]]


def test_all_order_lists_with_a_limit_are_the_most_recent(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    for i in range(2):
        place_oco(client, f"oco-{i}", quantity="0.001")
    every = [x["listClientOrderId"] for x in client._get("allOrderList", True, data={})]
    assert every == ["oco-0", "oco-1"]
    latest = client._get("allOrderList", True, data={"limit": 1})
    assert [x["listClientOrderId"] for x in latest] == ["oco-1"]
