"""Actors find each other by name here; the supervisor re-points a name on restart.

This is what OTP's registered names give: a peer's reference never goes stale, because
nobody holds one; every send looks the name up. ``tell`` stamps the sender's name on the
message; ``ask`` always has a timeout.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pykka

from runtime.messages import Message


class Directory:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refs: dict[str, pykka.ActorRef[Any]] = {}
        # told of every message that could not be delivered (the trace records it)
        self.on_dropped: Callable[[str, Message], None] | None = None

    # The names are replaced whole under the lock (copy on write) and read without it: a
    # send on every hop takes no lock (a contended one gives up the GIL and waits).

    def register(self, name: str, ref: pykka.ActorRef[Any]) -> None:
        with self._lock:
            self._refs = {**self._refs, name: ref}

    def unregister(self, name: str, ref: pykka.ActorRef[Any] | None = None) -> None:
        with self._lock:
            if ref is None or self._refs.get(name) is ref:
                self._refs = {k: v for k, v in self._refs.items() if k != name}

    def ref(self, name: str) -> pykka.ActorRef[Any] | None:
        return self._refs.get(name)

    def names(self) -> list[str]:
        return list(self._refs)

    @staticmethod
    def _stamp(message: Message, sender: str) -> Message:
        if sender and not message.sender:
            return dataclasses.replace(message, sender=sender)
        return message

    def tell(self, receiver: str, message: Message, sender: str = "") -> bool:
        """Deliver or drop: False when the receiver is not running (the supervisor sees that)."""
        ref = self.ref(receiver)
        stamped = self._stamp(message, sender)
        if ref is not None:
            try:
                ref.tell(stamped)
                return True
            except pykka.ActorDeadError:
                pass
        if self.on_dropped is not None:
            self.on_dropped(receiver, stamped)
        return False

    def ask(self, receiver: str, message: Message, timeout: float, sender: str = "") -> Any:
        """Ask with a deadline; raises ``pykka.ActorDeadError`` or ``pykka.Timeout``."""
        ref = self.ref(receiver)
        if ref is None:
            raise pykka.ActorDeadError(f"{receiver} is not running")
        return ref.ask(self._stamp(message, sender), timeout=timeout)
