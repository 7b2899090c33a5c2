"""Symbol filters: exchangeInfo parsing, serialization, quantizing and order checks."""

from __future__ import annotations

import copy
import decimal
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.filters import (
    FilterParseError,
    FilterViolation,
    SymbolFilters,
    check_order,
    notional,
    quantize_price,
    quantize_quantity,
)
from domain.money import MoneyError, is_multiple, multiply

D = Decimal

# One element of exchangeInfo's "symbols" array, shaped exactly as Binance returns it.
BTCUSDT_ENTRY: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "status": "TRADING",
    "baseAsset": "BTC",
    "baseAssetPrecision": 8,
    "quoteAsset": "USDT",
    "quotePrecision": 8,
    "quoteAssetPrecision": 8,
    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
    "icebergAllowed": True,
    "ocoAllowed": True,
    "isSpotTradingAllowed": True,
    "filters": [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": "0.01000000",
            "maxPrice": "1000000.00000000",
            "tickSize": "0.01000000",
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": "0.00001000",
            "maxQty": "9000.00000000",
            "stepSize": "0.00001000",
        },
        {"filterType": "ICEBERG_PARTS", "limit": 10},
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": "0.00000000",
            "maxQty": "83.17418837",
            "stepSize": "0.00000000",
        },
        {
            "filterType": "TRAILING_DELTA",
            "minTrailingAboveDelta": 10,
            "maxTrailingAboveDelta": 2000,
            "minTrailingBelowDelta": 10,
            "maxTrailingBelowDelta": 2000,
        },
        {
            "filterType": "PERCENT_PRICE_BY_SIDE",
            "bidMultiplierUp": "5",
            "bidMultiplierDown": "0.2",
            "askMultiplierUp": "5",
            "askMultiplierDown": "0.2",
            "avgPriceMins": 5,
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": "5.00000000",
            "applyMinToMarket": True,
            "maxNotional": "9000000.00000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        },
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
    ],
    "permissions": [],
    "permissionSets": [["SPOT", "MARGIN"]],
}

# An older-style symbol: MIN_NOTIONAL and PERCENT_PRICE, no MARKET_LOT_SIZE, no MAX_NUM_ORDERS.
BNBBTC_ENTRY: dict[str, Any] = {
    "symbol": "BNBBTC",
    "status": "TRADING",
    "baseAsset": "BNB",
    "quoteAsset": "BTC",
    "filters": [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": "0.00000100",
            "maxPrice": "100000.00000000",
            "tickSize": "0.00000100",
        },
        {
            "filterType": "PERCENT_PRICE",
            "multiplierUp": "1.3000",
            "multiplierDown": "0.7000",
            "avgPriceMins": 5,
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": "0.00100000",
            "maxQty": "100000.00000000",
            "stepSize": "0.00100000",
        },
        {
            "filterType": "MIN_NOTIONAL",
            "minNotional": "0.00010000",
            "applyToMarket": True,
            "avgPriceMins": 5,
        },
    ],
}

BTC = SymbolFilters(
    symbol="BTCUSDT",
    base_asset="BTC",
    quote_asset="USDT",
    min_price=D("0.01"),
    max_price=D("1000000"),
    tick_size=D("0.01"),
    min_qty=D("0.00001"),
    max_qty=D("9000"),
    step_size=D("0.00001"),
    market_min_qty=D("0"),
    market_max_qty=D("83.17418837"),
    market_step_size=D("0"),
    min_notional=D("5"),
    max_notional=D("9000000"),
    apply_min_to_market=True,
    apply_max_to_market=False,
    notional_filter_type="NOTIONAL",
    bid_multiplier_up=D("5"),
    bid_multiplier_down=D("0.2"),
    ask_multiplier_up=D("5"),
    ask_multiplier_down=D("0.2"),
    percent_price_filter_type="PERCENT_PRICE_BY_SIDE",
    max_num_orders=200,
)

BNB = SymbolFilters(
    symbol="BNBBTC",
    base_asset="BNB",
    quote_asset="BTC",
    min_price=D("0.000001"),
    max_price=D("100000"),
    tick_size=D("0.000001"),
    min_qty=D("0.001"),
    max_qty=D("100000"),
    step_size=D("0.001"),
    market_min_qty=D("0.001"),
    market_max_qty=D("100000"),
    market_step_size=D("0.001"),
    min_notional=D("0.0001"),
    apply_min_to_market=True,
    notional_filter_type="MIN_NOTIONAL",
    bid_multiplier_up=D("1.3"),
    bid_multiplier_down=D("0.7"),
    ask_multiplier_up=D("1.3"),
    ask_multiplier_down=D("0.7"),
    percent_price_filter_type="PERCENT_PRICE",
)


