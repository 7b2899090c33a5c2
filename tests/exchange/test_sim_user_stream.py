"""User data stream over the WebSocket API (websocket-client) and market streams."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import requests
import websocket
from binance.client import Client

from exchange.simulator.auth import hmac_hex, ws_payload
from tests.conftest import SimHandle, UserStream

# every field the reference documents for executionReport, with its JSON type
EXECUTION_REPORT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "e": str, "E": int, "s": str, "c": str, "S": str, "o": str, "f": str, "q": str, "p": str,
    "P": str, "F": str, "g": int, "C": str, "x": str, "X": str, "r": str, "i": int, "l": str,
    "z": str, "L": str, "n": str, "N": (str, type(None)), "T": int, "t": int, "I": int,
    "w": bool, "m": bool, "M": bool, "O": int, "Z": str, "Y": str, "Q": str, "V": str,
}  # fmt: skip


def reports(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["e"] == "executionReport"]


def test_subscription_result_and_session_status(user_stream: UserStream) -> None:
    status = user_stream.request("session.status")
    assert status["status"] == 200
    assert status["result"]["userDataStream"] is True
    assert user_stream.request("ping")["result"] == {}


def test_execution_report_for_every_state_change_and_fill(
    client: Client, user_stream: UserStream
) -> None:
    client.create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.2", newClientOrderId="m-1"
    )
    events = user_stream.drain()
    execs = reports(events)
    assert [e["x"] for e in execs] == ["NEW", "TRADE", "TRADE", "TRADE"]
    assert [e["X"] for e in execs] == ["NEW", "PARTIALLY_FILLED", "PARTIALLY_FILLED", "FILLED"]
    for event in execs:
        for name, kind in EXECUTION_REPORT_FIELDS.items():
            assert isinstance(event[name], kind), (name, event[name])
        assert event["c"] == "m-1" and event["C"] == ""
    trades = client.get_my_trades(symbol="BTCUSDT")
    assert [e["t"] for e in execs[1:]] == [t["id"] for t in trades]
    assert sum(Decimal(e["l"]) for e in execs[1:]) == Decimal(execs[-1]["z"]) == Decimal("0.2")
    assert len({e["I"] for e in execs}) == len(execs), "execution ids are unique"
    position = [e for e in events if e["e"] == "outboundAccountPosition"]
    assert position and {b["a"] for b in position[-1]["B"]} == {"BTC", "USDT"}
    state = SimHandle.state(user_stream.sim)
    assert position[-1]["B"][0]["f"] == state["balances"]["BTC"]["free"]


def test_cancel_report_carries_the_original_id_in_capital_c(
    client: Client, user_stream: UserStream
) -> None:
    client.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                        quantity="0.01", price="50000", newClientOrderId="orig-1")  # fmt: skip
    client.cancel_order(symbol="BTCUSDT", origClientOrderId="orig-1", newClientOrderId="cxl-1")
    execs = reports(user_stream.drain())
    assert [(e["x"], e["c"], e["C"]) for e in execs] == [
        ("NEW", "orig-1", ""),
        ("CANCELED", "cxl-1", "orig-1"),
    ]


def test_expired_order_carries_its_expiry_reason(
    client: Client, user_stream: UserStream, sim: SimHandle
) -> None:
    ask = sim.state()["prices"]["BTCUSDT"]["ask"]
    client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="FOK", quantity="1", price=ask
    )
    execs = reports(user_stream.drain())
    assert execs[-1]["X"] == "EXPIRED" and execs[-1]["eR"] == "UNFILLED_FOK_ORDER_EXPIRED"


def test_deposit_gives_balance_update_then_account_position(
    sim: SimHandle, user_stream: UserStream
) -> None:
    resp = requests.post(
        f"{sim.rest}/_sim/deposit", json={"asset": "BNB", "amount": "2.5"}, timeout=5
    )
    assert resp.status_code == 200
    first, second = user_stream.next_event(), user_stream.next_event()
    assert first["e"] == "balanceUpdate" and first["a"] == "BNB" and first["d"] == "2.50000000"
    assert second["e"] == "outboundAccountPosition" and second["B"][0]["f"] == "2.50000000"


def test_unsubscribe_ends_the_stream_with_event_stream_terminated(
    client: Client, user_stream: UserStream
) -> None:
    assert user_stream.request("userDataStream.unsubscribe")["status"] == 200
    assert user_stream.next_event()["e"] == "eventStreamTerminated"
    client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    assert user_stream.drain() == []
    assert user_stream.request("session.status")["result"]["userDataStream"] is False


def test_subscription_with_a_bad_signature_is_refused(sim: SimHandle) -> None:
    ws = websocket.create_connection(sim.ws_api, timeout=5)
    try:
        params = {"apiKey": sim.api_key, "timestamp": int(time.time() * 1000)}
        params["signature"] = hmac_hex("wrong-secret", ws_payload(params))
        ws.send(
            json.dumps({"id": 1, "method": "userDataStream.subscribe.signature", "params": params})
        )
        reply = json.loads(ws.recv())
        assert reply["status"] == 400 and reply["error"]["code"] == -1022
        ws.send("{not json")
        reply = json.loads(ws.recv())
        assert reply["status"] == 400 and reply["error"]["code"] == -1135
    finally:
        ws.close()


def test_book_ticker_stream_raw_and_combined(sim: SimHandle) -> None:
    raw = websocket.create_connection(f"{sim.streams}/ws/btcusdt@bookTicker", timeout=5)
    combined = websocket.create_connection(
        f"{sim.streams}/stream?streams=btcusdt@bookTicker/ethusdt@bookTicker", timeout=5
    )
    try:
        first = json.loads(raw.recv())
        assert set(first) == {"u", "s", "b", "B", "a", "A"} and first["s"] == "BTCUSDT"
        names = {json.loads(combined.recv())["stream"] for _ in range(2)}
        assert names == {"btcusdt@bookTicker", "ethusdt@bookTicker"}
        sim.tick()
        moved = json.loads(raw.recv())
        assert moved["u"] > first["u"]
        assert moved["b"] == sim.state()["prices"]["BTCUSDT"]["bid"]
    finally:
        raw.close()
        combined.close()
