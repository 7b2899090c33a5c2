"""An unmodified ccxt bot (ccxt.binance, spot, its URLs pointed at the gateway) trading
through Vigil, judged by the simulator's true state: a LIMIT placed, fetched by its own
client order id, listed open and cancelled; a MARKET filled and then in fetch_my_trades;
a refusal raising ccxt's own exception carrying -2010 and Vigil's reason."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from tests.gateway.conftest import Gateway


def ccxt_bot(gateway: Gateway, name: str, **limits: Any) -> ccxt.binance:
    api_key, secret = gateway.add_key(name, **limits)
    exchange = ccxt.binance(
        {
            "apiKey": api_key,
            "secret": secret,
            "options": {
                "defaultType": "spot",
                "fetchMarkets": {"types": ["spot"]},
                "fetchMargins": False,  # /sapi (margin) is not the Spot API
                "fetchCurrencies": False,  # nor is /sapi (wallet)
            },
        }
    )
    for api in ("public", "private"):
        exchange.urls["api"][api] = f"{gateway.rest}/api/v3"
    return exchange


def sim_order(gateway: Gateway, order_id: str) -> dict[str, Any]:
    return next(o for o in gateway.vigil.sim.state()["orders"] if str(o["orderId"]) == order_id)


def test_ccxt_limit_fetch_open_cancel(gateway: Gateway) -> None:
    bot = ccxt_bot(gateway, "ccxt1")
    order = bot.create_order(
        "BTC/USDT", "limit", "buy", 0.001, 59000, {"newClientOrderId": "ccxt-limit-1"}
    )
    assert order["clientOrderId"] == "ccxt-limit-1" and order["status"] == "open"
    assert sim_order(gateway, order["id"])["status"] == "NEW"
    fetched = bot.fetch_order(order["id"], "BTC/USDT")
    assert fetched["clientOrderId"] == "ccxt-limit-1" and fetched["price"] == 59000
    by_own_id = bot.fetch_order(None, "BTC/USDT", {"origClientOrderId": "ccxt-limit-1"})
    assert by_own_id["id"] == order["id"]
    assert [o["id"] for o in bot.fetch_open_orders("BTC/USDT")] == [order["id"]]
    bot.cancel_order(order["id"], "BTC/USDT")
    assert sim_order(gateway, order["id"])["status"] == "CANCELED"
    assert bot.fetch_open_orders("BTC/USDT") == []


def test_ccxt_market_then_my_trades(gateway: Gateway) -> None:
    bot = ccxt_bot(gateway, "ccxt2")
    order = bot.create_order("BTC/USDT", "market", "buy", 0.001)
    assert order["status"] == "closed" and order["filled"] == 0.001
    assert sim_order(gateway, order["id"])["status"] == "FILLED"
    trades = bot.fetch_my_trades("BTC/USDT")
    assert trades and all(t["order"] == order["id"] for t in trades)
    truth = [t for t in gateway.vigil.sim.state()["trades"] if str(t["orderId"]) == order["id"]]
    assert sorted(t["id"] for t in trades) == sorted(str(t["id"]) for t in truth)
    assert bot.fetch_balance()["USDT"]["free"] > 0


def test_ccxt_refusal_is_its_own_exception(gateway: Gateway) -> None:
    bot = ccxt_bot(gateway, "ccxt3", max_order_notional="10")
    before = len(gateway.vigil.sim.state()["orders"])
    with pytest.raises(ccxt.InvalidOrder) as refused:
        bot.create_order("BTC/USDT", "limit", "buy", 0.001, 59000)
    assert "-2010" in str(refused.value)
    assert "Vigil policy: strategy ccxt3: max_order_notional" in str(refused.value)
    assert len(gateway.vigil.sim.state()["orders"]) == before