def entry_for(f: SymbolFilters) -> dict[str, Any]:
    return {
        "symbol": f.symbol,
        "baseAsset": f.base_asset,
        "quoteAsset": f.quote_asset,
        "filters": f.to_exchange_info_filters(),
    }


def order(f: SymbolFilters = BTC, **overrides: Any) -> None:
    """check_order with a valid BTCUSDT limit BUY as the baseline."""
    kwargs: dict[str, Any] = {
        "side": "BUY",
        "order_type": "LIMIT",
        "quantity": D("0.001"),
        "price": D("50000.00"),
        "reference_price": D("50000"),
    }
    kwargs.update(overrides)
    check_order(f, **kwargs)


def failure(f: SymbolFilters = BTC, **overrides: Any) -> str | None:
    """The filter that rejects the order, or None if it passes."""
    try:
        order(f, **overrides)
    except FilterViolation as exc:
        return exc.filter_type
    return None


@contextmanager
def no_floats() -> Iterator[None]:
    """Any float mixed into Decimal construction or comparison raises FloatOperation."""
    with decimal.localcontext() as ctx:
        ctx.traps[decimal.FloatOperation] = True
        yield


# --- parsing -------------------------------------------------------------------------------------


def test_parses_a_btcusdt_entry_with_notional_filter() -> None:
    assert SymbolFilters.from_exchange_info(BTCUSDT_ENTRY) == BTC


def test_parses_an_entry_with_min_notional_and_percent_price() -> None:
    assert SymbolFilters.from_exchange_info(BNBBTC_ENTRY) == BNB


def test_missing_market_lot_size_defaults_to_lot_size() -> None:
    f = SymbolFilters.from_exchange_info(BNBBTC_ENTRY)
    assert (f.market_min_qty, f.market_max_qty, f.market_step_size) == (
        f.min_qty,
        f.max_qty,
        f.step_size,
    )


def test_parsed_decimals_keep_binance_digits_exactly() -> None:
    f = SymbolFilters.from_exchange_info(BTCUSDT_ENTRY)
    assert f.tick_size.as_tuple() == D("0.01000000").as_tuple()
    assert f.market_max_qty.as_tuple() == D("83.17418837").as_tuple()


def test_unknown_filter_types_are_ignored() -> None:
    entry = copy.deepcopy(BTCUSDT_ENTRY)
    entry["filters"].append({"filterType": "SOME_FUTURE_FILTER", "whatever": "1.0"})
    assert SymbolFilters.from_exchange_info(entry) == BTC


def test_notional_wins_over_min_notional_when_both_are_present() -> None:
    entry = copy.deepcopy(BTCUSDT_ENTRY)
    entry["filters"].append(
        {"filterType": "MIN_NOTIONAL", "minNotional": "1.00000000", "applyToMarket": False}
    )
    assert SymbolFilters.from_exchange_info(entry) == BTC


