#!/usr/bin/env python3
"""Vigil's entry point.

python run.py                 the main job on the embedded simulated exchange
python run.py sim [--port P] [--seed N]
                              only the simulated exchange; prints one JSON line
                              {"rest", "ws_api", "streams", "api_key", "api_secret"}
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from pydantic import ValidationError

DEFAULT_PROFILE = Path(__file__).resolve().parent / "config" / "sim.toml"


def _wait_for_signal() -> None:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not stop.wait(0.5):
        pass


def _load_sim_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from exchange.simulator import load_simulator_config

    try:
        return load_simulator_config(
            Path(args.config),
            port=args.port,
            seed=args.seed,
            tick_interval=getattr(args, "tick_interval", None),
        )
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        print(
            f"vigil: bad simulator configuration in {args.config}: {fields}\n{exc}", file=sys.stderr
        )
        raise SystemExit(2) from None
    except (OSError, ValueError) as exc:
        print(f"vigil: cannot read {args.config}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_sim(args: argparse.Namespace) -> int:
    from exchange.simulator import SimulatedExchange

    exchange = SimulatedExchange(_load_sim_config(args)).start()
    print(json.dumps(exchange.info()), flush=True)
    try:
        _wait_for_signal()
    finally:
        exchange.stop()
    return 0


def cmd_main(args: argparse.Namespace) -> int:
    """Until the actor system lands, the main job serves the simulator with a status line."""
    from exchange.simulator import SimulatedExchange

    exchange = SimulatedExchange(_load_sim_config(args)).start()
    info = exchange.info()
    print(f"vigil: simulated exchange on {info['rest']} (ws_api {info['ws_api']})", flush=True)
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    try:
        while not stop.wait(args.status_every):
            state = exchange.engine.state_json()
            prices = " ".join(f"{s}={p['mid']}" for s, p in state["prices"].items())
            print(
                f"vigil: {prices} open_orders={len(state['open_orders'])} "
                f"trades={len(state['trades'])}",
                flush=True,
            )
    finally:
        exchange.stop()
    print("vigil: stopped", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py", description="Vigil: a safety layer for Binance Spot"
    )
    parser.add_argument("--config", default=str(DEFAULT_PROFILE), help="TOML profile")
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--status-every", type=float, default=5.0, help="seconds between status lines"
    )
    parser.set_defaults(func=cmd_main)
    sub = parser.add_subparsers(dest="command")
    sim = sub.add_parser("sim", help="run only the simulated exchange")
    sim.add_argument("--config", default=str(DEFAULT_PROFILE), help="TOML profile")
    sim.add_argument("--port", type=int, default=None, help="port (0 = any free port)")
    sim.add_argument("--seed", type=int, default=None, help="seed of the price process")
    sim.add_argument(
        "--tick-interval", type=float, default=None, help="seconds between price steps (0 = manual)"
    )
    sim.set_defaults(func=cmd_sim)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
