"""Order lists: OCO, OTO and OTOCO, from placement to ``ALL_DONE``.

An OCO is a pair where the first of them to execute (a fill, or a stop's trigger) expires
the other (``eR`` ``OCO_TRIGGER``); the pair's quantity is shared, so its funds are
locked once and handed to the order that executes. An OTO's working order (LIMIT or
LIMIT_MAKER) is on the book alone; its pending order (an OTOCO's pending OCO pair) waits
as ``PENDING_NEW`` and goes on the book when the working order is fully filled, is
expired with it (``OTO_PHASE_ONE_EXPIRED``), or is ``REJECTED`` if the exchange refuses
it then (funds). Cancelling any order of an open list cancels the whole list. Every
change of a list is a ``listStatus`` event after its orders' ``executionReport``s; a
list is ``ALL_DONE`` once its contingency has played out (an OCO's pair resolved, an
OTO's pending order placed or expired), its orders from then on ordinary orders.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from exchange.simulator import rendering
from exchange.simulator.errors import ApiError, insufficient_balance
from exchange.simulator.filters import ALGO_TYPES, check_order_lists
from exchange.simulator.model import ORDER_TYPES, STOP_TYPES, ZERO, SimOrder, SimOrderList
from exchange.simulator.validation import check_new_order

if TYPE_CHECKING:
    from exchange.simulator.engine import Engine
    from exchange.simulator.market import Market

#: the order types an OCO's orders may have; one of them a stop loss
OCO_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
WORKING_TYPES = ("LIMIT", "LIMIT_MAKER")
BAD_PRICES = "The relationship of the prices for the orders is not correct."


@dataclass(frozen=True)
class Leg:
    """One order of a new order list, as the request gave it. ``role`` is ``above`` or
    ``below`` (an OCO's, or an OTOCO's pending pair), ``working`` or ``pending``;
    ``label`` names a parameter as the request names it for this order."""

    role: str
    side: str
    order_type: str
    quantity: Decimal | None
    time_in_force: str | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    trailing_delta: int | None = None
    client_order_id: str | None = None
    label: Callable[[str], str] = str


def check_pair(side: str, above: Leg, below: Leg) -> None:
    """An OCO pair's types: one stop loss, on the side of the market a stop loss waits."""
    for leg in (above, below):
        if leg.order_type not in ORDER_TYPES:
            raise ApiError(-1116, "Invalid orderType.")
        if leg.order_type not in OCO_TYPES:
            raise ApiError(-1158, "Order type not supported in OCO.")
    if above.order_type == below.order_type == "LIMIT_MAKER":
        raise ApiError(-1168, "At least one OCO order must be contingent.")
    stop_above = side == "BUY"  # a stop loss waits above the market on a BUY
    for leg, is_above in ((above, True), (below, False)):
        kind = leg.order_type
        if kind.startswith("STOP_LOSS") and is_above != stop_above:
            if side == "BUY":
                raise ApiError(-1196, "A stop loss order in a buy OCO must be above.")
            raise ApiError(-1197, "A stop loss order in a sell OCO must be below.")
        if not kind.startswith("STOP_LOSS") and is_above == stop_above:
            if kind == "LIMIT_MAKER":
                if side == "BUY":
                    raise ApiError(-1165, "A limit order in a buy OCO must be below.")
                raise ApiError(-1166, "A limit order in a sell OCO must be above.")
            if side == "BUY":
                raise ApiError(-1198, "A take profit order in a buy OCO must be below.")
            raise ApiError(-1199, "A take profit order in a sell OCO must be above.")


def check_pair_prices(above: Leg, below: Leg, last: Decimal) -> None:
    """Above order's prices > last price > below order's (a stop loss by its stopPrice)."""
    for leg, is_above in ((above, True), (below, False)):
        prices = [leg.stop_price]
        if leg.order_type in ("LIMIT_MAKER", "TAKE_PROFIT_LIMIT"):
            prices.append(leg.price)
        for price in prices:
            if price is not None and (price <= last if is_above else price >= last):
                raise ApiError(-2010, BAD_PRICES)