def _filter(entry: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(f for f in entry["filters"] if f["filterType"] == kind)


def _drop_filter(kind: str) -> Callable[[dict[str, Any]], None]:
    def mutate(entry: dict[str, Any]) -> None:
        entry["filters"] = [f for f in entry["filters"] if f["filterType"] != kind]

    return mutate


def _set(kind: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(entry: dict[str, Any]) -> None:
        _filter(entry, kind)[key] = value

    return mutate


def _delete(kind: str, key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(entry: dict[str, Any]) -> None:
        del _filter(entry, kind)[key]

    return mutate


def _top(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(entry: dict[str, Any]) -> None:
        entry[key] = value

    return mutate


def _duplicate_lot_size(entry: dict[str, Any]) -> None:
    entry["filters"].append(dict(_filter(entry, "LOT_SIZE")))


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_drop_filter("PRICE_FILTER"), "PRICE_FILTER"),
        (_drop_filter("LOT_SIZE"), "LOT_SIZE"),
        (_set("LOT_SIZE", "stepSize", "abc"), "LOT_SIZE.stepSize"),
        (_set("PRICE_FILTER", "tickSize", 0.01), "PRICE_FILTER.tickSize"),
        (_set("PRICE_FILTER", "minPrice", "0.01 "), "PRICE_FILTER.minPrice"),
        (_delete("LOT_SIZE", "minQty"), "LOT_SIZE.minQty"),
        (_set("LOT_SIZE", "maxQty", "-1"), "LOT_SIZE.maxQty"),
        (_set("MARKET_LOT_SIZE", "stepSize", None), "MARKET_LOT_SIZE.stepSize"),
        (_set("NOTIONAL", "minNotional", "NaN"), "NOTIONAL.minNotional"),
        (_delete("NOTIONAL", "maxNotional"), "NOTIONAL.maxNotional"),
        (_set("NOTIONAL", "applyMinToMarket", "true"), "NOTIONAL.applyMinToMarket"),
        (
            _delete("PERCENT_PRICE_BY_SIDE", "bidMultiplierUp"),
            "PERCENT_PRICE_BY_SIDE.bidMultiplierUp",
        ),
        (
            _set("PERCENT_PRICE_BY_SIDE", "askMultiplierDown", "Infinity"),
            "PERCENT_PRICE_BY_SIDE.askMultiplierDown",
        ),
        (_set("MAX_NUM_ORDERS", "maxNumOrders", "200"), "MAX_NUM_ORDERS.maxNumOrders"),
        (_set("MAX_NUM_ORDERS", "maxNumOrders", True), "MAX_NUM_ORDERS.maxNumOrders"),
        (_top("filters", {"filterType": "LOT_SIZE"}), "filters"),
        (_top("filters", [{"minQty": "1"}]), "filters"),
        (_duplicate_lot_size, "filters"),
        (_top("baseAsset", None), "baseAsset"),
        (_top("quoteAsset", ""), "quoteAsset"),
    ],
)
def test_malformed_entry_raises_naming_symbol_and_field(
    mutate: Callable[[dict[str, Any]], None], field: str
) -> None:
    entry = copy.deepcopy(BTCUSDT_ENTRY)
    mutate(entry)
    with pytest.raises(FilterParseError) as info:
        SymbolFilters.from_exchange_info(entry)
    assert (info.value.symbol, info.value.field) == ("BTCUSDT", field)
    assert str(info.value).startswith(f"BTCUSDT: invalid {field}: ")


def test_min_notional_with_malformed_apply_to_market_names_the_field() -> None:
    entry = copy.deepcopy(BNBBTC_ENTRY)
    _filter(entry, "MIN_NOTIONAL")["applyToMarket"] = 1
    with pytest.raises(FilterParseError, match=r"^BNBBTC: invalid MIN_NOTIONAL\.applyToMarket"):
        SymbolFilters.from_exchange_info(entry)


def test_entry_without_symbol_raises_naming_the_symbol_field() -> None:
    entry = copy.deepcopy(BTCUSDT_ENTRY)
    del entry["symbol"]
    with pytest.raises(FilterParseError) as info:
        SymbolFilters.from_exchange_info(entry)
    assert info.value.field == "symbol"


def test_filter_parse_error_is_a_value_error() -> None:
    assert issubclass(FilterParseError, ValueError)


# --- construction invariants ---------------------------------------------------------------------


def test_notional_kind_defaults_to_notional_when_max_is_set() -> None:
    f = replace(BTC, notional_filter_type=None)
    assert f.notional_filter_type == "NOTIONAL"


def test_notional_kind_defaults_to_min_notional_without_max() -> None:
    f = replace(BNB, notional_filter_type=None)
    assert f.notional_filter_type == "MIN_NOTIONAL"


def test_percent_price_kind_defaults_to_by_side() -> None:
    f = replace(BNB, percent_price_filter_type=None)
    assert f.percent_price_filter_type == "PERCENT_PRICE_BY_SIDE"


@pytest.mark.parametrize(
    "changes",
    [
        {"tick_size": 0.01},
        {"min_qty": D("-1")},
        {"max_price": D("NaN")},
        {"max_num_orders": True},
        {"notional_filter_type": "MIN_NOTIONAL"},  # BTC has a max notional
        {"notional_filter_type": "BOGUS"},
        {"min_notional": None},
        {"ask_multiplier_up": None},
        {"percent_price_filter_type": "PERCENT_PRICE", "ask_multiplier_up": D("4")},
    ],
)
def test_inconsistent_symbol_filters_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"^BTCUSDT: "):
        replace(BTC, **changes)


# --- serialization -------------------------------------------------------------------------------


def test_writes_binance_shapes_for_notional_symbol() -> None:
    assert BTC.to_exchange_info_filters() == [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": "0.01000000",
            "maxPrice": "1000000.00000000",
            "tickSize": "0.01000000",
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": "0.00001000",
            "maxQty": "9000.00000000",
            "stepSize": "0.00001000",
        },
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": "0.00000000",
            "maxQty": "83.17418837",
            "stepSize": "0.00000000",
        },
        {
            "filterType": "PERCENT_PRICE_BY_SIDE",
            "bidMultiplierUp": "5.00000000",
            "bidMultiplierDown": "0.20000000",
            "askMultiplierUp": "5.00000000",
            "askMultiplierDown": "0.20000000",
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": "5.00000000",
            "applyMinToMarket": True,
            "maxNotional": "9000000.00000000",
            "applyMaxToMarket": False,
        },
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
    ]


