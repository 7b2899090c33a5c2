"""Chaos: Vigil under a seeded random schedule of every simulator fault, actor kills and
process SIGKILLs, with an invariant checker comparing Vigil with the exchange's true state.

    python -m bench.chaos --minutes M [--seed S] [--quick]

Two real processes: ``run.py sim`` (the exchange, its fault API) and Vigil's main job
(``run.py``'s ``main``, run through this module's ``--child`` wrapper, which only adds a
stdin hook that tells an actor ``InjectFault(kind="raise")`` or stops its ref; the SIGKILL
is a real ``kill -9`` of that process, then a restart on the same data dir). Orders go
through the control API (``POST /v1/orders``); after an expected RED the bench acts as the
operator: it clears the fault, undoes what the fault did to the account (cancels the ghost
order, reverses the silent drift), waits for a HEALTHY reconciliation and resets.

After every step, once quiet, it checks: no client order id twice on the exchange; Vigil's
``fills`` equal to the exchange's trades of our orders; every order and balance of the book
equal to the exchange; every acknowledged (202) order in the book; every RED explained by a
fault injected in its step (``EXPECT``); no reconciliation CRITICAL without such a fault;
after each SIGKILL and at the end, the audit sequence continuous (``run.py audit --check``),
every journaled intent audited and every acknowledged order journaled.

The schedule (event and parameters of step N) is a function of the seed alone; how many
steps fit in the minutes, and the market's moves, depend on timing.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
SYMBOL = "BTCUSDT"
TICK = Decimal("0.01")
FAULT_KINDS = (
    "timeout_after_accept",
    "lost_response",
    "unknown_status",
    "reject_orders",
    "slippage",
    "duplicate_events",
    "drop_events",
    "drop_list_expiry",
    "malformed_events",
    "delay_events",
    "outage",
    "rate_limit_storm",
    "clock_skew",
    "ghost_order",
    "balance_drift",
    "ws_disconnect",
    "stream_terminated",
    "dangerous_key",
)
ACTOR_EVENTS = ("actor_raise", "actor_stop")
PROCESS_EVENTS = ("sigkill",)
ACTORS = ("breaker", "order_broker", "reconciler", "rest_poller", "ws_listener", "audit_logger")
TICKING = ("--tick-interval", "0.25")  # the price walks: resting orders fill now and then
RED_WAIT_S = 20.0  # how long a fault that must make RED is left in place, at most
YELLOW_WAIT_S = 8.0  # longer than breaker.yellow_cool_down_s below
ACTOR_GAP_STEPS = 4  # the supervisor gives up past 3 restarts in 60 s: keep kills apart

# Vigil's settings for the run (environment overrides, as an operator would set them)
VIGIL_SETTINGS = {
    "demo__enabled": "false",
    # faster than the defaults (5 s, 2 s), within the exchange's 6,000 weight a minute
    "reconciliation__interval_s": "2",
    "poller__interval_s": "1.5",
    "breaker__yellow_cool_down_s": "3",
    # random orders lose the spread and the fees: the strategy's losing streak (a YELLOW
    # that clears only on a winning trade) is not what this bench is about
    "breaker__triggers__consecutive_losses__threshold": "0",
    "exchange__read_timeout_s": "2",
    # checkpoints, compaction and archiving happen within minutes, not after 10,000
    # entries: the invariants are checked across them (and across SIGKILLs during them)
    "journal__checkpoint_every": "100",
    "journal__keep_closed": "20",
}


# ------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Expect:
    """What a fault may do to the breaker: ``red`` is "always" (a RED is expected; none
    seen is a missed RED), "maybe" (a RED is legitimate but not required) or "never";
    ``reasons``: RED reasons (substrings) it explains; ``critical``: reconciliation
    finding kinds it explains; ``note``: what the bench can and cannot check."""

    red: str
    reasons: tuple[str, ...] = ()
    critical: tuple[str, ...] = ()
    note: str = ""


EXPECT: dict[str, Expect] = {
    "timeout_after_accept": Expect("never", note="unknown outcome → query by id; no double"),
    "lost_response": Expect("never", note="unknown outcome → query by id; no double"),
    "unknown_status": Expect("never", note="placed or not: resolved by query"),
    "reject_orders": Expect("never", note="a refused order: REJECTED in the book"),
    "slippage": Expect("never", note="YELLOW below 500 bps (RED at ≥ 500: see expect_for)"),
    "duplicate_events": Expect("never", note="checked: no fill counted twice"),
    "drop_events": Expect("never", note="checked: the poller brings the lost fill"),
    "drop_list_expiry": Expect(
        "never", note="acts only on an OCO order's expiry; the bench places no order lists"
    ),
    "malformed_events": Expect("never", note="YELLOW (malformed payload); fill via REST"),
    "delay_events": Expect("never", note="checked: late fills still counted once"),
    "outage": Expect(
        "maybe",
        ("reconciliation_failures", "api_errors", "ping_failures", "reconciliation_stale"),
        note="RED when it outlasts reconciliation.max_age_intervals cycles",
    ),
    "rate_limit_storm": Expect(
        "always", ("ban:", "reconciliation_failures", "api_errors"), note="the 418 ban is RED"
    ),
    "clock_skew": Expect(
        "maybe",
        ("reconciliation_failures", "api_errors"),
        note="-1021 until the adapter re-syncs its clock",
    ),
    "ghost_order": Expect(
        "always",
        ("unknown_order", "reconciliation CRITICAL"),
        ("unknown_order", "locked", "balance"),
        note="the operator cancels the ghost on the exchange before the reset",
    ),
    "balance_drift": Expect(
        "always",
        ("reconciliation CRITICAL",),
        ("balance",),
        note="the operator reverses the drift before the reset",
    ),
    "ws_disconnect": Expect("never", note="reconnect; the poller fills the gap"),
    "stream_terminated": Expect("never", note="resubscribe; the poller fills the gap"),
    "dangerous_key": Expect(
        "never",
        note="read only at start-up (a start while armed is refused: tests/test_run_keys.py); "
        "cleared before the next restart",
    ),
    "actor_raise": Expect("always", ("crash", "actor_restarts"), note="InjectFault(raise)"),
    "actor_stop": Expect("always", ("dead", "actor_restarts"), note="ActorRef.stop()"),
    "sigkill": Expect("always", ("unclean stop at",), note="kill -9, restart: unclean stop"),
}


def expect_for(kind: str, params: dict[str, Any]) -> Expect:
    base = EXPECT[kind]
    if kind == "slippage" and Decimal(str(params.get("params", {}).get("bps", 0))) >= 500:
        return Expect("always", ("slippage:",), note="≥ 500 bps: the slippage rule's RED")
    if kind in ACTOR_EVENTS:
        actor = params["actor"]
        return Expect(
            base.red, tuple(f"actor {actor} {r}" for r in base.reasons[:1]) + base.reasons[1:]
        )
    return base


# ------------------------------------------------------------------------------ the schedule


@dataclass
class Event:
    step: int
    kind: str
    spec: dict[str, Any]  # the POST /_sim/faults body, or {"actor": name}


def schedule(seed: int) -> Iterator[Event]:
    """Every kind once per round in a seeded order, then again; parameters seeded too."""
    rng = random.Random(seed)
    kinds = [*FAULT_KINDS, *ACTOR_EVENTS, *PROCESS_EVENTS]
    step = 0
    last_actor = -1
    while True:
        order = kinds[:]
        rng.shuffle(order)
        for kind in order:
            step += 1
            if kind in ACTOR_EVENTS:
                # a kill right after another would be the same kill twice in the supervisor's
                # window: move it back by one (the order stays a function of the seed)
                if step - last_actor < ACTOR_GAP_STEPS:
                    kind = rng.choice(FAULT_KINDS)
                else:
                    last_actor = step
            yield Event(step, kind, fault_spec(kind, rng, seed, step))


def fault_spec(kind: str, rng: random.Random, seed: int, step: int) -> dict[str, Any]:
    if kind in ACTOR_EVENTS:
        return {"actor": rng.choice(ACTORS)}
    if kind == "sigkill":
        return {"after_s": round(rng.uniform(0.3, 2.0), 2)}
    body: dict[str, Any] = {"kind": kind}
    params: dict[str, Any] = {}
    if kind == "timeout_after_accept":
        params = {"delay": 3}
    elif kind == "unknown_status":
        params = {"placed": rng.choice([True, False])}
    elif kind == "reject_orders":
        body["count"] = rng.randint(1, 3)
    elif kind == "slippage":
        params = {"bps": rng.choice(["100", "200", "800"])}
        body["count"] = 2
    elif kind in ("duplicate_events", "drop_events"):
        body["count"] = rng.randint(2, 6)
    elif kind == "delay_events":
        params = {"delay_ms": rng.choice([500, 1500])}
        body["count"] = 4
    elif kind == "outage":
        params = {"mode": rng.choice(["503", "refuse"]), "scope": rng.choice(["rest", "all"])}
        body["duration"] = rng.choice([1.0, 3.0])
    elif kind == "rate_limit_storm":
        params = {"count_429": rng.randint(2, 4), "retry_after": 1, "ban_seconds": 3}
    elif kind == "clock_skew":
        params = {"offset_ms": rng.choice([-5000, 5000, 20000])}
    elif kind == "ghost_order":
        params = {"side": rng.choice(["BUY", "SELL"]), "client_order_id": f"ghost-{seed}-{step}"}
    elif kind == "balance_drift":
        params = rng.choice(
            [{"asset": "USDT", "delta": "-1.5"}, {"asset": "BTC", "delta": "-0.0002"}]
        )
    elif kind == "ws_disconnect":
        params = {"target": rng.choice(["user", "market", "all"])}
        params["mode"] = rng.choice(["abort", "close"])
    if params:
        body["params"] = params
    return body


# ------------------------------------------------------------------------------ processes


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except requests.RequestException:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


class Exchange:
    """``run.py sim`` as its own process, and its fault and control API."""

    def __init__(self, seed: int, log: Path) -> None:
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "run.py", "sim", "--port", "0", "--seed", str(seed), *TICKING],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        self.info: dict[str, str] = json.loads(self.proc.stdout.readline())
        self.rest = self.info["rest"]

    def state(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.rest}/_sim/state", timeout=5).json())

    def arm(self, body: dict[str, Any]) -> requests.Response:
        return requests.post(f"{self.rest}/_sim/faults", json=body, timeout=5)

    def clear(self) -> None:
        requests.delete(f"{self.rest}/_sim/faults", timeout=5).raise_for_status()

    def triggered(self, fault_id: int) -> bool:
        """Whether the armed fault ``fault_id`` has acted at least once (one spent and
        gone has)."""
        armed = requests.get(f"{self.rest}/_sim/faults", timeout=5).json()["armed"]
        return next((f["triggered"] > 0 for f in armed if f["id"] == fault_id), True)

    def kinds(self) -> list[str]:
        """The fault kinds this simulator knows (its history lists them on a bad kind)."""
        answer = requests.post(f"{self.rest}/_sim/faults", json={"kind": "?"}, timeout=5)
        text = str(answer.json().get("error", ""))
        return [k.strip() for k in text.split("known:", 1)[-1].split(",") if k.strip()]

    def cancel(self, symbol: str, client_order_id: str) -> None:
        """The operator cancels an order on the exchange directly (the ghost)."""
        from binance.client import Client

        client = Client(self.info["api_key"], self.info["api_secret"], ping=False)
        client.API_URL = f"{self.rest}/api"
        with contextlib.suppress(Exception):
            client.cancel_order(symbol=symbol, origClientOrderId=client_order_id)

    def mid(self) -> Decimal:
        return Decimal(self.state()["prices"][SYMBOL]["mid"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.log.close()


class VigilProcess:
    """Vigil's main job as a process (this module's ``--child``: ``run.py``'s ``main``
    plus a stdin hook for actor kills)."""

    def __init__(self, exchange: Exchange, data_dir: Path, log: Any) -> None:
        info = exchange.info
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env.update(
            {
                "VIGIL_DATA_DIR": str(data_dir),
                "VIGIL_EXCHANGE__SIMULATOR": "false",
                "VIGIL_EXCHANGE__REST_URL": info["rest"],
                "VIGIL_EXCHANGE__WS_API_URL": info["ws_api"],
                "VIGIL_EXCHANGE__STREAM_URL": info["streams"],
                "BINANCE_API_KEY": info["api_key"],
                "BINANCE_API_SECRET": info["api_secret"],
                **{f"VIGIL_{k.upper()}": v for k, v in VIGIL_SETTINGS.items()},
            }
        )
        control = data_dir / "control.json"
        with contextlib.suppress(FileNotFoundError):
            control.unlink()  # left behind by a killed process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.chaos", "--child"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        if not wait_for(lambda: control.exists() or self.proc.poll() is not None, 30):
            raise RuntimeError("chaos: Vigil did not start within 30 s")
        if self.proc.poll() is not None:
            raise RuntimeError(f"chaos: Vigil exited at start ({self.proc.returncode})")
        self.url = json.loads(control.read_text())["url"]
        self.token = (data_dir / "control.token").read_text().strip()

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return requests.request(
            method,
            self.url + path,
            json=body,
            timeout=10,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def status(self) -> dict[str, Any]:
        return dict(self.api("GET", "/v1/status").json())

    def command(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9


def child() -> int:
    """Vigil's main job (``run.py``), plus: a line ``raise NAME`` on stdin tells that actor
    ``InjectFault(kind="raise")``; ``stop NAME`` stops its ref (no message, no exception)."""
    sys.path.insert(0, str(ROOT))
    import run
    from assembly.system import VigilSystem
    from runtime.messages import InjectFault

    systems: list[VigilSystem] = []
    start = VigilSystem.start

    def started(self: VigilSystem) -> VigilSystem:
        systems.append(self)
        return start(self)

    VigilSystem.start = started  # type: ignore[method-assign]

    def commands() -> None:
        for line in sys.stdin:
            verb, _, name = line.strip().partition(" ")
            if not systems:
                continue
            directory = systems[0].directory
            if verb == "raise":
                directory.tell(name, InjectFault(kind="raise"), sender="chaos")
            elif verb == "stop":
                ref = directory.ref(name)
                if ref is not None:
                    ref.stop(block=False)

    threading.Thread(target=commands, name="chaos-commands", daemon=True).start()
    return int(run.main([]))


# ------------------------------------------------------------------------------ the run


@dataclass
class Injected:
    step: int
    kind: str
    spec: dict[str, Any]
    expect: Expect
    start_ms: int
    end_ms: int = 0
    armed: bool = True
    # a fault that acts on an order (slippage) acts only if one reaches the exchange while
    # it is armed: Vigil's own guard (YELLOW's reduce-only, its rate) may refuse them all
    took_effect: bool = True
    reds: list[str] = field(default_factory=list)


@dataclass
class Tally:
    injected: list[Injected] = field(default_factory=list)
    reds: dict[int, str] = field(default_factory=dict)  # since_ms -> reason
    yellows: dict[int, str] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))
    acked: set[str] = field(default_factory=set)
    orders_sent: int = 0
    refused: collections.Counter[int] = field(default_factory=collections.Counter)
    stuck: list[str] = field(default_factory=list)
    steps_checked: int = 0


def now_ms() -> int:
    return int(time.time() * 1000)


class Chaos:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.data_dir = work / "var"
        self.rng = random.Random(args.seed * 7919 + 1)  # the orders' own stream
        self.tally = Tally()
        self.exchange = Exchange(args.seed, work / "sim.log")
        self.vigil_log = (work / "vigil.log").open("a")
        self.vigil = VigilProcess(self.exchange, self.data_dir, self.vigil_log)
        self.order_no = 0
        self.step = 0

    # -------------------------------------------------------------- observing

    def observe(self) -> dict[str, Any] | None:
        try:
            status = self.vigil.status()
        except (requests.RequestException, ValueError):
            return None
        level, since = status.get("breaker"), int(status.get("since_ms") or 0)
        if level == "RED" and since not in self.tally.reds:
            self.tally.reds[since] = str(status.get("reason"))
        elif level == "YELLOW" and since not in self.tally.yellows:
            self.tally.yellows[since] = str(status.get("reason"))
        return status

    def problem(self, kind: str, detail: str) -> None:
        line = f"seed {self.args.seed} step {self.step}: {detail}"
        self.tally.problems[kind].append(line)
        print(f"  ! {kind}: {line}", flush=True)

    # -------------------------------------------------------------- orders

    def order(self, mid: Decimal, market: bool | None = None) -> None:
        self.order_no += 1
        cid = f"chaos-{self.args.seed}-{self.step}-{self.order_no}"
        side = self.rng.choice(["BUY", "SELL"])
        market = self.rng.random() < 0.4 if market is None else market
        body: dict[str, Any] = {
            "symbol": SYMBOL,
            "side": side,
            "type": "MARKET" if market else "LIMIT",
            "quantity": str(self.rng.choice(["0.001", "0.002", "0.003"])),
            "client_order_id": cid,
        }
        if not market:
            offset = Decimal(self.rng.choice([-8, -4, -2, 2, 4, 8])) / Decimal(10000)
            # BUY below / SELL above the mid: resting, filled when the walk crosses them
            sign = -1 if side == "BUY" else 1
            body["price"] = str((mid * (1 + sign * abs(offset))).quantize(TICK))
        self.tally.orders_sent += 1
        try:
            answer = self.vigil.api("POST", "/v1/orders", body)
        except requests.RequestException:
            return
        if answer.status_code == 202:
            self.tally.acked.add(cid)
            if self.rng.random() < 0.1:  # the same intent again: must never be a second order
                again = self.vigil.api("POST", "/v1/orders", body)
                if again.status_code == 202:
                    self.problem("duplicates", f"{cid} accepted twice by the control API")
        else:
            self.tally.refused[answer.status_code] += 1

    def traffic(self, seconds: float, rate: float = 3.0, stop_on_red: bool = False) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                mid = self.exchange.mid()
            except requests.RequestException:
                mid = Decimal(60000)
            self.order(mid)
            status = self.observe()
            if stop_on_red and status is not None and status["breaker"] == "RED":
                return
            time.sleep(1 / rate)

    # -------------------------------------------------------------- steps

    def run_step(self, event: Event) -> None:
        self.step = event.step
        kind = event.kind
        expect = expect_for(kind, event.spec)
        shown = json.dumps(
            {k: v for k, v in event.spec.items() if k != "kind"}, sort_keys=True, default=str
        )
        print(f"step {event.step:3d} {kind:22s} {shown}", flush=True)
        self.traffic(0.5)
        injected = Injected(event.step, kind, event.spec, expect, now_ms())
        self.tally.injected.append(injected)
        if kind in ACTOR_EVENTS:
            verb = "raise" if kind == "actor_raise" else "stop"
            self.vigil.command(f"{verb} {event.spec['actor']}")
            self.traffic(1.5)
        elif kind == "sigkill":
            self.traffic(float(event.spec["after_s"]))
            self.vigil.kill()
            self.check_at_rest("after the SIGKILL")
            self.vigil = VigilProcess(self.exchange, self.data_dir, self.vigil_log)
            self.traffic(1.0)
        else:
            answer = self.exchange.arm(event.spec)
            if answer.status_code != 200:
                injected.armed = False
                print(f"    not armed: {answer.status_code} {answer.text[:200]}", flush=True)
            if kind == "slippage":
                self.order(self.exchange.mid(), market=True)
            seconds = float(event.spec.get("duration", 0)) + 2.0
            # a fault that must be detected stays until it is (or RED_WAIT_S): undone
            # before the reconciliation's grace, a difference is rightly only a WARNING
            until_red = expect.red == "always" and injected.armed
            self.traffic(RED_WAIT_S if until_red else seconds, stop_on_red=until_red)
            if kind == "slippage" and injected.armed:
                injected.took_effect = self.exchange.triggered(answer.json()["armed"]["id"])
                if not injected.took_effect:
                    print("    not triggered: no MARKET order of ours reached the exchange")
            self.exchange.clear()
            self.undo(event)
        self.recover(injected)
        injected.end_ms = now_ms()
        self.check()

    def undo(self, event: Event) -> None:
        """What the operator does to the account after a fault that changed it."""
        params = event.spec.get("params", {})
        if event.kind == "ghost_order":
            self.exchange.cancel(SYMBOL, params["client_order_id"])
        elif event.kind == "balance_drift":
            reverse = {"asset": params["asset"], "delta": str(-Decimal(params["delta"]))}
            self.exchange.arm({"kind": "balance_drift", "params": reverse})

    def recover(self, injected: Injected) -> None:
        """Let the fault's effect play out; a RED is reset by the operator once a fresh
        reconciliation is HEALTHY (the reset is refused before that)."""
        deadline = time.monotonic() + 40
        reset_tries = 0
        yellow_since = 0.0
        while time.monotonic() < deadline:
            status = self.observe()
            if status is None:
                time.sleep(0.3)
                continue
            if status["breaker"] == "RED":
                reset_tries += 1
                answer = self.vigil.api(
                    "POST",
                    "/v1/reset",
                    {"reason": f"chaos step {injected.step}: {injected.kind}", "confirm": True},
                )
                if answer.status_code != 200:
                    time.sleep(0.4)
                continue
            if status.get("orders", {}).get("unknown", 0) == 0:
                if status["breaker"] == "GREEN" and status["trading"] == "allowed":
                    return
                # YELLOW clears by itself once its causes cool down; one that outlives the
                # step (a cause of the trading itself) is not waited for
                yellow_since = yellow_since or time.monotonic()
                if time.monotonic() - yellow_since > YELLOW_WAIT_S:
                    return
            time.sleep(0.3)
        status = self.observe() or {}
        self.tally.stuck.append(
            f"seed {self.args.seed} step {injected.step} ({injected.kind}): still "
            f"{status.get('breaker')} after 40 s: {status.get('reason')}"
        )
        print(f"  ! not recovered: {self.tally.stuck[-1]}", flush=True)

    # -------------------------------------------------------------- invariants

    def differences(self) -> tuple[list[str], list[str], list[str]]:
        """(book vs exchange differences, fill differences, duplicate ids), now."""
        state = self.exchange.state()
        ours = self.vigil.api("GET", "/v1/orders").json()["orders"]
        balances = self.vigil.api("GET", "/v1/balances").json()["balances"]
        status = self.vigil.status()
        fills = status.get("fills")
        mine = [o for o in state["orders"] if o.get("owner") == "account"]
        counts = collections.Counter(o["clientOrderId"] for o in mine)
        dupes = [f"{cid} x{n}" for cid, n in counts.items() if n > 1]
        book: list[str] = []
        # closed orders compacted away (journal.keep_closed) are no longer listed: an
        # order closed on the exchange may be absent, as many as were compacted
        compacted = status.get("orders", {}).get("compacted", 0)
        absent_closed = {
            o["clientOrderId"]
            for o in mine
            if o["clientOrderId"] not in ours and o["status"] not in ("NEW", "PARTIALLY_FILLED")
        }
        for o in mine:
            held = ours.get(o["clientOrderId"])
            if held is None and o["clientOrderId"] in absent_closed:
                continue
            if held is None:
                book.append(f"{o['clientOrderId']}: not in the book (exchange {o['status']})")
            elif held["state"] != o["status"]:
                book.append(f"{o['clientOrderId']}: book {held['state']} vs {o['status']}")
            elif Decimal(held["executed_qty"]) != Decimal(o["executedQty"]):
                book.append(
                    f"{o['clientOrderId']}: executed {held['executed_qty']} vs {o['executedQty']}"
                )
        on_exchange = set(counts)
        for cid, held in ours.items():
            if cid not in on_exchange and held["state"] not in ("REJECTED", "EXPIRED"):
                book.append(f"{cid}: book {held['state']}, not on the exchange")
        for asset, bal in state["balances"].items():
            total = Decimal(bal["free"]) + Decimal(bal["locked"])
            if Decimal(balances.get(asset, "0")) != total:
                book.append(f"{asset}: book {balances.get(asset)} vs exchange {total}")
        ids = {(o["symbol"], o["orderId"]) for o in mine}
        trades = sum(1 for t in state["trades"] if (t["symbol"], t["orderId"]) in ids)
        lost = [] if fills == trades else [f"Vigil fills {fills} vs exchange trades {trades}"]
        # acknowledged by Vigil, absent from its book: compacted if closed (or never on
        # the exchange: a rejection), counted against the same compacted budget
        open_there = {
            o["clientOrderId"] for o in mine if o["status"] in ("NEW", "PARTIALLY_FILLED")
        }
        gone = self.tally.acked - set(ours) - absent_closed
        missing = sorted(gone & open_there)
        if missing:
            book.append(f"acknowledged, open on the exchange, not in the book: {missing[:5]}")
        if len(absent_closed) + len(gone - open_there) > compacted:
            book.append(
                f"{len(absent_closed) + len(gone - open_there)} closed or rejected orders "
                f"not in the book, {compacted} compacted: {sorted(gone - open_there)[:5]}"
            )
        return book, lost, dupes

    def check(self) -> None:
        """Once quiet: the book equal to the exchange (given time to settle)."""
        self.tally.steps_checked += 1
        result: tuple[list[str], list[str], list[str]] = ([], [], [])

        def settled() -> bool:
            nonlocal result
            result = self.differences()
            return not result[0] and not result[1]

        if not wait_for(settled, 15, 0.3):
            book, lost, _ = result
            for line in book[:5]:
                self.problem("book/exchange mismatches", line)
            for line in lost:
                self.problem("lost or doubled fills", line)
        for line in result[2]:
            self.problem("duplicates", f"client order id twice on the exchange: {line}")
        if self.observe() is not None:
            open_orders = self.vigil.status().get("orders", {}).get("open", 0)
            if open_orders > 12:  # keep the book small: the operator tidies up
                self.vigil.api("POST", "/v1/cancel-all")

    def check_at_rest(self, when: str) -> None:
        """With no Vigil process running: the audit trail and the journal."""
        gaps = audit_gaps(self.data_dir)
        if gaps:
            self.problem("lost audit records", f"{when}: {gaps}")
        not_audited, not_journaled = intents_audited(self.data_dir, self.tally.acked)
        if not_audited:
            self.problem("lost audit records", f"{when}: intents not audited {not_audited[:5]}")
        if not_journaled:
            self.problem(
                "lost audit records", f"{when}: acknowledged, not journaled {not_journaled[:5]}"
            )

    # -------------------------------------------------------------- end

    def finish(self) -> None:
        code = self.vigil.stop()
        if code != 0:
            self.problem("lost audit records", f"Vigil's graceful stop exited {code}")
        self.check_at_rest("at the end")
        self.exchange.stop()
        self.vigil_log.close()


def audit_gaps(data_dir: Path) -> str:
    """``run.py audit --check``: '' when the sequence is continuous."""
    result = subprocess.run(
        [sys.executable, "run.py", "audit", "--check", "--limit", "1"],
        cwd=ROOT,
        env={**os.environ, "VIGIL_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return "" if result.returncode == 0 and "continuous" in result.stderr else result.stderr[-300:]


def intents_audited(data_dir: Path, acked: set[str]) -> tuple[list[str], list[str]]:
    """(journaled intents with no ``intent_accepted`` record, acknowledged ids never
    journaled)."""
    from storage.audit import open_read_only
    from storage.journal import Journal

    journal = Journal(data_dir / "journal.db")
    trail = open_read_only(data_dir / "audit.db")
    try:
        intents = {e.body["client_order_id"] for e in journal.load() if e.kind == "intent"}
        # entries an older checkpoint covers were moved to archive files: kept, never lost
        for archive in sorted(data_dir.glob("journal-archive-*.db")):
            db = sqlite3.connect(f"file:{archive}?mode=ro", uri=True)
            try:
                rows = db.execute("SELECT body FROM journal WHERE kind = 'intent'").fetchall()
            finally:
                db.close()
            intents |= {json.loads(body)["client_order_id"] for (body,) in rows}
        audited = {r["client_order_id"] for r in trail.query(kind="intent_accepted", limit=10**7)}
    finally:
        journal.close()
        trail.close()
    return sorted(intents - audited), sorted(acked - intents)


def criticals(data_dir: Path) -> list[tuple[int, list[str]]]:
    """Every reconciliation CRITICAL's (time, finding kinds), from its incident folder."""
    out = []
    for report in sorted((data_dir / "incidents").glob("*-reconciliation/report.json")):
        data = json.loads(report.read_text())
        kinds = sorted(
            {f.get("kind", "?") for f in data["findings"] if f.get("severity") == "CRITICAL"}
        )
        out.append((int(data["at_ms"]), kinds))
    return out


