"""Unmodified python-binance placing order lists and stops through the gateway, judged by the
simulator's true state (``GET /_sim/state``): ``create_oco_order`` places a guarded OCO under
Vigil's ids (one leg fills, the other expires, and the strategy reads both by its own ids);
a crossing bracket, an OCO after ``halt`` and a stop on the wrong side are refused with -2010
and the reason, nothing sent; a second strategy can neither see nor cancel the first one's
list; the strategy's user stream carries ``g`` and its own lists' ``listStatus``; python-binance's
``cancel_replace_order`` goes through the broker's cancel-replace intent."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from tests.conftest import UserStream, run_py, vigil_env, wait_for
from tests.gateway.conftest import Gateway
from tests.gateway.test_sdk_and_user_stream import Endpoint

S = "BTCUSDT"


def sim_orders(gateway: Gateway) -> list[dict[str, Any]]:
    return gateway.vigil.sim.state()["orders"]  # type: ignore[no-any-return]


def sim_order(gateway: Gateway, order_id: int) -> dict[str, Any]:
    return next(o for o in sim_orders(gateway) if o["orderId"] == order_id)


def place_oco(client: Client, own: str = "my-oco", **overrides: str) -> dict[str, Any]:
    params = {
        "symbol": S,
        "side": "SELL",
        "quantity": "0.01",
        "listClientOrderId": own,
        "aboveType": "LIMIT_MAKER",
        "abovePrice": "61000",
        "aboveClientOrderId": f"{own}-tp",
        "belowType": "STOP_LOSS_LIMIT",
        "belowPrice": "58900",
        "belowStopPrice": "59000",
        "belowTimeInForce": "GTC",
        "belowClientOrderId": f"{own}-sl",
        **overrides,
    }
    return client.create_oco_order(**params)  # type: ignore[no-any-return]


def test_oco_placed_guarded_one_leg_fills_the_other_expires(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    placed = place_oco(client)
    assert placed["contingencyType"] == "OCO" and placed["listClientOrderId"] == "my-oco"
    assert placed["listStatusType"] == "EXEC_STARTED" and placed["symbol"] == S
    assert isinstance(placed["orderListId"], int) and placed["orderListId"] >= 0
    assert isinstance(placed["transactionTime"], int)
    assert [o["clientOrderId"] for o in placed["orders"]] == ["my-oco-sl", "my-oco-tp"] or [
        o["clientOrderId"] for o in placed["orders"]
    ] == ["my-oco-tp", "my-oco-sl"]
    reports = {r["clientOrderId"]: r for r in placed["orderReports"]}
    assert reports["my-oco-sl"]["stopPrice"] == "59000.00000000"
    assert reports["my-oco-sl"]["orderListId"] == placed["orderListId"]
    # on the exchange: one list of two orders, under Vigil's own ids
    legs = [o for o in sim_orders(gateway) if o["orderListId"] == placed["orderListId"]]
    assert len(legs) == 2 and {o["status"] for o in legs} == {"NEW"}
    assert not {o["clientOrderId"] for o in legs} & {"my-oco-tp", "my-oco-sl"}

    got = client.v3_get_order_list(orderListId=placed["orderListId"])
    assert got["listClientOrderId"] == "my-oco" and "orderReports" not in got
    assert (
        client.v3_get_order_list(listClientOrderId="my-oco")["orderListId"]
        == (placed["orderListId"])
    )
    assert [x["listClientOrderId"] for x in client.get_open_oco_orders()] == ["my-oco"]

    gateway.vigil.sim.set_price(S, "61100")  # the take-profit fills, the stop expires
    tp = next(o for o in placed["orders"] if o["clientOrderId"] == "my-oco-tp")["orderId"]
    sl = next(o for o in placed["orders"] if o["clientOrderId"] == "my-oco-sl")["orderId"]
    wait_for(lambda: sim_order(gateway, tp)["status"] == "FILLED", timeout=5)
    assert sim_order(gateway, sl)["status"] == "EXPIRED"
    done = wait_for(
        lambda: (
            r
            if (r := client.v3_get_order_list(listClientOrderId="my-oco"))["listOrderStatus"]
            == "ALL_DONE"
            else None
        ),
        timeout=5,
    )
    assert done["listStatusType"] == "ALL_DONE"
    assert client.get_order(symbol=S, origClientOrderId="my-oco-sl")["status"] == "EXPIRED"
    filled = client.get_order(symbol=S, origClientOrderId="my-oco-tp")
    assert filled["status"] == "FILLED" and filled["orderListId"] == placed["orderListId"]
    assert client.get_open_oco_orders() == []
    assert [x["listClientOrderId"] for x in client.v3_get_all_order_list()] == ["my-oco"]


def test_refusals_send_nothing(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    before = len(sim_orders(gateway))
    with pytest.raises(BinanceAPIException) as crossing:  # take-profit below the stop
        place_oco(client, "crossed", abovePrice="58000")
    assert crossing.value.code == -2010 and crossing.value.message.startswith("Vigil policy")
    with pytest.raises(BinanceAPIException) as wrong_side:  # a sell stop above the market
        client.create_order(
            symbol=S, side="SELL", type="STOP_LOSS_LIMIT", timeInForce="GTC",
            quantity="0.01", price="60900", stopPrice="61000",
        )  # fmt: skip
    assert wrong_side.value.code == -2010
    assert "wrong side of the market" in wrong_side.value.message
    with pytest.raises(BinanceAPIException) as no_trigger:
        client.create_order(symbol=S, side="SELL", type="STOP_LOSS", quantity="0.01")
    assert no_trigger.value.code == -1102
    assert len(sim_orders(gateway)) == before

    halted = run_py(vigil_env(gateway.vigil.system.data_dir), "halt", "--reason", "no brackets")
    assert halted.returncode == 0, halted.stderr
    wait_for(lambda: gateway.vigil.system.gate.refusal() is not None, timeout=5)
    with pytest.raises(BinanceAPIException) as after_halt:
        place_oco(client, "after-halt")
    assert after_halt.value.code == -2010
    assert after_halt.value.message.startswith("Vigil RED: operator halt: no brackets")
    assert len(sim_orders(gateway)) == before


def test_a_stop_is_placed_with_its_trigger(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    placed = client.create_order(
        symbol=S, side="SELL", type="STOP_LOSS_LIMIT", timeInForce="GTC",
        quantity="0.01", price="58900", stopPrice="59000", newClientOrderId="my-stop",
    )  # fmt: skip
    assert set(placed) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert placed["clientOrderId"] == "my-stop"  # a stop's answer is ACK by default
    result = client.create_order(
        symbol=S, side="SELL", type="TAKE_PROFIT", quantity="0.01", stopPrice="61000",
        newClientOrderId="my-tp", newOrderRespType="RESULT",
    )  # fmt: skip
    assert result["status"] == "NEW" and result["stopPrice"] == "61000.00000000"
    assert sim_order(gateway, result["orderId"])["type"] == "TAKE_PROFIT"
    on_exchange = sim_order(gateway, placed["orderId"])
    assert on_exchange["type"] == "STOP_LOSS_LIMIT"
    assert Decimal(on_exchange["stopPrice"]) == Decimal("59000")
    got = client.get_order(symbol=S, origClientOrderId="my-stop")
    assert got["stopPrice"] == "59000.00000000" and got["type"] == "STOP_LOSS_LIMIT"


def test_another_strategy_cannot_see_or_cancel_the_list(gateway: Gateway) -> None:
    first, second = gateway.client("bot1"), gateway.client("bot2")
    placed = place_oco(first, "shared-id")
    list_id = placed["orderListId"]
    for ask, code in (
        (lambda: second.v3_get_order_list(orderListId=list_id), -2013),
        (lambda: second.v3_get_order_list(listClientOrderId="shared-id"), -2013),
        (lambda: second.v3_delete_order_list(symbol=S, orderListId=list_id), -2011),
    ):
        with pytest.raises(BinanceAPIException) as hidden:
            ask()
        assert hidden.value.code == code
    assert second.get_open_oco_orders() == [] and second.v3_get_all_order_list() == []
    assert {o["status"] for o in sim_orders(gateway) if o["orderListId"] == list_id} == {"NEW"}

    cancelled = first.v3_delete_order_list(symbol=S, listClientOrderId="shared-id")
    assert cancelled["listOrderStatus"] == "ALL_DONE"
    assert {r["status"] for r in cancelled["orderReports"]} <= {"CANCELED", "EXPIRED"}
    assert {r["origClientOrderId"] for r in cancelled["orderReports"]} == {
        "shared-id-tp",
        "shared-id-sl",
    }
    statuses = {o["status"] for o in sim_orders(gateway) if o["orderListId"] == list_id}
    assert statuses <= {"CANCELED", "EXPIRED"}


def test_cancel_replace_through_python_binance(gateway: Gateway) -> None:
    client, other = gateway.client("bot1"), gateway.client("bot2")
    placed = client.create_order(
        symbol=S, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
        price="59000", newClientOrderId="to-move",
    )  # fmt: skip
    with pytest.raises(BinanceAPIException) as not_yours:  # another strategy's order
        other.cancel_replace_order(
            symbol=S, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
            price="59100", cancelReplaceMode="STOP_ON_FAILURE",
            cancelOrigClientOrderId="to-move",
        )  # fmt: skip
    assert not_yours.value.code == -2022
    moved = client.cancel_replace_order(
        symbol=S, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
        price="59100", cancelReplaceMode="STOP_ON_FAILURE",
        cancelOrigClientOrderId="to-move", newClientOrderId="moved",
    )  # fmt: skip
    assert (moved["cancelResult"], moved["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    assert moved["cancelResponse"]["origClientOrderId"] == "to-move"
    assert moved["cancelResponse"]["status"] == "CANCELED"
    assert moved["newOrderResponse"]["clientOrderId"] == "moved"
    assert moved["newOrderResponse"]["price"] == "59100.00000000"
    assert sim_order(gateway, placed["orderId"])["status"] == "CANCELED"
    new_id = moved["newOrderResponse"]["orderId"]
    assert sim_order(gateway, new_id)["status"] == "NEW"

    before = len(sim_orders(gateway))
    with pytest.raises(BinanceAPIException) as refused:  # a sell stop above the market
        client.cancel_replace_order(
            symbol=S, side="SELL", type="STOP_LOSS_LIMIT", timeInForce="GTC",
            quantity="0.001", price="60900", stopPrice="61000",
            cancelReplaceMode="STOP_ON_FAILURE", cancelOrigClientOrderId="moved",
        )  # fmt: skip
    assert refused.value.code == -2022
    data = refused.value.response.json()["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("FAILURE", "FAILURE")
    assert data["newOrderResponse"]["code"] == -2010
    assert "wrong side of the market" in data["newOrderResponse"]["msg"]
    assert len(sim_orders(gateway)) == before
    assert sim_order(gateway, new_id)["status"] == "NEW"  # refused whole: still there


def test_user_stream_carries_the_list_id_and_list_status(gateway: Gateway) -> None:
    api_key, secret = gateway.add_key("streamer")
    stream = UserStream(Endpoint(gateway.ws_api, api_key, secret))  # type: ignore[arg-type]
    try:
        client = gateway.client_for(api_key, secret)
        place_oco(gateway.client("someone-else"), "not-yours")
        placed = place_oco(client, "bracket")
        gateway.vigil.sim.set_price(S, "61100")  # the take-profit fills, the stop expires
        seen: list[dict[str, Any]] = []

        def complete() -> bool:
            return any(e["e"] == "listStatus" and e["L"] == "ALL_DONE" for e in seen) and any(
                e.get("x") == "EXPIRED" for e in seen
            )

        deadline = time.monotonic() + 5
        while not complete():
            assert time.monotonic() < deadline, f"events missing: {seen}"
            seen.append(stream.next_event())
    finally:
        stream.close()
    list_id = placed["orderListId"]
    reports = [e for e in seen if e["e"] == "executionReport"]
    assert {e["c"] for e in reports} == {"bracket-tp", "bracket-sl"}  # never the other's
    assert {e["g"] for e in reports} == {list_id}
    assert [e["x"] for e in reports if e["c"] == "bracket-sl"] == ["NEW", "EXPIRED"]
    assert "TRADE" in [e["x"] for e in reports if e["c"] == "bracket-tp"]
    statuses = [e for e in seen if e["e"] == "listStatus"]
    assert {e["C"] for e in statuses} == {"bracket"} and {e["g"] for e in statuses} == {list_id}
    assert statuses[-1]["l"] == "ALL_DONE"
    assert {o["c"] for o in statuses[-1]["O"]} == {"bracket-tp", "bracket-sl"}


def test_strategy_ids_are_scoped_oto_otoco_and_filters(gateway: Gateway) -> None:
    first, second = gateway.client("bot1"), gateway.client("bot2")
    one, two = place_oco(first, "same"), place_oco(second, "same")  # no collision
    assert one["orderListId"] != two["orderListId"]
    assert one["listClientOrderId"] == two["listClientOrderId"] == "same"
    before = len(sim_orders(gateway))
    with pytest.raises(BinanceAPIException) as again:  # its own open list id, reused
        place_oco(first, "same")
    assert (again.value.code, again.value.message) == (-2010, "Duplicate order sent.")
    with pytest.raises(BinanceAPIException) as filtered:  # below the lot size
        place_oco(first, "tiny", quantity="0.0000001")
    assert filtered.value.code == -1013
    assert len(sim_orders(gateway)) == before

    oto = first.v3_post_order_list_oto(
        symbol=S, listClientOrderId="entry", workingType="LIMIT", workingSide="BUY",
        workingPrice="59000", workingQuantity="0.001", workingTimeInForce="GTC",
        workingClientOrderId="entry-buy", pendingType="LIMIT_MAKER", pendingSide="SELL",
        pendingPrice="61000", pendingQuantity="0.001", pendingClientOrderId="entry-tp",
    )  # fmt: skip
    assert oto["contingencyType"] == "OTO" and oto["listClientOrderId"] == "entry"
    assert {o["clientOrderId"] for o in oto["orders"]} == {"entry-buy", "entry-tp"}
    otoco = first.v3_post_order_list_otoco(
        symbol=S, listClientOrderId="bracket-entry", workingType="LIMIT", workingSide="BUY",
        workingPrice="59000", workingQuantity="0.001", workingTimeInForce="GTC",
        pendingSide="SELL", pendingQuantity="0.001",
        pendingAboveType="LIMIT_MAKER", pendingAbovePrice="61000",
        pendingBelowType="STOP_LOSS_LIMIT", pendingBelowPrice="57900",
        pendingBelowStopPrice="58000", pendingBelowTimeInForce="GTC",
    )  # fmt: skip
    assert otoco["contingencyType"] == "OTO" and len(otoco["orders"]) == 3
    on_exchange = {o["orderListId"] for o in sim_orders(gateway)}
    assert {oto["orderListId"], otoco["orderListId"]} <= on_exchange
    opened = {x["listClientOrderId"] for x in first.get_open_oco_orders()}
    assert opened == {"same", "entry", "bracket-entry"}


def test_bad_list_parameters_send_nothing(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    before = len(sim_orders(gateway))
    cases: list[tuple[dict[str, str], int]] = [
        ({"quantity": "0"}, -1013),
        ({"aboveType": "MARKET"}, -1116),  # not allowed above
        ({"belowTimeInForce": "DAY"}, -1115),
        ({"abovePrice": "abc"}, -1100),
        ({"side": "HOLD"}, -1117),
        ({"aboveIcebergQty": "0.001"}, -1020),
        ({"symbol": "NOPE"}, -1121),
        ({"surprise": "1"}, -1104),
    ]
    for overrides, code in cases:
        with pytest.raises(BinanceAPIException) as bad:
            place_oco(client, "bad", **overrides)
        assert bad.value.code == code, (overrides, bad.value.message)
    with pytest.raises(BinanceAPIException) as no_trigger:  # a stop needs its trigger
        client.create_oco_order(
            symbol=S, side="SELL", quantity="0.01", aboveType="LIMIT_MAKER",
            abovePrice="61000", belowType="STOP_LOSS",
        )  # fmt: skip
    assert no_trigger.value.code == -1102
    assert len(sim_orders(gateway)) == before
    acked = place_oco(client, "acked", newOrderRespType="ACK")
    assert set(acked["orderReports"][0]) == {
        "symbol",
        "orderId",
        "orderListId",
        "clientOrderId",
        "transactTime",
    }
    assert len(sim_orders(gateway)) == before + 2


def test_the_keys_own_limits_apply_to_a_list(gateway: Gateway) -> None:
    small = gateway.client("small", max_order_notional="100")
    elsewhere = gateway.client("elsewhere", symbols=("ETHUSDT",))
    before = len(sim_orders(gateway))
    with pytest.raises(BinanceAPIException) as too_big:  # 0.01 BTC at 61,000: 610 USDT
        place_oco(small, "big")
    assert too_big.value.code == -2010
    assert too_big.value.message.startswith("Vigil policy: strategy small: max_order_notional")
    with pytest.raises(BinanceAPIException) as not_allowed:
        place_oco(elsewhere, "wrong-symbol")
    assert not_allowed.value.code == -2010 and "symbol" in not_allowed.value.message
    assert len(sim_orders(gateway)) == before


def test_cancel_replace_partially_failed_is_minus_2021(gateway: Gateway) -> None:
    client = gateway.client("bot1")
    placed = client.create_order(
        symbol=S, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
        price="59000", newClientOrderId="old",
    )  # fmt: skip
    with pytest.raises(BinanceAPIException) as partial:  # a maker order that would take
        client.cancel_replace_order(
            symbol=S, side="BUY", type="LIMIT_MAKER", quantity="0.001", price="60100",
            cancelReplaceMode="STOP_ON_FAILURE", cancelOrigClientOrderId="old",
        )  # fmt: skip
    assert partial.value.code == -2021 and partial.value.status_code == 409
    data = partial.value.response.json()["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
    assert data["cancelResponse"]["origClientOrderId"] == "old"
    assert data["newOrderResponse"]["code"] == -2010
    assert sim_order(gateway, placed["orderId"])["status"] == "CANCELED"
