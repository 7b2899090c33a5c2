"""The exchange's reports of a fill, as the book's ``Execution``: from an order's
acknowledgment (``FULL`` response fills), from an ``executionReport`` of type TRADE, and
from a REST trade. Whichever path brings a fill, the book accounts it once."""

from __future__ import annotations

from domain.book import BookOrder, Execution
from exchange.contract import ExecutionReport, OrderAck, Trade


def from_ack(ack: OrderAck, order: BookOrder) -> list[Execution]:
    return [
        Execution(
            symbol=ack.symbol,
            trade_id=fill.trade_id,
            order_id=ack.order_id,
            client_order_id=order.client_order_id,
            side=order.side,
            price=fill.price,
            qty=fill.qty,
            commission=fill.commission,
            commission_asset=fill.commission_asset,
            time_ms=ack.transact_time_ms,
            is_maker=False,
            via="ack",
        )
        for fill in ack.fills
    ]


def from_report(r: ExecutionReport, via: str) -> Execution | None:
    """The fill an execution report carries (None unless it is a TRADE)."""
    if r.execution_type != "TRADE" or r.trade_id is None or r.trade_id < 0:
        return None
    return Execution(
        symbol=r.symbol,
        trade_id=r.trade_id,
        order_id=r.order_id,
        client_order_id=r.order_client_id,
        side=r.side.value,
        price=r.last_price,
        qty=r.last_qty,
        commission=r.commission,
        commission_asset=r.commission_asset,
        time_ms=r.transaction_time_ms,
        is_maker=r.is_maker,
        via=via,
    )


def from_trade(t: Trade, client_order_id: str | None) -> Execution:
    return Execution(
        symbol=t.symbol,
        trade_id=t.trade_id,
        order_id=t.order_id,
        client_order_id=client_order_id,
        side="BUY" if t.is_buyer else "SELL",
        price=t.price,
        qty=t.qty,
        commission=t.commission,
        commission_asset=t.commission_asset,
        time_ms=t.time_ms,
        is_maker=t.is_maker,
        via="rest",
    )
