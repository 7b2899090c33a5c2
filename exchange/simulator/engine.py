"""The simulated exchange's matching engine: accounts, orders, a synthetic book, trades.

Pure state and arithmetic with no I/O. Every mutation happens under one lock, so the
server's event loop and a test thread can both drive it. Events (the user data stream)
are handed to the ``publish`` callback in the order they happen.

Money is ``Decimal`` throughout: balances, locks, prices, quantities and commissions are
exact, so that per asset ``free + locked == deposits + trade deltas - commissions``.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from domain.filters import FilterViolation, SymbolFilters, check_order
from exchange.simulator.config import SimulatorConfig, SymbolSpec

ZERO = Decimal(0)
EIGHT = Decimal("0.00000001")
OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
ORDER_TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
STOP_TYPES = ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
TIME_IN_FORCE = ("GTC", "IOC", "FOK")


def now_ms() -> int:
    return int(time.time() * 1000)


def fmt(value: Decimal) -> str:
    """Binance's decimal string: fixed point, eight places."""
    return f"{value:.8f}"


class ApiError(Exception):
    """A Binance error: ``{"code": code, "msg": msg}`` with an HTTP status."""

    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.http_status = http_status

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def insufficient_balance() -> ApiError:
    return ApiError(-2010, "Account has insufficient balance for requested action.")


@dataclass
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass
class SimOrder:
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    stop_price: Decimal
    orig_quote_qty: Decimal
    time: int
    owner: str = "account"  # "ghost" for orders placed by another client of the account
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    update_time: int = 0
    working_time: int = -1
    locked: Decimal = ZERO  # what this order still holds locked (quote for BUY, base for SELL)
    expiry_reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_working(self) -> bool:
        return self.working_time != -1

    def as_json(self, *, query: bool = True) -> dict[str, Any]:
        """The order as the REST API shows it (query shape, or new-order RESULT shape)."""
        out: dict[str, Any] = {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": fmt(self.price),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed_qty),
            "origQuoteOrderQty": fmt(self.orig_quote_qty),
            "cummulativeQuoteQty": fmt(self.cum_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
        }
        if query:
            out["stopPrice"] = fmt(self.stop_price)
            out["icebergQty"] = fmt(ZERO)
            out["time"] = self.time
            out["updateTime"] = self.update_time
            out["isWorking"] = self.is_working
        elif self.type in STOP_TYPES:
            out["stopPrice"] = fmt(self.stop_price)
        out["workingTime"] = self.working_time
        out["selfTradePreventionMode"] = "NONE"
        if self.expiry_reason is not None:
            out["expiryReason"] = self.expiry_reason
        return out


@dataclass(frozen=True)
class SimTrade:
    symbol: str
    trade_id: int
    order_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "id": self.trade_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "quoteQty": fmt(self.quote_qty),
            "commission": fmt(self.commission),
            "commissionAsset": self.commission_asset,
            "time": self.time,
            "isBuyer": self.is_buyer,
            "isMaker": self.is_maker,
            "isBestMatch": True,
        }

    def fill_json(self) -> dict[str, Any]:
        return {
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "commission": fmt(self.commission),
            "commissionAsset": self.commission_asset,
            "tradeId": self.trade_id,
        }


