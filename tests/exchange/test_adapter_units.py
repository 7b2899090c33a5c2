"""Pure parts of the adapter: quantizing wrappers (hypothesis), rate-limit tracker, config,
payload parsing, backoff."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.filters import FilterViolation, SymbolFilters, check_order
from exchange.binance import (
    ConfigError,
    RateLimitTracker,
    load_adapter_config,
    parse,
    quantize_request,
)
from exchange.binance._socket import backoff_delay
from exchange.binance.quantize import WIRE_DECIMAL, wire_decimal
from exchange.binance.redact import Redactor
from exchange.contract import (
    ExecutionReport,
    ListStatus,
    MalformedPayload,
    OrderRequest,
    RateLimitEvent,
)
from exchange.simulator.config import SymbolSpec

FILTERS = SymbolFilters.from_exchange_info(
    SymbolSpec(
        symbol="BTCUSDT", base_asset="BTC", quote_asset="USDT", start_price=Decimal("60000")
    ).exchange_info_entry()
)
CONFIG = Path(__file__).resolve().parents[2] / "config"

amounts = st.decimals(
    min_value=Decimal("0.00000001"), max_value=Decimal("100000"), places=8, allow_nan=False
)


@settings(max_examples=200, deadline=None)
@given(qty=amounts, price=amounts, side=st.sampled_from(["BUY", "SELL"]))
def test_quantized_limit_order_passes_lot_and_price_or_is_refused(
    qty: Decimal, price: Decimal, side: str
) -> None:
    request = OrderRequest(
        symbol="BTCUSDT", side=side, type="LIMIT", quantity=qty, price=price, client_order_id="q"
    )
    try:
        out = quantize_request(request, FILTERS)
    except FilterViolation:
        return
    assert out.quantity is not None and out.price is not None
    assert out.quantity <= qty  # never more than asked
    assert (out.price <= price) if side == "BUY" else (out.price >= price)  # never worse
    assert abs(out.price - price) < FILTERS.tick_size
    assert out.client_order_id == "q" and out.side == request.side
    try:
        check_order(FILTERS, side=side, order_type="LIMIT", quantity=out.quantity, price=out.price)
    except FilterViolation as exc:  # only the notional bounds may still refuse it
        assert exc.filter_type == "NOTIONAL"


@settings(max_examples=200, deadline=None)
@given(qty=amounts)
def test_quantized_market_quantity_is_on_both_steps(qty: Decimal) -> None:
    request = OrderRequest(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity=qty, client_order_id="m"
    )
    try:
        out = quantize_request(request, FILTERS)
    except FilterViolation:
        return
    assert out.quantity is not None and out.quantity <= qty
    assert qty - out.quantity < FILTERS.step_size
    assert out.price is None


@given(value=st.decimals(min_value=0, max_value=Decimal("1e12"), places=12, allow_nan=False))
def test_wire_decimal_round_trips_exactly(value: Decimal) -> None:
    text = wire_decimal(value)
    assert WIRE_DECIMAL.fullmatch(text) and "E" not in text
    assert Decimal(text) == value


def test_wire_decimal_refuses_unsendable() -> None:
    for bad in (Decimal("-1"), Decimal("NaN"), Decimal("1e-25")):
        with pytest.raises(ValueError):
            wire_decimal(bad)


# --- rate limits --------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_020.0

    def __call__(self) -> float:
        return self.t


def tracker(events: list[RateLimitEvent]) -> tuple[RateLimitTracker, Clock]:
    clock = Clock()
    return (
        RateLimitTracker(
            weight_limit_1m=100,
            order_limit_10s=10,
            share=0.8,
            listener=events.append,
            wall=clock,
            monotonic=clock,
        ),
        clock,
    )


def test_throttle_waits_for_the_next_minute_near_the_share() -> None:
    events: list[RateLimitEvent] = []
    limits, clock = tracker(events)
    limits.observe({"X-MBX-USED-WEIGHT-1M": "75"})
    assert limits.throttle_delay(5, False) == 0
    assert limits.throttle_delay(6, False) == pytest.approx(60 - clock.t % 60)
    clock.t += 60  # next window: usage resets
    assert limits.used_weight_1m == 0 and limits.throttle_delay(6, False) == 0


def test_order_count_throttles_orders_only() -> None:
    limits, _ = tracker([])
    limits.observe({"X-MBX-ORDER-COUNT-10S": "8"})
    assert limits.throttle_delay(1, True) > 0
    assert limits.throttle_delay(1, False) == 0


def test_429_and_418_close_the_gate_and_are_reported() -> None:
    events: list[RateLimitEvent] = []
    limits, clock = tracker(events)
    limits.refused(http_status=429, code=-1003, retry_after_s=3)
    assert limits.blocked_for() == (3, False)
    limits.refused(http_status=418, code=-1003, retry_after_s=10)
    assert limits.blocked_for() == (10, True)
    clock.t += 10
    assert limits.blocked_for() == (0, False)
    assert [e.kind for e in events] == ["http_429", "http_418"]
    limits.refused(http_status=429, code=-1015, retry_after_s=1)
    assert events[-1].kind == "order_rate"


def test_a_raising_listener_is_contained() -> None:
    def broken(event: RateLimitEvent) -> None:
        raise RuntimeError("listener bug")

    limits = RateLimitTracker(weight_limit_1m=10, order_limit_10s=1, share=1, listener=broken)
    limits.refused(http_status=429, code=None, retry_after_s=1)  # does not raise


@given(attempt=st.integers(0, 100), seed=st.integers(0, 1000))
def test_backoff_is_bounded_and_jittered(attempt: int, seed: int) -> None:
    delay = backoff_delay(attempt, 0.1, 5.0, 0.25, random.Random(seed))
    assert 0 <= delay <= 5.0 * 1.25
    assert delay >= min(5.0, 0.1 * 2**attempt) * 0.75


# --- config -------------------------------------------------------------------------------------

ENV = {"BINANCE_API_KEY": "k", "BINANCE_API_SECRET": "s"}


def test_testnet_profile_loads_with_keys_from_the_environment() -> None:
    config = load_adapter_config(CONFIG / "testnet.toml", environ=ENV)
    assert config.rest_url == "https://testnet.binance.vision"
    assert config.ws_api_url == "wss://ws-api.testnet.binance.vision/ws-api/v3"
    assert config.api_secret.get_secret_value() == "s" and "s'" not in repr(config)
    with pytest.raises(ConfigError):
        load_adapter_config(CONFIG / "testnet.toml", environ={})


def test_live_profile_needs_the_live_flag() -> None:
    with pytest.raises(ConfigError, match="--live"):
        load_adapter_config(CONFIG / "live.toml", environ=ENV)
    assert load_adapter_config(CONFIG / "live.toml", environ=ENV, allow_live=True).live


def test_live_hosts_need_live_in_the_profile(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(
        '[exchange]\nrest_url = "https://api.binance.com"\n'
        'ws_api_url = "wss://ws-api.binance.com:443/ws-api/v3"\n'
        'stream_url = "wss://stream.binance.com:9443"\n'
    )
    with pytest.raises(ConfigError, match="live"):
        load_adapter_config(profile, environ=ENV, allow_live=True)


def test_keys_in_a_profile_are_refused(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('[exchange]\napi_secret = "x"\n')
    with pytest.raises(ConfigError, match="environment"):
        load_adapter_config(profile, environ=ENV)


# --- parsing and redaction ----------------------------------------------------------------------


def test_execution_report_maps_c_and_big_c() -> None:
    event = {
        "e": "executionReport", "E": 1, "s": "BTCUSDT", "c": "cancel-1", "S": "BUY",
        "o": "LIMIT", "f": "GTC", "q": "1.0", "p": "10.0", "P": "0", "F": "0", "g": -1,
        "C": "order-1", "x": "CANCELED", "X": "CANCELED", "r": "NONE", "i": 4, "l": "0",
        "z": "0", "L": "0", "n": "0", "N": None, "T": 2, "t": -1, "I": 9, "w": False,
        "m": False, "M": False, "O": 1, "Z": "0", "Y": "0", "Q": "0",
    }  # fmt: skip
    report = parse.user_event(event)
    assert report.kind == "executionReport"
    assert report.client_order_id == "cancel-1" and report.orig_client_order_id == "order-1"  # type: ignore[union-attr]
    assert report.order_client_id == "order-1" and report.trade_id is None  # type: ignore[union-attr]
    with pytest.raises(MalformedPayload, match=r"executionReport\.q"):
        parse.user_event({**event, "q": 1.0})
    with pytest.raises(MalformedPayload, match="executionReport: state"):
        parse.user_event({**event, "X": "WEIRD"})
    with pytest.raises(MalformedPayload, match=r"executionReport\.i"):
        parse.user_event({k: v for k, v in event.items() if k != "i"})


def test_unknown_event_types_are_delivered_not_dropped() -> None:
    event = parse.user_event({"e": "externalLockUpdate", "E": 5})
    assert event.kind == "unhandled" and event.event_type == "externalLockUpdate"  # type: ignore[union-attr]


def test_list_status_is_parsed_strictly() -> None:
    event = {
        "e": "listStatus", "E": 5, "s": "BTCUSDT", "g": 2, "c": "OCO", "l": "ALL_DONE",
        "L": "ALL_DONE", "r": "NONE", "C": "list-1", "T": 4,
        "O": [{"s": "BTCUSDT", "i": 17, "c": "a"}, {"s": "BTCUSDT", "i": 18, "c": "b"}],
    }  # fmt: skip
    status = parse.user_event(event)
    assert isinstance(status, ListStatus) and status.done
    assert [o.order_id for o in status.orders] == [17, 18]
    with pytest.raises(MalformedPayload, match=r"listStatus\.g"):
        parse.user_event({**event, "g": "2"})
    with pytest.raises(MalformedPayload, match=r"listStatus\.O\[1\]\.i"):
        parse.user_event({**event, "O": [event["O"][0], {"s": "BTCUSDT", "c": "b"}]})  # type: ignore[index]


def test_redactor_scrubs_signatures_keys_and_secrets() -> None:
    # (secrets of at least 8 characters: shorter ones are refused at start)
    redact = Redactor(["sekret-value", "kee-value"])
    text = redact(
        "url?a=1&signature=abcdef&x=2 X-MBX-APIKEY: kee-value {'signature': 'ff'} sekret-value"
    )
    assert "abcdef" not in text and "kee-value" not in text and "sekret-value" not in text
    assert "ff'" not in text


def test_a_decimal_string_seen_before_is_the_same_amount_and_a_bad_one_stays_bad() -> None:
    """The parser keeps the decimal strings it converted: a repeat gives the same value;
    a float or a malformed string is refused however often it comes."""
    first = parse.balances({"balances": [{"asset": "BTC", "free": "0.50000000", "locked": "0"}]})
    again = parse.balances({"balances": [{"asset": "BTC", "free": "0.50000000", "locked": "0"}]})
    assert first["BTC"].free == again["BTC"].free == Decimal("0.5")
    for _ in range(2):
        with pytest.raises(MalformedPayload, match="free"):
            parse.balances({"balances": [{"asset": "BTC", "free": 0.5, "locked": "0"}]})
        with pytest.raises(MalformedPayload, match="free"):
            parse.balances({"balances": [{"asset": "BTC", "free": "1_000", "locked": "0"}]})


_REPORT = {
    "e": "executionReport", "E": 1, "s": "BTCUSDT", "c": "vgl-1", "S": "SELL",
    "o": "LIMIT", "f": "GTC", "q": "0.01", "p": "59000", "P": "0", "F": "0", "g": -1,
    "C": "", "x": "TRADE", "X": "PARTIALLY_FILLED", "r": "NONE", "i": 4, "l": "0.005",
    "z": "0.005", "L": "59000", "n": "0.1", "N": "USDT", "T": 2, "t": 7, "I": 9, "w": False,
    "m": True, "M": False, "O": 1, "Z": "295", "Y": "295", "Q": "0",
}  # fmt: skip
_ODD = [None, "", "x", "1e3", "NaN", "-0.5", 1, -1, 0, 2.5, True, False, [], {}, "BUY",
        "MARKET", "IOC", "FILLED", "order-1"]  # fmt: skip


@given(
    st.dictionaries(
        st.sampled_from(sorted(set(_REPORT) - {"e"})),
        st.sampled_from(["drop", *range(len(_ODD))]),
        max_size=4,
    )
)
def test_an_execution_report_is_filled_in_exactly_as_its_model_would_validate_it(
    changes: dict[str, object],
) -> None:
    """The hot path fills the model in without validating it again: whatever it accepts,
    the model's validation accepts too, to equal values of the same types; whatever else
    is refused as malformed."""
    event = dict(_REPORT)
    for key, change in changes.items():
        if change == "drop":
            del event[key]
        else:
            event[key] = _ODD[change]  # type: ignore[index]
    try:
        report = parse.user_event(event)
    except MalformedPayload:
        return
    assert isinstance(report, ExecutionReport)
    validated = ExecutionReport.model_validate(dict(report.__dict__))
    assert validated == report
    for name in ExecutionReport.model_fields:
        assert type(getattr(report, name)) is type(getattr(validated, name)), name


def test_every_field_of_an_execution_report_is_filled_in() -> None:
    report = parse.user_event(_REPORT)
    assert isinstance(report, ExecutionReport)
    assert set(report.__dict__) == set(ExecutionReport.model_fields)
    assert report.side.value == "SELL" and report.state.value == "PARTIALLY_FILLED"
    assert report.commission == Decimal("0.1") and report.trade_id == 7
    with pytest.raises(MalformedPayload, match="executionReport: side"):
        parse.user_event({**_REPORT, "S": "SIDEWAYS"})
