"""A parameter's legal pattern covers all of it: a client order id or a price with a
trailing newline (``%0A``) is -1100 as on Binance, never an id that differs from the one the
strategy meant only by a hidden character."""

from __future__ import annotations

import pytest
from binance.exceptions import BinanceAPIException

from tests.gateway.conftest import Gateway
from tests.gateway.test_orders_python_binance import sim_orders


@pytest.mark.parametrize(
    "field", [{"newClientOrderId": "my-id\n"}, {"price": "59000\n"}], ids=["id", "price"]
)
def test_a_trailing_newline_is_minus_1100(gateway: Gateway, field: dict[str, str]) -> None:
    client = gateway.client("bot1")
    before = len(sim_orders(gateway))
    params = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.001",
        "price": "59000",
        "newClientOrderId": "my-id",
        **field,
    }
    with pytest.raises(BinanceAPIException) as refused:
        client.create_order(**params)
    assert refused.value.code == -1100
    assert len(sim_orders(gateway)) == before
