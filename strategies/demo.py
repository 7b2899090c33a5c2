"""The demo order source: a strategy that trades small orders through Vigil's control API,
so that ``python run.py`` shows Vigil at work.

Every ``interval_s`` it sends one order to ``POST /v1/orders``, cycling through a MARKET
buy, a LIMIT buy just under the mid, a MARKET sell and a LIMIT sell just over it (so some
rest, fill partially or later, and some get cancelled); every 20th step it tidies up with
``POST /v1/cancel-all``. The mid comes from the exchange's public ``bookTicker``, as any
strategy would read it. It imports nothing of Vigil: it is a client like any other.
"""

from __future__ import annotations

import itertools
import threading
from decimal import Decimal

import requests

STEPS = ("MARKET BUY", "LIMIT BUY", "MARKET SELL", "LIMIT SELL")
TIDY_EVERY = 20  # steps between two cancel-alls of the demo's resting orders
LIMIT_OFFSET = Decimal("2")  # a LIMIT rests this far (in quote units) from the mid
TIMEOUT_S = 5.0


class DemoSource:
    """A thread that trades through ``control_url`` with ``token``; ``stop()`` ends it."""

    def __init__(
        self,
        control_url: str,
        token: str,
        exchange_rest_url: str,
        *,
        symbol: str,
        quantity: Decimal,
        interval_s: float,
    ) -> None:
        self._control = control_url.rstrip("/")
        self._exchange = exchange_rest_url.rstrip("/")
        self._symbol = symbol
        self._quantity = quantity
        self._interval_s = interval_s
        self._http = requests.Session()
        self._http.headers["Authorization"] = f"Bearer {token}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-source", daemon=True)
        self.sent = 0
        self.accepted = 0

    def __repr__(self) -> str:  # the session holds the token
        return f"DemoSource({self._control}, {self._symbol})"

    def start(self) -> DemoSource:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=TIMEOUT_S + 1)
        self._http.close()

    def _mid(self) -> Decimal | None:
        answer = requests.get(
            f"{self._exchange}/api/v3/ticker/bookTicker",
            params={"symbol": self._symbol},
            timeout=TIMEOUT_S,
        )
        if answer.status_code != 200:
            return None
        book = answer.json()
        return (Decimal(book["bidPrice"]) + Decimal(book["askPrice"])) / 2

    def _step(self, tick: int, step: str) -> None:
        if tick % TIDY_EVERY == 0:  # old resting orders are cancelled now and then
            self._http.post(f"{self._control}/v1/cancel-all", json={}, timeout=TIMEOUT_S)
            return
        kind, side = step.split()
        order: dict[str, str] = {
            "symbol": self._symbol,
            "side": side,
            "type": kind,
            "quantity": str(self._quantity),
        }
        if kind == "LIMIT":
            mid = self._mid()
            if mid is None:
                return
            offset = -LIMIT_OFFSET if side == "BUY" else LIMIT_OFFSET
            order["price"] = str(mid + offset)
        self.sent += 1
        answer = self._http.post(f"{self._control}/v1/orders", json=order, timeout=TIMEOUT_S)
        if answer.status_code == 202:
            self.accepted += 1

    def _run(self) -> None:
        steps = itertools.cycle(STEPS)
        tick = 0
        while not self._stop.wait(self._interval_s):
            tick += 1
            step = next(steps) if tick % TIDY_EVERY else ""
            try:
                self._step(tick, step)
            except requests.RequestException:
                continue  # Vigil or the exchange is busy or stopping: try the next step
