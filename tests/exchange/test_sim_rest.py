"""The simulator's REST API driven by python-binance's unmodified Client."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException

from exchange.simulator import SimulatedExchange, SimulatorConfig
from exchange.simulator.auth import hmac_hex
from tests.conftest import SimHandle

ORDER_QUERY_FIELDS = {
    "symbol": str, "orderId": int, "orderListId": int, "clientOrderId": str, "price": str,
    "origQty": str, "executedQty": str, "cummulativeQuoteQty": str, "status": str,
    "timeInForce": str, "type": str, "side": str, "stopPrice": str, "icebergQty": str,
    "time": int, "updateTime": int, "isWorking": bool, "workingTime": int,
    "origQuoteOrderQty": str, "selfTradePreventionMode": str,
}  # fmt: skip


def api_error(exc_info: pytest.ExceptionInfo[BinanceAPIException]) -> tuple[int, int]:
    return exc_info.value.status_code, exc_info.value.code


def test_limit_order_is_placed_queried_by_client_id_and_cancelled(
    client: Client, sim: SimHandle
) -> None:
    placed = client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
        quantity="0.01", price="59000", newClientOrderId="vigil-1",
    )  # fmt: skip
    assert placed["status"] == "NEW" and placed["clientOrderId"] == "vigil-1"
    queried = client.get_order(symbol="BTCUSDT", origClientOrderId="vigil-1")
    for name, kind in ORDER_QUERY_FIELDS.items():
        assert isinstance(queried[name], kind), name
    assert sim.balance("USDT") == {"free": "99410.00000000", "locked": "590.00000000"}
    cancelled = client.cancel_order(symbol="BTCUSDT", origClientOrderId="vigil-1")
    assert cancelled["status"] == "CANCELED"
    assert cancelled["origClientOrderId"] == "vigil-1"
    assert cancelled["clientOrderId"] != "vigil-1"
    assert sim.balance("USDT") == {"free": "100000.00000000", "locked": "0.00000000"}
    assert sim.state()["open_orders"] == []


def test_market_order_walks_the_book_with_fills_and_commission(
    client: Client, sim: SimHandle
) -> None:
    order = client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.2")
    assert order["status"] == "FILLED"
    fills = order["fills"]
    assert len(fills) > 1, "a large market order walks several levels"
    assert sum(Decimal(f["qty"]) for f in fills) == Decimal("0.2")
    assert all(f["commissionAsset"] == "BTC" for f in fills)
    commission = sum(Decimal(f["commission"]) for f in fills)
    cost = sum(Decimal(f["price"]) * Decimal(f["qty"]) for f in fills)
    assert Decimal(order["cummulativeQuoteQty"]) == cost
    assert Decimal(sim.balance("BTC")["free"]) == 1 + Decimal("0.2") - commission
    assert Decimal(sim.balance("USDT")["free"]) == 100000 - cost
    trades = client.get_my_trades(symbol="BTCUSDT")
    assert [t["id"] for t in trades] == [f["tradeId"] for f in fills]


def test_market_order_by_quote_quantity_respects_lot_size(client: Client) -> None:
    order = client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quoteOrderQty="1000")
    assert order["status"] == "FILLED"
    assert Decimal(order["cummulativeQuoteQty"]) <= Decimal("1000")
    assert Decimal(order["executedQty"]) % Decimal("0.00001") == 0
    assert order["origQuoteOrderQty"] == "1000.00000000"


@pytest.mark.parametrize(
    ("resp_type", "has_fills", "has_status"),
    [("ACK", False, False), ("RESULT", False, True), ("FULL", True, True)],
)
def test_new_order_response_types(
    client: Client, resp_type: str, has_fills: bool, has_status: bool
) -> None:
    order = client.create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.001", newOrderRespType=resp_type
    )
    assert ("fills" in order) is has_fills
    assert ("status" in order) is has_status
    assert isinstance(order["transactTime"], int)


def test_resting_limit_fills_partially_then_fully_as_the_price_crosses(
    client: Client, sim: SimHandle
) -> None:
    mid = Decimal(sim.state()["prices"]["BTCUSDT"]["mid"])
    price = mid - 100
    client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
        quantity="0.08", price=str(price), newClientOrderId="rest-1",
    )  # fmt: skip
    assert client.get_order(symbol="BTCUSDT", origClientOrderId="rest-1")["status"] == "NEW"
    sim.set_price("BTCUSDT", str(price - Decimal("0.01")))  # best ask == limit: one level, 0.05
    partial = client.get_order(symbol="BTCUSDT", origClientOrderId="rest-1")
    assert partial["status"] == "PARTIALLY_FILLED"
    assert partial["executedQty"] == "0.05000000"
    sim.tick()  # liquidity refills at the next step and the price is still near
    sim.set_price("BTCUSDT", str(price - 10))
    done = client.get_order(symbol="BTCUSDT", origClientOrderId="rest-1")
    assert done["status"] == "FILLED"
    trades = client.get_my_trades(symbol="BTCUSDT")
    assert all(t["isMaker"] and t["price"] == f"{price:.8f}" for t in trades)
    assert sim.balance("USDT")["locked"] == "0.00000000"


@pytest.mark.parametrize(
    ("tif", "status"), [("IOC", "EXPIRED"), ("FOK", "EXPIRED"), ("GTC", "PARTIALLY_FILLED")]
)
def test_time_in_force_on_an_order_bigger_than_the_book_at_its_price(
    client: Client, sim: SimHandle, tif: str, status: str
) -> None:
    ask = Decimal(sim.state()["prices"]["BTCUSDT"]["ask"])
    order = client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce=tif, quantity="0.5", price=str(ask)
    )
    assert order["status"] == status
    expected_fill = "0.00000000" if tif == "FOK" else "0.05000000"
    assert order["executedQty"] == expected_fill


def test_limit_maker_that_would_take_is_rejected(client: Client, sim: SimHandle) -> None:
    ask = sim.state()["prices"]["BTCUSDT"]["ask"]
    with pytest.raises(BinanceAPIException) as exc:
        client.create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.01", price=ask
        )
    assert api_error(exc) == (400, -2010)
    assert exc.value.message == "Order would immediately match and take."


def test_stop_loss_limit_rests_untriggered_then_works_when_the_price_falls(
    client: Client, sim: SimHandle
) -> None:
    mid = Decimal(sim.state()["prices"]["BTCUSDT"]["mid"])
    order = client.create_order(
        symbol="BTCUSDT", side="SELL", type="STOP_LOSS_LIMIT", timeInForce="GTC",
        quantity="0.01", price=str(mid - 600), stopPrice=str(mid - 500),
    )  # fmt: skip
    queried = client.get_order(symbol="BTCUSDT", orderId=order["orderId"])
    assert queried["isWorking"] is False and queried["workingTime"] == -1
    sim.set_price("BTCUSDT", str(mid - 550))
    filled = client.get_order(symbol="BTCUSDT", orderId=order["orderId"])
    assert filled["isWorking"] is True
    assert filled["status"] == "FILLED"


def test_take_profit_limit_that_would_trigger_immediately_is_rejected(
    client: Client, sim: SimHandle
) -> None:
    mid = Decimal(sim.state()["prices"]["BTCUSDT"]["mid"])
    with pytest.raises(BinanceAPIException) as exc:
        client.create_order(
            symbol="BTCUSDT", side="SELL", type="TAKE_PROFIT_LIMIT", timeInForce="GTC",
            quantity="0.01", price=str(mid - 10), stopPrice=str(mid - 5),
        )  # fmt: skip
    assert exc.value.message == "Order would trigger immediately."


def test_duplicate_client_order_id_is_rejected_while_the_first_is_open(
    client: Client, sim: SimHandle
) -> None:
    kwargs = dict(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                  quantity="0.01", price="50000", newClientOrderId="dup-1")  # fmt: skip
    client.create_order(**kwargs)
    with pytest.raises(BinanceAPIException) as exc:
        client.create_order(**kwargs)
    assert api_error(exc) == (400, -2010)
    assert exc.value.message == "Duplicate order sent."
    assert len([o for o in sim.state()["orders"] if o["clientOrderId"] == "dup-1"]) == 1


def test_cancel_all_open_orders_on_a_symbol(client: Client, sim: SimHandle) -> None:
    for i in range(3):
        client.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                            quantity="0.01", price=str(50000 + i))  # fmt: skip
    assert len(client.get_open_orders(symbol="BTCUSDT")) == 3
    cancelled = client._delete("openOrders", True, data={"symbol": "BTCUSDT"})
    assert [c["status"] for c in cancelled] == ["CANCELED"] * 3
    assert client.get_open_orders() == []
    assert sim.balance("USDT")["locked"] == "0.00000000"


def test_all_orders_and_my_trades_filters(client: Client) -> None:
    for _ in range(3):
        client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    orders = client.get_all_orders(symbol="BTCUSDT", orderId=2)
    assert [o["orderId"] for o in orders] == [2, 3]
    trades = client.get_my_trades(symbol="BTCUSDT", fromId=2)
    assert [t["id"] for t in trades] == [2, 3]
    assert client.get_my_trades(symbol="BTCUSDT", orderId=1)[0]["orderId"] == 1


def test_order_test_endpoint_validates_without_placing(client: Client, sim: SimHandle) -> None:
    assert (
        client.create_test_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01") == {}
    )
    with pytest.raises(BinanceAPIException):
        client.create_test_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.0000001")
    assert sim.state()["orders"] == []


def test_market_data_endpoints(client: Client) -> None:
    depth = client.get_order_book(symbol="BTCUSDT", limit=5)
    assert len(depth["bids"]) == 5 and len(depth["asks"]) == 5
    assert Decimal(depth["bids"][0][0]) < Decimal(depth["asks"][0][0])
    ticker = client.get_orderbook_ticker(symbol="BTCUSDT")
    assert ticker["bidPrice"] == depth["bids"][0][0]
    assert set(ticker) == {"symbol", "bidPrice", "bidQty", "askPrice", "askQty"}
    limits = client._get("rateLimit/order", True, data={})
    assert {lim["interval"] for lim in limits} == {"SECOND", "DAY"}


@pytest.mark.parametrize(
    ("kwargs", "status", "code", "msg"),
    [
        (dict(quantity="0.000001", price="59000"), 400, -1013, "Filter failure: LOT_SIZE"),
        (dict(quantity="0.01", price="59000.001"), 400, -1013, "Filter failure: PRICE_FILTER"),
        (dict(quantity="0.00001", price="59000"), 400, -1013, "Filter failure: NOTIONAL"),
        (
            dict(quantity="0.01", price="1000000"),
            400,
            -1013,
            "Filter failure: PERCENT_PRICE_BY_SIDE",
        ),
        (
            dict(quantity="5", price="59000"),
            400,
            -2010,
            "Account has insufficient balance for requested action.",
        ),
        (dict(quantity="abc", price="59000"), 400, -1100, None),
        (dict(price="59000"), 400, -1102, None),
    ],
)
def test_bad_orders_get_binance_errors(
    client: Client, sim: SimHandle, kwargs: dict[str, str], status: int, code: int, msg: str | None
) -> None:
    with pytest.raises(BinanceAPIException) as exc:
        client.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", **kwargs)
    assert api_error(exc) == (status, code)
    if msg is not None:
        assert exc.value.message == msg
    assert sim.state()["orders"] == []


def test_unknown_order_and_unknown_symbol(client: Client) -> None:
    with pytest.raises(BinanceAPIException) as exc:
        client.get_order(symbol="BTCUSDT", origClientOrderId="nope")
    assert api_error(exc) == (400, -2013)
    with pytest.raises(BinanceAPIException) as exc:
        client.cancel_order(symbol="BTCUSDT", orderId=99)
    assert (exc.value.code, exc.value.message) == (-2011, "Unknown order sent.")  # errors.md
    with pytest.raises(BinanceAPIException) as exc:
        client.get_order(symbol="NOPEUSDT", orderId=1)
    assert exc.value.code == -1121


def test_cancel_of_a_filled_order_is_rejected(client: Client) -> None:
    order = client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    with pytest.raises(BinanceAPIException) as exc:
        client.cancel_order(symbol="BTCUSDT", orderId=order["orderId"])
    assert exc.value.code == -2011


def test_wrong_secret_unknown_key_and_missing_key(sim: SimHandle) -> None:
    bad_secret = Client(sim.api_key, "not-the-secret", ping=False)
    bad_secret.API_URL = f"{sim.rest}/api"
    with pytest.raises(BinanceAPIException) as exc:
        bad_secret.get_account()
    assert api_error(exc) == (400, -1022)
    unknown = Client("someone-else", sim.api_secret, ping=False)
    unknown.API_URL = f"{sim.rest}/api"
    with pytest.raises(BinanceAPIException) as exc:
        unknown.get_account()
    assert api_error(exc) == (401, -2015)
    resp = requests.get(f"{sim.rest}/api/v3/account", params={"timestamp": 1}, timeout=5)
    assert resp.status_code == 401 and resp.json()["code"] == -2014


def test_stale_and_future_timestamps_are_rejected(sim: SimHandle) -> None:
    import time

    for ts in (int(time.time() * 1000) - 10_000, int(time.time() * 1000) + 5_000):
        query = f"timestamp={ts}"
        sig = hmac_hex(sim.api_secret, query)
        resp = requests.get(
            f"{sim.rest}/api/v3/account?{query}&signature={sig}",
            headers={"X-MBX-APIKEY": sim.api_key},
            timeout=5,
        )
        assert resp.status_code == 400 and resp.json()["code"] == -1021


def test_signature_may_cover_query_string_and_body_together(sim: SimHandle) -> None:
    import time

    query = "symbol=BTCUSDT&side=BUY&type=MARKET"
    body = f"quantity=0.001&timestamp={int(time.time() * 1000)}"
    sig = hmac_hex(sim.api_secret, query + body)
    resp = requests.post(
        f"{sim.rest}/api/v3/order?{query}",
        data=f"{body}&signature={sig}",
        headers={"X-MBX-APIKEY": sim.api_key, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "FILLED"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v3/nothing-here", None),
        ("POST", "/api/v3/order", b"\xff\xfe garbage"),
        ("GET", "/api/v3/depth?symbol=BTCUSDT&limit=-4", None),
        ("GET", "/api/v3/exchangeInfo?symbols=[not json", None),
        ("GET", "/api/v3/order?symbol=BTCUSDT&orderId=1&orderId=2", None),
    ],
)
def test_bad_requests_get_json_errors_never_a_traceback(
    sim: SimHandle, method: str, path: str, body: bytes | None
) -> None:
    resp = requests.request(method, f"{sim.rest}{path}", data=body, timeout=5)
    assert 400 <= resp.status_code < 500
    payload = resp.json()
    assert isinstance(payload["code"], int) and isinstance(payload["msg"], str)
    assert "Traceback" not in resp.text


def test_used_weight_and_order_count_headers(client: Client) -> None:
    client.get_exchange_info()
    client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    headers = client.response.headers
    assert int(headers["X-MBX-USED-WEIGHT-1M"]) == 21
    assert headers["X-MBX-ORDER-COUNT-10S"] == "1"
    assert headers["X-MBX-ORDER-COUNT-1D"] == "1"


def test_request_weight_limit_gives_429_then_a_418_ban() -> None:
    config = SimulatorConfig(tick_interval=0, request_weight_per_minute=5, ban_after_violations=2)
    with SimulatedExchange(config) as exchange:
        url = f"{exchange.rest_url}/api/v3/ping"
        statuses = [requests.get(url, timeout=5).status_code for _ in range(9)]
        assert statuses[:5] == [200] * 5
        assert statuses[5:8] == [429, 429, 418]
        banned = requests.get(url, timeout=5)
        assert banned.status_code == 418 and int(banned.headers["Retry-After"]) > 0
        assert banned.json()["code"] == -1003


def test_order_rate_limit_gives_429_with_minus_1015() -> None:
    config = SimulatorConfig(tick_interval=0, orders_per_10s=2)
    with SimulatedExchange(config) as exchange:
        handle = SimHandle(exchange)
        client = handle.client()
        for _ in range(2):
            client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        with pytest.raises(BinanceAPIException) as exc:
            client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        assert api_error(exc) == (429, -1015)
        assert "Retry-After" in exc.value.response.headers


def run_session(seed: int) -> tuple[list[str], list[tuple[str, str]]]:
    """A fixed sequence of requests; returns the price path and the fills."""
    with SimulatedExchange(SimulatorConfig(tick_interval=0, seed=seed)) as exchange:
        handle = SimHandle(exchange)
        client = handle.client()
        prices = []
        fills = []
        for i in range(20):
            prices.append(handle.tick()["prices"]["BTCUSDT"]["mid"])
            side = "BUY" if i % 2 == 0 else "SELL"
            order = client.create_order(symbol="BTCUSDT", side=side, type="MARKET", quantity="0.07")
            fills += [(f["price"], f["qty"]) for f in order["fills"]]
        return prices, fills


def test_same_seed_and_requests_give_the_same_prices_and_fills() -> None:
    assert run_session(3) == run_session(3)
    assert run_session(3)[0] != run_session(4)[0]