def test_writes_binance_shapes_for_min_notional_symbol() -> None:
    by_type = {f["filterType"]: f for f in BNB.to_exchange_info_filters()}
    assert by_type["MIN_NOTIONAL"] == {
        "filterType": "MIN_NOTIONAL",
        "minNotional": "0.00010000",
        "applyToMarket": True,
    }
    assert by_type["PERCENT_PRICE"] == {
        "filterType": "PERCENT_PRICE",
        "multiplierUp": "1.30000000",
        "multiplierDown": "0.70000000",
    }
    assert "NOTIONAL" not in by_type and "MAX_NUM_ORDERS" not in by_type


def test_writes_nothing_for_absent_optional_filters() -> None:
    bare = replace(
        BNB,
        min_notional=None,
        apply_min_to_market=False,
        notional_filter_type=None,
        bid_multiplier_up=None,
        bid_multiplier_down=None,
        ask_multiplier_up=None,
        ask_multiplier_down=None,
        percent_price_filter_type=None,
    )
    kinds = [f["filterType"] for f in bare.to_exchange_info_filters()]
    assert kinds == ["PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE"]


def test_writing_a_value_with_more_than_8_decimals_raises() -> None:
    with pytest.raises(MoneyError):
        replace(BTC, tick_size=D("0.000000001")).to_exchange_info_filters()


@pytest.mark.parametrize("f", [BTC, BNB], ids=["NOTIONAL", "MIN_NOTIONAL"])
def test_round_trips_through_exchange_info(f: SymbolFilters) -> None:
    assert SymbolFilters.from_exchange_info(entry_for(f)) == f


eight_places = st.decimals(
    min_value=0, max_value=D("1e9"), places=8, allow_nan=False, allow_infinity=False
)


@st.composite
def any_symbol_filters(draw: st.DrawFn) -> SymbolFilters:
    def d() -> D:
        return draw(eight_places)

    notional_kind = draw(st.sampled_from([None, "NOTIONAL", "MIN_NOTIONAL"]))
    percent_kind = draw(st.sampled_from([None, "PERCENT_PRICE_BY_SIDE", "PERCENT_PRICE"]))
    bid = (d(), d()) if percent_kind else (None, None)
    ask = (d(), d()) if percent_kind == "PERCENT_PRICE_BY_SIDE" else bid
    return SymbolFilters(
        symbol="XUSDT",
        base_asset="X",
        quote_asset="USDT",
        min_price=d(),
        max_price=d(),
        tick_size=d(),
        min_qty=d(),
        max_qty=d(),
        step_size=d(),
        market_min_qty=d(),
        market_max_qty=d(),
        market_step_size=d(),
        min_notional=d() if notional_kind else None,
        max_notional=d() if notional_kind == "NOTIONAL" else None,
        apply_min_to_market=draw(st.booleans()) if notional_kind else False,
        apply_max_to_market=draw(st.booleans()) if notional_kind == "NOTIONAL" else False,
        notional_filter_type=notional_kind,
        bid_multiplier_up=bid[0],
        bid_multiplier_down=bid[1],
        ask_multiplier_up=ask[0],
        ask_multiplier_down=ask[1],
        percent_price_filter_type=percent_kind,
        max_num_orders=draw(st.none() | st.integers(min_value=0, max_value=10_000)),
    )


@given(f=any_symbol_filters())
def test_any_symbol_filters_round_trip_through_exchange_info(f: SymbolFilters) -> None:
    assert SymbolFilters.from_exchange_info(entry_for(f)) == f


# --- FilterViolation -----------------------------------------------------------------------------


def test_filter_violation_message_is_binance_minus_1013_text() -> None:
    exc = FilterViolation("LOT_SIZE", "quantity 0 must be positive")
    assert str(exc) == "Filter failure: LOT_SIZE"
    assert (exc.filter_type, exc.detail) == ("LOT_SIZE", "quantity 0 must be positive")
    assert isinstance(exc, ValueError)


def test_filter_violation_survives_pickling() -> None:
    exc = pickle.loads(pickle.dumps(FilterViolation("NOTIONAL", "too small")))
    assert (exc.filter_type, exc.detail, str(exc)) == (
        "NOTIONAL",
        "too small",
        "Filter failure: NOTIONAL",
    )


# --- check_order ---------------------------------------------------------------------------------


