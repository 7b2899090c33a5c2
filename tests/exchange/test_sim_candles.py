"""The simulator's klines and 24-hour ticker, made from its price process and its trades:
field types exactly as rest-api.md gives them (checked against binance-sdk-spot's model for
the ticker), prices that follow the mid the test sets, volumes from the account's fills,
and Binance's errors for a bad interval, limit or symbol."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from exchange.simulator.candles import klines, open_time, tz_offset_ms
from exchange.simulator.errors import ApiError
from tests.conftest import SimHandle

models = pytest.importorskip("binance_sdk_spot.rest_api.models")

KLINE_TYPES = [int, str, str, str, str, str, int, str, int, str, str, str]


def test_klines_follow_the_price_process(client: Client, sim: SimHandle) -> None:
    sim.set_price("BTCUSDT", "61000")
    sim.set_price("BTCUSDT", "62500")
    sim.set_price("BTCUSDT", "60500")
    client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    rows = client.get_klines(symbol="BTCUSDT", interval="1d")
    assert rows, "the current interval at least"
    for row in rows:
        assert [type(v) for v in row] == KLINE_TYPES
        assert row[6] == row[0] + 86_400_000 - 1
        assert row[11] == "0"
    last = rows[-1]
    assert Decimal(last[2]) >= Decimal("62500")  # high
    assert Decimal(last[3]) <= Decimal("60500")  # low
    assert Decimal(last[4]) == Decimal("60500")  # close: the mid now
    assert Decimal(last[5]) == Decimal("0.01") and last[8] == 1  # our fill
    assert Decimal(last[9]) == Decimal("0.01")  # we were the taker buyer
    assert client.get_klines(symbol="BTCUSDT", interval="1m", limit=1)[0][4] == last[4]


def test_klines_bad_input(client: Client) -> None:
    for kwargs, code in (
        ({"symbol": "BTCUSDT", "interval": "7m"}, -1120),
        ({"symbol": "NOPE", "interval": "1m"}, -1121),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": 1001}, -1100),
        ({"symbol": "BTCUSDT"}, -1102),
    ):
        with pytest.raises(BinanceAPIException) as bad:
            client.get_klines(**kwargs)
        assert bad.value.code == code, kwargs


def test_ticker_24hr(client: Client, sim: SimHandle) -> None:
    sim.set_price("ETHUSDT", "3100")
    client.create_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.1")
    answer: dict[str, Any] = client.get_ticker(symbol="ETHUSDT")
    parsed = models.Ticker24hrResponse1.from_dict(answer)
    assert parsed is not None and parsed.to_dict() == answer
    assert not (getattr(parsed, "additional_properties", None) or {})
    assert Decimal(answer["lastPrice"]) == Decimal("3100")
    assert Decimal(answer["volume"]) == Decimal("0.1") and answer["count"] == 1
    assert answer["firstId"] == answer["lastId"] and isinstance(answer["firstId"], int)
    assert Decimal(answer["bidPrice"]) < Decimal(answer["askPrice"])
    every = client.get_ticker()
    assert {t["symbol"] for t in every} == {"BTCUSDT", "ETHUSDT"}
    btc = next(t for t in every if t["symbol"] == "BTCUSDT")
    assert btc["count"] == 0 and btc["firstId"] == -1 and btc["lastQty"] == "0.00000000"


def test_candle_arithmetic() -> None:
    day = 86_400_000
    assert open_time(day + 5, "1d") == day
    assert open_time(day + 5, "1d", tz_offset_ms("8")) == day - 8 * 3_600_000
    assert open_time(0, "1w") == -3 * day  # Monday 29 December 1969
    assert open_time(40 * day, "1M") == 31 * day  # 1 February 1970
    samples = [(1000, Decimal("10")), (61_000, Decimal("12")), (62_000, Decimal("9"))]
    rows = klines(samples, [], interval="1m", now_ms=130_000)
    assert [r[0] for r in rows] == [0, 60_000, 120_000]
    assert rows[1][1:5] == ["10.00000000", "12.00000000", "9.00000000", "9.00000000"]
    assert rows[2][1:5] == ["9.00000000"] * 4  # a quiet minute repeats the last price
    assert len(klines(samples, [], interval="1m", now_ms=130_000, limit=2)) == 2
    with pytest.raises(ApiError):
        tz_offset_ms("15")
