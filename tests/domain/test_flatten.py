"""Emergency flatten's plan: never more than held, never below the filters, dust reported."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.filters import FilterViolation, SymbolFilters, check_order
from domain.flatten import Holding, floor_to_both, plan_flatten
from domain.money import is_multiple

D = Decimal


def filters(
    symbol: str = "BTCUSDT",
    base: str = "BTC",
    *,
    step: str = "0.00001",
    min_qty: str = "0.00001",
    max_qty: str = "9000",
    market_step: str = "0",
    market_min: str = "0",
    market_max: str = "100",
    min_notional: str = "5",
    max_notional: str | None = None,
    apply_max: bool = False,
) -> SymbolFilters:
    return SymbolFilters(
        symbol=symbol,
        base_asset=base,
        quote_asset="USDT",
        min_price=D("0.01"),
        max_price=D("1000000"),
        tick_size=D("0.01"),
        min_qty=D(min_qty),
        max_qty=D(max_qty),
        step_size=D(step),
        market_min_qty=D(market_min),
        market_max_qty=D(market_max),
        market_step_size=D(market_step),
        min_notional=D(min_notional),
        max_notional=None if max_notional is None else D(max_notional),
        apply_min_to_market=True,
        apply_max_to_market=apply_max and max_notional is not None,
        notional_filter_type="NOTIONAL" if max_notional is not None else "MIN_NOTIONAL",
    )


BTC = filters()


def test_the_position_is_sold_floored_to_the_step_and_the_rest_is_dust() -> None:
    plan = plan_flatten([Holding("BTCUSDT", D("0.0499512"), D("2"), D("60000"), BTC)])
    assert [(s.symbol, s.quantity) for s in plan.sells] == [("BTCUSDT", D("0.04995"))]
    assert [(d.quantity, d.reason) for d in plan.dust] == [(D("0.0000012"), "below the lot step")]
    assert plan.notes == ()


def test_a_position_worth_less_than_the_minimum_notional_is_dust_not_chased() -> None:
    plan = plan_flatten([Holding("BTCUSDT", D("0.00008"), D("1"), D("60000"), BTC)])  # 4.8 USDT
    assert plan.sells == ()
    assert len(plan.dust) == 1 and plan.dust[0].quantity == D("0.00008")
    assert plan.dust[0].reason.startswith("MIN_NOTIONAL")


def test_only_what_vigil_bought_is_sold_and_never_more_than_is_free() -> None:
    # the account holds 1 BTC from before Vigil; Vigil bought 0.5 of which 0.2 are locked
    plan = plan_flatten([Holding("BTCUSDT", D("0.5"), D("0.3"), D("60000"), BTC)])
    assert [s.quantity for s in plan.sells] == [D("0.3")]
    assert plan.notes and "capped" in plan.notes[0]
    nothing = plan_flatten([Holding("BTCUSDT", D("0"), D("1.3"), D("60000"), BTC)])
    assert nothing.sells == () and nothing.dust == ()


def test_symbols_of_one_base_asset_share_its_free_balance() -> None:
    other = filters("BTCEUR")
    plan = plan_flatten(
        [
            Holding("BTCUSDT", D("0.6"), D("1"), D("60000"), BTC),
            Holding("BTCEUR", D("0.6"), D("1"), D("55000"), other),
        ]
    )
    assert [(s.symbol, s.quantity) for s in plan.sells] == [
        ("BTCUSDT", D("0.6")),
        ("BTCEUR", D("0.4")),
    ]


def test_a_position_above_the_market_maximum_is_split_into_orders_the_filters_allow() -> None:
    f = filters(market_max="100", max_notional="3000000", apply_max=True)  # 50 BTC at 60000
    plan = plan_flatten([Holding("BTCUSDT", D("120.5"), D("200"), D("60000"), f)])
    assert [s.quantity for s in plan.sells] == [D("50"), D("50"), D("20.5")]


def test_the_step_is_a_multiple_of_both_lot_filters() -> None:
    assert floor_to_both(D("0.05"), D("0.02"), D("0.03")) == D("0")
    assert floor_to_both(D("0.13"), D("0.02"), D("0.03")) == D("0.12")
    f = filters(step="0.001", min_qty="0.001", market_step="0.002", market_min="0.002")
    plan = plan_flatten([Holding("BTCUSDT", D("0.2515"), D("1"), D("60000"), f)])
    assert [s.quantity for s in plan.sells] == [D("0.250")]


def test_without_a_reference_price_the_notional_is_left_to_the_exchange() -> None:
    plan = plan_flatten([Holding("BTCUSDT", D("0.00008"), D("1"), None, BTC)])
    assert [s.quantity for s in plan.sells] == [D("0.00008")]
    assert any("no reference price" in n for n in plan.notes)


steps = st.sampled_from(["0", "0.00001", "0.0001", "0.001", "0.01", "0.1", "1"])
amounts = st.decimals(min_value=D(0), max_value=D(1000), places=6, allow_nan=False)


@st.composite
def holdings(draw: st.DrawFn) -> list[Holding]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        step = draw(steps)
        f = filters(
            f"S{i}USDT",
            draw(st.sampled_from(["AAA", "BBB"])),  # symbols may share a base asset
            step=step if step != "0" else "0.00001",
            min_qty=draw(st.sampled_from(["0", "0.001", "0.5"])),
            market_step=draw(steps),
            market_min=draw(st.sampled_from(["0", "0.01", "2"])),
            market_max=draw(st.sampled_from(["0", "3", "100"])),
            min_notional=draw(st.sampled_from(["0", "5", "100"])),
            max_notional=draw(st.sampled_from([None, "1000", "100000"])),
            apply_max=draw(st.booleans()),
        )
        price = draw(st.sampled_from([None, D("0.5"), D("3000"), D("60000")]))
        out.append(Holding(f.symbol, draw(amounts), draw(amounts), price, f))
    return out


@settings(max_examples=300, deadline=None)
@given(holdings())
def test_the_plan_never_sells_more_than_held_nor_below_the_filters(hs: list[Holding]) -> None:
    plan = plan_flatten(hs)
    sold_by_base: dict[str, Decimal] = defaultdict(Decimal)
    free_by_base = {}
    for h in hs:
        free_by_base.setdefault(h.filters.base_asset, h.free_base)  # the first holding's view
    for h in hs:
        sold = plan.sold(h.symbol)
        dust = sum((d.quantity for d in plan.dust if d.symbol == h.symbol), D(0))
        assert sold <= h.position  # never more than Vigil's position ...
        sold_by_base[h.filters.base_asset] += sold
        # ... and what is not sold is reported as dust (or was not free to sell)
        assert sold + dust <= h.position
        if h.position <= h.free_base and len({x.filters.base_asset for x in hs}) == len(hs):
            assert sold + dust == h.position
    for base, sold in sold_by_base.items():
        assert sold <= free_by_base[base]  # ... nor more than the exchange holds free
    for s in plan.sells:
        h = next(x for x in hs if x.symbol == s.symbol)
        f = h.filters
        assert s.quantity > 0
        assert is_multiple(s.quantity, f.step_size) and is_multiple(s.quantity, f.market_step_size)
        check_order(  # never below (or above) the filters, as the exchange judges them
            f, side="SELL", order_type="MARKET", quantity=s.quantity, price=None,
            reference_price=h.price,
        )  # fmt: skip
    for d in plan.dust:  # dust is dust: what is left cannot be sold as one order
        h = next(x for x in hs if x.symbol == d.symbol)
        f = h.filters
        q = floor_to_both(d.quantity, f.step_size, f.market_step_size)
        if q > 0 and d.reason != "below the lot step":
            try:
                check_order(
                    f, side="SELL", order_type="MARKET", quantity=q, price=None,
                    reference_price=h.price,
                )  # fmt: skip
            except FilterViolation:
                continue
            raise AssertionError(f"{d} could have been sold")
