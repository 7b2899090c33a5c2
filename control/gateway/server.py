"""The strategy gateway's server: Binance's Spot API on loopback for strategies, one
aiohttp application on its own thread (like the control API).

REST under ``/api/v3`` (market data: :mod:`control.gateway.rest_market`; orders and the
account: :mod:`control.gateway.rest_orders`), the WebSocket API at ``/ws-api/v3``
(:mod:`control.gateway.ws_api`) and market streams at ``/ws/...`` and ``/stream``
(:mod:`control.gateway.streams`). Its URLs (:meth:`GatewayServer.urls`) have the shape of
``run.py sim``'s line, so a Binance client is pointed at it the same way. Every failure is
Binance's ``{"code", "msg"}``; a request over 64 KiB gets -1101 (413).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from loguru import logger

from control.app_thread import AppThread
from control.gateway.errors import MAX_BODY, error_response, json_response, too_large
from control.gateway.rest_lists import ListEndpoints
from control.gateway.rest_market import MarketData
from control.gateway.rest_orders import OrderEndpoints
from control.gateway.rest_replace import ReplaceEndpoint
from control.gateway.signed import Signed
from control.gateway.streams import StreamRelay
from control.gateway.ws_api import WsApi
from exchange.binance.market_data import MarketDataRelay
from exchange.protocol.errors import ApiError
from runtime.messages import ListsQuery
from storage.strategy_keys import KeyRing, keys_path

if TYPE_CHECKING:
    from assembly.system import VigilSystem

CLOSE_TIMEOUT_S = 0.25  # a closing WebSocket waits this long for its peer at stop
KEY_CHECK_EVERY_S = 0.5  # the keys file is looked at this often (a change counts within 2 s)


class GatewayServer:
    def __init__(self, system: VigilSystem, host: str | None = None, port: int | None = None):
        settings = system.settings.gateway
        self.system = system
        self.host = host if host is not None else settings.host
        self.port = port if port is not None else settings.port
        self.ring = KeyRing(keys_path(system.data_dir), KEY_CHECK_EVERY_S)
        urls = system.exchange_urls()
        self.relay = MarketDataRelay(
            str(urls["rest"]),
            system.adapter.limits,
            share=settings.weight_share,
            cache_s=settings.exchange_info_cache_s,
        )
        self.server_time: Callable[[], int] = system.adapter.clock.now_ms
        self.market = MarketData(self.relay, self.server_time)
        self.ws_api = WsApi(self.ring, system.events, self.server_time, self._order_list)
        self.streams = StreamRelay(str(urls["streams"]))
        self._served: AppThread | None = None
        self.app = web.Application(middlewares=[self._errors], client_max_size=MAX_BODY)
        self.market.add_routes(self.app)
        self.signed = Signed(system, self.ring, self.server_time)
        self.signed.add_routes(self.app)
        self.orders = OrderEndpoints(system, self.signed, self.ring)
        self.orders.add_routes(self.app)
        self.lists = ListEndpoints(system, self.signed)
        self.lists.add_routes(self.app)
        self.replace = ReplaceEndpoint(system, self.signed)
        self.replace.add_routes(self.app)
        self.app.router.add_get("/ws-api/v3", self.ws_api.handle)
        self.streams.add_routes(self.app)
        self.app.on_shutdown.append(self._close_sockets)

    def _order_list(self, strategy: str, list_cid: str) -> dict[str, Any] | None:
        """The strategy's order list ``list_cid`` (Vigil's id) from the book (None: none)."""
        found = self.system.ask(
            "order_broker", ListsQuery(strategy=strategy, list_client_order_id=list_cid)
        )
        return dict(found[0]) if found else None

    def __repr__(self) -> str:
        return f"GatewayServer({self.urls()['rest']!r})"

    def urls(self) -> dict[str, str]:
        """``{"rest", "ws_api", "streams"}``: the shape of ``run.py sim``'s line."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return {
            "rest": f"http://{host}:{self.port}",
            "ws_api": f"ws://{host}:{self.port}/ws-api/v3",
            "streams": f"ws://{host}:{self.port}",
        }

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> GatewayServer:
        self._served = AppThread(
            self.app,
            self.host,
            self.port,
            name="gateway",
            what="strategy gateway",
            before_cleanup=self._shut_down,
        )
        self.port = self._served.start()
        return self

    async def _shut_down(self) -> None:
        await self.app.shutdown()  # the sockets closed (on_shutdown) before the sites stop

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
        self.relay.close()

    async def _close_sockets(self, app: web.Application) -> None:
        """Every open WebSocket (user streams, relayed market streams) closed at stop,
        waiting for no peer longer than ``CLOSE_TIMEOUT_S``."""
        sockets = list(self.ws_api.sockets) + list(self.streams.sockets)
        closing = [asyncio.ensure_future(ws.close()) for ws in sockets]
        if closing:
            _, pending = await asyncio.wait(closing, timeout=CLOSE_TIMEOUT_S)
            for task in pending:
                task.cancel()

    # ---------------------------------------------------------------- plumbing

    @web.middleware
    async def _errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if (request.content_length or 0) > MAX_BODY:
            return error_response(too_large())
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc)
        except web.HTTPRequestEntityTooLarge:
            return error_response(too_large())
        except web.HTTPNotFound:
            return json_response({"code": -1000, "msg": "Unknown endpoint."}, 404)
        except web.HTTPMethodNotAllowed:
            return json_response({"code": -1000, "msg": "Method not allowed."}, 405)
        except Exception as exc:  # never a traceback to a strategy, nor into the log: a
            # traceback's variables would hold a strategy's secret (the signature check's)
            logger.error(
                "gateway: internal error on {} {}: {}",
                request.method,
                request.path,
                type(exc).__name__,
            )
            return json_response(
                {"code": -1000, "msg": "An unknown error occurred while processing the request."},
                500,
            )
