"""``BinanceSpotAdapter``: the exchange contract over Binance Spot (REST + WebSocket API + streams).

A translator: it validates shapes, checks orders against the symbol filters before the wire,
sends, reads and classifies. It decides nothing about size, risk or strategy. The constructor
does no I/O; the first signed request measures the server clock, the first filter check fetches
exchangeInfo (then cached for ``exchange_info_ttl_s`` and refetched after a -1013 rejection).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from loguru import logger

from domain.filters import SymbolFilters
from exchange.binance import parse
from exchange.binance.clock import ServerClock
from exchange.binance.config import AdapterConfig
from exchange.binance.malformed import MalformedReports
from exchange.binance.market_stream import MarketDataStream
from exchange.binance.order_params import (
    cancel_replace_params,
    checked_id,
    list_query_params,
    list_ref,
    order_list_params,
    order_params,
    order_ref,
)
from exchange.binance.rate_limits import RateLimitTracker
from exchange.binance.redact import Redactor, scrub_library_logs
from exchange.binance.rest import ENDPOINTS, RestTransport
from exchange.binance.symbol_filters import (
    FilterCache,
    local_reject_record,
    preflight_failure,
    read_exchange_info,
)
from exchange.binance.user_stream import UserDataStream
from exchange.contract import (
    ApiRestrictions,
    AuditRecord,
    AuditSink,
    Balance,
    BookTicker,
    CancelAck,
    ExchangeError,
    HealthStatus,
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
        self.redact = Redactor(
            [config.api_key.get_secret_value(), config.api_secret.get_secret_value()]
        )
        self._reports = MalformedReports(
            audit=self._audit, redact=self.redact, listener=on_malformed
        )
        scrub_library_logs()
        self.clock = ServerClock()
        self.limits = RateLimitTracker(
            weight_limit_1m=config.weight_limit_1m,
            order_limit_10s=config.order_limit_10s,
            share=config.throttle_share,
            listener=on_rate_limit,
        )
        self._info = FilterCache(self._load_exchange_info, config.exchange_info_ttl_s)
        self.rest = RestTransport(
            config,
            clock=self.clock,
            limits=self.limits,
            redact=self.redact,
            audit=self._audit,
            on_filter_reject=self._info.mark_stale,
        )
        self.user_stream: UserDataStream | None = None
        self.market_stream: MarketDataStream | None = None

    def __repr__(self) -> str:
        return f"BinanceSpotAdapter(rest_url={self.config.rest_url!r}, live={self.config.live})"

    # --- listeners and counters ---------------------------------------------------------------

    def add_rate_limit_listener(self, listener: Callable[[RateLimitEvent], None]) -> None:
        self.limits.add_listener(listener)

    def add_malformed_listener(self, listener: Callable[[MalformedPayload], None]) -> None:
        self._reports.add_listener(listener)

    @property
    def malformed_count(self) -> int:
        """Malformed payloads seen so far (REST answers and stream frames)."""
        streams = [s for s in (self.user_stream, self.market_stream) if s is not None]
        return self._reports.rest_count + sum(s.malformed_count for s in streams)

    # --- exchange info and filters ------------------------------------------------------------

    def exchange_info(self, *, refresh: bool = False) -> Mapping[str, SymbolFilters]:
        """Every symbol's filters; fetched when missing, older than the TTL, stale or asked."""
        return self._info.get(refresh=refresh)

    def _load_exchange_info(self) -> dict[str, SymbolFilters]:
        info = self._reports.read(
            "exchange_info", read_exchange_info, self.rest.call(ENDPOINTS["exchange_info"])
        )
        self.limits.set_limits(
            weight_limit_1m=info.weight_limit_1m, order_limit_10s=info.order_limit_10s
        )
        logger.bind(component="binance.rest").info("exchangeInfo: {} symbols", len(info.filters))
        return info.filters

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
        params = order_params(request)
        answer = self.rest.call(
            ENDPOINTS["new_order"], params, client_order_id=request.client_order_id
        )
        return self._reports.read("new_order", parse.order_ack, answer)

    def cancel_replace(self, request: OrderRequest, *, cancel_client_order_id: str) -> ReplaceAck:
        """Cancel ``cancel_client_order_id`` and place ``request`` in one request, mode
        STOP_ON_FAILURE (never re-sent). ``Rejected`` code -2021: the cancel succeeded, the
        new order failed; -2022: the cancel failed, the new order was not attempted."""
        self._preflight(request)
        params = cancel_replace_params(request, cancel_client_order_id)
        answer = self.rest.call(
            ENDPOINTS["cancel_replace"], params, client_order_id=request.client_order_id
        )
        return self._reports.read("cancel_replace", parse.replace_ack, answer)

    # --- order lists ---------------------------------------------------------------------------

    def place_order_list(self, request: OrderListRequest) -> OrderListStatus:
        """Check each of the list's orders against the filters, then send the list once
        (``orderList/oco``, ``/oto`` or ``/otoco``; never re-sent). ``UnknownOutcome`` means
        resolve with ``get_order_list`` by its listClientOrderId."""
        for order in request.orders:
            self._preflight(order)
        endpoint, params = order_list_params(request)
        answer = self.rest.call(
            ENDPOINTS[endpoint], params, client_order_id=request.list_client_order_id
        )
        return self._reports.read(endpoint, parse.order_list_status, answer)

    def cancel_order_list(
        self,
        symbol: str,
        *,
        list_client_order_id: str | None = None,
        order_list_id: int | None = None,
    ) -> OrderListStatus:
        """Cancel a whole order list (``DELETE /api/v3/orderList``)."""
        params = list_ref(symbol, list_client_order_id, order_list_id)
        answer = self.rest.call(ENDPOINTS["cancel_order_list"], params)
        return self._reports.read("cancel_order_list", parse.order_list_status, answer)

    def get_order_list(
        self,
        symbol: str,
        *,
        list_client_order_id: str | None = None,
        order_list_id: int | None = None,
    ) -> OrderListStatus:
        """The venue's view of one order list; ``OrderNotFound`` if it has none."""
        params = list_query_params(symbol, list_client_order_id, order_list_id)
        answer = self.rest.call(ENDPOINTS["query_order_list"], params)
        return self._reports.read("query_order_list", parse.order_list_status, answer)

    def get_open_order_lists(self) -> list[OrderListStatus]:
        """Every open order list of the account (``GET /api/v3/openOrderList``)."""
        answer = self.rest.call(ENDPOINTS["open_order_lists"], {})
        return self._reports.read("open_order_lists", parse.order_list_statuses, answer)

    def get_all_order_lists(self, *, limit: int = 500) -> list[OrderListStatus]:
        """The account's recent order lists in any state (``GET /api/v3/allOrderList``)."""
        answer = self.rest.call(ENDPOINTS["all_order_lists"], {"limit": str(limit)})
        return self._reports.read("all_order_lists", parse.order_list_statuses, answer)

    def _preflight(self, request: OrderRequest) -> None:
        filters = self.symbol_filters(request.symbol)
        ticker = self.reference_price(request.symbol)
        reference = None if ticker is None else ticker.mid
        rejection = preflight_failure(filters, request, reference)
        if rejection is None:
            return
        logger.bind(
            component="binance.rest", op="new_order", outcome=type(rejection).__name__
        ).warning("{} [{}]", rejection.message, request.client_order_id)
        self._audit(local_reject_record(request, rejection))
        raise rejection

    def cancel_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        order_id: int | None = None,
        cancel_client_order_id: str | None = None,
    ) -> CancelAck:
        params = order_ref(symbol, client_order_id, order_id)
        if cancel_client_order_id is not None:
            params["newClientOrderId"] = checked_id(cancel_client_order_id)
        answer = self.rest.call(ENDPOINTS["cancel_order"], params)
        return self._reports.read("cancel_order", parse.cancel_ack, answer)

    def get_order(
        self, symbol: str, *, client_order_id: str | None = None, order_id: int | None = None
    ) -> OrderStatus:
        """The venue's view of one order; ``OrderNotFound`` if it has none."""
        params = order_ref(symbol, client_order_id, order_id)
        answer = self.rest.call(ENDPOINTS["query_order"], params)
        return self._reports.read("query_order", parse.order_status, answer)

    def get_open_orders(self, symbol: str | None = None) -> list[OrderStatus]:
        params = {} if symbol is None else {"symbol": symbol}
        weight = 6 if symbol is not None else 80
        answer = self.rest.call(ENDPOINTS["open_orders"], params, weight=weight)
        return self._reports.read("open_orders", parse.order_statuses, answer)

    def get_all_orders(
        self, symbol: str, *, from_order_id: int | None = None, limit: int = 1000
    ) -> list[OrderStatus]:
        """Orders of ``symbol`` (any state) from ``from_order_id`` on, oldest first: one call
        (weight 20) that catches up many orders after a stream gap."""
        params = {"symbol": symbol, "limit": str(limit)}
        if from_order_id is not None:
            params["orderId"] = str(from_order_id)
        answer = self.rest.call(ENDPOINTS["all_orders"], params, weight=20)
        return self._reports.read("all_orders", parse.order_statuses, answer)

    # --- account ------------------------------------------------------------------------------

    def get_balances(self) -> dict[str, Balance]:
        answer = self.rest.call(ENDPOINTS["account"])
        return self._reports.read("account", parse.balances, answer)

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
        return self._reports.read("depth", lambda a: parse.depth(a, symbol), answer)

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
            page = self._reports.read("my_trades", parse.trades, answer)
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
        return self._reports.read("api_restrictions", parse.api_restrictions, answer)

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
            on_malformed=self._reports.report,
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
            on_malformed=self._reports.report,
            audit=self._audit,
        )
        self.market_stream.start()

    def close(self) -> None:
        """Stop the streams (bounded by ``close_timeout_s`` each) and the REST session."""
        for stream in (self.user_stream, self.market_stream):
            if stream is not None:
                stream.close()
        self.rest.close()


if TYPE_CHECKING:

    def _conforms(adapter: BinanceSpotAdapter) -> ExchangeAdapter:
        """Checked by mypy: the adapter implements the whole contract, signatures included."""
        return adapter
