"""Cancel-replace admission (``domain.replacing``): the replaced order's reservation is the
new order's to use, since the exchange cancels it first in the same request."""

from __future__ import annotations

from decimal import Decimal

from domain.admission import admit
from domain.book import Book, BookOrder, Market
from domain.policy import PolicyInput, PolicyLimits, policy_input_from_book
from domain.replacing import without_replaced
from tests.domain.test_policy import FILTERS

D = Decimal
S = "BTCUSDT"


def book_with(*orders: BookOrder, usdt: str = "700", btc: str = "0") -> Book:
    book = Book(markets={S: Market(S, "BTC", "USDT")})
    book.open({"USDT": D(usdt), "BTC": D(btc)})
    book.set_price(S, D("60500"), 0)
    for o in orders:
        book.add_intent(o)
    return book


def order(cid: str, side: str = "BUY", qty: str = "0.01", price: str = "60000") -> BookOrder:
    return BookOrder(
        client_order_id=cid,
        symbol=S,
        side=side,
        type="LIMIT",
        quantity=D(qty),
        price=D(price),
        created_ms=0,
        updated_ms=0,
        source="test",
    )


def account(book: Book, side: str = "BUY", qty: str = "0.01", price: str = "61000") -> PolicyInput:
    return policy_input_from_book(
        book,
        symbol=S,
        side=side,
        type="LIMIT",
        quantity=D(qty),
        price=D(price),
        filters=FILTERS,
        now_ms=0,
    )


def refused_gates(account: PolicyInput, limits: PolicyLimits) -> list[str]:
    admission = admit(account, limits, duplicate=False, breaker_refusal=None, yellow=None)
    return [str(v["gate"]) for v in admission.verdict_dicts() if not v["passed"]]


LIMITS = PolicyLimits(symbols=frozenset({S}), max_open_orders=1)


def test_a_buy_that_only_fits_with_the_old_orders_funds_is_admitted_as_a_replace() -> None:
    book = book_with(order("old"))  # 600 USDT of 700 reserved by the resting buy
    plain = account(book)  # a new buy of 610
    assert plain.free_quote == D("100")
    assert "balance" in refused_gates(plain, LIMITS)
    assert "max_open_orders" in refused_gates(plain, LIMITS)
    replacing = without_replaced(plain, book, "old")
    assert replacing.free_quote == D("700")
    assert replacing.open_orders == 0 and replacing.symbol_open_orders == 0
    assert replacing.open_buy_notional == 0 and replacing.total_exposure == 0
    assert refused_gates(replacing, LIMITS) == []
    # a replace that does not fit even with them is still refused for balance
    greedy = without_replaced(account(book, qty="0.02"), book, "old")  # 1220 > 700
    assert "balance" in refused_gates(greedy, LIMITS)


def test_a_sells_base_is_freed_and_its_quantity_no_longer_selling() -> None:
    book = book_with(order("old", side="SELL", qty="0.5"), btc="0.5", usdt="0")
    plain = account(book, side="SELL", qty="0.5", price="62000")
    assert plain.free_base == 0 and plain.open_sell_qty == D("0.5")
    replacing = without_replaced(plain, book, "old")
    assert replacing.free_base == D("0.5") and replacing.open_sell_qty == 0
    assert replacing.open_sell_notional == 0
    assert "balance" not in refused_gates(replacing, PolicyLimits(symbols=frozenset({S})))


def test_only_a_live_order_of_the_symbol_frees_anything() -> None:
    book = book_with(order("old"))
    plain = account(book)
    assert without_replaced(plain, book, "nope") == plain
    book.mark("old", book.orders["old"].state.__class__("CANCELED"), 1)
    after = account(book)
    assert without_replaced(after, book, "old") == after  # already gone: nothing to add twice
