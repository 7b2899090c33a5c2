"""The simulated exchange's matching engine: accounts, orders, matching and balances.

Pure state and arithmetic: no I/O, and no clock of its own — every timestamp comes from
the ``clock`` it is given (a callable returning milliseconds; the server passes the wall
clock, tests may pass a manual one). Every mutation happens under one lock, so the
server's event loop and a test thread can both drive it. Events (the user data stream)
are handed to the ``publish`` callback in the order they happen.

Money is ``Decimal`` throughout: balances, locks, prices, quantities and commissions are
exact, so that per asset ``free + locked == deposits + trade deltas - commissions``.

Conditional orders wait off the book until :mod:`exchange.simulator.conditional` says the
price process triggered them; order lists (:mod:`exchange.simulator.order_lists`) hear of
every execution of one of their orders.
"""

from __future__ import annotations

import itertools
import random
import threading
import zlib
from collections.abc import Callable, Iterable
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from exchange.simulator import conditional, rendering
from exchange.simulator.config import SimulatorConfig
from exchange.simulator.errors import ApiError
from exchange.simulator.filters import SymbolRules
from exchange.simulator.market import Market
from exchange.simulator.model import ZERO, Balance, SimOrder, SimTrade
from exchange.simulator.order_entry import OrderEntry
from exchange.simulator.order_lists import OrderListBook

EIGHT = Decimal("0.00000001")

Publisher = Callable[[dict[str, Any]], None]
#: milliseconds since the epoch, as the exchange's clock reads them
Clock = Callable[[], int]


class ManualClock:
    """A clock that moves only when told to: the default, so an engine alone is deterministic."""

    def __init__(self, start_ms: int = 0) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms


