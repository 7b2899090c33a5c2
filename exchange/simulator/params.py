"""Request parameters as Binance reads them, for the simulator's handlers, and its routes.

The reading itself is :mod:`exchange.protocol.params` (shared with the strategy gateway):
:func:`parse_params` merges the query string and a form body (duplicates are -1101), and a
:class:`Request` gives a handler each parameter typed, refusing bad ones with Binance's
codes: -1102 (mandatory, missing), -1105 (empty), -1100 (illegal characters); it also
carries the HTTP request (a fault may drop its connection). A :class:`Route` is one REST
endpoint: method, path, request weight, signed or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from exchange.protocol.errors import illegal
from exchange.protocol.params import Params, parse_params

__all__ = ["Request", "Route", "illegal", "parse_params"]


class Request(Params):
    """One REST request's parameters, read typed by the handler, and the HTTP request."""

    def __init__(self, params: dict[str, str], http: web.Request | None = None) -> None:
        super().__init__(params)
        self.http = http


Handler = Callable[[Request], Any]


@dataclass(frozen=True)
class Route:
    """One REST endpoint."""

    method: str
    path: str
    weight: int
    signed: bool
    handler: Handler
    is_order: bool = False
    #: how many orders it adds to the unfilled order count (an OTOCO: 3)
    unfilled: int = 1
    #: the handler counts its orders itself (cancelReplace's orderRateLimitExceededMode)
    orders_by_handler: bool = False
