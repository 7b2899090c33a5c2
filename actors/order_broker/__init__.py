"""order_broker: the order path and the internal book — one actor in its own package: the
handlers (``broker``), the intake of an intent (``intake``), the wire that sends (``wire``),
the book taken from the exchange (``resync``: opening, adoption, resync), the exchange's
fill reports as executions (``executions``), what it answers (``queries``) and the memory
that outlives an instance (``memory``)."""

from actors.order_broker.broker import OrderBroker
from actors.order_broker.intake import new_client_order_id
from actors.order_broker.memory import BrokerMemory, OwnedJournal, StaleInstance

__all__ = [
    "BrokerMemory",
    "OrderBroker",
    "OwnedJournal",
    "StaleInstance",
    "new_client_order_id",
]
