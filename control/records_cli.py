"""The operator's commands that read Vigil's records from the data dir, without a running
instance: ``audit`` (the audit trail, and ``--check`` for gaps in its sequence) and
``trace`` (the message trace, filtered, ``--follow`` to keep reading)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from control.operator_cli import cli_settings, fail


def cmd_audit(args: argparse.Namespace) -> int:
    """Query the audit trail: one JSON record per line, oldest first."""
    from storage.audit import open_read_only

    settings = cli_settings(args)
    path = settings.data_dir.resolve() / "audit.db"
    if not path.exists():
        return fail(f"no audit trail at {path}", 1)
    trail = open_read_only(path)
    try:
        since = time.time() - args.since if args.since else args.start
        records = trail.query(
            since=since, until=args.until, kind=args.kind, cid=args.cid, limit=args.limit
        )
        for record in records:
            print(json.dumps(record, sort_keys=True, default=str))
        if args.check:
            gaps = trail.gaps()
            print(
                f"vigil: audit sequence {'has gaps: ' + str(gaps[:20]) if gaps else 'continuous'}",
                file=sys.stderr,
            )
            return 1 if gaps else 0
    finally:
        trail.close()
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from runtime.trace import read_trace

    settings = cli_settings(args)
    path = settings.data_dir.resolve() / "trace" / "trace.jsonl"
    since = time.time() - args.since if args.since else None
    shown = 0
    seen: set[tuple[Any, ...]] = set()
    while True:
        records = read_trace(path) if path.parent.exists() else []
        for record in select(records, args, since):
            key = (
                record.get("cid"),
                record.get("type"),
                record.get("started"),
                record.get("receiver"),
            )
            if key in seen:
                continue
            seen.add(key)
            shown += 1
            print(format_record(record), flush=True)
        if not args.follow:
            break
        time.sleep(0.5)
    if not shown:
        print("vigil: no matching trace records", file=sys.stderr)
    return 0


def select(
    records: list[dict[str, Any]], args: argparse.Namespace, since: float | None
) -> list[dict[str, Any]]:
    """Filter trace records; ``--order`` also pulls in every record sharing a correlation id
    with one of that order's records (the intent that created it, its send outcome)."""
    if args.order:
        cids = {r.get("cid") for r in records if r.get("order") == args.order}
        records = [r for r in records if r.get("order") == args.order or r.get("cid") in cids]
    out = []
    for r in records:
        if args.actor and args.actor not in (r.get("receiver"), r.get("sender")):
            continue
        if args.type and r.get("type") != args.type:
            continue
        if args.cid and r.get("cid") != args.cid:
            continue
        if since is not None and (r.get("started") or 0) < since:
            continue
        out.append(r)
    return out


def format_record(r: dict[str, Any]) -> str:
    started = r.get("started") or 0.0
    queued = (started - (r.get("enqueued") or started)) * 1000
    took = ((r.get("ended") or started) - started) * 1000
    stamp = time.strftime("%H:%M:%S", time.localtime(started)) + f".{int(started % 1 * 1000):03d}"
    order = f" order={r['order']}" if r.get("order") else ""
    state = f" [{r['state']}]" if r.get("state") else ""
    return (
        f"{stamp} {r.get('sender') or '?'} -> {r.get('receiver')} {r.get('type')} "
        f"cid={r.get('cid')}{order}{state} queued={queued:.2f}ms took={took:.2f}ms "
        f"{r.get('outcome')}"
    )
