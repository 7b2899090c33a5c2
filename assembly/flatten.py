"""Emergency flatten (``POST /v1/flatten``, ``run.py flatten``): cancel every open order of
ours, wait until the exchange confirms them gone, then sell each position Vigil's fills
built back to the quote asset with MARKET orders, and leave RED latched.

The steps, each audited: refused (``flatten_refused``) unless the last reconciliation is
HEALTHY — Vigil must know where the money is — or the operator forces it; then
``flatten_started``; RED tripped first if it is not already (a flatten is an emergency:
nothing else may trade while it runs, and nothing after it until a person resets); the
cancels (``flatten_cancel`` each, by the broker), waited for up to ``timeout_s``; the plan
(``domain.flatten``: Vigil's position per symbol capped at the exchange's free base,
floored onto the lot filters, split at the per-order maximum) with its dust
(``flatten_dust`` each, never chased); the sells (``flatten_sell`` each, on the broker's
flatten path, the only orders that may reach the wire while RED), waited for up to
``timeout_s``; and ``flatten_done`` or ``flatten_failed`` with the report. If an order
of ours is still open at the cancel deadline nothing is sold.

Runs on the caller's thread (the control API's executor), one flatten at a time per
system, talking to the broker by asks and to the exchange for the free balances.
"""

from __future__ import annotations

import threading
import time
import weakref
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pykka

from domain.flatten import Holding, plan_flatten
from domain.money import plain
from exchange.contract import ExchangeError
from runtime.messages import FlattenCancel, FlattenSell, FlattenView, Halt, PollNow
from storage import StoreError

if TYPE_CHECKING:
    from assembly.system import VigilSystem

POLL_S = 0.05  # how often the broker's book is read while waiting
NUDGE_S = 0.5  # how often the poller is asked for a REST look while waiting
DONE = 200
REFUSED = 409
FAILED = 502  # the exchange did not confirm every step within the deadline
UNAVAILABLE = 503

_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def _lock_of(system: VigilSystem) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(system, threading.Lock())


def flatten(
    system: VigilSystem, reason: str, *, force: bool = False, timeout_s: float = 15.0
) -> tuple[int, dict[str, Any]]:
    """Run one flatten; (HTTP status, report)."""
    lock = _lock_of(system)
    if not lock.acquire(blocking=False):
        return REFUSED, _refused(system, reason, "a flatten is already running")
    try:
        if not system.accepting:
            return UNAVAILABLE, _refused(system, reason, "shutting down")
        gate = system.gate
        last = gate.last_result
        if last != "HEALTHY" and not force:
            why = (
                f"the last reconciliation is {last or 'not done yet'}, not HEALTHY: Vigil "
                "does not know where the money is (force to flatten anyway)"
            )
            return REFUSED, _refused(system, reason, why)
        return Flatten(system, reason, force, timeout_s).run()
    finally:
        lock.release()


def _refused(system: VigilSystem, reason: str, why: str) -> dict[str, Any]:
    system.audit("flatten_refused", reason=reason, refusal=why)
    return {"ok": False, "refused": True, "error": why, "reason": reason}


