"""The signed REST pipeline every order and account endpoint shares, and ``GET
/api/v3/account``.

A signed endpoint reads its parameters as Binance reads them (the query string and a form
body; duplicates -1101), authenticates the strategy key (:mod:`control.gateway.auth`), runs
the endpoint's handler off the event loop (it asks the broker), and refuses a parameter the
handler never read (-1104). The handler gets the key and typed :class:`Params`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pykka
from aiohttp import web

from control.gateway.auth import signed_rest
from control.gateway.errors import error_response, json_response
from control.gateway.reports import fmt
from exchange.protocol.errors import ApiError
from exchange.protocol.params import Params, parse_params
from runtime.messages import StatusRequest
from storage.strategy_keys import KeyRing, StrategyKey

if TYPE_CHECKING:
    from assembly.system import VigilSystem

SignedHandler = Callable[[StrategyKey, Params], Any]


def busy() -> ApiError:
    """The broker did not answer in time: Binance's -1007 (outcome unknown) for an order,
    harmless for a query."""
    return ApiError(
        -1007,
        "Timeout waiting for response from backend server. Send status unknown; "
        "execution status unknown.",
        503,
    )


class Signed:
    """Wraps handlers into aiohttp endpoints that check the signature first."""

    def __init__(self, system: VigilSystem, ring: KeyRing, server_time: Callable[[], int]):
        self.system = system
        self.ring = ring
        self.server_time = server_time

    def endpoint(
        self, handler: SignedHandler
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            try:
                try:
                    body = (await request.read()).decode("utf-8")
                except UnicodeDecodeError:
                    raise ApiError(-1100, "Illegal characters found in a parameter.") from None
                query = request.raw_path.partition("?")[2]
                raw = parse_params(query, request.method, request.content_type, body)
                key = signed_rest(
                    self.ring,
                    request.headers.get("X-MBX-APIKEY"),
                    raw,
                    query,
                    body,
                    self.server_time(),
                )
                params = Params(raw)
                loop = asyncio.get_running_loop()
                answer = await loop.run_in_executor(None, self._run, handler, key, params)
            except ApiError as exc:
                return error_response(exc)
            return json_response(answer)

        return serve

    @staticmethod
    def _run(handler: SignedHandler, key: StrategyKey, params: Params) -> Any:
        answer = handler(key, params)
        params.done()
        return answer

    def ask(self, message: Any, timeout: float | None = None) -> Any:
        """The broker's answer; -1007 if it does not come in time."""
        try:
            return self.system.ask("order_broker", message, timeout)
        except (pykka.Timeout, pykka.ActorDeadError):
            raise busy() from None

    # ---------------------------------------------------------------- GET /api/v3/account

    def account(self, key: StrategyKey, params: Params) -> dict[str, Any]:
        """The account's balances from Vigil's reconciled book (the exchange key's account;
        a strategy sees every asset, as a sub-account would not let it trade more)."""
        params.get("omitZeroBalances")
        omit = params.raw.get("omitZeroBalances") == "true"
        book = self.ask(StatusRequest())
        balances = []
        for asset, total in book["balances"].items():
            locked = Decimal(book["locked"].get(asset, "0"))
            free = Decimal(total) - locked
            if omit and not (free or locked):
                continue
            balances.append({"asset": asset, "free": fmt(free), "locked": fmt(locked)})
        now = int(time.time() * 1000)
        return {
            "makerCommission": 0,
            "takerCommission": 0,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": fmt(0),
                "taker": fmt(0),
                "buyer": fmt(0),
                "seller": fmt(0),
            },
            "canTrade": not self.ring.revoked(key.name),
            "canWithdraw": False,
            "canDeposit": False,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": now,
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": 0,
        }

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v3/account", self.endpoint(self.account))
