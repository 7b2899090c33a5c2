"""A MARKET order's expected fill, walked through the book, and its protection price."""

from __future__ import annotations

from decimal import Decimal

from domain.market_impact import estimate_fill, protection_price

D = Decimal
ASKS = [(D("100.5"), D("1")), (D("101"), D("2")), (D("102"), D("5"))]


def test_a_buy_walks_the_asks_best_first() -> None:
    est = estimate_fill("BUY", D("2"), ASKS, D("100"))
    assert est.fills_whole and est.average == D("100.75") and est.worst == D("101")
    assert est.slippage_bps == D("75.00")


def test_a_book_too_thin_says_how_much_it_can_fill() -> None:
    est = estimate_fill("BUY", D("10"), ASKS, D("100"))
    assert not est.fills_whole and est.fillable == D("8")


def test_a_sell_slips_below_the_mid() -> None:
    bids = [(D("99.5"), D("1")), (D("99"), D("1"))]
    est = estimate_fill("SELL", D("2"), bids, D("100"))
    assert est.average == D("99.25") and est.slippage_bps == D("75.00")


def test_the_protection_price_is_on_the_tick_and_never_beyond_the_bound() -> None:
    assert protection_price("BUY", D("60000"), D("50"), D("0.01")) == D("60300.00")
    assert protection_price("BUY", D("100.007"), D("10"), D("0.01")) == D("100.10")  # floored
    assert protection_price("SELL", D("100.007"), D("10"), D("0.01")) == D("99.91")  # ceiled
