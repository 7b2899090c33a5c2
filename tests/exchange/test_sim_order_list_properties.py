"""Property tests of conditional orders and order lists in the matching engine: whatever the
prices do, money is conserved exactly, what is locked is what open orders and open OCO
pairs hold, an OCO never executes both of its orders, and a pending order is never on the
book after its list is done."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.simulator import ApiError, Engine, SimulatorConfig
from exchange.simulator.order_lists import Leg
from tests.exchange.test_sim_properties import apply, expected_totals

S = "BTCUSDT"

stop = st.fixed_dictionaries(
    {
        "op": st.just("stop"),
        "side": st.sampled_from(("BUY", "SELL")),
        "type": st.sampled_from(
            ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
        ),
        "away_ticks": st.integers(1, 300),
        "trailing": st.sampled_from((None, 10, 50, 200)),
        "no_stop": st.booleans(),
    }
)
order_list = st.fixed_dictionaries(
    {
        "op": st.sampled_from(("OCO", "OTO", "OTOCO")),
        "side": st.sampled_from(("BUY", "SELL")),
        "limit_ticks": st.integers(1, 300),
        "stop_ticks": st.integers(1, 300),
        "stop_type": st.sampled_from(("STOP_LOSS", "STOP_LOSS_LIMIT")),
        "qty_steps": st.integers(100, 3000),
    }
)
price_moves = st.one_of(
    st.fixed_dictionaries({"op": st.just("tick"), "steps": st.integers(1, 5)}),
    st.fixed_dictionaries(
        {
            "op": st.just("jump"),
            "symbol": st.just(S),
            # small moves, and the ones a trailing stop of 10-200 BIPS needs (1 tick: 0.01)
            "ticks": st.one_of(
                st.integers(-600, 600),
                st.sampled_from((-150_000, -20_000, -8_000, 8_000, 20_000, 150_000)),
            ),
        }
    ),
    st.fixed_dictionaries({"op": st.just("cancel"), "nth": st.integers(0, 20)}),
)
operations = st.lists(st.one_of(stop, order_list, price_moves), min_size=1, max_size=40)


def pair(side: str, op: dict[str, object], mid: Decimal, tick: Decimal, qty: Decimal,
         prefix: str = "") -> list[Leg]:  # fmt: skip
    """An OCO pair: the stop loss on its side of the market, a LIMIT_MAKER on the other."""
    sign = 1 if side == "BUY" else -1  # a BUY's stop loss waits above
    stop_price = mid + sign * tick * int(op["stop_ticks"])  # type: ignore[call-overload]
    limit = mid - sign * tick * int(op["limit_ticks"])  # type: ignore[call-overload]
    stop_type = str(op["stop_type"])
    stop_leg = Leg(
        role="above" if side == "BUY" else "below", side=side, order_type=stop_type,
        quantity=qty, stop_price=stop_price,
        price=stop_price + sign * tick * 5 if stop_type == "STOP_LOSS_LIMIT" else None,
        time_in_force="GTC" if stop_type == "STOP_LOSS_LIMIT" else None,
    )  # fmt: skip
    limit_leg = Leg(
        role="below" if side == "BUY" else "above", side=side, order_type="LIMIT_MAKER",
        quantity=qty, price=limit,
    )  # fmt: skip
    return [stop_leg, limit_leg]


def act(engine: Engine, op: dict[str, object]) -> None:
    market = engine.markets[S]
    mid, tick = market.mid, market.tick
    side = str(op.get("side", "BUY"))
    try:
        if op["op"] == "stop":
            kind = str(op["type"])
            sign = 1 if kind.startswith("STOP_LOSS") == (side == "BUY") else -1
            stop_price = mid + sign * tick * int(op["away_ticks"])  # type: ignore[call-overload]
            no_stop = bool(op["no_stop"]) and op["trailing"] is not None
            engine.place_order(
                symbol=S, side=side, order_type=kind, quantity=Decimal("0.01"),
                stop_price=None if no_stop else stop_price,
                price=stop_price if kind.endswith("_LIMIT") else None,
                time_in_force="GTC" if kind.endswith("_LIMIT") else None,
                trailing_delta=op["trailing"],  # type: ignore[arg-type]
            )  # fmt: skip
        elif op["op"] in ("OCO", "OTO", "OTOCO"):
            qty = market.spec.step_size * int(op["qty_steps"])  # type: ignore[call-overload]
            legs = pair(side, op, mid, tick, qty)
            if op["op"] != "OCO":
                other = "SELL" if side == "BUY" else "BUY"
                working = Leg(
                    role="working", side=other, order_type="LIMIT", quantity=qty,
                    price=mid - (1 if other == "BUY" else -1) * tick * int(op["limit_ticks"]),  # type: ignore[call-overload]
                    time_in_force="GTC",
                )  # fmt: skip
                if op["op"] == "OTO":
                    legs = [working, Leg(role="pending", side=side, order_type="MARKET",
                                         quantity=qty)]  # fmt: skip
                else:
                    legs = [working, *pair(side, op, mid, tick, qty)]
            engine.lists.place(
                symbol=S, kind=str(op["op"]), legs=legs, list_client_order_id=None,
                resp_type="RESULT",
            )  # fmt: skip
        else:
            apply(engine, op)
    except ApiError:
        pass  # a refusal must leave the books untouched, which the invariants check


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations, seed=st.integers(0, 2**16))
def test_lists_and_stops_conserve_money_and_keep_their_contingencies(
    ops: list[dict[str, object]], seed: int
) -> None:
    engine = Engine(SimulatorConfig(tick_interval=0, seed=seed, depth_levels=5))
    for op in ops:
        act(engine, op)
        totals = expected_totals(engine)
        held: dict[str, Decimal] = defaultdict(Decimal)
        spec = engine.markets[S].spec
        for order in engine.open_orders(None):
            held[spec.quote_asset if order.side == "BUY" else spec.base_asset] += order.locked
        for lst in engine.lists.lists:
            if lst.locked:
                held[spec.quote_asset if lst.pair[0].side == "BUY" else spec.base_asset] += (
                    lst.locked
                )
            executed = [o for o in lst.pair if o.executed_qty > 0]
            assert len(executed) <= 1, "an OCO executed both of its orders"
            if not lst.is_open:
                assert not any(o.is_pending for o in lst.orders), "pending after ALL_DONE"
                assert lst.locked == 0
            if lst.pair and any(o.executed_qty > 0 for o in lst.pair):
                assert not lst.is_open
        for asset, balance in engine.balances.items():
            assert balance.free >= 0 and balance.locked >= 0, (asset, balance)
            assert balance.free + balance.locked == totals[asset], asset
            assert balance.locked == held[asset], asset
