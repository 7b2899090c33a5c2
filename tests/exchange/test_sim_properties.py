"""Property tests of the matching engine's accounting (exact Decimal conservation)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.simulator import ApiError, Engine, SimulatorConfig

SYMBOLS = ("BTCUSDT", "ETHUSDT")

place = st.fixed_dictionaries(
    {
        "op": st.just("place"),
        "symbol": st.sampled_from(SYMBOLS),
        "side": st.sampled_from(("BUY", "SELL")),
        "kind": st.sampled_from(("LIMIT", "IOC", "FOK", "MARKET", "QUOTE", "MAKER")),
        "qty_steps": st.integers(min_value=1, max_value=40_000),
        "offset_ticks": st.integers(min_value=-30, max_value=30),
    }
)
cancel = st.fixed_dictionaries({"op": st.just("cancel"), "nth": st.integers(0, 20)})
tick = st.fixed_dictionaries({"op": st.just("tick"), "steps": st.integers(1, 5)})
jump = st.fixed_dictionaries(
    {"op": st.just("jump"), "symbol": st.sampled_from(SYMBOLS), "ticks": st.integers(-400, 400)}
)
deposit = st.fixed_dictionaries(
    {
        "op": st.just("deposit"),
        "asset": st.sampled_from(("USDT", "BTC")),
        "cents": st.integers(1, 10**6),
    }
)
operations = st.lists(st.one_of(place, cancel, tick, jump, deposit), min_size=1, max_size=60)


def apply(engine: Engine, op: dict[str, object]) -> None:
    if op["op"] == "tick":
        engine.tick(int(op["steps"]))  # type: ignore[call-overload]
    elif op["op"] == "jump":
        market = engine.markets[str(op["symbol"])]
        engine.set_price(market.spec.symbol, market.mid + market.tick * int(op["ticks"]))  # type: ignore[call-overload]
    elif op["op"] == "deposit":
        engine.deposit(str(op["asset"]), Decimal(int(op["cents"])) / 100)  # type: ignore[call-overload]
    elif op["op"] == "cancel":
        open_orders = engine.open_orders(None)
        if open_orders:
            order = open_orders[int(op["nth"]) % len(open_orders)]  # type: ignore[call-overload]
            engine.cancel_order(order.symbol, order.order_id, None)
    else:
        market = engine.markets[str(op["symbol"])]
        spec = market.spec
        qty = spec.step_size * int(op["qty_steps"])  # type: ignore[call-overload]
        price = market.mid + market.tick * int(op["offset_ticks"])  # type: ignore[call-overload]
        kind = str(op["kind"])
        args: dict[str, object] = {"symbol": spec.symbol, "side": str(op["side"])}
        if kind in ("LIMIT", "IOC", "FOK"):
            tif = "GTC" if kind == "LIMIT" else kind
            args |= {"order_type": "LIMIT", "time_in_force": tif, "quantity": qty, "price": price}
        elif kind == "MAKER":
            args |= {"order_type": "LIMIT_MAKER", "quantity": qty, "price": price}
        elif kind == "MARKET":
            args |= {"order_type": "MARKET", "quantity": qty}
        else:
            args |= {
                "order_type": "MARKET",
                "quote_order_qty": (qty * market.mid).quantize(Decimal("0.01")),
            }
        try:
            engine.place_order(**args)  # type: ignore[arg-type]
        except ApiError:
            pass  # a rejection must leave the books untouched, which the invariant checks


def expected_totals(engine: Engine) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal, engine.deposits)
    for symbol, trades in engine.trades.items():
        spec = engine.markets[symbol].spec
        for t in trades:
            sign = 1 if t.is_buyer else -1
            totals[spec.base_asset] += sign * t.qty
            totals[spec.quote_asset] -= sign * t.quote_qty
            totals[t.commission_asset] -= t.commission
    return totals


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations, seed=st.integers(0, 2**16))
def test_balances_never_negative_and_conserved_exactly(
    ops: list[dict[str, object]], seed: int
) -> None:
    engine = Engine(SimulatorConfig(tick_interval=0, seed=seed, depth_levels=5))
    for op in ops:
        apply(engine, op)
        totals = expected_totals(engine)
        for asset, balance in engine.balances.items():
            assert balance.free >= 0, (asset, balance)
            assert balance.locked >= 0, (asset, balance)
            assert balance.free + balance.locked == totals[asset], asset
        # what is locked is exactly what open orders hold
        held: dict[str, Decimal] = defaultdict(Decimal)
        for order in engine.open_orders(None):
            spec = engine.markets[order.symbol].spec
            held[spec.quote_asset if order.side == "BUY" else spec.base_asset] += order.locked
        for asset, balance in engine.balances.items():
            assert balance.locked == held[asset], asset
