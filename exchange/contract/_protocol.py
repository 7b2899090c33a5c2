"""The contract itself: ``ExchangeAdapter``, what Vigil needs from any venue. Vigil depends
on it, never on a venue directly; ``exchange.binance`` is one implementation. An adapter
translates and decides nothing; its failures are the contract's ``ExchangeError``s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from domain.filters import SymbolFilters
from exchange.contract._list_orders import OrderListRequest, OrderListStatus, ReplaceAck
from exchange.contract._models import (
    ApiRestrictions,
    Balance,
    BookTicker,
    CancelAck,
    HealthStatus,
    OrderAck,
    OrderBookDepth,
    OrderRequest,
    OrderStatus,
    Position,
    StreamStatus,
    Trade,
    UserEvent,
)


class ExchangeAdapter(Protocol):
    """What Vigil needs from a venue. Implementations translate; they decide nothing."""

    def place_order(self, request: OrderRequest) -> OrderAck: ...

    def cancel_order(
        self,
        symbol: str,
        *,
        client_order_id: str | None = None,
        order_id: int | None = None,
        cancel_client_order_id: str | None = None,
    ) -> CancelAck: ...

    def get_order(
        self, symbol: str, *, client_order_id: str | None = None, order_id: int | None = None
    ) -> OrderStatus: ...

    def get_open_orders(self, symbol: str | None = None) -> list[OrderStatus]: ...

    def get_all_orders(
        self, symbol: str, *, from_order_id: int | None = None, limit: int = 1000
    ) -> list[OrderStatus]:
        """Orders of ``symbol`` in any state from ``from_order_id`` on, oldest first."""
        ...

    def cancel_replace(self, request: OrderRequest, *, cancel_client_order_id: str) -> ReplaceAck:
        """Cancel one order and place ``request`` in one venue request (STOP_ON_FAILURE)."""
        ...

    def place_order_list(self, request: OrderListRequest) -> OrderListStatus:
        """Place an OCO, OTO or OTOCO once; its orders are checked like ``place_order``'s."""
        ...

    def cancel_order_list(
        self,
        symbol: str,
        *,
        list_client_order_id: str | None = None,
        order_list_id: int | None = None,
    ) -> OrderListStatus: ...

    def get_order_list(
        self,
        symbol: str,
        *,
        list_client_order_id: str | None = None,
        order_list_id: int | None = None,
    ) -> OrderListStatus: ...

    def get_open_order_lists(self) -> list[OrderListStatus]: ...

    def get_all_order_lists(self, *, limit: int = 500) -> list[OrderListStatus]: ...

    def get_balances(self) -> dict[str, Balance]: ...

    def get_positions(self) -> dict[str, Position]: ...

    def get_trades(
        self, symbol: str, since_ms: int | None = None, *, from_id: int | None = None
    ) -> list[Trade]: ...

    def get_depth(self, symbol: str, limit: int = 100) -> OrderBookDepth:
        """The order book's best ``limit`` levels each side (REST ``depth``)."""
        ...

    def ping(self) -> HealthStatus: ...

    def get_api_restrictions(self) -> ApiRestrictions:
        """What the key may do (withdraw, transfer, margin, futures, IP restriction)."""
        ...

    def exchange_info(self, *, refresh: bool = False) -> Mapping[str, SymbolFilters]: ...

    def symbol_filters(self, symbol: str) -> SymbolFilters: ...

    def reference_price(self, symbol: str) -> BookTicker | None:
        """The latest best bid/ask of ``symbol`` if the market stream has a fresh one."""
        ...

    @property
    def malformed_count(self) -> int:
        """Malformed payloads seen so far (REST answers and stream frames)."""
        ...

    def start_user_stream(
        self,
        on_event: Callable[[UserEvent], None],
        on_status: Callable[[StreamStatus], None] | None = None,
    ) -> None: ...

    def start_market_stream(
        self,
        symbols: list[str],
        on_ticker: Callable[[BookTicker], None] | None = None,
        on_status: Callable[[StreamStatus], None] | None = None,
    ) -> None: ...

    def close(self) -> None: ...
