"""An order list's client id as Binance's clients use it: ``GET /api/v3/orderList`` finds a
list by ``origClientOrderId`` (rest-api.md, "Query Order list"), and a list placed without a
``listClientOrderId`` gets one the strategy can query and cancel by (as Binance generates
one), never Vigil's own id."""

from __future__ import annotations

from tests.gateway.conftest import Gateway
from tests.gateway.test_lists_python_binance import place_oco

S = "BTCUSDT"


def test_get_order_list_by_orig_client_order_id(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    placed = place_oco(client, "my-oco", quantity="0.001")
    got = client.v3_get_order_list(origClientOrderId="my-oco")
    assert got["orderListId"] == placed["orderListId"]
    assert got["listClientOrderId"] == "my-oco"


def test_a_list_without_its_own_id_is_queried_and_cancelled_by_the_id_it_got(
    gateway: Gateway,
) -> None:
    client = gateway.client("bot1")
    placed = place_oco(client, "unused", quantity="0.001", listClientOrderId=None)  # type: ignore[arg-type]
    given = placed["listClientOrderId"]
    on_exchange = {x["listClientOrderId"] for x in gateway.vigil.sim.state()["order_lists"]}
    assert given not in on_exchange  # the strategy's own id, not Vigil's wire id
    cancelled = client._delete("orderList", True, data={"symbol": S, "listClientOrderId": given})
    assert cancelled["listClientOrderId"] == given
    assert cancelled["listOrderStatus"] == "ALL_DONE"
