#!/usr/bin/env python3
"""Vigil's entry point.

python run.py [--config PATH] [--live]     the main job (default: embedded simulator)
python run.py sim [--port P] [--seed N]    only the simulated exchange
python run.py status | halt --reason R | reset --reason R --confirm
python run.py resync --confirm | cancel-all | reconcile [--timeout S]
python run.py flatten --confirm --reason R [--force] [--timeout S]
python run.py trace [--actor A] [--type T] [--cid C] [--order ID] [--since S] [--follow]
python run.py keys add NAME [--symbols S,S] [--max-order-notional X] [--max-open-orders N]
python run.py keys list | keys revoke NAME          strategy keys for the gateway
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from control.operator_cli import (
    cli_settings,
    cmd_cancel_all,
    cmd_flatten,
    cmd_halt,
    cmd_reconcile,
    cmd_reset,
    cmd_resync,
    cmd_status,
    fail,
)
from control.records_cli import cmd_audit, cmd_trace

ROOT = Path(__file__).resolve().parent

DEFAULT_PROFILE = ROOT / "config" / "sim.toml"
WATCH_EVERY_S = 0.25  # how often the main thread checks the supervisor is alive


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def _say(text: str, *, err: bool = False) -> None:
    """A line for the operator; a terminal that is gone (SIGHUP) does not stop the stop."""
    try:
        print(text, file=sys.stderr if err else sys.stdout, flush=True)
    except (OSError, ValueError):
        pass


def _signals(waiting_for: Any = None) -> threading.Event:
    """SIGINT (Ctrl-C), SIGTERM, SIGHUP and SIGQUIT all ask for the same graceful stop.
    Another signal while it runs says on stderr what the stop is still waiting for
    (``waiting_for()``) instead of killing the process half-way."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if not stop.is_set():
            stop.set()
            return
        phase = (waiting_for() if waiting_for is not None else "") or "the start-up to finish"
        try:  # a raw write: a handler must not re-enter a buffered stream the main thread uses
            os.write(2, f"vigil: still stopping: {phase}\n".encode())
        except OSError:
            pass

    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)
    return stop


# ---------------------------------------------------------------------------- sim


