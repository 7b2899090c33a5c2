"""``DELETE /api/v3/openOrders`` cancels every open order of the key, its order lists'
legs included (on Binance a list's orders go with it): with an OCO and a plain order open it
answers 200 and leaves nothing open, on the exchange or in the strategy's view."""

from __future__ import annotations

from tests.gateway.conftest import Gateway
from tests.gateway.test_lists_python_binance import place_oco
from tests.gateway.test_orders_python_binance import place_limit, sim_order

S = "BTCUSDT"


def test_cancel_open_orders_with_an_oco_open(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    plain = place_limit(client, "plain-1")
    oco = place_oco(client, "oco-1", quantity="0.001")
    assert len(client.get_open_orders(symbol=S)) == 3
    client._delete("openOrders", True, data={"symbol": S})  # raises on an error answer
    assert client.get_open_orders(symbol=S) == []
    ids = [plain["orderId"], *(o["orderId"] for o in oco["orders"])]
    assert all(sim_order(gateway, i)["status"] in ("CANCELED", "EXPIRED") for i in ids)