@dataclass
class Market:
    """One symbol: the seeded price process and a synthetic book around the mid."""

    spec: SymbolSpec
    filters: SymbolFilters
    rng: random.Random
    depth_levels: int
    mid_ticks: int = 0
    update_id: int = 1
    consumed: dict[tuple[str, int], Decimal] = field(default_factory=dict)
    next_order_id: int = 1
    next_trade_id: int = 1
    slippage_ticks: int = 0

    @property
    def tick(self) -> Decimal:
        return self.spec.tick_size

    @property
    def mid(self) -> Decimal:
        return self.tick * self.mid_ticks

    def step(self) -> None:
        """One step of the price process; the book's consumed liquidity refills."""
        move = round(self.rng.gauss(0.0, float(self.spec.volatility_ticks)))
        min_ticks = self.spec.spread_ticks + self.depth_levels * self.spec.level_gap_ticks + 1
        self.mid_ticks = max(min_ticks, self.mid_ticks + move)
        self.consumed.clear()
        self.update_id += 1

    def set_mid(self, price: Decimal) -> None:
        self.mid_ticks = int((price / self.tick).to_integral_value())
        self.consumed.clear()
        self.update_id += 1

    def best(self, side: str) -> Decimal:
        """Best bid (side BUY) or best ask (side SELL) of the synthetic book."""
        levels = self.levels("SELL" if side == "BUY" else "BUY")
        return levels[0][0] if levels else ZERO

    def levels(self, taker_side: str) -> list[tuple[Decimal, Decimal]]:
        """The book levels a taker on ``taker_side`` would hit, best first: (price, qty left)."""
        spread = self.spec.spread_ticks
        gap = self.spec.level_gap_ticks
        best_ask = self.mid_ticks + (spread + 1) // 2
        best_bid = best_ask - spread
        out: list[tuple[Decimal, Decimal]] = []
        for i in range(self.depth_levels):
            # a BUY taker hits the asks (above the mid), a SELL taker the bids
            ticks = best_ask + i * gap if taker_side == "BUY" else best_bid - i * gap
            if ticks < 1:
                break
            qty = self.spec.level_qty * (1 + i)
            left = qty - self.consumed.get((taker_side, ticks), ZERO)
            if left > 0:
                out.append((self.tick * ticks, left))
        return out

    def consume(self, taker_side: str, price: Decimal, qty: Decimal) -> None:
        key = (taker_side, int(price / self.tick))
        self.consumed[key] = self.consumed.get(key, ZERO) + qty

    def book_ticker(self) -> dict[str, Any]:
        bids = self.levels("SELL")
        asks = self.levels("BUY")
        bid, bid_qty = bids[0] if bids else (ZERO, ZERO)
        ask, ask_qty = asks[0] if asks else (ZERO, ZERO)
        return {
            "u": self.update_id,
            "s": self.spec.symbol,
            "b": fmt(bid),
            "B": fmt(bid_qty),
            "a": fmt(ask),
            "A": fmt(ask_qty),
        }


Publisher = Callable[[dict[str, Any]], None]


