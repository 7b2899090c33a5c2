"""An order list as the venue reports it: its contingency type, its list statuses, the
references to its orders, and the ``listStatus`` user data event (Binance's order lists:
OCO, OTO, OTOCO — an OTOCO reports its contingency type as OTO).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ContingencyType(StrEnum):
    OCO = "OCO"
    OTO = "OTO"


class ListStatusType(StrEnum):
    RESPONSE = "RESPONSE"
    EXEC_STARTED = "EXEC_STARTED"
    UPDATED = "UPDATED"
    ALL_DONE = "ALL_DONE"


class ListOrderStatus(StrEnum):
    EXECUTING = "EXECUTING"
    ALL_DONE = "ALL_DONE"
    REJECT = "REJECT"


class ListOrderRef(BaseModel):
    """One order of a list, as the list names it."""

    model_config = _FROZEN

    symbol: str
    order_id: int
    client_order_id: str


class ListStatus(BaseModel):
    """listStatus: an order list was placed, changed or finished (``g`` its id, ``C`` its
    listClientOrderId, ``O`` its orders)."""

    model_config = _FROZEN

    kind: Literal["listStatus"] = "listStatus"
    event_time_ms: int
    symbol: str
    order_list_id: int
    contingency_type: ContingencyType
    list_status_type: ListStatusType
    list_order_status: ListOrderStatus
    list_reject_reason: str
    list_client_order_id: str
    transaction_time_ms: int
    orders: tuple[ListOrderRef, ...]

    @property
    def done(self) -> bool:
        return self.list_order_status is not ListOrderStatus.EXECUTING
