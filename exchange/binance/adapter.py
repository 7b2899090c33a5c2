"""``BinanceSpotAdapter``: the exchange contract over Binance Spot (REST + WebSocket API + streams).

A translator: it validates shapes, checks orders against the symbol filters before the wire,
sends, reads and classifies. It decides nothing about size, risk or strategy. The constructor
does no I/O; the first signed request measures the server clock, the first filter check fetches
exchangeInfo (then cached for ``exchange_info_ttl_s`` and refetched after a -1013 rejection).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from loguru import logger

from domain.filters import FilterParseError, FilterViolation, SymbolFilters, check_order
from exchange.binance import parse
from exchange.binance.clock import ServerClock
from exchange.binance.config import AdapterConfig
from exchange.binance.market_stream import MarketDataStream
from exchange.binance.quantize import wire_decimal
from exchange.binance.rate_limits import RateLimitTracker
from exchange.binance.redact import Redactor, scrub_library_logs
from exchange.binance.rest import ENDPOINTS, RestTransport
from exchange.binance.user_stream import UserDataStream
from exchange.contract import (
    ApiRestrictions,
    AuditRecord,
    AuditSink,
    Balance,
    BookTicker,
    CancelAck,
    ExchangeError,
    FilterRejected,
    HealthStatus,
    ListType,
    MalformedPayload,
    OrderAck,
    OrderBookDepth,
    OrderListRequest,
    OrderListStatus,
    OrderRequest,
    OrderStatus,
    Position,
    RateLimitEvent,
    Rejected,
    ReplaceAck,
    StreamStatus,
    Trade,
    UserEvent,
    backing_off,
    is_valid_client_order_id,
)

if TYPE_CHECKING:
    from exchange.contract import ExchangeAdapter

__all__ = ["BinanceSpotAdapter"]

_REFERENCE_MAX_AGE_S = 10.0
_TRADES_PAGE = 1000


def _no_audit(record: AuditRecord) -> None:
    return None


class BinanceSpotAdapter:
    """The Binance Spot implementation of ``ExchangeAdapter`` (see ``exchange.contract``)."""

    def __init__(
        self,
        config: AdapterConfig,
        *,
        audit: AuditSink | None = None,
        on_rate_limit: Callable[[RateLimitEvent], None] | None = None,
        on_malformed: Callable[[MalformedPayload], None] | None = None,
    ) -> None:
        self.config = config
        self._audit = audit or _no_audit
        self._malformed_listeners: list[Callable[[MalformedPayload], None]] = (
            [on_malformed] if on_malformed else []
        )
        self._rest_malformed = 0
        self.redact = Redactor(
            [config.api_key.get_secret_value(), config.api_secret.get_secret_value()]
        )
        scrub_library_logs()
        self.clock = ServerClock()
        self.limits = RateLimitTracker(
            weight_limit_1m=config.weight_limit_1m,
            order_limit_10s=config.order_limit_10s,
            share=config.throttle_share,
            listener=on_rate_limit,
        )
        self.rest = RestTransport(
            config,
            clock=self.clock,
            limits=self.limits,
            redact=self.redact,
            audit=self._audit,
            on_filter_reject=self._mark_filters_stale,
        )
        self._info_lock = threading.Lock()
        self._filters: dict[str, SymbolFilters] = {}
        self._info_fetched_at: float | None = None
        self._info_stale = False
        self.user_stream: UserDataStream | None = None
        self.market_stream: MarketDataStream | None = None

    def __repr__(self) -> str:
        return f"BinanceSpotAdapter(rest_url={self.config.rest_url!r}, live={self.config.live})"

    # --- listeners and counters ---------------------------------------------------------------

    def add_rate_limit_listener(self, listener: Callable[[RateLimitEvent], None]) -> None:
        self.limits.add_listener(listener)

    def add_malformed_listener(self, listener: Callable[[MalformedPayload], None]) -> None:
        self._malformed_listeners.append(listener)

    @property
    def malformed_count(self) -> int:
        """Malformed payloads seen so far (REST answers and stream frames)."""
        streams = [s for s in (self.user_stream, self.market_stream) if s is not None]
        return self._rest_malformed + sum(s.malformed_count for s in streams)

    def _malformed(self, exc: MalformedPayload) -> None:
        for listener in list(self._malformed_listeners):
            try:
                listener(exc)
            except Exception as err:
                logger.error("malformed-payload listener failed: {}", self.redact(repr(err)))

    def _read(self, what: str, reader: Callable[[Any], Any], payload: Any) -> Any:
        """Parse a REST answer; a malformed one is counted, logged, reported and raised."""
        try:
            return reader(payload)
        except MalformedPayload as exc:
            raise self._rest_malformed_payload(what, exc) from None

    def _rest_malformed_payload(self, what: str, exc: MalformedPayload) -> MalformedPayload:
        self._rest_malformed += 1
        logger.bind(component="binance.rest", op=what).warning("malformed answer: {}", exc.message)
        self._audit(
            AuditRecord(
                kind="malformed",
                at_ms=int(time.time() * 1000),
                operation=what,
                message=exc.message,
            )
        )
        self._malformed(exc)
        return exc

    # --- exchange info and filters ------------------------------------------------------------

    def _mark_filters_stale(self) -> None:
        self._info_stale = True

    def exchange_info(self, *, refresh: bool = False) -> Mapping[str, SymbolFilters]:
        """Every symbol's filters; fetched when missing, older than the TTL, stale or asked."""
        with self._info_lock:
            age = (
                None if self._info_fetched_at is None else time.monotonic() - self._info_fetched_at
            )
            if refresh or self._info_stale or age is None or age > self.config.exchange_info_ttl_s:
                self._load_exchange_info()
            return dict(self._filters)

    def _load_exchange_info(self) -> None:
        info = self.rest.call(ENDPOINTS["exchange_info"])
        if not isinstance(info, dict) or not isinstance(info.get("symbols"), list):
            raise self._read_failure("exchange_info", "exchangeInfo: no symbols list")
        filters: dict[str, SymbolFilters] = {}
        for entry in info["symbols"]:
            try:
                parsed = SymbolFilters.from_exchange_info(entry)
            except (FilterParseError, ValueError, AttributeError) as exc:
                raise self._read_failure("exchange_info", f"exchangeInfo: {exc}") from None
            filters[parsed.symbol] = parsed
        self._apply_rate_limits(info.get("rateLimits"))
        self._filters = filters
        self._info_fetched_at = time.monotonic()
        self._info_stale = False
        logger.bind(component="binance.rest").info("exchangeInfo: {} symbols", len(filters))

    def _read_failure(self, what: str, message: str) -> MalformedPayload:
        return self._rest_malformed_payload(what, MalformedPayload(message))

    def _apply_rate_limits(self, limits: object) -> None:
        weight = orders = None
        for item in limits if isinstance(limits, list) else []:
            if not isinstance(item, dict):
                continue
            kind, interval, num = (
                item.get("rateLimitType"),
                item.get("interval"),
                item.get("intervalNum"),
            )
            if kind == "REQUEST_WEIGHT" and interval == "MINUTE" and num == 1:
                weight = item.get("limit")
            if kind == "ORDERS" and interval == "SECOND" and num == 10:
                orders = item.get("limit")
        self.limits.set_limits(
            weight_limit_1m=weight if isinstance(weight, int) else None,
            order_limit_10s=orders if isinstance(orders, int) else None,
        )

    def symbol_filters(self, symbol: str) -> SymbolFilters:
        filters = self.exchange_info().get(symbol)
        if filters is None:
            raise Rejected(f"unknown symbol {symbol}", code=-1121, local=True)
        return filters

    def reference_price(self, symbol: str) -> BookTicker | None:
        """The latest bookTicker of ``symbol`` if the market stream has a fresh one."""
        if self.market_stream is None:
            return None
        return self.market_stream.latest(symbol, _REFERENCE_MAX_AGE_S)

    # --- orders -------------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> OrderAck:
        """Check ``request`` against the filters, then send it once (never re-sent).

        Raises ``FilterRejected(local=True)`` before the wire, or a contract failure:
        ``UnknownOutcome`` / ``DuplicateClientOrderId`` mean resolve with ``get_order``.
        """
        self._preflight(request)
        params = self._order_params(request)
        answer = self.rest.call(
            ENDPOINTS["new_order"], params, client_order_id=request.client_order_id
        )
        return self._read("new_order", parse.order_ack, answer)  # type: ignore[no-any-return]

    def cancel_replace(self, request: OrderRequest, *, cancel_client_order_id: str) -> ReplaceAck:
        """Cancel ``cancel_client_order_id`` and place ``request`` in one request, mode
        STOP_ON_FAILURE (never re-sent). ``Rejected`` code -2021: the cancel succeeded, the
        new order failed; -2022: the cancel failed, the new order was not attempted."""
        self._preflight(request)
        params = self._order_params(request)
        params["cancelReplaceMode"] = "STOP_ON_FAILURE"
        params["cancelOrigClientOrderId"] = _checked_id(cancel_client_order_id)
        answer = self.rest.call(
            ENDPOINTS["cancel_replace"], params, client_order_id=request.client_order_id
        )
        return self._read("cancel_replace", parse.replace_ack, answer)  # type: ignore[no-any-return]

    # --- order lists ---------------------------------------------------------------------------

    def place_order_list(self, request: OrderListRequest) -> OrderListStatus:
        """Check each of the list's orders against the filters, then send the list once
        (``orderList/oco``, ``/oto`` or ``/otoco``; never re-sent). ``UnknownOutcome`` means
        resolve with ``get_order_list`` by its listClientOrderId."""
        for order in request.orders:
            self._preflight(order)
        params = {"symbol": request.symbol, "listClientOrderId": request.list_client_order_id}
        params["newOrderRespType"] = "FULL"
        if request.list_type is ListType.OCO:
            assert request.above is not None and request.below is not None
            params["side"] = request.above.side.value
            params["quantity"] = wire_decimal(request.above.quantity or Decimal(0))
            params.update(_leg_params("above", request.above, shared=True))
            params.update(_leg_params("below", request.below, shared=True))
            endpoint = "new_oco"
        elif request.list_type is ListType.OTO:
            assert request.working is not None and request.pending is not None
            params.update(_leg_params("working", request.working, shared=False))
            params.update(_leg_params("pending", request.pending, shared=False))
            endpoint = "new_oto"
        else:
            assert request.working is not None
            assert request.above is not None and request.below is not None
            params.update(_leg_params("working", request.working, shared=False))
            params["pendingSide"] = request.above.side.value
            params["pendingQuantity"] = wire_decimal(request.above.quantity or Decimal(0))
            params.update(_leg_params("pendingAbove", request.above, shared=True))
            params.update(_leg_params("pendingBelow", request.below, shared=True))
            endpoint = "new_otoco"
        answer = self.rest.call(
            ENDPOINTS[endpoint], params, client_order_id=request.list_client_order_id
        )
        return self._read(endpoint, parse.order_list_status, answer)  # type: ignore[no-any-return]

    def cancel_order_list(
        self,
        symbol: str,
        *,
        list_client_order_id: str | None = None,
        order_list_id: int | None = None,
    ) -> OrderListStatus:
        """Cancel a whole order list (``DELETE /api/v3/orderList``)."""
        params = self._list_ref(symbol, list_client_order_id, order_list_id)
        answer = self.rest.call(ENDPOINTS["cancel_order_list"], params)
        return self._read("cancel_order_list", parse.order_list_status, answer)  # type: ignore[no-any-return]

    def get_order_list(
        self,
        symbol: str,
        *,
        list_client_order_id: str | None = None,
        order_list_id: int | None = None,
    ) -> OrderListStatus:
        """The venue's view of one order list; ``OrderNotFound`` if it has none."""
        params = self._list_ref(symbol, list_client_order_id, order_list_id)
        del params["symbol"]  # GET /api/v3/orderList takes no symbol, and names the
        if "listClientOrderId" in params:  # list's client id origClientOrderId
            params["origClientOrderId"] = params.pop("listClientOrderId")
        answer = self.rest.call(ENDPOINTS["query_order_list"], params)
        return self._read("query_order_list", parse.order_list_status, answer)  # type: ignore[no-any-return]

    def get_open_order_lists(self) -> list[OrderListStatus]:
        """Every open order list of the account (``GET /api/v3/openOrderList``)."""
        answer = self.rest.call(ENDPOINTS["open_order_lists"], {})
        lists: list[OrderListStatus] = self._read(
            "open_order_lists", lambda a: [parse.order_list_status(o) for o in _list(a)], answer
        )
        return lists

    def get_all_order_lists(self, *, limit: int = 500) -> list[OrderListStatus]:
        """The account's recent order lists in any state (``GET /api/v3/allOrderList``)."""
        answer = self.rest.call(ENDPOINTS["all_order_lists"], {"limit": str(limit)})
        lists: list[OrderListStatus] = self._read(
            "all_order_lists", lambda a: [parse.order_list_status(o) for o in _list(a)], answer
        )
        return lists

    @staticmethod
    def _list_ref(
        symbol: str, list_client_order_id: str | None, order_list_id: int | None
    ) -> dict[str, str]:
        if list_client_order_id is None and order_list_id is None:
            raise ValueError("list_client_order_id or order_list_id is required")
        params = {"symbol": symbol}
        if list_client_order_id is not None:
            params["listClientOrderId"] = _checked_id(list_client_order_id)
        if order_list_id is not None:
            params["orderListId"] = str(int(order_list_id))
        return params

    @staticmethod
    def _order_params(request: OrderRequest) -> dict[str, str]:
        params: dict[str, str] = {
            "symbol": request.symbol,
            "side": request.side.value,
            "type": request.type.value,
            "newClientOrderId": request.client_order_id,
            "newOrderRespType": "FULL",
        }
        if request.quantity is not None:
            params["quantity"] = wire_decimal(request.quantity)
        if request.quote_order_qty is not None:
            params["quoteOrderQty"] = wire_decimal(request.quote_order_qty)
        if request.price is not None:
            params["price"] = wire_decimal(request.price)
        if request.stop_price is not None:
            params["stopPrice"] = wire_decimal(request.stop_price)
        if request.trailing_delta is not None:
            params["trailingDelta"] = str(request.trailing_delta)
        if request.time_in_force is not None:
            params["timeInForce"] = request.time_in_force.value
        return params

    def _preflight(self, request: OrderRequest) -> None:
        filters = self.symbol_filters(request.symbol)
        ticker = self.reference_price(request.symbol)
        try:
            check_order(
                filters,
                side=request.side.value,
                order_type=request.type.value,
                quantity=request.quantity,
                price=request.price,
                stop_price=request.stop_price,
                reference_price=None if ticker is None else ticker.mid,
            )
        except FilterViolation as exc:
            self._local_reject(request, str(exc), exc.detail, FilterRejected)
        except ValueError as exc:
            self._local_reject(request, "invalid order", str(exc), Rejected)

    def _local_reject(
        self, request: OrderRequest, message: str, detail: str, kind: type[Rejected]
    ) -> None:
        text = f"new_order not sent: {message} ({detail})"
        logger.bind(component="binance.rest", op="new_order", outcome=kind.__name__).warning(
            "{} [{}]", text, request.client_order_id
        )
        self._audit(
            AuditRecord(
                kind="error",
                at_ms=int(time.time() * 1000),
                operation="new_order",
                params={"symbol": request.symbol, "newClientOrderId": request.client_order_id},
                code=-1013 if kind is FilterRejected else None,
                message=text,
                outcome=kind.__name__,
            )
        )
        raise kind(text, code=-1013 if kind is FilterRejected else None, local=True)

    def cancel_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        order_id: int | None = None,
        cancel_client_order_id: str | None = None,
    ) -> CancelAck:
        params = self._order_ref(symbol, client_order_id, order_id)
        if cancel_client_order_id is not None:
            params["newClientOrderId"] = _checked_id(cancel_client_order_id)
        answer = self.rest.call(ENDPOINTS["cancel_order"], params)
        return self._read("cancel_order", parse.cancel_ack, answer)  # type: ignore[no-any-return]

    def get_order(
        self, symbol: str, *, client_order_id: str | None = None, order_id: int | None = None
    ) -> OrderStatus:
        """The venue's view of one order; ``OrderNotFound`` if it has none."""
        params = self._order_ref(symbol, client_order_id, order_id)
        answer = self.rest.call(ENDPOINTS["query_order"], params)
        return self._read("query_order", parse.order_status, answer)  # type: ignore[no-any-return]

    @staticmethod
    def _order_ref(
        symbol: str, client_order_id: str | None, order_id: int | None
    ) -> dict[str, str]:
        if client_order_id is None and order_id is None:
            raise ValueError("client_order_id or order_id is required")
        params = {"symbol": symbol}
        if client_order_id is not None:
            params["origClientOrderId"] = _checked_id(client_order_id)
        if order_id is not None:
            params["orderId"] = str(int(order_id))
        return params

    def get_open_orders(self, symbol: str | None = None) -> list[OrderStatus]:
        params = {} if symbol is None else {"symbol": symbol}
        weight = 6 if symbol is not None else 80
        answer = self.rest.call(ENDPOINTS["open_orders"], params, weight=weight)
        statuses: list[OrderStatus] = self._read(
            "open_orders", lambda a: [parse.order_status(o) for o in _list(a)], answer
        )
        return statuses

    def get_all_orders(
        self, symbol: str, *, from_order_id: int | None = None, limit: int = 1000
    ) -> list[OrderStatus]:
        """Orders of ``symbol`` (any state) from ``from_order_id`` on, oldest first: one call
        (weight 20) that catches up many orders after a stream gap."""
        params = {"symbol": symbol, "limit": str(limit)}
        if from_order_id is not None:
            params["orderId"] = str(from_order_id)
        answer = self.rest.call(ENDPOINTS["all_orders"], params, weight=20)
        statuses: list[OrderStatus] = self._read(
            "all_orders", lambda a: [parse.order_status(o) for o in _list(a)], answer
        )
        return statuses

    # --- account ------------------------------------------------------------------------------

    def get_balances(self) -> dict[str, Balance]:
        answer = self.rest.call(ENDPOINTS["account"])
        return self._read("account", parse.balances, answer)  # type: ignore[no-any-return]

    def get_positions(self) -> dict[str, Position]:
        """Spot positions: the base-asset holding (free + locked) of each configured symbol."""
        balances = self.get_balances()
        out: dict[str, Position] = {}
        for symbol in self.config.symbols:
            asset = self.symbol_filters(symbol).base_asset
            held = balances.get(asset)
            quantity = held.total if held is not None else Decimal(0)
            out[symbol] = Position(symbol=symbol, asset=asset, quantity=quantity)
        return out

    def get_depth(self, symbol: str, limit: int = 100) -> OrderBookDepth:
        """The order book's best ``limit`` levels each side (weight 5 up to 100 levels)."""
        weight = 5 if limit <= 100 else 25 if limit <= 500 else 50
        answer = self.rest.call(
            ENDPOINTS["depth"], {"symbol": symbol, "limit": str(limit)}, weight=weight
        )
        depth: OrderBookDepth = self._read("depth", lambda a: parse.depth(a, symbol), answer)
        return depth

    def get_trades(
        self, symbol: str, since_ms: int | None = None, *, from_id: int | None = None
    ) -> list[Trade]:
        """Our trades on ``symbol`` from ``since_ms`` (or from trade id ``from_id``), oldest
        first, following pages until a short one. Neither given: the latest 1000."""
        if since_ms is not None and from_id is not None:
            raise ValueError("since_ms and from_id are exclusive")
        trades: list[Trade] = []
        params = {"symbol": symbol, "limit": str(_TRADES_PAGE)}
        if since_ms is not None:
            params["startTime"] = str(int(since_ms))
        if from_id is not None:
            params["fromId"] = str(int(from_id))
        while True:
            answer = self.rest.call(ENDPOINTS["my_trades"], params)
            page: list[Trade] = self._read(
                "my_trades", lambda a: [parse.trade(t) for t in _list(a)], answer
            )
            trades.extend(page)
            if len(page) < _TRADES_PAGE or (since_ms is None and from_id is None):
                return trades
            params = {
                "symbol": symbol,
                "limit": str(_TRADES_PAGE),
                "fromId": str(page[-1].trade_id + 1),
            }

    def get_api_restrictions(self) -> ApiRestrictions:
        """The key's permissions (``GET /sapi/v1/account/apiRestrictions``, signed, weight 1).

        Binance's wallet endpoint: live Binance and the simulator serve it, the Spot
        testnet does not (a ``Rejected`` with HTTP 404 there).
        """
        answer = self.rest.call(ENDPOINTS["api_restrictions"])
        restrictions: ApiRestrictions = self._read(
            "api_restrictions", parse.api_restrictions, answer
        )
        return restrictions

    # --- health -------------------------------------------------------------------------------

    def sync_clock(self) -> int:
        """Measure the server clock offset now; returns it in ms."""
        return self.rest.sync_clock()

    def ping(self) -> HealthStatus:
        """Reachability, latency and our standing; never raises."""
        started = time.monotonic()
        stream = self.user_stream
        common: dict[str, Any] = {
            "clock_offset_ms": self.clock.offset_ms if self.clock.measured else None,
            "banned_for_s": self.limits.blocked_for()[0] if self.limits.blocked_for()[1] else 0.0,
            "user_stream_connected": bool(stream is not None and stream.connected),
            "user_stream_last_frame_age_s": None if stream is None else stream.frame_age_s(),
        }
        try:
            self.rest.call(ENDPOINTS["ping"])
        except ExchangeError as exc:
            return HealthStatus(
                reachable=False, error=str(exc), held_back=backing_off(exc), **common
            )
        return HealthStatus(
            reachable=True,
            latency_ms=round((time.monotonic() - started) * 1000, 3),
            used_weight_1m=self.limits.used_weight_1m,
            **common,
        )

    # --- streams ------------------------------------------------------------------------------

    def start_user_stream(
        self,
        on_event: Callable[[UserEvent], None],
        on_status: Callable[[StreamStatus], None] | None = None,
    ) -> None:
        """Subscribe to the user data stream on the reader's own daemon thread."""
        if self.user_stream is not None:
            raise RuntimeError("user stream already started")
        if not self.clock.measured:
            self.sync_clock()
        self.user_stream = UserDataStream(
            self.config,
            clock=self.clock,
            redact=self.redact,
            on_event=on_event,
            on_status=on_status,
            on_malformed=self._malformed,
            on_clock_skew=self._resync_quietly,
            audit=self._audit,
        )
        self.user_stream.start()

    def _resync_quietly(self) -> None:
        try:
            self.sync_clock()
        except ExchangeError as exc:
            logger.warning("clock re-sync failed: {}", exc.message)

    def start_market_stream(
        self,
        symbols: list[str],
        on_ticker: Callable[[BookTicker], None] | None = None,
        on_status: Callable[[StreamStatus], None] | None = None,
    ) -> None:
        """bookTicker for ``symbols`` on the reader's own daemon thread (also feeds the
        reference price of the filter pre-flight)."""
        if self.market_stream is not None:
            raise RuntimeError("market stream already started")
        self.market_stream = MarketDataStream(
            self.config,
            symbols,
            redact=self.redact,
            on_ticker=on_ticker,
            on_status=on_status,
            on_malformed=self._malformed,
            audit=self._audit,
        )
        self.market_stream.start()

    def close(self) -> None:
        """Stop the streams (bounded by ``close_timeout_s`` each) and the REST session."""
        for stream in (self.user_stream, self.market_stream):
            if stream is not None:
                stream.close()
        self.rest.close()


