"""A demo order source: small orders on the simulator so ``python run.py`` shows Vigil at work.

Every ``interval_s`` it sends one intent to the broker, cycling through a MARKET buy, a
LIMIT buy just under the mid, a MARKET sell and a LIMIT sell just over it (so some rest,
fill partially or later, and some get cancelled). It is a plain thread, not an actor: it
stands where a strategy would, outside the safety layer.
"""

from __future__ import annotations

import itertools
import threading
from decimal import Decimal
from typing import TYPE_CHECKING

import pykka

from actors.messages import CancelAll, OrderIntent

if TYPE_CHECKING:
    from supervision.system import VigilSystem


class DemoSource:
    def __init__(self, system: VigilSystem) -> None:
        self.system = system
        self.settings = system.settings.demo
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-source", daemon=True)
        self.sent = 0
        self.accepted = 0

    def start(self) -> DemoSource:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        steps = itertools.cycle(("MARKET BUY", "LIMIT BUY", "MARKET SELL", "LIMIT SELL"))
        tick = 0
        while not self._stop.wait(self.settings.interval_s):
            tick += 1
            if tick % 20 == 0:  # old resting orders are cancelled now and then
                self.system.directory.tell(
                    "order_broker", CancelAll(reason="demo tidy-up"), sender="demo"
                )
                continue
            kind, side = next(steps).split()
            ticker = self.system.adapter.reference_price(self.settings.symbol)
            price = None
            if kind == "LIMIT":
                if ticker is None:
                    continue
                offset = Decimal("-2") if side == "BUY" else Decimal("2")
                price = ticker.mid + offset
            intent = OrderIntent(
                symbol=self.settings.symbol,
                side=side,
                type=kind,
                quantity=self.settings.quantity,
                price=price,
                source="demo",
            )
            self.sent += 1
            try:
                decision = self.system.ask("order_broker", intent)
            except (pykka.Timeout, pykka.ActorDeadError):
                continue
            if decision.accepted:
                self.accepted += 1