def explain(
    at_ms: int, injected: list[Injected], fits: Callable[[Injected], bool]
) -> Injected | None:
    for inj in injected:
        end = inj.end_ms or now_ms()
        if inj.start_ms - 500 <= at_ms <= end + 1000 and fits(inj):
            return inj
    return None


# ------------------------------------------------------------------------------ report


def red_fits(reason: str) -> Callable[[Injected], bool]:
    return lambda i: any(r in reason for r in i.expect.reasons)


def critical_fits(kinds: list[str]) -> Callable[[Injected], bool]:
    return lambda i: bool(set(kinds) & set(i.expect.critical))


def anything(i: Injected) -> bool:
    return True


def kind_of(injected: list[Injected], step: int) -> str:
    return next((i.kind for i in injected if i.step == step), "?")


def report(chaos: Chaos, took: float, kinds_known: list[str]) -> int:
    t = chaos.tally
    injected = t.injected
    print()
    print(f"chaos: seed {chaos.args.seed}, {len(injected)} steps in {took:.0f} s")
    print(
        f"orders sent {t.orders_sent}, acknowledged {len(t.acked)}, refused "
        + (", ".join(f"{n} x {code}" for code, n in sorted(t.refused.items())) or "none")
    )
    unknown_kinds = sorted(set(kinds_known) - set(FAULT_KINDS))
    if unknown_kinds:
        print(f"  the simulator knows kinds this bench does not inject: {unknown_kinds}")
    # REDs and their explanations
    false_reds = []
    for since, reason in sorted(t.reds.items()):
        inj = explain(since, injected, red_fits(reason))
        if inj is None:
            during = explain(since, injected, anything)
            where = f"step {during.step} ({during.kind})" if during else "between steps"
            false_reds.append(f"{where} at {since} ms: {reason}")
        else:
            inj.reds.append(reason)
    false_criticals: dict[tuple[int, str], list[int]] = {}  # (step, kinds) -> times
    for at, kinds in criticals(chaos.data_dir):
        inj = explain(at, injected, critical_fits(kinds))
        if inj is None:
            during = explain(at, injected, anything)
            key = (during.step if during else 0, ", ".join(kinds))
            false_criticals.setdefault(key, []).append(at)
    false_critical_lines = [
        f"step {step} ({'between steps' if not step else kind_of(injected, step)}): "
        f"{kinds}, {len(times)} cycles from {times[0]} ms"
        for (step, kinds), times in sorted(false_criticals.items())
    ]
    print()
    print(
        f"{'event':22s} {'injected':>8s} {'RED':>7s} {'REDs exp.':>9s} {'seen':>5s} {'missed':>6s}"
        "  note"
    )
    missed_reds = []
    per_kind: dict[str, list[Injected]] = collections.defaultdict(list)
    for inj in injected:
        per_kind[inj.kind].append(inj)
        if inj.expect.red == "always" and not inj.reds and inj.armed and inj.took_effect:
            missed_reds.append(f"step {inj.step} {inj.kind} {inj.spec}")
    for kind in (*FAULT_KINDS, *ACTOR_EVENTS, *PROCESS_EVENTS):
        done = per_kind.get(kind, [])
        expected = sum(1 for i in done if i.expect.red == "always")
        seen = sum(1 for i in done if i.reds)
        missed = sum(
            1 for i in done if i.expect.red == "always" and not i.reds and i.armed and i.took_effect
        )
        note = EXPECT[kind].note if done else "NOT EXERCISED this run"
        print(
            f"{kind:22s} {len(done):8d} {EXPECT[kind].red:>7s} {expected:9d} {seen:5d} "
            f"{missed:6d}  {note}"
        )
    print()
    print(f"REDs seen {len(t.reds)} (YELLOWs {len(t.yellows)}); reset by the operator after each")
    for since, reason in sorted(t.reds.items()):
        print(f"  RED {since}: {reason[:140]}")
    checks = [
        ("false REDs", false_reds),
        ("missed REDs (expected, not seen)", missed_reds),
        ("false CRITICALs (episodes)", false_critical_lines),
        ("duplicates", t.problems.get("duplicates", [])),
        ("lost or doubled fills", t.problems.get("lost or doubled fills", [])),
        ("lost audit records", t.problems.get("lost audit records", [])),
        ("book/exchange mismatches", t.problems.get("book/exchange mismatches", [])),
        ("not recovered (RED not resettable, unknown orders)", t.stuck),
    ]
    print()
    print(f"invariants, checked after each of {t.steps_checked} steps once quiet")
    broken = 0
    for name, items in checks:
        print(f"  {name:52s} {len(items):4d}  {'ok' if not items else 'BROKEN'}")
        for line in items[:8]:
            print(f"      {line}")
        broken += len(items)
    print(
        "not checkable here: the exact fill price under slippage (only that the fill is "
        "booked once); ban and clock skew are seen only through Vigil's own reaction"
    )
    print("verdict:", "PASS" if broken == 0 else f"FAIL ({broken} broken)")
    return 0 if broken == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="about one minute in all")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, data)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child()
    if args.quick:
        args.minutes = 0.6
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="vigil-chaos-"))
    print(f"chaos: seed {args.seed}, {args.minutes:g} min of steps; logs in {work}", flush=True)
    chaos = Chaos(args, work)
    try:
        kinds = chaos.exchange.kinds()
        if not wait_for(lambda: chaos.vigil.status()["trading"] == "allowed", 30):
            raise RuntimeError("chaos: Vigil never allowed trading")
        budget = args.minutes * 60
        for event in schedule(args.seed):
            if time.monotonic() - began > budget:
                break
            chaos.run_step(event)
    finally:
        chaos.finish()
    code = report(chaos, time.monotonic() - began, kinds)
    if not args.keep and code == 0:
        shutil.rmtree(work, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
