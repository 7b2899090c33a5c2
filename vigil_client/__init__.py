"""vigil_client: a small typed Python client for Vigil's native control API.

Uses ``requests`` only and imports nothing of Vigil, so a strategy can depend on it alone::

    from vigil_client import VigilClient

    vigil = VigilClient.from_data_dir("var")  # or VigilClient(url, token)
    placed = vigil.place("BTCUSDT", "BUY", "LIMIT", "0.001", price="59000", time_in_force="GTC")
    print(vigil.order(placed.client_order_id)["state"])
    vigil.cancel(placed.client_order_id)
    for event in vigil.events(timeout=10):
        print(event.kind, event.data)
"""

from vigil_client.client import (
    CancelResult,
    Event,
    Fill,
    NotFound,
    Order,
    Placed,
    PlacedList,
    Refused,
    VigilClient,
    VigilError,
)

__all__ = [
    "CancelResult",
    "Event",
    "Fill",
    "NotFound",
    "Order",
    "Placed",
    "PlacedList",
    "Refused",
    "VigilClient",
    "VigilError",
]
