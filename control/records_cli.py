"""The operator's commands that read Vigil's records from the data dir, without a running
instance: ``audit`` (the audit trail, and ``--check`` for gaps in its sequence) and
``trace`` (the message trace, filtered, ``--follow`` to keep reading)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from control.operator_cli import cli_settings, fail
from domain import instance


def cmd_audit(args: argparse.Namespace) -> int:
    """Query the audit trail (or an archive of it, ``--file``): one JSON record per line,
    oldest first; ``--archive-older-than-days D`` moves older records to an archive file."""
    from storage.audit import open_read_only

    settings = cli_settings(args)
    path = settings.data_dir.resolve() / "audit.db"
    if args.archive_days is not None:
        return _archive(path, args.archive_days)
    if args.file is not None:
        path = Path(args.file)
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


def _archive(path: Path, days: float) -> int:
    from storage.audit_archive import archive_audit
    from storage.store import StoreError

    try:
        done = archive_audit(path, days * 86_400)
    except ValueError as exc:
        return fail(str(exc), 2)
    except StoreError as exc:
        return fail(str(exc), 1)
    print(json.dumps(done.as_dict()))
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    """Trace records, filtered; exit 1 when none matches. ``--order`` takes Vigil's client
    order id or a strategy's own (a gateway bot's), found in the audit trail."""
    from runtime.trace import read_trace

    settings = cli_settings(args)
    data_dir = settings.data_dir.resolve()
    path = data_dir / "trace" / "trace.jsonl"
    since = time.time() - args.since if args.since else None
    orders = [args.order] if args.order else []
    if args.order and not args.order.startswith(f"{instance.PREFIX}-"):  # not one of Vigil's
        orders += _vigil_ids_of(data_dir, args.order)
    shown = 0
    seen: set[tuple[Any, ...]] = set()
    while True:
        records = read_trace(path) if path.parent.exists() else []
        for record in select(records, args, since, orders):
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
        return fail("no matching trace records", 1)
    return 0


def _vigil_ids_of(data_dir: Path, strategy_order_id: str) -> list[str]:
    """Vigil's ids of the orders a strategy placed as ``strategy_order_id`` (none when
    there is no audit trail)."""
    from storage.audit import open_read_only

    path = data_dir / "audit.db"
    if not path.exists():
        return []
    trail = open_read_only(path)
    try:
        return trail.client_order_ids_of(strategy_order_id)
    finally:
        trail.close()


def select(
    records: list[dict[str, Any]],
    args: argparse.Namespace,
    since: float | None,
    orders: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Filter trace records; an order (``orders``: its ids, Vigil's and a strategy's)
    also pulls in every record sharing a correlation id with one of that order's records
    (the intent that created it, its send outcome)."""
    if orders:
        wanted = set(orders)
        cids = {r.get("cid") for r in records if r.get("order") in wanted}
        records = [r for r in records if r.get("order") in wanted or r.get("cid") in cids]
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
