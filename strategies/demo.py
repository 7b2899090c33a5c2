"""The demo order source: a small market maker that trades through Vigil's control API, so
that ``python run.py`` shows Vigil at work for as long as it runs.

It trades beside any other strategy without touching it: its orders carry client order
ids of its own (``demo-<run>-<n>``), it cancels only those (``DELETE /v1/orders/{id}``,
never ``cancel-all``), and it sells only what its own fills bought (a tally of its orders'
executed quantities, never more than the account holds), not a bot's inventory.

Each step it reads the mid from the exchange's public ``bookTicker`` and its own orders
from Vigil (``GET /v1/orders``), then keeps one bid resting under the mid (while it holds
less than its cap) and, while it holds coins, one ask over the mid and over what it paid
with both fees (so a close is a win, never one of a run of losses that would turn the
breaker YELLOW). Every other step it withdraws its quotes and quotes again around the new
mid, as a market maker follows the market. While it holds nothing to sell, a small MARKET
buy now and then starts its inventory.

It adapts to the breaker instead of hammering it: while trading is paused or RED it waits,
doubling its wait (to 30 s); while Vigil only waits for a reconciliation (at start-up, or
when the last one is stale) it looks again soon (its wait doubles to 2 s at most, so the
first HEALTHY one is not followed by half a minute of idling); under YELLOW it only sells
what it holds (the order path admits only orders that reduce exposure); a refusal doubles
its wait, an accepted order resets it. It imports nothing of Vigil: it is a client like any other.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import requests

TIMEOUT_S = 5.0
MAX_WAIT_S = 30.0  # paused, RED, refused: a person or the breaker has to act first
SOON_WAIT_S = 2.0  # waiting for a reconciliation: Vigil clears this by itself
REQUOTE_EVERY = 2  # steps between two withdrawals of the quotes (then quoted again)
MARKET_EVERY = 10  # while it holds nothing to sell: a small MARKET buy every this many steps
TICK = Decimal("0.01")
FEES = Decimal("1.0021")  # an ask over the cost with a maker fee on both sides (0.1 % each)
OPEN = ("NEW", "PARTIALLY_FILLED", "PENDING_NEW", "UNKNOWN")
CANCELLABLE = ("NEW", "PARTIALLY_FILLED")
PREFIX = "demo-"  # the client order ids of the demo's orders, from any run


@dataclass
class Inventory:
    """What the demo's own fills hold, at average cost: each look at its orders adds the
    executed quantity (and quote) each order gained since the last look, so an order
    compacted out of the book after it was seen is not forgotten."""

    held: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    seen: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)

    def update(self, orders: list[dict[str, Any]]) -> None:
        for o in orders:
            qty, quote = Decimal(o["executed_qty"]), Decimal(o["cumulative_quote"])
            was_qty, was_quote = self.seen.get(o["client_order_id"], (Decimal(0), Decimal(0)))
            if qty <= was_qty:
                continue
            self.seen[o["client_order_id"]] = (qty, quote)
            delta, delta_quote = qty - was_qty, quote - was_quote
            if o["side"] == "BUY":
                self.held += delta
                self.cost += delta_quote
            elif self.held > 0:
                sold = min(delta, self.held)
                self.cost -= self.cost * sold / self.held
                self.held -= sold

    @property
    def entry(self) -> Decimal | None:
        return self.cost / self.held if self.held > 0 else None


GO, SOON, BACK_OFF = "go", "soon", "back off"  # what one step says of the next one


def next_wait(wait: float, outcome: str, interval_s: float) -> float:
    """The wait before the next step: the interval after a step that went, else doubled,
    up to ``SOON_WAIT_S`` while Vigil only waits for a reconciliation and ``MAX_WAIT_S``
    otherwise (never below the interval)."""
    if outcome == GO:
        return interval_s
    cap = SOON_WAIT_S if outcome == SOON else MAX_WAIT_S
    return max(interval_s, min(wait * 2, cap))


def outcome_of(breaker: str, trading: str) -> str | None:
    """What the status alone says of a step: None when trading is allowed, SOON when Vigil
    only waits for a (fresh) reconciliation, BACK_OFF when RED or paused."""
    if trading == "allowed" and breaker != "RED":
        return None
    if breaker == "RED" or trading.startswith(("RED", "YELLOW")):
        return BACK_OFF
    return SOON  # "no HEALTHY reconciliation yet", "the last reconciliation is stale", ...


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
        self._offset = Decimal("2")  # quotes rest this far (quote units) from the mid
        self._cap = quantity * 50  # the inventory it stops bidding at
        self._http = requests.Session()
        self._http.headers["Authorization"] = f"Bearer {token}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-source", daemon=True)
        self._wait = interval_s
        self._run_tag = secrets.token_hex(3)
        self._next_id = 0
        self.inventory = Inventory()
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

    # ------------------------------------------------------------------ reading

    def _get(self, path: str) -> Any:
        answer = self._http.get(f"{self._control}{path}", timeout=TIMEOUT_S)
        answer.raise_for_status()
        return answer.json()

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

    # ------------------------------------------------------------------ acting

    def _order(self, side: str, kind: str, price: Decimal | None = None) -> bool:
        order: dict[str, str] = {
            "symbol": self._symbol,
            "side": side,
            "type": kind,
            "quantity": str(self._quantity),
            "client_order_id": f"{PREFIX}{self._run_tag}-{self._next_id}",
        }
        self._next_id += 1
        if price is not None:
            order["price"] = str(price)
        self.sent += 1
        answer = self._http.post(f"{self._control}/v1/orders", json=order, timeout=TIMEOUT_S)
        if answer.status_code == 202:
            self.accepted += 1
            return True
        return False

    def _own(self) -> list[dict[str, Any]]:
        """The demo's orders (any run's) on its symbol as the book knows them; its
        inventory brought up to date with their fills."""
        orders = self._get("/v1/orders")["orders"]  # by client order id
        own = [
            {**o, "client_order_id": cid}
            for cid, o in orders.items()
            if cid.startswith(PREFIX) and o["symbol"] == self._symbol
        ]
        self.inventory.update(own)
        return own

    def _tidy(self) -> None:
        """Withdraw its own resting quotes, one by one (nobody else's)."""
        for o in self._own():
            if o["state"] in CANCELLABLE:
                self._http.delete(
                    f"{self._control}/v1/orders/{o['client_order_id']}",
                    params={"reason": "demo requote"},
                    timeout=TIMEOUT_S,
                )

    def step(self, tick: int) -> str:
        """One look and at most a few orders; GO, or SOON / BACK_OFF when it should wait
        longer (waiting for a reconciliation; paused, RED, or an order refused)."""
        status = self._get("/v1/status")
        level = status["breaker"]
        waiting = outcome_of(level, status["trading"])
        if waiting is not None:
            return waiting
        if tick % REQUOTE_EVERY == 0:
            self._tidy()
            return GO
        mid = self._mid()
        if mid is None:
            return BACK_OFF
        mine = [o for o in self._own() if o["state"] in OPEN]
        bids = [o for o in mine if o["side"] == "BUY"]
        asks = [o for o in mine if o["side"] == "SELL"]
        position = self._get("/v1/balances")["positions"].get(self._symbol, {})
        # its own fills' holding, never more than the account holds (a bot's coins stay)
        held = min(self.inventory.held, Decimal(position.get("quantity", "0")))
        entry = self.inventory.entry
        ok = True
        selling = sum((Decimal(o["quantity"]) for o in asks), Decimal(0))
        if not asks and held - selling >= self._quantity:
            floor = entry * FEES if entry is not None else mid
            price = max(mid + self._offset, floor)
            ok &= self._order("SELL", "LIMIT", price.quantize(TICK, ROUND_CEILING))
        if level == "YELLOW":
            return GO if ok else BACK_OFF  # only orders that reduce exposure get through
        if not bids and held < self._cap:
            price = (mid - self._offset).quantize(TICK, ROUND_FLOOR)
            ok &= self._order("BUY", "LIMIT", price)
        if held < self._quantity and tick % MARKET_EVERY == 1:
            ok &= self._order("BUY", "MARKET")  # nothing to quote an ask with: buy some
        return GO if ok else BACK_OFF

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(self._wait):
            tick += 1
            try:
                outcome = self.step(tick)
            except (requests.RequestException, KeyError, ValueError):
                outcome = BACK_OFF  # Vigil or the exchange is busy or stopping
            self._wait = next_wait(self._wait, outcome, self._interval_s)
