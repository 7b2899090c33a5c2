"""Incident folders: the frozen evidence a person needs when trading stops.

``<data dir>/incidents/<at_ms>-<kind>/`` holds ``state.json`` (both sides: the internal book
and the exchange), ``report.json`` (machine-readable findings), ``report.txt`` (what differed,
both sides, and the message trace of the affected orders) and ``trace.jsonl`` (those trace
records). The store gets one row per incident pointing at the folder.

An incident that persists (the same findings cycle after cycle) is updated in place
(``update_incident``: ``report.json`` and the store row), not written again: the evidence
on disk stays bounded however long it lasts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runtime.trace import read_trace
from storage import Store


def internal_state(internal: Any) -> dict[str, Any]:
    return {
        "totals": {a: str(v) for a, v in internal.totals.items()},
        "locked": {a: str(v) for a, v in internal.locked.items()},
        "orders": {c: vars_of(o) for c, o in stable_items(internal.orders)},
        "trades": sorted(f"{s}:{t}" for s, t in internal.trades),
    }


def exchange_state(exchange: Any) -> dict[str, Any]:
    return {
        "balances": {
            a: {"free": str(f), "locked": str(lk)} for a, (f, lk) in exchange.balances.items()
        },
        "open_orders": [vars_of(o) for o in exchange.open_orders],
        "trades": [vars_of(t) for t in exchange.trades],
    }


def stable_items(mapping: Any) -> list[tuple[Any, Any]]:
    """The items of a mapping another thread may be growing (a snapshot's history)."""
    for _ in range(10):
        try:
            return list(mapping.items())
        except RuntimeError:  # changed size during iteration: try again
            continue
    return []


def vars_of(obj: Any) -> dict[str, str]:
    fields = getattr(obj, "__dataclass_fields__", {})
    return {name: str(getattr(obj, name)) for name in fields}


def order_trace(data_dir: Path, orders: Iterable[str], limit: int = 200) -> list[dict[str, Any]]:
    """Trace records of these client order ids, and of the intents that created them."""
    wanted = set(orders)
    path = data_dir / "trace" / "trace.jsonl"
    if not wanted or not path.parent.exists():
        return []
    records = read_trace(path)
    cids = {r.get("cid") for r in records if r.get("order") in wanted}
    return [r for r in records if r.get("order") in wanted or r.get("cid") in cids][-limit:]


def write_incident(
    data_dir: Path,
    store: Store,
    *,
    kind: str,
    at_ms: int,
    reason: str,
    state: dict[str, Any],
    report: dict[str, Any],
    lines: list[str],
    orders: Iterable[str] = (),
) -> Path:
    return open_incident(
        data_dir,
        store,
        kind=kind,
        at_ms=at_ms,
        reason=reason,
        state=state,
        report=report,
        lines=lines,
        orders=orders,
    )[0]


def open_incident(
    data_dir: Path,
    store: Store,
    *,
    kind: str,
    at_ms: int,
    reason: str,
    state: dict[str, Any],
    report: dict[str, Any],
    lines: list[str],
    orders: Iterable[str] = (),
) -> tuple[Path, int]:
    """``write_incident`` that also returns the store row's id (for ``update_incident``)."""
    folder = data_dir / "incidents" / f"{at_ms}-{kind}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True, default=str))
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str))
    trace = order_trace(data_dir, orders)
    with (folder / "trace.jsonl").open("w") as fh:
        for record in trace:
            fh.write(json.dumps(record, default=str) + "\n")
    text = [*lines, "", f"Full state: {folder / 'state.json'}"]
    if trace:
        text += ["", "Trace of the affected orders (sender -> receiver message):"]
        text += [
            f"  {r.get('started', 0):.3f} {r.get('sender') or '?'} -> {r.get('receiver')} "
            f"{r.get('type')} order={r.get('order', '-')} {r.get('outcome')}"
            for r in trace
        ]
    (folder / "report.txt").write_text("\n".join(text) + "\n")
    incident_id = store.add_incident(at_ms, kind, reason, {"folder": str(folder), **report})
    return folder, incident_id


def update_incident(
    folder: Path, store: Store, incident_id: int, reason: str, report: dict[str, Any]
) -> None:
    """The incident goes on: its ``report.json`` and its store row say what it is now (the
    folder's ``state.json`` and ``report.txt`` keep the evidence as first seen)."""
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str))
    store.update_incident(incident_id, reason, {"folder": str(folder), **report})