def _leg_params(prefix: str, order: OrderRequest, *, shared: bool) -> dict[str, str]:
    """One order of a list as ``{prefix}Type``, ``{prefix}Price``...; ``shared``: its side
    and quantity are the list's (an OCO pair), else its own."""
    params = {f"{prefix}Type": order.type.value, f"{prefix}ClientOrderId": order.client_order_id}
    if not shared:
        params[f"{prefix}Side"] = order.side.value
        params[f"{prefix}Quantity"] = wire_decimal(order.quantity or Decimal(0))
    if order.price is not None:
        params[f"{prefix}Price"] = wire_decimal(order.price)
    if order.stop_price is not None:
        params[f"{prefix}StopPrice"] = wire_decimal(order.stop_price)
    if order.trailing_delta is not None:
        params[f"{prefix}TrailingDelta"] = str(order.trailing_delta)
    if order.time_in_force is not None:
        params[f"{prefix}TimeInForce"] = order.time_in_force.value
    return params


def _checked_id(value: str) -> str:
    if not is_valid_client_order_id(value):
        raise ValueError(f"invalid client order id {value!r}")
    return value


def _list(answer: object) -> list[Any]:
    if not isinstance(answer, list):
        raise MalformedPayload(f"expected a list, got {type(answer).__name__}")
    return answer


if TYPE_CHECKING:

    def _conforms(adapter: BinanceSpotAdapter) -> ExchangeAdapter:
        """Checked by mypy: the adapter implements the whole contract, signatures included."""
        return adapter
