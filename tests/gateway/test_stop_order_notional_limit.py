"""A key's ``--max-order-notional`` values a stop at its trigger, as ``[policy]`` does: a
BUY STOP_LOSS (a market order once the price rises to ``stopPrice``) worth less than the cap
at today's price but more at its trigger is refused (-2010 ``Vigil policy: strategy ...:
max_order_notional``), nothing sent."""

from __future__ import annotations

import pytest
from binance.exceptions import BinanceAPIException

from tests.gateway.conftest import Gateway
from tests.gateway.test_orders_python_binance import sim_orders

S = "BTCUSDT"


def test_a_buy_stop_is_valued_at_its_trigger(gateway: Gateway) -> None:
    client = gateway.client("capped", max_order_notional="100")
    before = len(sim_orders(gateway))
    # about 60,000 now: 0.0016 is 96 USDT; at the 63,000 trigger it is 100.8
    with pytest.raises(BinanceAPIException) as refused:
        client.create_order(
            symbol=S, side="BUY", type="STOP_LOSS", quantity="0.0016", stopPrice="63000"
        )
    assert refused.value.code == -2010
    assert refused.value.message.startswith("Vigil policy: strategy capped: max_order_notional")
    assert len(sim_orders(gateway)) == before