def test_baseline_limit_order_passes() -> None:
    assert failure() is None


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"price": D("0.01"), "quantity": D("500"), "reference_price": None}, None),
        ({"price": D("1000000.00"), "reference_price": None}, None),
        ({"price": D("1000000.01"), "reference_price": None}, "PRICE_FILTER"),
        ({"price": D("50000.005")}, "PRICE_FILTER"),
        ({"price": D("0")}, "PRICE_FILTER"),
        ({"price": D("-50000.00")}, "PRICE_FILTER"),
        (
            {"order_type": "STOP_LOSS_LIMIT", "stop_price": D("49000.00")},
            None,
        ),
        (
            {"order_type": "STOP_LOSS_LIMIT", "stop_price": D("49000.001")},
            "PRICE_FILTER",
        ),
        (
            {"order_type": "TAKE_PROFIT_LIMIT", "stop_price": D("1000000.01")},
            "PRICE_FILTER",
        ),
    ],
)
def test_price_filter_limits(overrides: dict[str, Any], expected: str | None) -> None:
    assert failure(**overrides) == expected


def test_price_filter_rejects_price_below_min_price() -> None:
    f = replace(BTC, min_price=D("1.00"))
    assert failure(f, price=D("1.00"), quantity=D("5"), reference_price=None) is None
    assert failure(f, price=D("0.99"), quantity=D("6"), reference_price=None) == "PRICE_FILTER"


def test_price_filter_rules_are_disabled_by_zero() -> None:
    f = replace(BTC, min_price=D("0"), max_price=D("0"), tick_size=D("0"))
    assert failure(f, price=D("2000000.123456789"), reference_price=None) is None
    assert failure(f, price=D("0.001"), quantity=D("5000"), reference_price=None) is None


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (D("250000.00"), None),
        (D("250000.01"), "PERCENT_PRICE_BY_SIDE"),
        (D("10000.00"), None),
        (D("9999.99"), "PERCENT_PRICE_BY_SIDE"),
    ],
)
def test_percent_price_by_side_limits(price: D, expected: str | None) -> None:
    assert failure(price=price, quantity=D("0.001")) == expected


@pytest.mark.parametrize(
    ("side", "price", "expected"),
    [
        ("BUY", D("60000.00"), None),
        ("BUY", D("60000.01"), "PERCENT_PRICE_BY_SIDE"),
        ("SELL", D("60000.01"), None),
        ("SELL", D("40000.00"), None),
        ("SELL", D("39999.99"), "PERCENT_PRICE_BY_SIDE"),
        ("BUY", D("39999.99"), None),
    ],
)
def test_percent_price_uses_bid_multipliers_for_buy_and_ask_for_sell(
    side: str, price: D, expected: str | None
) -> None:
    f = replace(
        BTC,
        bid_multiplier_up=D("1.2"),
        bid_multiplier_down=D("0.2"),
        ask_multiplier_up=D("5"),
        ask_multiplier_down=D("0.8"),
    )
    assert failure(f, side=side, price=price) == expected


def test_percent_price_is_skipped_without_reference_price() -> None:
    assert failure(price=D("999999.99"), reference_price=None) is None


def test_percent_price_filter_reports_its_source_name() -> None:
    assert (
        failure(BNB, price=D("0.013001"), quantity=D("1"), reference_price=D("0.01"))
        == "PERCENT_PRICE"
    )


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (D("0.00001"), None),  # == minQty
        (D("0"), "LOT_SIZE"),  # == minQty - stepSize
        (D("0.000015"), "LOT_SIZE"),  # off step
        (D("-0.001"), "LOT_SIZE"),
        (D("9000"), None),  # == maxQty
        (D("9000.00001"), "LOT_SIZE"),  # maxQty + stepSize
    ],
)
def test_lot_size_limits(quantity: D, expected: str | None) -> None:
    # minNotional 0, and at 1000.00 USDT maxQty is exactly maxNotional: only LOT_SIZE decides.
    f = replace(BTC, min_notional=D("0"))
    assert failure(f, quantity=quantity, price=D("1000.00"), reference_price=None) == expected


def test_lot_size_rejects_one_step_below_a_min_qty_above_the_step() -> None:
    f = replace(BTC, min_qty=D("0.001"))
    assert failure(f, quantity=D("0.001")) is None
    assert failure(f, quantity=D("0.00099")) == "LOT_SIZE"


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (D("83.17418"), None),
        (D("83.17419"), "MARKET_LOT_SIZE"),
        (D("0.000015"), "LOT_SIZE"),  # LOT_SIZE applies to MARKET orders too
        (None, None),  # quoteOrderQty order: no quantity checks
    ],
)
def test_market_orders_check_lot_size_and_market_lot_size(
    quantity: D | None, expected: str | None
) -> None:
    got = failure(order_type="MARKET", quantity=quantity, price=None, reference_price=None)
    assert got == expected


