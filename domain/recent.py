"""The keys seen lately, a bounded number of them: for telling a message delivered twice
from a new one when the message carries no id of its own (a ``balanceUpdate`` has none)."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable


class RecentKeys:
    """The last ``size`` distinct keys; ``first_time(key)`` says whether ``key`` is new
    (and remembers it), forgetting the oldest once ``size`` are held."""

    def __init__(self, size: int = 1024) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._order: deque[Hashable] = deque()
        self._keys: set[Hashable] = set()

    def __len__(self) -> int:
        return len(self._keys)

    def first_time(self, key: Hashable) -> bool:
        if key in self._keys:
            return False
        self._keys.add(key)
        self._order.append(key)
        if len(self._order) > self.size:
            self._keys.discard(self._order.popleft())
        return True
