"""A two-lane, control-aware actor inbox (Akka's ControlAwareMailbox, for pykka).

Messages whose class says ``control = True`` (halts, breaker changes, heartbeats) and
pykka's own stop message go in the control lane and are always taken before anything
in the normal lane, so a halt is handled before intents that were queued earlier.
Within a lane the order is FIFO. It implements pykka's ``ActorInbox`` protocol
(``put``/``get``/``empty``) and plugs in at ``ThreadingActor._create_actor_inbox``.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from pykka import messages as pykka_messages


def is_control(message: object) -> bool:
    if isinstance(message, pykka_messages._ActorStop):
        return True
    return bool(getattr(message, "control", False))


class ControlAwareInbox:
    def __init__(self) -> None:
        self._control: deque[Any] = deque()
        self._normal: deque[Any] = deque()
        self._ready = threading.Condition(threading.Lock())

    def put(self, envelope: Any, /) -> None:
        lane = self._control if is_control(envelope.message) else self._normal
        with self._ready:
            lane.append(envelope)
            self._ready.notify()

    def get(self) -> Any:
        with self._ready:
            while not self._control and not self._normal:
                self._ready.wait()
            return self._control.popleft() if self._control else self._normal.popleft()

    def empty(self) -> bool:
        with self._ready:
            return not self._control and not self._normal

    def qsize(self) -> int:
        """Messages waiting in both lanes (the inbox-backlog metric)."""
        with self._ready:
            return len(self._control) + len(self._normal)
