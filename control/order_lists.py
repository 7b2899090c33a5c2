"""The control API's ``POST /v1/order-lists``: an OCO, OTO or OTOCO placed through Vigil's
guard as one intent (``OrderListIntent``), refused whole or accepted whole.

The body is Binance's orderList parameters in snake_case: ``{"symbol", "list_type": "OCO" |
"OTO" | "OTOCO", "list_client_order_id"?, ...}``. An OCO has ``side``, ``quantity``,
``above`` and ``below``; an OTO ``working`` and ``pending`` (each with its own ``side`` and
``quantity``); an OTOCO ``working`` and the pending pair ``pending_above`` /
``pending_below`` sharing ``pending_side`` / ``pending_quantity``. A leg is ``{"type",
"price"?, "stop_price"?, "trailing_delta"?, "time_in_force"?, "client_order_id"?}``.
Answers 202 with the list's and its orders' client order ids, 422 / 409 with the reason.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from domain.admission import Refusal
from runtime.messages import ListDecision, ListLeg, OrderListIntent

if TYPE_CHECKING:
    from assembly.system import VigilSystem

_ID = r"^[.A-Z:/a-z0-9_-]{1,36}$"
REFUSAL_STATUS = {
    Refusal.POLICY: 422,
    Refusal.FILTER: 422,
    Refusal.DUPLICATE: 409,
    Refusal.BREAKER: 409,
    Refusal.STORAGE: 409,
}


class LegBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(
        pattern="^(LIMIT|LIMIT_MAKER|STOP_LOSS|STOP_LOSS_LIMIT|TAKE_PROFIT|TAKE_PROFIT_LIMIT)$"
    )
    side: str | None = Field(default=None, pattern="^(BUY|SELL)$")
    quantity: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    trailing_delta: int | None = Field(default=None, ge=1)
    time_in_force: str | None = Field(default=None, pattern="^(GTC|IOC|FOK)$")
    client_order_id: str | None = Field(default=None, pattern=_ID)

    @field_validator("quantity", "price", "stop_price", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("send amounts as strings, not floats")
        return value


class ListBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(min_length=1, max_length=20)
    list_type: str = Field(pattern="^(OCO|OTO|OTOCO)$")
    list_client_order_id: str | None = Field(default=None, pattern=_ID)
    side: str | None = Field(default=None, pattern="^(BUY|SELL)$")
    quantity: Decimal | None = None
    above: LegBody | None = None
    below: LegBody | None = None
    working: LegBody | None = None
    pending: LegBody | None = None
    pending_side: str | None = Field(default=None, pattern="^(BUY|SELL)$")
    pending_quantity: Decimal | None = None
    pending_above: LegBody | None = None
    pending_below: LegBody | None = None

    @field_validator("quantity", "pending_quantity", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("send amounts as strings, not floats")
        return value

    @model_validator(mode="after")
    def _roles(self) -> Self:
        given = {
            name
            for name in ("above", "below", "working", "pending", "pending_above", "pending_below")
            if getattr(self, name) is not None
        }
        wanted = {
            "OCO": {"above", "below"},
            "OTO": {"working", "pending"},
            "OTOCO": {"working", "pending_above", "pending_below"},
        }[self.list_type]
        if given != wanted:
            raise ValueError(f"{self.list_type} takes {', '.join(sorted(wanted))}")
        return self

    def legs(self) -> tuple[tuple[str, ListLeg], ...]:
        """(role, leg) pairs; a leg's side and quantity default to the list's (an OCO's, or
        an OTOCO's pending pair's)."""
        if self.list_type == "OCO":
            return (
                ("above", _leg(self.above, self.side, self.quantity)),
                ("below", _leg(self.below, self.side, self.quantity)),
            )
        working = ("working", _leg(self.working, self.side, self.quantity))
        if self.list_type == "OTO":
            return working, ("pending", _leg(self.pending, self.side, self.quantity))
        side, qty = self.pending_side or self.side, self.pending_quantity or self.quantity
        return (
            working,
            ("above", _leg(self.pending_above, side, qty)),
            ("below", _leg(self.pending_below, side, qty)),
        )


def _leg(body: LegBody | None, side: str | None, quantity: Decimal | None) -> ListLeg:
    assert body is not None  # (the roles were checked)
    leg_side, leg_qty = body.side or side, body.quantity or quantity
    if leg_side is None or leg_qty is None:
        raise ValueError(f"the {body.type} order needs a side and a quantity")
    return ListLeg(
        type=body.type,
        side=leg_side,
        quantity=leg_qty,
        price=body.price,
        stop_price=body.stop_price,
        trailing_delta=body.trailing_delta,
        time_in_force=body.time_in_force,
        client_order_id=body.client_order_id,
    )


class OrderListRoutes:
    """The handler; ``add_to(router)`` registers it."""

    def __init__(self, system: VigilSystem) -> None:
        self.system = system

    def add_to(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/order-lists", self.post_order_list)

    async def post_order_list(self, request: web.Request) -> web.Response:
        try:
            body = ListBody.model_validate(await request.json())
            legs = body.legs()
        except (ValueError, ValidationError) as exc:
            return web.json_response({"error": "bad order list", "detail": str(exc)}, status=422)
        if not self.system.accepting:
            return web.json_response({"error": "shutting down: no new intents"}, status=503)
        intent = OrderListIntent(
            symbol=body.symbol,
            list_type=body.list_type,
            legs=legs,
            list_client_order_id=body.list_client_order_id,
            source="api",
        )
        loop = asyncio.get_running_loop()
        decision: ListDecision = await loop.run_in_executor(
            None, lambda: self.system.ask("order_broker", intent)
        )
        answer = {
            "list_client_order_id": decision.list_client_order_id,
            "orders": dict(decision.legs),
            "correlation_id": intent.correlation_id,
        }
        if decision.accepted:
            return web.json_response(answer, status=202)
        status = REFUSAL_STATUS.get(decision.refusal, 409) if decision.refusal else 409
        return web.json_response({**answer, "error": decision.reason}, status=status)
