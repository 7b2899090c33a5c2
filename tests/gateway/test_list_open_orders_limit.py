"""A key's ``--max-open-orders`` counts every order a list opens: an OCO puts two orders on
the book at once, so a key allowed one open order is refused it (-2010 ``Vigil policy``) and
nothing is sent; allowed two, it is placed. The account's ``[policy] max_open_orders``
counts them the same way."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from binance.exceptions import BinanceAPIException

from tests.gateway.conftest import Gateway
from tests.gateway.test_lists_python_binance import place_oco, sim_orders


def test_an_oco_counts_as_two_open_orders(gateway: Gateway) -> None:
    one = gateway.client("one", max_open_orders=1)
    before = len(sim_orders(gateway))
    with pytest.raises(BinanceAPIException) as refused:
        place_oco(one, "too-many", quantity="0.001")
    assert refused.value.code == -2010
    assert "max_open_orders" in refused.value.message
    assert len(sim_orders(gateway)) == before
    assert one.get_open_orders() == []
    two = gateway.client("two", max_open_orders=2)
    placed = place_oco(two, "fits", quantity="0.001")
    assert len(placed["orders"]) == 2
    assert len(two.get_open_orders()) == 2


def test_the_accounts_max_open_orders_counts_every_leg(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory(policy={"max_open_orders": 1})
    client = gateway.client("bot1")
    before = len(sim_orders(gateway))
    with pytest.raises(BinanceAPIException) as refused:
        place_oco(client, "too-many", quantity="0.001")
    assert refused.value.code == -2010
    assert "max_open_orders" in refused.value.message
    assert len(sim_orders(gateway)) == before