class Engine(OrderEntry):
    """The exchange's true state. All methods are thread-safe."""

    def __init__(
        self,
        config: SimulatorConfig,
        publish: Publisher | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._publish: Publisher = publish or (lambda _event: None)
        self._clock: Clock = clock or ManualClock()
        self.balances: dict[str, Balance] = {
            asset: Balance(free=amount) for asset, amount in config.balances.items()
        }
        self.deposits: dict[str, Decimal] = dict(config.balances)
        self.markets: dict[str, Market] = {}
        for spec in config.symbols:
            seed = config.seed ^ zlib.crc32(spec.symbol.encode())
            market = Market(
                spec=spec,
                rules=SymbolRules.from_filters(spec.exchange_info_entry()["filters"]),
                rng=random.Random(seed),
                depth_levels=config.depth_levels,
            )
            market.set_mid(spec.start_price)
            market.record(self._clock())
            self.markets[spec.symbol] = market
            for asset in (spec.base_asset, spec.quote_asset):
                self.balances.setdefault(asset, Balance())
        # orders[symbol][order_id - 1] is that order (ids are sequential per symbol)
        self.orders: dict[str, list[SimOrder]] = {s: [] for s in self.markets}
        self._open: dict[str, dict[int, SimOrder]] = {s: {} for s in self.markets}
        self._by_client_id: dict[tuple[str, str], SimOrder] = {}
        self._rng = random.Random(config.seed)
        self.trades: dict[str, list[SimTrade]] = {s: [] for s in self.markets}
        self._execution_ids = itertools.count(1)
        self._cancel_ids = itertools.count(1)
        self.update_time = self._clock()
        self.clock_offset_ms = 0
        self.lists = OrderListBook(self)

    # ------------------------------------------------------------------ plumbing

    @property
    def lock(self) -> threading.RLock:
        """Hold it to read several pieces of state consistently."""
        return self._lock

    def set_publisher(self, publish: Publisher) -> None:
        self._publish = publish

    def server_time(self) -> int:
        """The exchange's clock: the injected clock plus any clock_skew offset."""
        return self._clock() + self.clock_offset_ms

    def market(self, symbol: str) -> Market:
        market = self.markets.get(symbol)
        if market is None:
            raise ApiError(-1121, "Invalid symbol.")
        return market

    def _balance(self, asset: str) -> Balance:
        return self.balances.setdefault(asset, Balance())

    def publish(self, event: dict[str, Any]) -> None:
        self._publish(event)

    def new_client_id(self) -> str:
        return f"sim{self._rng.getrandbits(64):016x}"

    def _account_position(self, assets: Iterable[str]) -> None:
        assets = set(assets)
        for asset in assets:
            self._balance(asset)
        self.update_time = self._clock()
        self._publish(
            rendering.account_position(
                self.balances, assets, event_time=self.server_time(), update_time=self.update_time
            )
        )

    def _execution_report(
        self,
        order: SimOrder,
        execution_type: str,
        *,
        trade: SimTrade | None = None,
        client_order_id: str | None = None,
        reject_reason: str = "NONE",
    ) -> None:
        self._publish(
            rendering.execution_report(
                order,
                execution_type,
                event_time=self.server_time(),
                execution_id=next(self._execution_ids),
                trade=trade,
                client_order_id=client_order_id,
                reject_reason=reject_reason,
            )
        )

    # ------------------------------------------------------------------ orders

    def find_order(
        self, symbol: str, order_id: int | None, orig_client_order_id: str | None
    ) -> SimOrder:
        with self._lock:
            orders = self.orders[self.market(symbol).spec.symbol]
            if order_id is not None:
                if not 1 <= order_id <= len(orders):
                    raise ApiError(-2013, "Order does not exist.")
                order = orders[order_id - 1]
                if (
                    orig_client_order_id is not None
                    and order.client_order_id != orig_client_order_id
                ):
                    raise ApiError(-2039, "Client order ID is not correct for this order ID.")
                return order
            found = self._by_client_id.get((symbol, orig_client_order_id or ""))
            if found is None:
                raise ApiError(-2013, "Order does not exist.")
            return found

    def match(self, market: Market, order: SimOrder) -> list[SimTrade]:
        """A working order that just went on the book takes what it crosses."""
        return self._match_taker(market, order) if order.is_working else []

    def account_position(self, market: Market) -> None:
        self._account_position({market.spec.base_asset, market.spec.quote_asset})

    def reject(self, order: SimOrder, reason: str) -> None:
        """An order the matching engine refused, reported (cancelReplace's new order)."""
        self._execution_report(order, "REJECTED", reject_reason=reason)

    def new_cancel_id(self) -> str:
        return f"cancel{next(self._cancel_ids):012d}"

    def _match_taker(self, market: Market, order: SimOrder) -> list[SimTrade]:
        """Match a newly working order against the book, then apply its time in force."""
        trades: list[SimTrade] = []
        limit = None if order.takes_market else order.price
        levels = market.levels(order.side)
        if order.time_in_force == "FOK" and not order.takes_market:
            fillable = sum(
                (q for p, q in levels if limit is None or self._price_ok(order.side, p, limit)),
                ZERO,
            )
            if fillable < order.orig_qty:
                self._expire(order, "UNFILLED_FOK_ORDER_EXPIRED")
                return trades
        for price, available in levels:
            if order.remaining <= 0:
                break
            if limit is not None and not self._price_ok(order.side, price, limit):
                break
            take = min(order.remaining, available)
            fill_price = market.slipped(order.side, price)
            if order.side == "BUY" and not order.holds_funds:
                free = self._balance(market.spec.quote_asset).free
                if take * fill_price > free:
                    take = (free / fill_price).quantize(market.spec.step_size, rounding=ROUND_DOWN)
                    if take <= 0:
                        break
            market.consume(order.side, price, take)
            trades.append(self._fill(market, order, fill_price, take, is_maker=False))
        if order.is_open and order.remaining > 0:
            if order.takes_market:
                self._expire(order, "INSUFFICIENT_LIQUIDITY")
            elif order.time_in_force == "IOC":
                self._expire(order, "UNFILLED_IOC_QUANTITY_EXPIRED")
        return trades

    @staticmethod
    def _price_ok(side: str, level: Decimal, limit: Decimal) -> bool:
        return level <= limit if side == "BUY" else level >= limit

    def _fill(
        self, market: Market, order: SimOrder, price: Decimal, qty: Decimal, *, is_maker: bool
    ) -> SimTrade:
        spec = market.spec
        quote_qty = price * qty
        rate = self.config.maker_commission if is_maker else self.config.taker_commission
        base, quote = self._balance(spec.base_asset), self._balance(spec.quote_asset)
        if order.side == "BUY":
            commission = (qty * rate).quantize(EIGHT, rounding=ROUND_UP)
            commission_asset = spec.base_asset
            if not order.holds_funds:
                quote.free -= quote_qty
            else:
                reserved = order.price * qty
                quote.locked -= reserved
                order.locked -= reserved
                quote.free += reserved - quote_qty
            base.free += qty - commission
        else:
            commission = (quote_qty * rate).quantize(EIGHT, rounding=ROUND_UP)
            commission_asset = spec.quote_asset
            if not order.holds_funds:
                base.free -= qty
            else:
                base.locked -= qty
                order.locked -= qty
            quote.free += quote_qty - commission
        ts = self.server_time()
        trade = SimTrade(
            symbol=spec.symbol,
            trade_id=market.next_trade_id,
            order_id=order.order_id,
            price=price,
            qty=qty,
            quote_qty=quote_qty,
            commission=commission,
            commission_asset=commission_asset,
            time=ts,
            is_buyer=order.side == "BUY",
            is_maker=is_maker,
            order_list_id=order.order_list_id,
        )
        market.next_trade_id += 1
        self.trades[spec.symbol].append(trade)
        order.executed_qty += qty
        order.cum_quote += quote_qty
        order.update_time = ts
        order.status = "FILLED" if order.remaining <= 0 else "PARTIALLY_FILLED"
        if order.status == "FILLED":
            self._close(order)
        self._execution_report(order, "TRADE", trade=trade)
        return trade

    def _close(self, order: SimOrder) -> None:
        """The order left the book: drop it from the open set, unlock what it still holds."""
        self._open[order.symbol].pop(order.order_id, None)
        if order.locked:
            spec = self.markets[order.symbol].spec
            balance = self._balance(spec.quote_asset if order.side == "BUY" else spec.base_asset)
            balance.locked -= order.locked
            balance.free += order.locked
            order.locked = ZERO

    def expire(self, order: SimOrder, reason: str) -> None:
        self._expire(order, reason)

    def _expire(self, order: SimOrder, reason: str) -> None:
        order.status = "EXPIRED"
        order.expiry_reason = reason
        order.update_time = self.server_time()
        self._close(order)
        self._execution_report(order, "EXPIRED")

    def cancel_order(
        self,
        symbol: str,
        order_id: int | None,
        orig_client_order_id: str | None,
        new_client_order_id: str | None = None,
        restriction: str | None = None,
    ) -> tuple[SimOrder, str]:
        """Cancel an open order (all of its order list, if it is in an open one); returns
        it and the cancel's own client order id. ``restriction``: ``cancelRestrictions``."""
        with self._lock:
            try:
                order = self.find_order(symbol, order_id, orig_client_order_id)
            except ApiError as exc:  # a cancel of an order never seen: -2011, not -2013
                if exc.code != -2013:
                    raise
                raise ApiError(-2011, "Unknown order sent.") from None
            if not order.is_open:
                raise ApiError(-2011, "Unknown order sent.")
            if restriction is not None and order.status != restriction.removeprefix("ONLY_"):
                raise ApiError(-2011, "Order was not canceled due to cancel restrictions.")
            order_list = self.lists.open_list_of(order)
            if order_list is not None:
                cancel_id = self.lists.cancel(order_list, new_client_order_id)
            else:
                cancel_id = self.cancel_one(order, new_client_order_id)
            spec = self.markets[symbol].spec
            self._account_position({spec.base_asset, spec.quote_asset})
            return order, cancel_id

    def cancel_one(self, order: SimOrder, new_client_order_id: str | None) -> str:
        cancel_id = new_client_order_id or self.new_cancel_id()
        order.status = "CANCELED"
        order.update_time = self.server_time()
        self._close(order)
        self._execution_report(order, "CANCELED", client_order_id=cancel_id)
        return cancel_id

    def cancel_open_orders(self, symbol: str) -> list[tuple[SimOrder, str]]:
        """Every open order on the symbol (order lists whole); (order, cancel id) each."""
        with self._lock:
            market = self.market(symbol)
            open_orders = list(self._open[symbol].values())
            if not open_orders:
                raise ApiError(-2011, "Unknown order sent.")
            cancelled: list[tuple[SimOrder, str]] = []
            for order in open_orders:
                if not order.is_open:
                    continue  # cancelled with its order list already
                order_list = self.lists.open_list_of(order)
                if order_list is None:
                    cancelled.append((order, self.cancel_one(order, None)))
                    continue
                open_legs = [o for o in order_list.orders if o.is_open]
                cancel_id = self.lists.cancel(order_list, None)
                cancelled += [(o, cancel_id) for o in open_legs]
            self._account_position({market.spec.base_asset, market.spec.quote_asset})
            return cancelled

    def open_orders(self, symbol: str | None) -> list[SimOrder]:
        with self._lock:
            symbols = [self.market(symbol).spec.symbol] if symbol else list(self.orders)
            return [o for s in symbols for o in self._open[s].values()]

    # ------------------------------------------------------------------ market

    def tick(self, steps: int = 1, should_stop: Callable[[], bool] | None = None) -> int:
        """Advance every symbol's price process; resting orders that are crossed fill.

        Stops early, between steps, once ``should_stop()`` is true; returns the steps done.
        """
        done = 0
        with self._lock:
            for _ in range(steps):
                if should_stop is not None and should_stop():
                    break
                for market in self.markets.values():
                    market.step()
                    market.record(self._clock())
                    self._match_resting(market)
                done += 1
        return done

    def set_price(self, symbol: str, price: Decimal) -> None:
        with self._lock:
            market = self.market(symbol)
            market.set_mid(price)
            market.record(self._clock())
            self._match_resting(market)

    def _match_resting(self, market: Market) -> None:
        """After a price move: conditional orders trigger, crossed resting orders fill."""
        spec = market.spec
        touched = False
        for order in list(self._open[spec.symbol].values()):
            if not order.is_open or order.is_pending:
                continue
            if not order.is_working:
                if conditional.triggers(order, market.mid, self.server_time()):
                    self._trigger(market, order)
                    touched = True
                continue
            filled = False
            for price, available in market.levels(order.side):
                if order.remaining <= 0 or not self._price_ok(order.side, price, order.price):
                    break
                if not filled:
                    self.lists.claim(order)
                take = min(order.remaining, available)
                market.consume(order.side, price, take)
                self._fill(market, order, order.price, take, is_maker=True)
                touched = filled = True
            if filled:
                self.lists.update(order)
        if touched:
            self._account_position({spec.base_asset, spec.quote_asset})

    def _trigger(self, market: Market, order: SimOrder) -> None:
        """A conditional order's condition is met: it starts working (a stop-market order
        executes at once) and, in an OCO, its other order expires."""
        self.lists.claim(order)
        order.working_time = self.server_time()
        order.update_time = order.working_time
        self._execution_report(order, "NEW")
        self._match_taker(market, order)
        self.lists.update(order)

    # ------------------------------------------------------------------ account

    def deposit(self, asset: str, amount: Decimal) -> None:
        """A deposit (or, negative, a withdrawal of free balance): a ``balanceUpdate``
        event and an ``outboundAccountPosition``, as Binance sends for both."""
        with self._lock:
            if self._balance(asset).free + amount < 0:
                raise ValueError(f"cannot withdraw {-amount} {asset}: not free")
            self._balance(asset).free += amount
            self.deposits[asset] = self.deposits.get(asset, ZERO) + amount
            self._publish(rendering.balance_update(asset, amount, event_time=self.server_time()))
            self._account_position({asset})

    def drift(self, asset: str, delta: Decimal) -> None:
        """A silent balance change: no event, no record (the balance_drift fault)."""
        with self._lock:
            balance = self._balance(asset)
            balance.free = max(ZERO, balance.free + delta)