def test_market_lot_size_rejects_below_its_min_qty() -> None:
    f = replace(BTC, market_min_qty=D("0.01"), market_step_size=D("0.01"))
    assert failure(f, order_type="MARKET", quantity=D("0.01"), price=None) is None
    assert failure(f, order_type="MARKET", quantity=D("0.00999"), price=None) == "MARKET_LOT_SIZE"


def test_market_lot_size_is_not_applied_to_limit_orders() -> None:
    assert failure(quantity=D("100"), price=D("50000.00")) is None


@pytest.mark.parametrize(
    ("quantity", "price", "expected"),
    [
        (D("0.0001"), D("50000.00"), None),  # == minNotional
        (D("0.00009"), D("50000.00"), "NOTIONAL"),
        (D("0.0001"), D("49999.99"), "NOTIONAL"),  # one tick below minNotional
        (D("9000"), D("1000.00"), None),  # == maxNotional
        (D("9000"), D("1000.01"), "NOTIONAL"),  # one tick above maxNotional
    ],
)
def test_notional_limits(quantity: D, price: D, expected: str | None) -> None:
    assert failure(quantity=quantity, price=price, reference_price=None) == expected


def test_min_notional_filter_reports_its_source_name() -> None:
    assert failure(BNB, quantity=D("0.001"), price=D("0.099999"), reference_price=None) == (
        "MIN_NOTIONAL"
    )
    assert failure(BNB, quantity=D("0.001"), price=D("0.1"), reference_price=None) is None


def test_stop_order_without_price_uses_stop_price_for_notional() -> None:
    common: dict[str, Any] = {"order_type": "STOP_LOSS", "price": None, "reference_price": None}
    assert failure(quantity=D("0.0001"), stop_price=D("50000.00"), **common) is None
    assert failure(quantity=D("0.00009"), stop_price=D("50000.00"), **common) == "NOTIONAL"


@pytest.mark.parametrize(
    ("quantity", "reference", "apply_min", "apply_max", "expected"),
    [
        (D("0.00009"), D("50000"), True, False, "NOTIONAL"),
        (D("0.00009"), D("50000"), False, False, None),
        (D("0.00009"), None, True, False, None),  # no reference: cannot evaluate
        (D("80"), D("200000"), True, False, None),  # 16M above max, not applied
        (D("80"), D("200000"), True, True, "NOTIONAL"),
    ],
)
def test_market_notional_uses_reference_price_and_apply_to_market_flags(
    quantity: D, reference: D | None, apply_min: bool, apply_max: bool, expected: str | None
) -> None:
    f = replace(BTC, apply_min_to_market=apply_min, apply_max_to_market=apply_max)
    got = failure(f, order_type="MARKET", quantity=quantity, price=None, reference_price=reference)
    assert got == expected


@pytest.mark.parametrize(("open_orders", "expected"), [(199, None), (200, "MAX_NUM_ORDERS")])
def test_max_num_orders_counts_the_new_order(open_orders: int, expected: str | None) -> None:
    assert failure(open_orders=open_orders) == expected


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"price": D("50000.001"), "quantity": D("0.000015")}, "PRICE_FILTER"),
        ({"price": D("300000.00"), "quantity": D("0.000015")}, "PERCENT_PRICE_BY_SIDE"),
        ({"quantity": D("0.000015"), "open_orders": 500}, "LOT_SIZE"),
        ({"quantity": D("0.00001"), "open_orders": 500}, "NOTIONAL"),
    ],
)
def test_first_failing_filter_is_reported(overrides: dict[str, Any], expected: str) -> None:
    assert failure(**overrides) == expected


@pytest.mark.parametrize(
    "overrides",
    [
        {"side": "HOLD"},
        {"order_type": "OCO"},
        {"quantity": None},
        {"price": None},
        {"order_type": "LIMIT_MAKER", "price": None},
    ],
)
def test_malformed_requests_raise_value_error_not_filter_violation(
    overrides: dict[str, Any],
) -> None:
    with pytest.raises(ValueError) as info:
        order(**overrides)
    assert not isinstance(info.value, FilterViolation)


def test_notional_is_exact() -> None:
    assert notional(D("0.1"), D("3")) == D("0.3")
    big = D("123456789012345678901234567890.00000001")
    assert notional(big, D("10")) == D("1234567890123456789012345678900.0000001")


# --- quantizing: examples ------------------------------------------------------------------------


def test_quantize_quantity_floors_to_step_with_step_exponent() -> None:
    f = SymbolFilters.from_exchange_info(BTCUSDT_ENTRY)
    assert quantize_quantity(D("0.123456789"), f).as_tuple() == D("0.12345000").as_tuple()


