"""An unmodified python-binance bot trading through the gateway, judged by the simulator's
true state (``GET /_sim/state``): a LIMIT placed, queried by its own client order id, listed
open and cancelled; a MARKET filled and then in myTrades; a refusal raising the client's own
exception with -2010 and Vigil's reason; after ``run.py halt`` every new order refused and nothing
sent; two strategies with the same client order id apart; a revoked key -2015."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from storage.strategy_keys import keys_path, revoke_key
from tests.conftest import run_py, vigil_env, wait_for
from tests.gateway.conftest import Gateway

RESTING = "59000"  # below the seeded BTCUSDT mid (about 60,000), inside the fat-finger band


def sim_orders(gateway: Gateway) -> list[dict[str, Any]]:
    return gateway.vigil.sim.state()["orders"]  # type: ignore[no-any-return]


def sim_order(gateway: Gateway, order_id: int) -> dict[str, Any]:
    return next(o for o in sim_orders(gateway) if o["orderId"] == order_id)


def place_limit(client: Client, own_id: str, price: str = RESTING) -> dict[str, Any]:
    return client.create_order(  # type: ignore[no-any-return]
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price=price,
        newClientOrderId=own_id,
    )


def test_limit_query_open_cancel(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    placed = place_limit(client, "my-limit-1")
    assert placed["clientOrderId"] == "my-limit-1" and placed["status"] == "NEW"
    assert isinstance(placed["orderId"], int) and placed["fills"] == []
    on_exchange = sim_order(gateway, placed["orderId"])
    assert on_exchange["status"] == "NEW" and on_exchange["price"] == "59000.00000000"
    assert on_exchange["clientOrderId"] != "my-limit-1"  # Vigil's own, unique id

    got = client.get_order(symbol="BTCUSDT", origClientOrderId="my-limit-1")
    assert got["orderId"] == placed["orderId"] and got["status"] == "NEW"
    assert client.get_order(symbol="BTCUSDT", orderId=placed["orderId"])["clientOrderId"] == (
        "my-limit-1"
    )
    opened = client.get_open_orders(symbol="BTCUSDT")
    assert [o["clientOrderId"] for o in opened] == ["my-limit-1"]

    cancelled = client.cancel_order(symbol="BTCUSDT", origClientOrderId="my-limit-1")
    assert cancelled["status"] == "CANCELED" and cancelled["origClientOrderId"] == "my-limit-1"
    assert sim_order(gateway, placed["orderId"])["status"] == "CANCELED"
    assert client.get_open_orders(symbol="BTCUSDT") == []
    with pytest.raises(BinanceAPIException) as again:
        client.cancel_order(symbol="BTCUSDT", origClientOrderId="my-limit-1")
    assert again.value.code == -2011
    with pytest.raises(BinanceAPIException) as missing:
        client.get_order(symbol="BTCUSDT", origClientOrderId="never-placed")
    assert missing.value.code == -2013


def test_market_filled_then_in_my_trades(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    filled = client.create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", newClientOrderId="mkt-1"
    )
    assert filled["status"] == "FILLED" and filled["executedQty"] == "0.00100000"
    assert filled["fills"], "FULL answers with the fills"
    on_exchange = sim_order(gateway, filled["orderId"])
    assert on_exchange["status"] == "FILLED"
    sim_trades = [
        t for t in gateway.vigil.sim.state()["trades"] if t["orderId"] == filled["orderId"]
    ]
    trades = client.get_my_trades(symbol="BTCUSDT")
    assert [t["id"] for t in trades] == [t["id"] for t in sim_trades]
    assert [t["price"] for t in trades] == [t["price"] for t in sim_trades]
    assert all(t["orderId"] == filled["orderId"] and t["isBuyer"] for t in trades)
    all_orders = client.get_all_orders(symbol="BTCUSDT")
    assert [o["clientOrderId"] for o in all_orders] == ["mkt-1"]


def test_refused_order_raises_minus_2010_with_the_reason(gateway: Gateway) -> None:
    client = gateway.client("small", max_order_notional="10")
    before = len(sim_orders(gateway))
    with pytest.raises(BinanceAPIException) as refused:
        place_limit(client, "too-big")
    assert refused.value.code == -2010 and refused.value.status_code == 400
    assert refused.value.message.startswith("Vigil policy: strategy small: max_order_notional 10")
    other = gateway.client("eth-only", symbols=("ETHUSDT",))
    with pytest.raises(BinanceAPIException) as symbol:
        place_limit(other, "wrong-symbol")
    assert symbol.value.code == -2010 and "symbol BTCUSDT not allowed" in symbol.value.message
    assert len(sim_orders(gateway)) == before  # nothing sent


def test_after_halt_every_new_order_is_refused(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    halted = run_py(vigil_env(gateway.vigil.system.data_dir), "halt", "--reason", "stop the bots")
    assert halted.returncode == 0, halted.stderr
    before = len(sim_orders(gateway))
    for own_id in ("after-halt-1", "after-halt-2"):
        with pytest.raises(BinanceAPIException) as refused:
            place_limit(client, own_id)
        assert refused.value.code == -2010
        assert refused.value.message.startswith("Vigil RED: operator halt: stop the bots")
    with pytest.raises(BinanceAPIException):
        client.create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.001")
    assert len(sim_orders(gateway)) == before


def test_two_strategies_same_client_order_id(gateway: Gateway) -> None:
    one, two = gateway.client("alpha"), gateway.client("beta")
    a = place_limit(one, "shared-id", "59000")
    b = place_limit(two, "shared-id", "58500")
    assert a["orderId"] != b["orderId"]
    assert sim_order(gateway, a["orderId"])["status"] == "NEW"
    assert sim_order(gateway, b["orderId"])["status"] == "NEW"
    assert one.get_order(symbol="BTCUSDT", origClientOrderId="shared-id")["price"] == (
        "59000.00000000"
    )
    assert two.get_order(symbol="BTCUSDT", origClientOrderId="shared-id")["price"] == (
        "58500.00000000"
    )
    one.cancel_order(symbol="BTCUSDT", origClientOrderId="shared-id")
    assert sim_order(gateway, a["orderId"])["status"] == "CANCELED"
    assert sim_order(gateway, b["orderId"])["status"] == "NEW"  # the other one's untouched
    assert [o["orderId"] for o in two.get_open_orders()] == [b["orderId"]]
    assert one.get_open_orders() == []
    # a duplicate id while the first is still open: Binance's refusal
    with pytest.raises(BinanceAPIException) as dup:
        place_limit(two, "shared-id", "58000")
    assert dup.value.code == -2010 and dup.value.message == "Duplicate order sent."


def test_cancel_all_open_orders_and_revoked_key(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    ids = [place_limit(client, f"bulk-{i}", str(59000 - i * 100))["orderId"] for i in range(2)]
    cancelled = client._delete("openOrders", True, data={"symbol": "BTCUSDT"})
    assert sorted(o["orderId"] for o in cancelled) == sorted(ids)
    assert all(sim_order(gateway, i)["status"] == "CANCELED" for i in ids)
    revoke_key(keys_path(gateway.vigil.system.data_dir), "bot1")

    def refused() -> bool:
        try:
            client.get_open_orders()
        except BinanceAPIException as exc:
            return bool(exc.code == -2015)
        return False

    wait_for(refused, timeout=2.0)


def test_bad_order_parameters(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    before = len(sim_orders(gateway))
    cases: list[tuple[dict[str, Any], int]] = [
        ({"side": "HOLD", "type": "MARKET", "quantity": "1"}, -1117),
        ({"side": "BUY", "type": "SOMETIMES", "quantity": "1"}, -1116),
        ({"side": "BUY", "type": "LIMIT", "quantity": "1", "price": "59000"}, -1102),
        ({"side": "BUY", "type": "MARKET", "quantity": "1", "price": "5"}, -1106),
        ({"side": "BUY", "type": "MARKET"}, -1102),
        ({"side": "BUY", "type": "MARKET", "quantity": "1e3"}, -1100),
        ({"side": "BUY", "type": "MARKET", "quantity": "0.001", "colour": "red"}, -1104),
        ({"side": "BUY", "type": "MARKET", "quantity": "0", "symbol": "BTCUSDT"}, -1013),
        ({"side": "BUY", "type": "MARKET", "quantity": "1", "symbol": "NOPEUSDT"}, -1121),
    ]
    for params, code in cases:
        with pytest.raises(BinanceAPIException) as bad:
            client.create_order(**{"symbol": "BTCUSDT", **params})
        assert bad.value.code == code, params
    assert (
        client.create_test_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        == {}
    )
    assert len(sim_orders(gateway)) == before


def test_filter_failure_is_minus_1013(gateway: Gateway) -> None:
    """An order below the exchange's MIN_NOTIONAL (5 USDT): Binance's -1013, nothing sent."""
    client = gateway.client("bot1")
    before = len(sim_orders(gateway))
    with pytest.raises(BinanceAPIException) as bad:
        client.create_order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.00002",
            price=RESTING,
        )
    assert (bad.value.code, bad.value.message) == (-1013, "Filter failure: NOTIONAL")
    assert len(sim_orders(gateway)) == before


def test_account_balances(gateway: Gateway) -> None:
    account = gateway.client("bot1").get_account()
    balances = {b["asset"]: b for b in account["balances"]}
    truth = gateway.vigil.sim.state()["balances"]
    assert Decimal(balances["USDT"]["free"]) == Decimal(truth["USDT"]["free"])


def test_answer_types_and_time_in_force(gateway: Gateway) -> None:
    """A crossing LIMIT answers FILLED with its fill, an IOC that cannot fill EXPIRED, and
    ACK / RESULT answer Binance's smaller shapes."""
    client = gateway.client("tif")
    gateway.vigil.sim.tick()  # a fresh bookTicker: Vigil knows the order will take liquidity
    adapter = gateway.vigil.system.adapter
    wait_for(lambda: adapter.reference_price("BTCUSDT") is not None)
    ask = Decimal(client.get_orderbook_ticker(symbol="BTCUSDT")["askPrice"])
    crossing = client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
        price=str((ask * Decimal("1.001")).quantize(Decimal("0.01"))),
    )  # fmt: skip
    assert crossing["status"] == "FILLED" and len(crossing["fills"]) >= 1
    assert sim_order(gateway, crossing["orderId"])["status"] == "FILLED"
    below = str((ask * Decimal("0.99")).quantize(Decimal("0.01")))
    ioc = client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="IOC", quantity="0.001",
        price=below,
    )  # fmt: skip
    assert ioc["status"] == "EXPIRED" and ioc["timeInForce"] == "IOC"
    assert sim_order(gateway, ioc["orderId"])["status"] == "EXPIRED"
    ack = client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
        price=RESTING, newOrderRespType="ACK",
    )  # fmt: skip
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    result = client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.001", price=RESTING,
        newOrderRespType="RESULT",
    )  # fmt: skip
    assert result["status"] == "NEW" and result["type"] == "LIMIT_MAKER" and "fills" not in result
    assert sim_order(gateway, result["orderId"])["type"] == "LIMIT_MAKER"
