"""The control files a running Vigil leaves in its data directory for its operator's tools:
``control.token`` (0600, the bearer token) and ``control.json`` (the control API's URL, the
pid, the exchange's and the gateway's URLs), each written atomically and privately."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assembly.instance import CONTROL_JSON, CONTROL_TOKEN, write_private

if TYPE_CHECKING:
    from assembly.system import VigilSystem


def write_control_files(system: VigilSystem, url: str, token: str) -> None:
    """``control.token`` (0600), then ``control.json`` (URL, pid, exchange URLs), each
    written atomically: a new private file renamed into place, so the secret is never
    written into an existing file or a planted link, and a reader never sees half a
    file. If ``control.json`` cannot be written, the token just written is removed."""
    json_path, token_path = control_paths(system.data_dir)
    write_private(token_path, token)
    document: dict[str, Any] = {
        "url": url,
        "pid": os.getpid(),
        "exchange": exchange_urls(system),
    }
    if system.gateway is not None:
        document["gateway"] = system.gateway.urls()
    try:
        write_private(json_path, json.dumps(document))
    except BaseException:
        token_path.unlink(missing_ok=True)
        raise


def exchange_urls(system: VigilSystem) -> dict[str, str | None]:
    """The exchange's ``rest``, ``ws_api`` and ``streams`` URLs (the embedded
    simulator's when it runs one)."""
    if system.simulator is not None:
        sim = system.simulator
        return {"rest": sim.rest_url, "ws_api": sim.ws_api_url, "streams": sim.streams_url}
    ex = system.settings.exchange
    return {"rest": ex.rest_url, "ws_api": ex.ws_api_url, "streams": ex.stream_url}


def new_token() -> str:
    """A fresh bearer token for the control API (256 random bits)."""
    return secrets.token_urlsafe(32)


def control_paths(data_dir: Path) -> tuple[Path, Path]:
    return data_dir / CONTROL_JSON, data_dir / CONTROL_TOKEN
