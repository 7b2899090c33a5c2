"""The adapter's conditional orders and order lists against the simulator: OCO / OTO / OTOCO
placed, queried and cancelled through the contract, their user data events typed (``g`` on
the orders' executionReports, ``listStatus``), and the request shapes refused before the
wire."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from pydantic import ValidationError

from exchange.binance import BinanceSpotAdapter
from exchange.contract import (
    ContingencyType,
    ExecutionReport,
    ListOrderStatus,
    ListStatus,
    ListStatusType,
    OrderListRequest,
    OrderNotFound,
    OrderRequest,
    OrderState,
    UserEvent,
)
from tests.conftest import SimHandle, wait_for
from tests.exchange.adapter_helpers import client_id, make_adapter

S = "BTCUSDT"


def sell_oco(qty: str = "0.01") -> OrderListRequest:
    return OrderListRequest(
        list_type="OCO",
        symbol=S,
        list_client_order_id=client_id("list"),
        above=OrderRequest(
            symbol=S, side="SELL", type="LIMIT_MAKER", quantity=qty, price="61000",
            client_order_id=client_id("tp"),
        ),
        below=OrderRequest(
            symbol=S, side="SELL", type="STOP_LOSS_LIMIT", quantity=qty, price="58900",
            stop_price="59000", client_order_id=client_id("sl"),
        ),
    )  # fmt: skip


@pytest.fixture
def streaming(sim: SimHandle) -> Iterator[tuple[BinanceSpotAdapter, list[UserEvent]]]:
    adapter, _ = make_adapter(sim)
    events: list[UserEvent] = []
    adapter.start_user_stream(events.append)
    wait_for(lambda: sim.state()["subscriptions"] == 1, timeout=5)
    yield adapter, events
    adapter.close()


def test_oco_placed_queried_and_cancelled_whole(sim: SimHandle) -> None:
    adapter, audit = make_adapter(sim)
    try:
        request = sell_oco()
        placed = adapter.place_order_list(request)
        assert placed.contingency_type is ContingencyType.OCO
        assert placed.list_status_type is ListStatusType.EXEC_STARTED
        assert placed.list_client_order_id == request.list_client_order_id
        assert [r.client_order_id for r in placed.order_reports] == [
            request.below.client_order_id,  # type: ignore[union-attr]
            request.above.client_order_id,  # type: ignore[union-attr]
        ]  # the stop loss first, as rest-api.md's example
        assert {r.order_list_id for r in placed.order_reports} == {placed.order_list_id}
        assert placed.order_reports[0].stop_price == Decimal("59000")
        sent = next(r for r in audit.of_kind("request") if r.operation == "new_oco")
        assert sent.path == "/api/v3/orderList/oco"
        assert [o.order_list_id for o in adapter.get_open_order_lists()] == [placed.order_list_id]
        queried = adapter.get_order_list(S, list_client_order_id=request.list_client_order_id)
        assert queried.orders == placed.orders and queried.order_reports == ()
        open_orders = adapter.get_open_orders(S)
        assert {o.order_list_id for o in open_orders} == {placed.order_list_id}
        cancelled = adapter.cancel_order_list(S, order_list_id=placed.order_list_id)
        assert cancelled.list_order_status is ListOrderStatus.ALL_DONE
        assert [r.state for r in cancelled.order_reports] == [OrderState.CANCELED] * 2
        assert adapter.get_open_order_lists() == []
        assert sim.state()["open_orders"] == []
        assert [o.order_list_id for o in adapter.get_all_order_lists()] == [placed.order_list_id]
        with pytest.raises(OrderNotFound):
            adapter.get_order_list(S, order_list_id=placed.order_list_id + 100)
    finally:
        adapter.close()


def test_one_leg_fills_the_other_expires_and_the_events_say_so(
    streaming: tuple[BinanceSpotAdapter, list[UserEvent]], sim: SimHandle
) -> None:
    adapter, events = streaming
    request = sell_oco()
    placed = adapter.place_order_list(request)
    wait_for(lambda: any(isinstance(e, ListStatus) for e in events), timeout=5)
    sim.set_price(S, "61100")  # the LIMIT_MAKER fills, the stop loss expires
    wait_for(lambda: any(isinstance(e, ListStatus) and e.done for e in events), timeout=5)
    statuses = [e for e in events if isinstance(e, ListStatus)]
    assert [(s.list_status_type, s.list_order_status) for s in statuses] == [
        (ListStatusType.EXEC_STARTED, ListOrderStatus.EXECUTING),
        (ListStatusType.ALL_DONE, ListOrderStatus.ALL_DONE),
    ]
    assert {s.order_list_id for s in statuses} == {placed.order_list_id}
    assert statuses[-1].list_client_order_id == request.list_client_order_id
    reports = [e for e in events if isinstance(e, ExecutionReport)]
    assert {r.order_list_id for r in reports} == {placed.order_list_id}  # g on every one
    final = {r.client_order_id: r.state for r in reports}
    assert final[request.above.client_order_id] is OrderState.FILLED  # type: ignore[union-attr]
    assert final[request.below.client_order_id] is OrderState.EXPIRED  # type: ignore[union-attr]


def test_oto_and_otoco_are_sent_with_their_roles(sim: SimHandle) -> None:
    adapter, _ = make_adapter(sim)
    try:
        working = OrderRequest(
            symbol=S, side="BUY", type="LIMIT", quantity="0.01", price="59000",
            client_order_id=client_id("w"),
        )  # fmt: skip
        oto = adapter.place_order_list(
            OrderListRequest(
                list_type="OTO", symbol=S, list_client_order_id=client_id("oto"),
                working=working,
                pending=OrderRequest(
                    symbol=S, side="SELL", type="LIMIT_MAKER", quantity="0.01", price="62000",
                    client_order_id=client_id("p"),
                ),
            )
        )  # fmt: skip
        assert oto.contingency_type is ContingencyType.OTO
        assert [r.state for r in oto.order_reports] == [OrderState.NEW, OrderState.PENDING_NEW]
        otoco = adapter.place_order_list(
            OrderListRequest(
                list_type="OTOCO", symbol=S, list_client_order_id=client_id("otoco"),
                working=working.model_copy(update={"client_order_id": client_id("w")}),
                above=OrderRequest(
                    symbol=S, side="SELL", type="LIMIT_MAKER", quantity="0.01", price="62000",
                    client_order_id=client_id("tp"),
                ),
                below=OrderRequest(
                    symbol=S, side="SELL", type="STOP_LOSS", quantity="0.01",
                    stop_price="57000", client_order_id=client_id("sl"),
                ),
            )
        )  # fmt: skip
        assert len(otoco.orders) == 3
        assert {o["orderListId"] for o in sim.state()["open_orders"]} == {
            oto.order_list_id,
            otoco.order_list_id,
        }
    finally:
        adapter.close()


def test_a_trailing_stop_is_placed_with_its_delta(sim: SimHandle) -> None:
    adapter, _ = make_adapter(sim)
    try:
        request = OrderRequest(
            symbol=S, side="SELL", type="STOP_LOSS", quantity="0.01", trailing_delta=100,
            client_order_id=client_id("trail"),
        )  # fmt: skip
        adapter.place_order(request)
        status = adapter.get_order(S, client_order_id=request.client_order_id)
        assert (status.type, status.trailing_delta, status.order_list_id) == (
            "STOP_LOSS", 100, None
        )  # fmt: skip
    finally:
        adapter.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"below": None}, "OCO takes above, below"),
        ({"working": "x"}, "OCO takes above, below"),
        ({"below_side": "BUY"}, "share side and quantity"),
        ({"both_stops": True}, "one STOP_LOSS"),
        ({"same_ids": True}, "distinct client order ids"),
    ],
)
def test_malformed_list_requests_are_refused_before_the_wire(
    change: dict[str, object], message: str
) -> None:
    good = sell_oco()
    fields = good.model_dump()
    above, below = good.above, good.below
    assert above is not None and below is not None
    if "below" in change:
        fields["below"] = None
    if "working" in change:
        fields["working"] = above.model_copy(update={"client_order_id": "w1"})
    if "below_side" in change:
        fields["below"] = below.model_copy(
            update={"side": "BUY", "stop_price": Decimal("61500"), "price": Decimal("61600")}
        )
    if "both_stops" in change:
        fields["above"] = below.model_copy(update={"client_order_id": "other"})
    if "same_ids" in change:
        fields["below"] = below.model_copy(update={"client_order_id": above.client_order_id})
    with pytest.raises(ValidationError, match=message):
        OrderListRequest.model_validate(fields)


def test_a_stop_needs_a_trigger_and_a_limit_takes_none() -> None:
    with pytest.raises(ValidationError, match="stop_price or trailing_delta"):
        OrderRequest(symbol=S, side="SELL", type="STOP_LOSS", quantity="1", client_order_id="a")
    with pytest.raises(ValidationError, match="stop_price or trailing_delta"):
        OrderRequest(
            symbol=S, side="SELL", type="LIMIT", quantity="1", price="1", trailing_delta=10,
            client_order_id="a",
        )  # fmt: skip


def test_cancel_replace_both_halves_and_the_failed_halves(sim: SimHandle) -> None:
    from exchange.contract import Rejected

    adapter, _ = make_adapter(sim)
    try:
        old = OrderRequest(
            symbol=S, side="BUY", type="LIMIT", quantity="0.01", price="59000",
            client_order_id=client_id("old"),
        )  # fmt: skip
        adapter.place_order(old)
        new = old.model_copy(update={"client_order_id": client_id("new"), "price": D59100})
        ack = adapter.cancel_replace(new, cancel_client_order_id=old.client_order_id)
        assert ack.cancel.state is OrderState.CANCELED
        assert ack.cancel.orig_client_order_id == old.client_order_id
        assert ack.new_order.client_order_id == new.client_order_id
        # the cancel fails (already cancelled): -2022, the new order not attempted
        again = new.model_copy(update={"client_order_id": client_id("again")})
        with pytest.raises(Rejected) as failed:
            adapter.cancel_replace(again, cancel_client_order_id=old.client_order_id)
        assert failed.value.code == -2022
        statuses = {o["clientOrderId"]: o["status"] for o in sim.state()["orders"]}
        assert statuses == {
            old.client_order_id: "CANCELED", new.client_order_id: "NEW"
        }  # fmt: skip
    finally:
        adapter.close()


D59100 = Decimal("59100")
