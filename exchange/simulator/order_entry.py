"""Order entry: a new order checked, funded, booked and started.

The engine's first step of an order's life (:class:`OrderEntry`, a part of
:class:`~exchange.simulator.engine.Engine`): the parameter and filter checks of
:mod:`exchange.simulator.validation`, the matching engine's own refusals (duplicate
client order id, a LIMIT_MAKER that would take, a stop that would trigger at once),
funds locked (or, for a MARKET order, checked), an order id, and the start: on the book
and matched as a taker, or, conditional, waiting for its trigger.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from exchange.simulator import conditional
from exchange.simulator.config import SymbolSpec
from exchange.simulator.errors import ApiError, insufficient_balance
from exchange.simulator.filters import ALGO_TYPES
from exchange.simulator.market import Market
from exchange.simulator.model import STOP_TYPES, ZERO, Balance, SimOrder, SimTrade
from exchange.simulator.validation import check_new_order


class OrderEntry:
    """Placing orders; mixed into the engine, whose state, lock and events it uses."""

    _lock: threading.RLock
    markets: dict[str, Market]
    orders: dict[str, list[SimOrder]]
    _open: dict[str, dict[int, SimOrder]]
    _by_client_id: dict[tuple[str, str], SimOrder]

    if TYPE_CHECKING:  # the engine's, declared for the type checker

        def server_time(self) -> int: ...
        def market(self, symbol: str) -> Market: ...
        def new_client_id(self) -> str: ...
        def _balance(self, asset: str) -> Balance: ...
        def _account_position(self, assets: Iterable[str]) -> None: ...
        def _execution_report(self, order: SimOrder, execution_type: str) -> None: ...
        def match(self, market: Market, order: SimOrder) -> list[SimTrade]: ...

    def open_counts(self, symbol: str) -> tuple[int, int]:
        """The account's open orders on ``symbol``, and how many of them are conditional."""
        open_orders = self._open[symbol].values()
        return len(open_orders), sum(1 for o in open_orders if o.type in ALGO_TYPES)

    def place_order(
        self,
        *,
        symbol: str,
        side: str,
        order_type: str,
        time_in_force: str | None = None,
        quantity: Decimal | None = None,
        quote_order_qty: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        trailing_delta: int | None = None,
        client_order_id: str | None = None,
        owner: str = "account",
        test_only: bool = False,
    ) -> tuple[SimOrder | None, list[SimTrade]]:
        """Validate, accept and match a new order. Raises ApiError on any rejection."""
        with self._lock:
            market = self.market(symbol)
            open_orders, open_algo = self.open_counts(symbol)
            check_new_order(
                market,
                side=side,
                order_type=order_type,
                time_in_force=time_in_force,
                quantity=quantity,
                quote_order_qty=quote_order_qty,
                price=price,
                stop_price=stop_price,
                trailing_delta=trailing_delta,
                open_orders=open_orders,
                open_algo_orders=open_algo,
            )
            if test_only:
                return None, []
            order = self.new_order(
                market,
                side=side,
                order_type=order_type,
                time_in_force=time_in_force,
                quantity=quantity,
                quote_order_qty=quote_order_qty,
                price=price,
                stop_price=stop_price,
                trailing_delta=trailing_delta,
                client_order_id=client_order_id,
                owner=owner,
            )
            self.fund(market, order)
            self.register(order)
            trades = self.start(market, order, report=True)
            spec = market.spec
            self._account_position({spec.base_asset, spec.quote_asset})
            return order, trades

    def new_order(
        self,
        market: Market,
        *,
        side: str,
        order_type: str,
        time_in_force: str | None,
        quantity: Decimal | None,
        quote_order_qty: Decimal | None,
        price: Decimal | None,
        stop_price: Decimal | None,
        trailing_delta: int | None,
        client_order_id: str | None,
        owner: str = "account",
        taken: frozenset[str] = frozenset(),
        pending: bool = False,
    ) -> SimOrder:
        """A checked order, not yet booked: the matching engine's own refusals (-2010).

        ``taken``: client order ids this request already uses (an order list's);
        ``pending``: an OTO's pending order, judged against the market only when placed."""
        symbol = market.spec.symbol
        if client_order_id is None:
            client_order_id = self.new_client_id()
        # Binance: a clientOrderId may be reused only once its previous order is FILLED
        previous = self._by_client_id.get((symbol, client_order_id))
        if (previous is not None and previous.status != "FILLED") or client_order_id in taken:
            raise ApiError(-2010, "Duplicate order sent.")
        if pending:
            pass
        elif order_type == "LIMIT_MAKER" and market.crosses(side, price or ZERO):
            raise ApiError(-2010, "Order would immediately match and take.")
        elif (
            order_type in STOP_TYPES
            and stop_price is not None
            and conditional.stop_reached(order_type, side, stop_price, market.mid)
        ):
            raise ApiError(-2010, "Order would trigger immediately.")
        ts = self.server_time()
        return SimOrder(
            symbol=symbol,
            order_id=0,
            client_order_id=client_order_id,
            side=side,
            type=order_type,
            time_in_force=time_in_force or "GTC",
            price=price or ZERO,
            orig_qty=quantity or ZERO,
            stop_price=stop_price or ZERO,
            orig_quote_qty=quote_order_qty or ZERO,
            time=ts,
            update_time=ts,
            owner=owner,
            trailing_delta=trailing_delta,
        )

    def fund(self, market: Market, order: SimOrder) -> None:
        """Lock what the order needs, or check a market order's funds; -2010 if short."""
        spec = market.spec
        if order.holds_funds:
            self._lock_funds(order, spec)
        elif order.type == "MARKET" and order.orig_quote_qty > 0:
            self._size_quote_order(market, order)
        elif order.side == "SELL" and self._balance(spec.base_asset).free < order.orig_qty:
            raise insufficient_balance()
        elif order.side == "BUY" and order.type == "MARKET":
            cost = market.walk_cost("BUY", order.orig_qty)
            if cost > self._balance(spec.quote_asset).free:
                raise insufficient_balance()

    def register(self, order: SimOrder) -> None:
        """Give the order its id and put it in the books (open)."""
        market = self.markets[order.symbol]
        order.order_id = market.next_order_id
        market.next_order_id += 1
        self.orders[order.symbol].append(order)
        self._by_client_id[(order.symbol, order.client_order_id)] = order
        self._open[order.symbol][order.order_id] = order

    def start(
        self, market: Market, order: SimOrder, *, report: bool, match: bool = True
    ) -> list[SimTrade]:
        """The order goes live: on the book (and, with ``match``, matched as a taker), or,
        conditional, waiting for its trigger (a trailing stop without a stop price tracks
        from now)."""
        now = self.server_time()
        if order.type in STOP_TYPES:
            if order.is_trailing and order.stop_price == ZERO:
                conditional.start_tracking(order, market.mid, now)
        else:
            order.working_time = now
        if report:
            self._execution_report(order, "NEW")
        return self.match(market, order) if match else []

    def _lock_funds(self, order: SimOrder, spec: SymbolSpec) -> None:
        if order.side == "BUY":
            asset, amount = spec.quote_asset, order.price * order.orig_qty
        else:
            asset, amount = spec.base_asset, order.orig_qty
        balance = self._balance(asset)
        if balance.free < amount:
            raise insufficient_balance()
        balance.free -= amount
        balance.locked += amount
        order.locked = amount

    def _size_quote_order(self, market: Market, order: SimOrder) -> None:
        """quoteOrderQty: the largest LOT_SIZE quantity whose notional fits the budget."""
        spec = market.spec
        qty = market.quantity_for_quote(order.side, order.orig_quote_qty)
        if qty < spec.min_qty:
            raise ApiError(
                -2010, "Order book liquidity is less than `LOT_SIZE` filter minimum quantity."
            )
        if order.side == "BUY" and order.orig_quote_qty > self._balance(spec.quote_asset).free:
            raise insufficient_balance()
        if order.side == "SELL" and qty > self._balance(spec.base_asset).free:
            raise insufficient_balance()
        order.orig_qty = qty
