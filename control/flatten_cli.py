"""``python run.py flatten --confirm --reason R [--force] [--timeout S]``: the emergency
flatten of the running instance, through its control API (``POST /v1/flatten``). Prints
the report; exits 0 only when every step completed (1 when refused or failed)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Request = Callable[..., tuple[int, Any]]  # run.py's _request: (args, method, path, body, timeout)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", required=True)
    parser.add_argument(
        "--confirm", action="store_true", help="required: this sells every position"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="flatten even when the last reconciliation is not HEALTHY",
    )
    parser.add_argument(
        "--timeout", type=float, default=15.0, help="seconds each wait may take (cancels, sells)"
    )


def run(args: argparse.Namespace, request: Request, fail: Callable[[str, int], int]) -> int:
    if not args.confirm:
        return fail("flatten cancels every order and sells every position: add --confirm", 1)
    if not 0 < args.timeout <= 120:
        return fail("--timeout must be within (0, 120] seconds", 1)
    body = {"confirm": True, "reason": args.reason, "force": args.force, "timeout_s": args.timeout}
    code, report = request(args, "POST", "/v1/flatten", body, 2 * args.timeout + 30)
    ok = isinstance(report, dict) and report.get("ok") is True
    return 0 if code == 0 and ok else 1