class OrderListBook:
    """The account's order lists, kept by the engine (under its lock)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lists: list[SimOrderList] = []
        self._by_id: dict[int, SimOrderList] = {}
        self._by_client_id: dict[str, SimOrderList] = {}
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ queries

    def get(self, order_list_id: int | None, list_client_order_id: str | None) -> SimOrderList:
        if order_list_id is not None:
            found = self._by_id.get(order_list_id)
            if found is None:
                raise ApiError(-2013, "Order list does not exist.")
            if (
                list_client_order_id is not None
                and found.list_client_order_id != list_client_order_id
            ):
                raise ApiError(-2013, "Order list does not exist.")
            return found
        found = self._by_client_id.get(list_client_order_id or "")
        if found is None:
            raise ApiError(-2013, "Order list does not exist.")
        return found

    def open_lists(self, symbol: str | None = None) -> list[SimOrderList]:
        return [o for o in self.lists if o.is_open and symbol in (None, o.symbol)]

    def open_list_of(self, order: SimOrder) -> SimOrderList | None:
        found = self._by_id.get(order.order_list_id)
        return found if found is not None and found.is_open else None

    # ------------------------------------------------------------------ placement

    def place(
        self,
        *,
        symbol: str,
        kind: str,
        legs: list[Leg],
        list_client_order_id: str | None,
        resp_type: str,
    ) -> dict[str, Any]:
        """Check, book and start a new order list; its placement answer (``orderReports``
        in the ``resp_type`` shape, as they stood when the working order had matched)."""
        engine = self.engine
        with engine.lock:
            market = engine.market(symbol)
            by_role = {leg.role: leg for leg in legs}
            pair = [by_role[r] for r in ("above", "below") if r in by_role]
            if pair:
                check_pair(pair[0].side, pair[0], pair[1])
            working = by_role.get("working")
            if working is not None and working.order_type not in WORKING_TYPES:
                raise ApiError(-1014, "Unsupported order combination.")
            self._check_legs(market, legs)
            check_order_lists(market.rules, len(self.open_lists(symbol)))
            if kind == "OCO":
                check_pair_prices(pair[0], pair[1], market.mid)
            list_id = list_client_order_id or engine.new_client_id()
            previous = self._by_client_id.get(list_id)
            if previous is not None and previous.is_open:
                raise ApiError(-2010, "Duplicate order sent.")
            orders = self._new_orders(market, legs, kind)
            order_list = SimOrderList(
                order_list_id=next(self._ids),
                kind=kind,
                symbol=symbol,
                list_client_order_id=list_id,
                orders=orders,
                transaction_time=engine.server_time(),
            )
            roles = dict(zip([leg.role for leg in self._ordered(legs)], orders, strict=True))
            order_list.pair = [roles[r] for r in ("above", "below") if r in roles]
            order_list.working = roles.get("working")
            if kind == "OCO":
                self._lock_pair(market, order_list)
            else:
                assert order_list.working is not None
                engine.fund(market, order_list.working)
            self.lists.append(order_list)
            self._by_id[order_list.order_list_id] = order_list
            self._by_client_id[list_id] = order_list
            for order in orders:
                order.order_list_id = order_list.order_list_id
                engine.register(order)
            for order in orders:
                if order.is_pending:
                    engine._execution_report(order, "NEW")
                else:
                    engine.start(market, order, report=True, match=False)
            self._status(order_list)
            trades = []
            if order_list.working is not None:
                trades = engine.match(market, order_list.working)
            body = rendering.order_list_json(order_list) | {
                "orderReports": [
                    rendering.order_response(o, [t for t in trades if t.order_id == o.order_id],
                                             resp_type)
                    for o in orders
                ]
            }  # fmt: skip
            if order_list.working is not None:
                self.update(order_list.working)
            engine.account_position(market)
            return body

    @staticmethod
    def _ordered(legs: list[Leg]) -> list[Leg]:
        """Binance's order of a list's orders: working first, then the stop loss of a pair."""
        working = [leg for leg in legs if leg.role == "working"]
        single = [leg for leg in legs if leg.role == "pending"]
        pair = [leg for leg in legs if leg.role in ("above", "below")]
        pair.sort(key=lambda leg: not leg.order_type.startswith("STOP_LOSS"))
        return working + single + pair

    def _check_legs(self, market: Market, legs: list[Leg]) -> None:
        open_orders, open_algo = self.engine.open_counts(market.spec.symbol)
        algo = sum(1 for leg in legs if leg.order_type in ALGO_TYPES)
        for leg in legs:
            check_new_order(
                market,
                side=leg.side,
                order_type=leg.order_type,
                time_in_force=leg.time_in_force,
                quantity=leg.quantity,
                quote_order_qty=None,
                price=leg.price,
                stop_price=leg.stop_price,
                trailing_delta=leg.trailing_delta,
                open_orders=open_orders + len(legs) - 1,
                open_algo_orders=open_algo + algo - 1,
                label=leg.label,
            )

    def _new_orders(self, market: Market, legs: list[Leg], kind: str) -> list[SimOrder]:
        orders: list[SimOrder] = []
        taken: set[str] = set()
        for leg in self._ordered(legs):
            pending = kind != "OCO" and leg.role != "working"
            order = self.engine.new_order(
                market,
                side=leg.side,
                order_type=leg.order_type,
                time_in_force=leg.time_in_force,
                quantity=leg.quantity,
                quote_order_qty=None,
                price=leg.price,
                stop_price=leg.stop_price,
                trailing_delta=leg.trailing_delta,
                client_order_id=leg.client_order_id,
                taken=frozenset(taken),
                pending=pending,
            )
            if pending:
                order.status = "PENDING_NEW"
            taken.add(order.client_order_id)
            orders.append(order)
        return orders

    def _lock_pair(self, market: Market, order_list: SimOrderList) -> None:
        """Lock the pair's funds once: its quantity (SELL), or the dearer order (BUY)."""
        spec = market.spec
        first = order_list.pair[0]
        if first.side == "SELL":
            asset, amount = spec.base_asset, first.orig_qty
        else:
            asset = spec.quote_asset
            amount = max(
                (o.price * o.orig_qty for o in order_list.pair if o.holds_funds), default=ZERO
            )
        balance = self.engine.balances[asset]
        if balance.free < amount:
            raise insufficient_balance()
        balance.free -= amount
        balance.locked += amount
        order_list.locked = amount

    def _release(self, order_list: SimOrderList) -> None:
        if order_list.locked:
            spec = self.engine.markets[order_list.symbol].spec
            side = order_list.pair[0].side
            balance = self.engine.balances[spec.quote_asset if side == "BUY" else spec.base_asset]
            balance.locked -= order_list.locked
            balance.free += order_list.locked
            order_list.locked = ZERO

    # ------------------------------------------------------------------ life

    def claim(self, order: SimOrder) -> None:
        """An order of an open pair is about to execute: the pair's funds become its own."""
        order_list = self.open_list_of(order)
        if order_list is None or order not in order_list.pair or not order_list.locked:
            return
        if order.holds_funds:
            order.locked += order_list.locked
            order_list.locked = ZERO
        else:
            self._release(order_list)

    def update(self, order: SimOrder) -> None:
        """Something happened to ``order`` (it traded, triggered or expired): play the
        list's contingency out."""
        order_list = self.open_list_of(order)
        if order_list is None:
            return
        if order in order_list.pair:
            executed = order.executed_qty > 0 or not order.is_open
            triggered = order.type in STOP_TYPES and order.is_working
            if not (executed or triggered):
                return
            for other in order_list.pair:
                if other is not order and other.is_open:
                    self.engine.expire(other, "OCO_TRIGGER")
            self._release(order_list)
            self._done(order_list)
        elif order is order_list.working:
            if order.status == "FILLED":
                self._activate(order_list)
            elif not order.is_open:
                for other in order_list.orders:
                    if other.is_pending:
                        self.engine.expire(other, "OTO_PHASE_ONE_EXPIRED")
                self._done(order_list)

    def _activate(self, order_list: SimOrderList) -> None:
        """The working order is filled: its pending order(s) go on the book."""
        engine = self.engine
        market = engine.markets[order_list.symbol]
        pending = [o for o in order_list.orders if o.is_pending]
        for order in pending:
            order.status = "NEW"
        try:
            if order_list.pair:
                self._lock_pair(market, order_list)
            else:
                engine.fund(market, pending[0])
        except ApiError:
            for order in pending:
                engine.expire(order, "REJECTED")
            self._done(order_list)
            return
        for order in pending:
            engine.start(market, order, report=True, match=False)
        if order_list.pair:
            self._status(order_list)  # the OCO pair is now live: EXEC_STARTED again
            return
        self._done(order_list)
        engine.match(market, pending[0])

    def cancel(self, order_list: SimOrderList, new_client_order_id: str | None) -> str:
        """Cancel every open order of the list (one cancel id for all); ALL_DONE."""
        cancel_id = new_client_order_id or self.engine.new_cancel_id()
        for order in order_list.orders:
            if order.is_open:
                self.engine.cancel_one(order, cancel_id)
        self._release(order_list)
        self._done(order_list)
        return cancel_id

    def _done(self, order_list: SimOrderList) -> None:
        order_list.list_status_type = order_list.list_order_status = "ALL_DONE"
        self._status(order_list)

    def _status(self, order_list: SimOrderList) -> None:
        order_list.transaction_time = self.engine.server_time()
        self.engine.publish(rendering.list_status(order_list, event_time=self.engine.server_time()))
