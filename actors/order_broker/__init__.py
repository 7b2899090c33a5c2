"""order_broker: the order path and the internal book — one actor in four modules: the
handlers (``broker``), the wire that sends (``wire``), the book taken from the exchange
(``resync``: opening, adoption, resync) and the memory that outlives an instance
(``memory``)."""

from actors.order_broker.broker import OrderBroker, new_client_order_id
from actors.order_broker.memory import BrokerMemory, OwnedJournal, StaleInstance

__all__ = [
    "BrokerMemory",
    "OrderBroker",
    "OwnedJournal",
    "StaleInstance",
    "new_client_order_id",
]
