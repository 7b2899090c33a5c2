"""``python run.py keys add|list|revoke``: the operator's commands for strategy keys.

``add NAME [--symbols S,S] [--max-order-notional X] [--max-open-orders N]`` prints one JSON
line ``{"name", "api_key", "api_secret"}`` (the only time the secret is shown); ``list``
prints each key's name, limits and state, one JSON line each, never a key or secret;
``revoke NAME`` revokes it. The file lives in the profile's data directory; a running Vigil
honours a change within 2 s (:class:`storage.strategy_keys.KeyRing`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storage.strategy_keys import (
    StrategyKeyError,
    add_key,
    keys_path,
    parse_notional,
    parse_symbols,
    read_keys,
    revoke_key,
)


def add_parser(
    command: Callable[[str, Any, str], argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """The ``keys`` sub-command, made with run.py's ``command(name, func, help)``."""
    keys = command("keys", run, "strategy keys for the gateway: add, list, revoke")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    add = sub.add_parser("add", help="a new key (prints its API key and secret once)")
    listing = sub.add_parser("list", help="names and limits (never secrets)")
    revoke = sub.add_parser("revoke", help="revoke a key (honoured within 2 s)")
    for p in (add, listing, revoke):  # --config after the verb too (set only when given)
        p.add_argument("--config", default=argparse.SUPPRESS, help="TOML profile")
    add.add_argument("name")
    add.add_argument("--symbols", help="comma-separated symbols it may trade (default: all)")
    add.add_argument("--max-order-notional", help="largest order, in the quote asset")
    add.add_argument("--max-open-orders", type=int, help="most open orders at once")
    revoke.add_argument("name")
    return keys


def run(args: argparse.Namespace, data_dir: Path) -> int:
    os.umask(0o077)
    path = keys_path(data_dir.resolve())
    try:
        if args.keys_command == "add":
            key = add_key(
                path,
                args.name,
                symbols=parse_symbols(args.symbols),
                max_order_notional=parse_notional(args.max_order_notional),
                max_open_orders=args.max_open_orders,
            )
            line = {"name": key.name, "api_key": key.api_key, "api_secret": key.secret}
            print(json.dumps(line), flush=True)
        elif args.keys_command == "list":
            for key in read_keys(path).values():
                print(json.dumps(key.public()), flush=True)
        else:
            revoke_key(path, args.name)
            print(json.dumps({"name": args.name, "revoked": True}), flush=True)
    except StrategyKeyError as exc:
        print(f"vigil: keys: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"vigil: keys: {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
