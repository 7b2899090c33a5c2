"""Order-list requests and answers: a new OCO, OTO or OTOCO as the venue should receive it
(its orders as ordinary ``OrderRequest``s, each in its role), and the list as the venue
knows it (``OrderListStatus``: the list and, on placement or cancel, its orders' reports).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from exchange.contract._lists import (
    ContingencyType,
    ListOrderRef,
    ListOrderStatus,
    ListStatusType,
)
from exchange.contract._models import (
    CLIENT_ORDER_ID_PATTERN,
    CancelAck,
    OrderAck,
    OrderRequest,
    OrderStatus,
    OrderType,
)

_FROZEN = ConfigDict(frozen=True, extra="forbid")

#: the types each role may have (rest-api.md's orderList/oco, /oto and /otoco)
ABOVE_TYPES = frozenset(
    {
        OrderType.STOP_LOSS,
        OrderType.STOP_LOSS_LIMIT,
        OrderType.LIMIT_MAKER,
        OrderType.TAKE_PROFIT,
        OrderType.TAKE_PROFIT_LIMIT,
    }
)
BELOW_TYPES = frozenset(
    {
        OrderType.STOP_LOSS,
        OrderType.STOP_LOSS_LIMIT,
        OrderType.TAKE_PROFIT,
        OrderType.TAKE_PROFIT_LIMIT,
    }
)
WORKING_TYPES = frozenset({OrderType.LIMIT, OrderType.LIMIT_MAKER})
_STOP_LOSSES = frozenset({OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT})


class ListType(StrEnum):
    """What is placed (``POST /api/v3/orderList/{oco,oto,otoco}``)."""

    OCO = "OCO"
    OTO = "OTO"
    OTOCO = "OTOCO"


class OrderListRequest(BaseModel):
    """A new order list. An OCO has ``above`` and ``below``; an OTO ``working`` and
    ``pending``; an OTOCO ``working`` and the pending pair ``above`` / ``below``. Every
    order carries its own client order id; an OCO pair shares side and quantity, and one of
    it is a stop loss (STOP_LOSS or STOP_LOSS_LIMIT), the other not."""

    model_config = _FROZEN

    list_type: ListType
    symbol: str = Field(min_length=1, pattern=r"^[A-Z0-9_-]{1,20}$")
    list_client_order_id: str = Field(pattern=CLIENT_ORDER_ID_PATTERN)
    above: OrderRequest | None = None
    below: OrderRequest | None = None
    working: OrderRequest | None = None
    pending: OrderRequest | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        roles = {
            name
            for name in ("above", "below", "working", "pending")
            if getattr(self, name) is not None
        }
        wanted = {
            ListType.OCO: {"above", "below"},
            ListType.OTO: {"working", "pending"},
            ListType.OTOCO: {"working", "above", "below"},
        }[self.list_type]
        if roles != wanted:
            raise ValueError(f"{self.list_type} takes {', '.join(sorted(wanted))}")
        for order in self.orders:
            if order.symbol != self.symbol:
                raise ValueError(f"order {order.client_order_id} is not on {self.symbol}")
            if order.quote_order_qty is not None:
                raise ValueError("an order list's orders take a quantity")
        ids = [o.client_order_id for o in self.orders]
        if len(set(ids)) != len(ids) or self.list_client_order_id in ids:
            raise ValueError("the list and its orders need distinct client order ids")
        if self.working is not None and self.working.type not in WORKING_TYPES:
            raise ValueError(
                f"the working order must be LIMIT or LIMIT_MAKER, not {self.working.type}"
            )
        if self.above is not None and self.below is not None:
            self._check_pair(self.above, self.below)
        return self

    @staticmethod
    def _check_pair(above: OrderRequest, below: OrderRequest) -> None:
        if above.type not in ABOVE_TYPES:
            raise ValueError(f"above order type {above.type} is not allowed")
        if below.type not in BELOW_TYPES:
            raise ValueError(f"below order type {below.type} is not allowed")
        if (above.type in _STOP_LOSSES) == (below.type in _STOP_LOSSES):
            raise ValueError("an OCO needs one STOP_LOSS(_LIMIT) order and one other")
        if above.side != below.side or above.quantity != below.quantity:
            raise ValueError("an OCO's two orders share side and quantity")

    @property
    def orders(self) -> tuple[OrderRequest, ...]:
        """Its orders in Binance's order: the working order, then the pair (or pending)."""
        return tuple(
            o for o in (self.working, self.pending, self.above, self.below) if o is not None
        )

    @property
    def pair(self) -> tuple[OrderRequest, OrderRequest] | None:
        """The OCO pair (an OCO's, or an OTOCO's pending pair)."""
        if self.above is None or self.below is None:
            return None
        return self.above, self.below

    def role_of(self, client_order_id: str) -> str:
        for name in ("working", "pending", "above", "below"):
            order = getattr(self, name)
            if order is not None and order.client_order_id == client_order_id:
                return name
        raise KeyError(client_order_id)


class OrderListStatus(BaseModel):
    """An order list as the venue knows it; ``order_reports`` are its orders as they stood
    in a placement or cancel answer (empty on a query)."""

    model_config = _FROZEN

    order_list_id: int
    contingency_type: ContingencyType
    list_status_type: ListStatusType
    list_order_status: ListOrderStatus
    list_client_order_id: str
    transaction_time_ms: int
    symbol: str
    orders: tuple[ListOrderRef, ...]
    order_reports: tuple[OrderStatus, ...] = ()

    @property
    def done(self) -> bool:
        return self.list_order_status is not ListOrderStatus.EXECUTING


class ReplaceAck(BaseModel):
    """Both halves of a cancel-replace succeeded (``POST /api/v3/order/cancelReplace``, mode
    STOP_ON_FAILURE). A failure is a ``Rejected``: code -2021, the cancel succeeded and the
    new order failed; -2022, the cancel failed and the new order was not attempted."""

    model_config = _FROZEN

    cancel: CancelAck
    new_order: OrderAck