@pytest.mark.parametrize(
    ("qty", "expected"),
    [
        (D("0.00001999"), D("0.00001")),
        (D("9000.000009"), D("9000")),  # floors onto maxQty
        (D("0.00001"), D("0.00001")),
    ],
)
def test_quantize_quantity_examples(qty: D, expected: D) -> None:
    assert quantize_quantity(qty, BTC) == expected


@pytest.mark.parametrize("qty", [D("0.000009"), D("0"), D("9000.00001"), D("10000")])
def test_quantize_quantity_refuses_to_resize_out_of_bounds(qty: D) -> None:
    with pytest.raises(FilterViolation) as info:
        quantize_quantity(qty, BTC)
    assert info.value.filter_type == "LOT_SIZE"


def test_quantize_quantity_for_market_checks_market_lot_size() -> None:
    with pytest.raises(FilterViolation) as info:
        quantize_quantity(D("100"), BTC, market=True)
    assert info.value.filter_type == "MARKET_LOT_SIZE"
    assert quantize_quantity(D("100"), BTC) == D("100")


def test_quantize_quantity_for_market_with_disabled_market_step_uses_lot_step() -> None:
    assert quantize_quantity(D("0.123456789"), BTC, market=True) == D("0.12345")


def test_quantize_quantity_for_market_uses_a_step_valid_for_both_filters() -> None:
    f = replace(BNB, market_min_qty=D("0"), market_step_size=D("0.0025"))
    result = quantize_quantity(D("0.0149"), f, market=True)
    assert result == D("0.010")
    check_order(f, side="SELL", order_type="MARKET", quantity=result, price=None)


def test_quantize_quantity_rejects_negative_input() -> None:
    with pytest.raises(MoneyError):
        quantize_quantity(D("-1"), BTC)


@pytest.mark.parametrize(
    ("price", "side", "expected"),
    [
        (D("50000.019"), "BUY", D("50000.01")),
        (D("50000.011"), "SELL", D("50000.02")),
        (D("50000.01"), "BUY", D("50000.01")),
        (D("50000.01"), "SELL", D("50000.01")),
        (D("1000000.009"), "BUY", D("1000000.00")),
        (D("0.001"), "SELL", D("0.01")),
    ],
)
def test_quantize_price_rounds_toward_the_callers_advantage(
    price: D, side: str, expected: D
) -> None:
    assert quantize_price(price, BTC, side) == expected


@pytest.mark.parametrize(("price", "side"), [(D("1000000.001"), "SELL"), (D("0.009"), "BUY")])
def test_quantize_price_raises_when_result_is_outside_price_bounds(price: D, side: str) -> None:
    with pytest.raises(FilterViolation) as info:
        quantize_price(price, BTC, side)
    assert info.value.filter_type == "PRICE_FILTER"


def test_quantize_price_rejects_unknown_side() -> None:
    with pytest.raises(ValueError, match="side"):
        quantize_price(D("1"), BTC, "buy")


# --- quantizing: properties ----------------------------------------------------------------------
#
# Bounds are drawn on their step so that "out of bounds" is exactly "input < min or input > max".

steps = st.one_of(
    st.integers(min_value=-1, max_value=8).map(lambda k: D(1).scaleb(-k)),
    st.sampled_from([D("0.005"), D("0.25"), D("0.05"), D("2.5"), D("0.0025"), D("0.00100000")]),
)


def lcm_step(a: D, b: D) -> D:
    """Reference least common multiple of two steps, by brute force (0 imposes nothing)."""
    if not a or not b:
        return a or b
    small, large = sorted((a, b))
    multiple = large
    while not is_multiple(multiple, small):
        multiple += large
    return multiple


def amounts(low: D, high: D) -> st.SearchStrategy[D]:
    """Amounts in [low, high] with more decimals than any step."""
    return st.decimals(min_value=low, max_value=high, places=12)


