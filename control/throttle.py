"""A throttle on failed authentications, per client address. Pure: no threads, no I/O; the
clock is injected.

``max_failures`` failed authentications from one address within ``window_s`` seconds block
that address for ``block_s`` seconds: every request from it is refused then, even one with
the right token (a guesser learns nothing from the answers). The failure that reaches the
limit starts the block. When the block ends the address starts again from zero. Memory is
bounded: at most ``max_addresses`` addresses are remembered (the oldest are forgotten).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any


class AuthThrottle:
    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 60.0,
        block_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = 10_000,
    ) -> None:
        if max_failures < 1 or window_s <= 0 or block_s <= 0:
            raise ValueError("max_failures >= 1, window_s > 0 and block_s > 0")
        self.max_failures = max_failures
        self.window_s = window_s
        self.block_s = block_s
        self.max_addresses = max_addresses
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def retry_after(self, address: str) -> float:
        """Seconds ``address`` stays blocked; 0 when it may try."""
        until = self._blocked_until.get(address)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left > 0:
            return left
        del self._blocked_until[address]  # the block is over: start from zero
        return 0.0

    def retry_after_header(self, address: str) -> str:
        """``Retry-After`` in whole seconds, rounded up (at least 1 while blocked)."""
        return str(max(1, math.ceil(self.retry_after(address))))

    def failed(self, address: str) -> bool:
        """Count a failed authentication; True when it starts a block of ``address``."""
        if self.retry_after(address) > 0:
            return False  # already blocked (its requests are not checked meanwhile)
        now = self._clock()
        seen = self._failures.pop(address, None) or deque()
        while seen and now - seen[0] >= self.window_s:
            seen.popleft()
        seen.append(now)
        if len(seen) >= self.max_failures:
            self._blocked_until[address] = now + self.block_s
            self._forget_oldest(self._blocked_until)
            return True
        self._failures[address] = seen  # re-inserted: the dict is ordered by last failure
        self._forget_oldest(self._failures)
        return False

    def _forget_oldest(self, table: dict[str, Any]) -> None:
        while len(table) > self.max_addresses:
            del table[next(iter(table))]
