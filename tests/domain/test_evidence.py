"""Order evidence: per fill and once per order, from the fills the book accounted."""

from __future__ import annotations

from decimal import Decimal

from domain.book import Book, BookOrder, Execution, Market, OrderState
from domain.breaker_rules import EvidenceKind
from domain.evidence import OrderEvidence, unknown_orders

MARKETS = {"BTCUSDT": Market("BTCUSDT", "BTC", "USDT")}


def book_with(order: BookOrder) -> Book:
    book = Book(dict(MARKETS))
    book.open({"USDT": Decimal("100000"), "BTC": Decimal("1")})
    book.add_intent(order)
    book.take_accounted()  # the broker collects accounted fills from here on
    return book


def order(cid: str, side: str = "BUY", type: str = "LIMIT", qty: str = "0.1") -> BookOrder:
    return BookOrder(
        client_order_id=cid,
        symbol="BTCUSDT",
        side=side,
        type=type,
        quantity=Decimal(qty),
        price=Decimal("60000"),
        created_ms=1,
        updated_ms=1,
        source="test",
    )


def fill(book: Book, o: BookOrder, qty: str, price: str, trade_id: int) -> None:
    book.apply_execution(
        Execution(
            symbol="BTCUSDT",
            trade_id=trade_id,
            order_id=o.order_id or 1,
            client_order_id=o.client_order_id,
            side=o.side,
            price=Decimal(price),
            qty=Decimal(qty),
            commission=Decimal(0),
            commission_asset="USDT",
            time_ms=2,
            is_maker=True,
            via="test",
        )
    )


def kinds(signals: list) -> list[EvidenceKind]:  # type: ignore[type-arg]
    return [s.kind for s in signals]


def test_a_fill_gives_its_slippage_against_the_arrival_mid() -> None:
    o = order("b")
    book = book_with(o)
    book.apply_order_update(symbol="BTCUSDT", client_order_id="b", order_id=1,
                            venue_state="PARTIALLY_FILLED", cumulative_qty=Decimal("0.05"),
                            cumulative_quote=Decimal("3003"), now_ms=2)  # fmt: skip
    evidence = OrderEvidence()
    evidence.execution.accepted("b", "BTCUSDT", "BUY", Decimal("60000"))
    fill(book, o, "0.05", "60060", 1)
    (accounted,) = book.take_accounted()
    signals = evidence.fill(book, accounted, o, 1.0)
    slippage = [s for s in signals if s.kind is EvidenceKind.SLIPPAGE_BPS]
    assert slippage and slippage[0].value == Decimal("10")  # 60060 vs 60000: 10 bps worse
    assert EvidenceKind.PARTIAL_FILL in kinds(signals)  # a LIMIT order seen partly filled


def test_an_order_that_ended_partly_filled_counts_as_one_partial_fill() -> None:
    o = order("m", type="MARKET")
    book_with(o)
    o.state = OrderState.EXPIRED
    o.executed_qty = Decimal("0.04")
    evidence = OrderEvidence()
    signals = evidence.done(o)
    assert kinds(signals) == [EvidenceKind.PARTIAL_FILL]
    assert o.evidence_done and evidence.done(o) == []  # once


def test_a_sell_that_closed_at_a_loss_is_one_losing_trade_however_many_pieces() -> None:
    buy, sell = order("buy", qty="0.1"), order("sell", side="SELL", qty="0.1")
    book = book_with(buy)
    fill(book, buy, "0.1", "60000", 1)
    book.add_intent(sell)
    sell.order_id = 2
    book.by_order_id[("BTCUSDT", 2)] = "sell"
    book.take_accounted()
    evidence = OrderEvidence()
    for n, price in ((2, "59000"), (3, "58000")):
        fill(book, sell, "0.05", price, n)
    for accounted in book.take_accounted():
        evidence.fill(book, accounted, sell, 1.0)
    sell.state = OrderState.FILLED
    signals = evidence.done(sell)
    assert kinds(signals) == [EvidenceKind.LOSING_TRADE]


def test_the_unknown_orders_gauge_counts_and_names_them() -> None:
    gauge = unknown_orders({"a": 1, "b": 2})
    assert gauge.kind is EvidenceKind.UNKNOWN_ORDERS and gauge.value == Decimal(2)
    assert gauge.detail == "a, b"