@st.composite
def filters_and_amount(
    draw: st.DrawFn, *, of: str, in_bounds: bool = False
) -> tuple[SymbolFilters, D]:
    """Filters with only PRICE_FILTER and LOT_SIZE/MARKET_LOT_SIZE, plus a quantity or price.

    The amount lies within the filter's bounds if ``in_bounds``, else anywhere in [0, 2 * max].
    """
    step, market_step, tick = draw(steps), draw(steps | st.just(D(0))), draw(steps)
    lot_unit = lcm_step(step, market_step)  # bounds valid for both lot filters
    min_qty, max_qty = (multiply(lot_unit, D(draw(st.integers(lo, hi)))) for lo, hi in LOT_SPAN)
    min_price, max_price = (multiply(tick, D(draw(st.integers(lo, hi)))) for lo, hi in LOT_SPAN)
    f = SymbolFilters(
        symbol="XUSDT",
        base_asset="X",
        quote_asset="USDT",
        min_price=min_price,
        max_price=max_price,
        tick_size=tick,
        min_qty=min_qty,
        max_qty=max_qty,
        step_size=step,
        market_min_qty=min_qty,
        market_max_qty=max_qty,
        market_step_size=market_step,
    )
    low, high = (min_qty, max_qty) if of == "quantity" else (min_price, max_price)
    inside = amounts(low, high)
    return f, draw(inside if in_bounds else inside | amounts(D(0), multiply(high, D(2))))


LOT_SPAN = ((1, 1_000), (1_000, 10**7))


@given(case=filters_and_amount(of="quantity"))
def test_quantized_quantity_passes_lot_size_or_input_is_out_of_bounds(
    case: tuple[SymbolFilters, D],
) -> None:
    f, qty = case
    try:
        with no_floats():
            result = quantize_quantity(qty, f)
    except FilterViolation as exc:
        assert exc.filter_type == "LOT_SIZE"
        assert qty < f.min_qty or qty > f.max_qty
        return
    with no_floats():
        check_order(f, side="BUY", order_type="LIMIT", quantity=result, price=f.min_price)


@given(case=filters_and_amount(of="quantity", in_bounds=True))
def test_quantized_quantity_never_exceeds_input_and_is_within_a_step(
    case: tuple[SymbolFilters, D],
) -> None:
    f, qty = case
    with no_floats():
        result = quantize_quantity(qty, f)
    assert type(result) is Decimal
    assert result <= qty
    assert qty - result < f.step_size


@given(case=filters_and_amount(of="quantity", in_bounds=True))
def test_quantized_quantity_is_an_exact_step_multiple(case: tuple[SymbolFilters, D]) -> None:
    f, qty = case
    result = quantize_quantity(qty, f)
    assert is_multiple(result, f.step_size)
    assert result.as_tuple().exponent == f.step_size.as_tuple().exponent


@given(case=filters_and_amount(of="quantity"))
def test_quantized_market_quantity_passes_both_lot_filters_or_input_is_out_of_bounds(
    case: tuple[SymbolFilters, D],
) -> None:
    f, qty = case
    try:
        with no_floats():
            result = quantize_quantity(qty, f, market=True)
    except FilterViolation as exc:
        assert exc.filter_type in ("LOT_SIZE", "MARKET_LOT_SIZE")
        assert qty < f.min_qty or qty > f.max_qty
        return
    with no_floats():
        check_order(f, side="SELL", order_type="MARKET", quantity=result, price=None)


@given(case=filters_and_amount(of="quantity", in_bounds=True))
def test_quantized_market_quantity_never_exceeds_input_and_is_within_the_common_step(
    case: tuple[SymbolFilters, D],
) -> None:
    f, qty = case
    with no_floats():
        result = quantize_quantity(qty, f, market=True)
    assert type(result) is Decimal
    assert result <= qty
    assert qty - result < lcm_step(f.step_size, f.market_step_size)


@pytest.mark.parametrize("side", ["BUY", "SELL"])
@given(case=filters_and_amount(of="price"))
def test_quantized_price_passes_price_filter_or_input_is_out_of_bounds(
    side: str, case: tuple[SymbolFilters, D]
) -> None:
    f, price = case
    try:
        with no_floats():
            result = quantize_price(price, f, side)
    except FilterViolation as exc:
        assert exc.filter_type == "PRICE_FILTER"
        assert price < f.min_price or price > f.max_price
        return
    with no_floats():
        check_order(f, side=side, order_type="LIMIT", quantity=f.min_qty, price=result)


@given(case=filters_and_amount(of="price", in_bounds=True))
def test_quantized_buy_price_is_never_above_input_and_within_a_tick(
    case: tuple[SymbolFilters, D],
) -> None:
    f, price = case
    with no_floats():
        result = quantize_price(price, f, "BUY")
    assert type(result) is Decimal
    assert result <= price
    assert price - result < f.tick_size
    assert is_multiple(result, f.tick_size)


@given(case=filters_and_amount(of="price", in_bounds=True))
def test_quantized_sell_price_is_never_below_input_and_within_a_tick(
    case: tuple[SymbolFilters, D],
) -> None:
    f, price = case
    with no_floats():
        result = quantize_price(price, f, "SELL")
    assert type(result) is Decimal
    assert result >= price
    assert result - price < f.tick_size
    assert is_multiple(result, f.tick_size)
