"""Which Vigil placed an order: every client order id Vigil makes carries its instance's
tag (``vgl-<tag>-<random>``, the tag kept in the data dir's store), so an order of another
Vigil instance trading the same exchange account is recognised as such — two instances on
one account would each see the other's orders as foreign and neither could know where the
money is."""

from __future__ import annotations

import re
import secrets

PREFIX = "vgl"
_OURS = re.compile(rf"^{PREFIX}-([0-9a-f]{{6}})-[0-9a-f]+$")


def new_tag() -> str:
    """A fresh instance tag: 6 hex characters."""
    return secrets.token_hex(3)


def client_order_id(tag: str) -> str:
    """A new client order id of instance ``tag`` (25 characters; Binance allows 36)."""
    return f"{PREFIX}-{tag}-{secrets.token_hex(7)}"


def other_instance(client_order_id: str | None, ours: str) -> str | None:
    """The tag of the other Vigil instance that made ``client_order_id``, or None (ours,
    or not made by a Vigil)."""
    if not client_order_id:
        return None
    match = _OURS.match(client_order_id)
    if match is None or match.group(1) == ours:
        return None
    return match.group(1)