class Flatten:
    """One flatten's steps and its report."""

    def __init__(self, system: VigilSystem, reason: str, force: bool, timeout_s: float) -> None:
        self.system = system
        self.reason = reason
        self.force = force
        self.timeout_s = timeout_s
        self.errors: list[str] = []
        self.report: dict[str, Any] = {
            "ok": False,
            "reason": reason,
            "forced": force,
            "cancelled": [],
            "sold": [],
            "dust": [],
            "notes": [],
            "errors": self.errors,
        }
        self._nudged = 0.0

    def ask(self, message: Any) -> Any:
        return self.system.ask("order_broker", message)

    def nudge(self) -> None:
        """A REST look now (open orders, unknown orders, trades): the confirmation comes
        sooner than at the poller's next beat."""
        if time.monotonic() - self._nudged >= NUDGE_S:
            self._nudged = time.monotonic()
            self.system.directory.tell("rest_poller", PollNow(), sender="flatten")

    def run(self) -> tuple[int, dict[str, Any]]:
        began = time.monotonic()
        gate = self.system.gate
        self.system.audit(
            "flatten_started",
            reason=self.reason,
            force=self.force,
            breaker=gate.state.level.value,
            reconciliation=gate.last_result,
        )
        # the orders of ours open now: cancelled by this flatten or by cancel-on-RED
        try:
            before = [o["client_order_id"] for o in self.ask(FlattenView())["open"]]
        except (pykka.Timeout, pykka.ActorDeadError):
            before = []
        try:
            self.trip_red()
            self.report["cancelled"] = self.cancel_all(before)
            if not self.errors:
                self.sell_all()
        except (pykka.Timeout, pykka.ActorDeadError) as exc:  # the broker is restarting
            self.errors.append(f"the order broker did not answer ({type(exc).__name__}): stopped")
        self.trip_red()  # RED stays latched whatever happened meanwhile
        self.report["breaker"] = gate.state.level.value
        self.report["ok"] = not self.errors
        self.report["elapsed_s"] = round(time.monotonic() - began, 3)
        if self.errors:
            self.system.audit("flatten_failed", **self.report)
            status = FAILED
        else:
            self.system.audit("flatten_done", **self.report)
            status = DONE
        return status, self.report

    def trip_red(self) -> None:
        gate = self.system.gate
        if gate.state.is_red:
            return
        why = f"emergency flatten: {self.reason}"
        try:
            gate.trip_red(why, "operator")  # at once, as a halt
        except StoreError as exc:  # RED holds in memory; the latch's disk is the store's report
            self.report["notes"].append(f"RED could not be made durable: {exc}")
        self.system.directory.tell("breaker", Halt(reason=why, source="flatten"), sender="flatten")

    # ------------------------------------------------------------------ cancels

    def cancel_all(self, before: list[str]) -> list[dict[str, Any]]:
        """Cancel every open order of ours and wait until none is left open; the final
        states of those open at the start and of those this flatten cancelled."""
        deadline = time.monotonic() + self.timeout_s
        sent = list(before)
        while True:
            answer = self.ask(FlattenCancel(reason=self.reason))
            sent.extend(c for c in answer["cancelled"] if c not in sent)
            still = answer["open"]
            if not still:
                break
            if time.monotonic() > deadline:
                listed = ", ".join(f"{o['client_order_id']} ({o['state']})" for o in still)
                self.errors.append(
                    f"orders of ours still open after {self.timeout_s:g} s: {listed}; "
                    "nothing was sold"
                )
                break
            self.nudge()
            time.sleep(POLL_S)
        states = self.ask(FlattenView(client_order_ids=tuple(sent)))["orders"]
        return [
            {"client_order_id": cid, "symbol": o["symbol"], "state": o["state"]}
            for cid, o in states.items()
        ]

    # ------------------------------------------------------------------ sells

    def holdings(self, view: dict[str, Any]) -> list[Holding] | None:
        adapter = self.system.adapter
        try:
            balances = adapter.get_balances()
        except ExchangeError as exc:
            self.errors.append(f"the exchange's balances cannot be read: {exc}; nothing was sold")
            return None
        holdings = []
        for symbol, assets in view["symbols"].items():
            try:
                filters = adapter.symbol_filters(symbol)
            except (ExchangeError, KeyError) as exc:
                self.errors.append(f"{symbol}: no filters ({exc}): not sold")
                continue
            balance = balances.get(assets["base"])
            price = view["prices"].get(symbol)
            holdings.append(
                Holding(
                    symbol=symbol,
                    position=Decimal(view["positions"].get(symbol, "0")),
                    free_base=balance.free if balance is not None else Decimal(0),
                    price=None if price is None else Decimal(price),
                    filters=filters,
                )
            )
        return holdings

    def sell_all(self) -> None:
        holdings = self.holdings(self.ask(FlattenView()))
        if holdings is None:
            return
        plan = plan_flatten(holdings)
        self.report["notes"].extend(plan.notes)
        for d in plan.dust:
            dust = {"symbol": d.symbol, "quantity": plain(d.quantity), "reason": d.reason}
            self.report["dust"].append(dust)
            self.system.audit("flatten_dust", **dust)
        sent: list[str] = []
        for s in plan.sells:
            answer = self.ask(FlattenSell(symbol=s.symbol, quantity=s.quantity, reason=self.reason))
            if answer["accepted"]:
                sent.append(answer["client_order_id"])
            else:
                self.errors.append(f"{s.symbol} sell of {plain(s.quantity)}: {answer['reason']}")
        self.report["sold"] = self.wait_sold(sent)

    def wait_sold(self, sent: list[str]) -> list[dict[str, Any]]:
        """Wait until every sell is finished (FILLED, or otherwise closed) or the deadline."""
        deadline = time.monotonic() + self.timeout_s
        terminal = ("FILLED", "CANCELED", "REJECTED", "EXPIRED")
        while True:
            orders = self.ask(FlattenView(client_order_ids=tuple(sent)))["orders"]
            done = all(o["state"] in terminal for o in orders.values())
            if done or time.monotonic() > deadline:
                break
            self.nudge()
            time.sleep(POLL_S)
        sold = []
        for cid in sent:
            o = orders[cid]
            sold.append(
                {
                    "client_order_id": cid,
                    "symbol": o["symbol"],
                    "quantity": o["quantity"],
                    "status": o["state"],
                    "executed_qty": o["executed_qty"],
                    "quote_received": o["cumulative_quote"],
                }
            )
            if o["state"] != "FILLED":
                self.errors.append(
                    f"{cid} ({o['symbol']} sell of {o['quantity']}): {o['state']}, "
                    f"{o['executed_qty']} executed"
                )
        return sold