class Engine:
    """The exchange's true state. All methods are thread-safe."""

    def __init__(self, config: SimulatorConfig, publish: Publisher | None = None) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._publish: Publisher = publish or (lambda _event: None)
        self.balances: dict[str, Balance] = {
            asset: Balance(free=amount) for asset, amount in config.balances.items()
        }
        self.deposits: dict[str, Decimal] = dict(config.balances)
        self.markets: dict[str, Market] = {}
        for spec in config.symbols:
            seed = config.seed ^ zlib.crc32(spec.symbol.encode())
            market = Market(
                spec=spec,
                filters=SymbolFilters.from_exchange_info(spec.exchange_info_entry()),
                rng=random.Random(seed),
                depth_levels=config.depth_levels,
            )
            market.set_mid(spec.start_price)
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
        self.update_time = now_ms()
        self.clock_offset_ms = 0

    # ------------------------------------------------------------------ plumbing

    def set_publisher(self, publish: Publisher) -> None:
        self._publish = publish

    def server_time(self) -> int:
        return now_ms() + self.clock_offset_ms

    def market(self, symbol: str) -> Market:
        market = self.markets.get(symbol)
        if market is None:
            raise ApiError(-1121, "Invalid symbol.")
        return market

    def _balance(self, asset: str) -> Balance:
        return self.balances.setdefault(asset, Balance())

    def _account_position(self, assets: set[str]) -> None:
        self.update_time = now_ms()
        self._publish(
            {
                "e": "outboundAccountPosition",
                "E": self.server_time(),
                "u": self.update_time,
                "B": [
                    {
                        "a": asset,
                        "f": fmt(self._balance(asset).free),
                        "l": fmt(self._balance(asset).locked),
                    }
                    for asset in sorted(assets)
                ],
            }
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
        """Publish one executionReport; ``client_order_id`` is the cancel's own id on cancel."""
        event: dict[str, Any] = {
            "e": "executionReport",
            "E": self.server_time(),
            "s": order.symbol,
            "c": client_order_id or order.client_order_id,
            "S": order.side,
            "o": order.type,
            "f": order.time_in_force,
            "q": fmt(order.orig_qty),
            "p": fmt(order.price),
            "P": fmt(order.stop_price),
            "F": fmt(ZERO),
            "g": -1,
            "C": order.client_order_id if client_order_id else "",
            "x": execution_type,
            "X": order.status,
            "r": reject_reason,
            "i": order.order_id,
            "l": fmt(trade.qty if trade else ZERO),
            "z": fmt(order.executed_qty),
            "L": fmt(trade.price if trade else ZERO),
            "n": fmt(trade.commission) if trade else "0",
            "N": trade.commission_asset if trade else None,
            "T": trade.time if trade else order.update_time,
            "t": trade.trade_id if trade else -1,
            "I": next(self._execution_ids),
            "w": order.is_open and order.is_working,
            "m": trade.is_maker if trade else False,
            "M": False,
            "O": order.time,
            "Z": fmt(order.cum_quote),
            "Y": fmt(trade.quote_qty if trade else ZERO),
            "Q": fmt(order.orig_quote_qty),
            "V": "NONE",
        }
        if order.is_working:
            event["W"] = order.working_time
        if order.expiry_reason is not None and order.status == "EXPIRED":
            event["eR"] = order.expiry_reason
        self._publish(event)

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

    def validate_new_order(
        self,
        *,
        symbol: str,
        side: str,
        order_type: str,
        time_in_force: str | None,
        quantity: Decimal | None,
        quote_order_qty: Decimal | None,
        price: Decimal | None,
        stop_price: Decimal | None,
    ) -> Market:
        """Every check that happens before the matching engine (-11xx, -1013)."""
        market = self.market(symbol)
        if side not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        if order_type not in ORDER_TYPES:
            raise ApiError(-1116, "Invalid orderType.")
        needs_tif = order_type in ("LIMIT", *STOP_TYPES)
        if needs_tif and time_in_force is None:
            raise ApiError(
                -1102,
                "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.",
            )
        if time_in_force is not None:
            if time_in_force not in TIME_IN_FORCE:
                raise ApiError(-1115, "Invalid timeInForce.")
            if not needs_tif:
                raise ApiError(-1106, "Parameter 'timeInForce' sent when not required.")
        if order_type != "MARKET" and price is None:
            raise ApiError(
                -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed."
            )
        if order_type == "MARKET" and price is not None:
            raise ApiError(-1106, "Parameter 'price' sent when not required.")
        if order_type in STOP_TYPES and stop_price is None:
            raise ApiError(
                -1102,
                "Mandatory parameter 'stopPrice' was not sent, was empty/null, or malformed.",
            )
        if order_type not in STOP_TYPES and stop_price is not None:
            raise ApiError(-1106, "Parameter 'stopPrice' sent when not required.")
        if quote_order_qty is not None:
            if order_type != "MARKET":
                raise ApiError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
            if quantity is not None:
                raise ApiError(
                    -1102,
                    "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
                )
            if quote_order_qty <= 0:
                raise ApiError(-1013, "Illegal quoteOrderQty.")
        elif quantity is None:
            name = "Param 'quantity' or 'quoteOrderQty'" if order_type == "MARKET" else "'quantity'"
            raise ApiError(
                -1102, f"Mandatory parameter {name} was not sent, was empty/null, or malformed."
            )
        for name, value in (("quantity", quantity), ("price", price), ("stopPrice", stop_price)):
            if value is not None and value <= 0:
                raise (
                    ApiError(-1013, f"Illegal {name}.")
                    if name != "quantity"
                    else ApiError(-1013, "Filter failure: LOT_SIZE")
                )
        try:
            check_order(
                market.filters,
                side=side,
                order_type=order_type,
                quantity=quantity,
                price=price,
                stop_price=stop_price,
                reference_price=market.mid,
                open_orders=len(self._open[symbol]),
            )
        except FilterViolation as exc:
            raise ApiError(-1013, str(exc)) from None
        return market

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
        client_order_id: str | None = None,
        owner: str = "account",
        test_only: bool = False,
    ) -> tuple[SimOrder | None, list[SimTrade]]:
        """Validate, accept and match a new order. Raises ApiError on any rejection."""
        with self._lock:
            market = self.validate_new_order(
                symbol=symbol,
                side=side,
                order_type=order_type,
                time_in_force=time_in_force,
                quantity=quantity,
                quote_order_qty=quote_order_qty,
                price=price,
                stop_price=stop_price,
            )
            if test_only:
                return None, []
            if client_order_id is None:
                client_order_id = f"sim{self._rng.getrandbits(64):016x}"
            # Binance: a clientOrderId may be reused only once its previous order is FILLED
            previous = self._by_client_id.get((symbol, client_order_id))
            if previous is not None and previous.status != "FILLED":
                raise ApiError(-2010, "Duplicate order sent.")
            spec = market.spec
            if order_type == "LIMIT_MAKER" and self._crosses(market, side, price or ZERO):
                raise ApiError(-2010, "Order would immediately match and take.")
            if order_type in STOP_TYPES and self._stop_triggered(
                market, side, order_type, stop_price or ZERO
            ):
                raise ApiError(-2010, "Order would trigger immediately.")
            ts = self.server_time()
            order = SimOrder(
                symbol=symbol,
                order_id=market.next_order_id,
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
            )
            # funds: limit orders lock up front; market orders are checked while matching
            if order_type != "MARKET":
                self._lock_funds(order, spec)
            elif quote_order_qty is not None:
                self._size_quote_order(market, order)
            elif side == "SELL" and self._balance(spec.base_asset).free < order.orig_qty:
                raise insufficient_balance()
            elif side == "BUY":
                cost = self._walk_cost(market, "BUY", order.orig_qty)
                if cost > self._balance(spec.quote_asset).free:
                    raise insufficient_balance()
            market.next_order_id += 1
            self.orders[symbol].append(order)
            self._by_client_id[(symbol, client_order_id)] = order
            self._open[symbol][order.order_id] = order
            if order_type not in STOP_TYPES:
                order.working_time = ts
            self._execution_report(order, "NEW")
            trades: list[SimTrade] = []
            if order.is_working:
                trades = self._match_taker(market, order)
            self._account_position({spec.base_asset, spec.quote_asset})
            return order, trades

    def _crosses(self, market: Market, side: str, price: Decimal) -> bool:
        if side == "BUY":
            asks = market.levels("BUY")
            return bool(asks) and price >= asks[0][0]
        bids = market.levels("SELL")
        return bool(bids) and price <= bids[0][0]

    @staticmethod
    def _stop_triggered(market: Market, side: str, order_type: str, stop: Decimal) -> bool:
        # STOP_LOSS: BUY above market, SELL below; TAKE_PROFIT: the opposite.
        above = (order_type == "STOP_LOSS_LIMIT") == (side == "BUY")
        return market.mid >= stop if above else market.mid <= stop

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

    def _walk_cost(self, market: Market, side: str, qty: Decimal) -> Decimal:
        cost = ZERO
        for price, available in market.levels(side):
            take = min(qty, available)
            cost += take * self._slipped(market, side, price)
            qty -= take
            if qty <= 0:
                break
        return cost

    def _size_quote_order(self, market: Market, order: SimOrder) -> None:
        """quoteOrderQty: the largest LOT_SIZE quantity whose notional fits the budget."""
        spec = market.spec
        budget = order.orig_quote_qty
        qty = ZERO
        for price, available in market.levels(order.side):
            px = self._slipped(market, order.side, price)
            affordable = (budget / px).quantize(spec.step_size, rounding=ROUND_DOWN)
            take = min(available, affordable)
            qty += take
            budget -= take * px
            if take < available:
                break
        qty = qty.quantize(spec.step_size, rounding=ROUND_DOWN)
        if qty < spec.min_qty:
            raise ApiError(
                -2010, "Order book liquidity is less than `LOT_SIZE` filter minimum quantity."
            )
        if order.side == "BUY" and order.orig_quote_qty > self._balance(spec.quote_asset).free:
            raise insufficient_balance()
        if order.side == "SELL" and qty > self._balance(spec.base_asset).free:
            raise insufficient_balance()
        order.orig_qty = qty

    @staticmethod
    def _slipped(market: Market, side: str, price: Decimal) -> Decimal:
        """Fill price after an armed slippage fault (worse for the taker)."""
        if not market.slippage_ticks:
            return price
        delta = market.tick * market.slippage_ticks
        return price + delta if side == "BUY" else max(market.tick, price - delta)

    def _match_taker(self, market: Market, order: SimOrder) -> list[SimTrade]:
        """Match a newly working order against the book, then apply its time in force."""
        trades: list[SimTrade] = []
        limit = order.price if order.type != "MARKET" else None
        levels = market.levels(order.side)
        if order.time_in_force == "FOK" and order.type != "MARKET":
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
            fill_price = self._slipped(market, order.side, price)
            if order.type == "MARKET" and order.side == "BUY":
                free = self._balance(market.spec.quote_asset).free
                if take * fill_price > free:
                    take = (free / fill_price).quantize(market.spec.step_size, rounding=ROUND_DOWN)
                    if take <= 0:
                        break
            market.consume(order.side, price, take)
            trades.append(self._fill(market, order, fill_price, take, is_maker=False))
        if order.is_open and order.remaining > 0:
            if order.type == "MARKET":
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
            if order.type == "MARKET":
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
            if order.type == "MARKET":
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
        self._release(order, self.markets[order.symbol].spec)

    def _release(self, order: SimOrder, spec: SymbolSpec) -> None:
        """Return whatever the order still holds locked to free."""
        if order.locked:
            balance = self._balance(spec.quote_asset if order.side == "BUY" else spec.base_asset)
            balance.locked -= order.locked
            balance.free += order.locked
            order.locked = ZERO

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
    ) -> tuple[SimOrder, str]:
        """Cancel an open order; returns it and the cancel's own client order id."""
        with self._lock:
            order = self.find_order(symbol, order_id, orig_client_order_id)
            if not order.is_open:
                raise ApiError(-2011, "Unknown order sent.")
            cancel_id = self._cancel(order, new_client_order_id)
            spec = self.markets[symbol].spec
            self._account_position({spec.base_asset, spec.quote_asset})
            return order, cancel_id

    def _cancel(self, order: SimOrder, new_client_order_id: str | None) -> str:
        cancel_id = new_client_order_id or f"cancel{next(self._cancel_ids):012d}"
        order.status = "CANCELED"
        order.update_time = self.server_time()
        self._close(order)
        self._execution_report(order, "CANCELED", client_order_id=cancel_id)
        return cancel_id

    def cancel_open_orders(self, symbol: str) -> list[tuple[SimOrder, str]]:
        with self._lock:
            market = self.market(symbol)
            open_orders = list(self._open[symbol].values())
            if not open_orders:
                raise ApiError(-2011, "Unknown order sent.")
            cancelled = [(o, self._cancel(o, None)) for o in open_orders]
            self._account_position({market.spec.base_asset, market.spec.quote_asset})
            return cancelled

    def open_orders(self, symbol: str | None) -> list[SimOrder]:
        with self._lock:
            symbols = [self.market(symbol).spec.symbol] if symbol else list(self.orders)
            return [o for s in symbols for o in self._open[s].values()]

    # ------------------------------------------------------------------ market

    def tick(self, steps: int = 1) -> None:
        """Advance every symbol's price process; resting orders that are crossed fill."""
        with self._lock:
            for _ in range(steps):
                for market in self.markets.values():
                    market.step()
                    self._match_resting(market)

    def set_price(self, symbol: str, price: Decimal) -> None:
        with self._lock:
            market = self.market(symbol)
            market.set_mid(price)
            self._match_resting(market)

    def _match_resting(self, market: Market) -> None:
        spec = market.spec
        touched = False
        for order in list(self._open[spec.symbol].values()):
            if not order.is_working:
                if not self._stop_triggered(market, order.side, order.type, order.stop_price):
                    continue
                order.working_time = self.server_time()
                self._execution_report(order, "NEW")
                touched = True
            for price, available in market.levels(order.side):
                if order.remaining <= 0 or not self._price_ok(order.side, price, order.price):
                    break
                take = min(order.remaining, available)
                market.consume(order.side, price, take)
                self._fill(market, order, order.price, take, is_maker=True)
                touched = True
        if touched:
            self._account_position({spec.base_asset, spec.quote_asset})

    # ------------------------------------------------------------------ account

    def deposit(self, asset: str, amount: Decimal) -> None:
        """A deposit (or, negative, a withdrawal of free balance): a ``balanceUpdate``
        event and an ``outboundAccountPosition``, as Binance sends for both."""
        with self._lock:
            if self._balance(asset).free + amount < 0:
                raise ValueError(f"cannot withdraw {-amount} {asset}: not free")
            self._balance(asset).free += amount
            self.deposits[asset] = self.deposits.get(asset, ZERO) + amount
            self._publish(
                {
                    "e": "balanceUpdate",
                    "E": self.server_time(),
                    "a": asset,
                    "d": fmt(amount),
                    "T": self.server_time(),
                }
            )
            self._account_position({asset})

    def drift(self, asset: str, delta: Decimal) -> None:
        """A silent balance change: no event, no record (the balance_drift fault)."""
        with self._lock:
            balance = self._balance(asset)
            balance.free = max(ZERO, balance.free + delta)

    def account_json(self, omit_zero: bool = False) -> dict[str, Any]:
        with self._lock:
            rate = self.config.maker_commission
            taker = self.config.taker_commission
            balances = [
                {"asset": a, "free": fmt(b.free), "locked": fmt(b.locked)}
                for a, b in sorted(self.balances.items())
                if not (omit_zero and b.free == 0 and b.locked == 0)
            ]
            return {
                "makerCommission": int(rate * 10000),
                "takerCommission": int(taker * 10000),
                "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {
                    "maker": fmt(rate),
                    "taker": fmt(taker),
                    "buyer": fmt(ZERO),
                    "seller": fmt(ZERO),
                },
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "brokered": False,
                "requireSelfTradePrevention": False,
                "preventSor": False,
                "updateTime": self.update_time,
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": 4242,
            }

    def state_json(self) -> dict[str, Any]:
        """The exchange's true state, for tests and operators (GET /_sim/state)."""
        with self._lock:
            return {
                "server_time": self.server_time(),
                "balances": {
                    a: {"free": fmt(b.free), "locked": fmt(b.locked)}
                    for a, b in sorted(self.balances.items())
                },
                "deposits": {a: fmt(v) for a, v in sorted(self.deposits.items())},
                "prices": {
                    s: {
                        "mid": fmt(m.mid),
                        "bid": fmt(m.best("BUY")),
                        "ask": fmt(m.best("SELL")),
                    }
                    for s, m in self.markets.items()
                },
                "open_orders": [o.as_json() | {"owner": o.owner} for o in self.open_orders(None)],
                "orders": [
                    o.as_json() | {"owner": o.owner} for s in self.orders for o in self.orders[s]
                ],
                "trades": [t.as_json() for s in self.trades for t in self.trades[s]],
            }
