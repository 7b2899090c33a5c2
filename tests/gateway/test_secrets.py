"""A strategy's secret never leaves the keys file: not in the log (every level), not in the
audit trail, not in an error answer, whatever the requests — good, badly signed, refused."""

from __future__ import annotations

import pytest
from binance.exceptions import BinanceAPIException
from loguru import logger

from tests.gateway.conftest import Gateway


def test_secret_not_logged_audited_or_answered(gateway: Gateway) -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, level="TRACE", diagnose=True, backtrace=True)
    try:
        api_key, secret = gateway.add_key("quiet", max_order_notional="10")
        client = gateway.client_for(api_key, secret)
        client.get_account()
        with pytest.raises(BinanceAPIException) as refused:
            client.create_order(
                symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                quantity="0.001", price="59000",
            )  # fmt: skip
        wrong = gateway.client_for(api_key, secret[::-1])
        with pytest.raises(BinanceAPIException) as unsigned:
            wrong.get_open_orders()
    finally:
        logger.remove(sink)
    assert unsigned.value.code == -1022
    for text in (refused.value.message, unsigned.value.message, *lines):
        assert secret not in text
    gateway.vigil.system.trail.flush()
    audit = gateway.vigil.system.trail.query(limit=10**6)
    assert audit and all(secret not in str(record) for record in audit)
    assert any(r.get("strategy") == "quiet" for r in audit)  # the refusal names its strategy