def cmd_sim(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from exchange.simulator import SimulatedExchange, load_simulator_config

    try:
        config = load_simulator_config(
            Path(args.config), port=args.port, seed=args.seed, tick_interval=args.tick_interval
        )
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        return fail(f"bad simulator configuration in {args.config}: {fields}\n{exc}")
    except (OSError, ValueError) as exc:
        return fail(f"cannot read {args.config}: {exc}")
    exchange = SimulatedExchange(config).start()
    print(json.dumps(exchange.info()), flush=True)
    stop = _signals(lambda: "stopping the simulated exchange")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        exchange.stop()
    return 0


# ---------------------------------------------------------------------------- main job


class _StartProgress:
    """While a start takes more than a second (a long journal to replay, a slow exchange,
    the first reconciliation), one line a second says what it is doing."""

    def __init__(self, system: Any) -> None:
        self._system = system
        self._began = time.monotonic()
        self._started = False
        self._done = threading.Event()
        threading.Thread(target=self._run, name="start-progress", daemon=True).start()

    def started(self) -> None:
        """start() returned: what is left is the first reconciliation."""
        self._started = True

    def _phase(self) -> str | None:
        system = self._system
        if not self._started:
            return str(getattr(system, "start_phase", "starting"))
        gate = getattr(system, "gate", None)
        if gate is None or gate.last_result_ms is not None:
            return None  # the first reconciliation came back: started
        return "waiting for the first reconciliation"

    def _run(self) -> None:
        while not self._done.wait(1.0):
            phase = self._phase()
            if phase is None:
                return
            elapsed = time.monotonic() - self._began
            print(f"vigil: starting: {phase} ({elapsed:.0f} s)", file=sys.stderr, flush=True)


def cmd_main(args: argparse.Namespace) -> int:
    # everything the main job creates is private to its user (files 0600, directories 0700)
    os.umask(0o077)
    from loguru import logger

    from assembly.instance import AlreadyRunning
    from assembly.system import VigilSystem
    from config.settings import external_exchange_problem
    from control.gateway.server import GatewayServer
    from control.server import ControlServer
    from exchange.contract import UnsafeApiKey
    from runtime.log_throttle import LogThrottle
    from strategies.demo import DemoSource

    settings = cli_settings(args)
    if settings.exchange.live and not args.live:
        return fail("this profile trades real money: run it with --live")
    problem = external_exchange_problem(settings)
    if problem is not None:  # before the data directory is opened: nothing is written
        return fail(f"bad configuration: {problem}", 2)
    logger.remove()
    logger.add(
        sys.stderr,
        level=args.log_level,
        format="{time:HH:mm:ss} {level} {message}",
        filter=LogThrottle(),  # the same line again within 10 s is counted, not printed
    )
    # the embedded simulator is new each run; a journal from an earlier run is not its book
    earlier_book = settings.exchange.simulator and (settings.data_dir / "journal.db").exists()
    system = VigilSystem(settings)
    stop = _signals(lambda: system.stop_phase)
    try:
        progress = _StartProgress(system)
        try:
            system.start()
        finally:
            progress.started()
        token = (
            settings.control.token.get_secret_value()
            if settings.control.token
            else VigilSystem.new_token()
        )
        system.control = ControlServer(
            system, settings.control.host, settings.control.port, token
        ).start()
        if settings.gateway.enabled:
            system.gateway = GatewayServer(system).start()
        system.write_control_files(system.control.url, token)
        if settings.demo.enabled and not settings.exchange.live:
            demo = settings.demo
            system.demo = DemoSource(
                system.control.url,
                token,
                str(system.exchange_urls()["rest"]),
                symbol=demo.symbol,
                quantity=demo.quantity,
                interval_s=demo.interval_s,
            ).start()
        if earlier_book:
            _say(
                f"vigil: note: the embedded simulator starts afresh on every run, but "
                f"{system.data_dir} holds the book of an earlier run — reconciliation will "
                f"find them different and go RED. Start on an empty data directory (move "
                f"this one aside), or, once it is RED, adopt the new exchange's state: "
                f"`python run.py resync --confirm`, then `python run.py reset --confirm "
                f"--reason ...`."
            )
        print(
            f"vigil: running; control API {system.control.url}; "
            + (f"gateway {system.gateway.urls()['rest']}; " if system.gateway else "")
            + f"data in {system.data_dir}",
            flush=True,
        )
    except AlreadyRunning as exc:  # the data directory is another process's: touch nothing
        return fail(str(exc), 2)
    except UnsafeApiKey as exc:  # the key may do more than spot trading: refuse, exit 2
        print(f"vigil: {exc}", file=sys.stderr)
        system.stop(cancel_open=False)
        return 2
    except Exception as exc:  # start-up failed: say why, stop what started
        print(f"vigil: {exc}", file=sys.stderr)
        system.stop(cancel_open=False)
        return 1
    next_line = time.monotonic() + args.status_every
    while not stop.wait(WATCH_EVERY_S):
        try:
            system.watch()  # the main thread watches the supervisor (and the timer thread)
            if time.monotonic() >= next_line:
                next_line = time.monotonic() + args.status_every
                _say(status_line(system.status()))
        except Exception as exc:  # the watch must go on; a failure here is a reason to halt
            print(f"vigil: main loop: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            try:
                system.gate.trip_red(f"main loop failed: {type(exc).__name__}: {exc}", "main")
            except Exception as again:  # (e.g. the disk is gone): RED is in memory anyway
                print(f"vigil: RED not made durable: {again}", file=sys.stderr, flush=True)
    _say("vigil: stopping (no new intents; cancelling open orders; flushing the audit trail)")
    return stopped(system.stop(cancel_open=True))


def stopped(failures: list[str]) -> int:
    """The last word of the main job: 0 after a clean stop, 1 naming each step that failed."""
    if not failures:
        _say("vigil: stopped")
        return 0
    _say("vigil: stopped with errors: " + "; ".join(failures), err=True)
    return 1


def status_line(status: dict[str, Any]) -> str:
    recon = status.get("reconciliation", {})
    orders = status.get("orders", {})
    actors = status.get("actors", {})
    balances = status.get("balances", {})
    money = " ".join(f"{a}={v}" for a, v in balances.items() if a in ("BTC", "USDT", "ETH"))
    alive = sum(1 for ok in actors.values() if ok)
    pnl = status.get("risk", {}).get("daily_pnl")
    today = "" if pnl is None else f" | P&L today {_quote(pnl)}"
    return (
        f"[{status['breaker']}] {status.get('reason') or 'ok'} | recon {recon.get('result')} | "
        f"orders {orders.get('total', '?')} open {orders.get('open', '?')} filled "
        f"{orders.get('filled', '?')} | fills {status.get('fills', '?')} | {money}{today} | "
        f"actors {alive}/{len(actors)}"
    )


def _quote(amount: str) -> str:
    """A quote-asset amount (USDT) at its precision: cents."""
    from decimal import ROUND_HALF_EVEN, Decimal

    return f"{Decimal(amount).quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):f}"


def cmd_keys(args: argparse.Namespace) -> int:
    from control.gateway import keys_cli

    return keys_cli.run(args, cli_settings(args).data_dir)


# ---------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py", description="Vigil: a safety layer for Binance Spot"
    )
    parser.add_argument("--config", default=str(DEFAULT_PROFILE), help="TOML profile")
    parser.add_argument(
        "--live", action="store_true", help="allow a profile that trades real money"
    )
    parser.add_argument(
        "--status-every", type=float, default=5.0, help="seconds between status lines"
    )
    parser.add_argument("--log-level", default="WARNING", help="stderr log level")
    parser.set_defaults(func=cmd_main)
    sub = parser.add_subparsers(dest="command")

    def command(name: str, func: Any, help_text: str, api: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--config", default=str(DEFAULT_PROFILE), help="TOML profile")
        if api:  # commands that call the control API
            p.add_argument(
                "--url",
                help="the control API's base URL (default: from <data dir>/control.json, "
                "loopback only); any host when given here",
            )
            p.add_argument(
                "--token-file",
                help="file holding the control token (default: <data dir>/control.token)",
            )
        p.set_defaults(func=func)
        return p

    sim = command("sim", cmd_sim, "run only the simulated exchange")
    sim.add_argument("--port", type=int, default=None, help="port (0 = any free port)")
    sim.add_argument("--seed", type=int, default=None, help="seed of the price process")
    sim.add_argument(
        "--tick-interval", type=float, default=None, help="seconds between price steps (0 = manual)"
    )
    command("status", cmd_status, "the running instance's status", api=True)
    halt = command("halt", cmd_halt, "trip RED now", api=True)
    halt.add_argument("--reason", required=True)
    reset = command(
        "reset", cmd_reset, "clear RED (needs a fresh HEALTHY reconciliation)", api=True
    )
    reset.add_argument("--reason", required=True)
    reset.add_argument("--confirm", action="store_true")
    resync = command(
        "resync", cmd_resync, "rebuild the book from the exchange (only while RED)", api=True
    )
    resync.add_argument("--confirm", action="store_true")
    resync.add_argument("--reason", default="")
    command("cancel-all", cmd_cancel_all, "cancel every open order Vigil knows of", api=True)
    from control.flatten_cli import add_arguments as flatten_arguments

    flatten_arguments(
        command(
            "flatten", cmd_flatten, "cancel every order, sell every position, stay RED", api=True
        )
    )
    reconcile = command(
        "reconcile",
        cmd_reconcile,
        "run one reconciliation cycle now and print its result",
        api=True,
    )
    reconcile.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the result"
    )
    audit = command("audit", cmd_audit, "query the audit trail")
    audit.add_argument("--kind")
    audit.add_argument("--cid", help="correlation id")
    audit.add_argument("--since", type=float, help="only the last N seconds")
    audit.add_argument("--from", dest="start", type=float, help="from this epoch time (s)")
    audit.add_argument("--until", type=float, help="until this epoch time (s)")
    audit.add_argument("--limit", type=int, default=1000)
    audit.add_argument("--check", action="store_true", help="verify the sequence has no gaps")
    audit.add_argument("--file", help="read an archive file (audit-archive-*.db) instead")
    audit.add_argument(
        "--archive-older-than-days",
        dest="archive_days",
        type=float,
        help="move records older than this (at least 1 day) to an archive file beside it",
    )
    trace = command("trace", cmd_trace, "read the message trace")
    trace.add_argument("--actor")
    trace.add_argument("--type")
    trace.add_argument("--cid", help="correlation id")
    trace.add_argument("--order", help="client order id: that order's whole journey")
    trace.add_argument("--since", type=float, help="only the last N seconds")
    trace.add_argument("--follow", action="store_true")
    from control.gateway.keys_cli import add_parser as add_keys_parser

    add_keys_parser(lambda name, _func, help_text: command(name, cmd_keys, help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `run.py audit | head`: the reader has had enough, say nothing
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # (the interpreter's own final flush too)
        return 1


if __name__ == "__main__":
    sys.exit(main())
