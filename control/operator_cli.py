"""The operator's commands that call a running Vigil's control API (``status``, ``halt``,
``reset``, ``resync``, ``cancel-all``, ``flatten``, ``reconcile``): where the API is (the
data dir's ``control.json``, loopback only, or ``--url``), its token, one request, the
answer printed as JSON and turned into an exit status."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def fail(message: str, code: int = 2) -> int:
    """Say what went wrong on stderr; the exit status to return."""
    print(f"vigil: {message}", file=sys.stderr)
    return code


def cli_settings(args: argparse.Namespace) -> Any:
    """The profile named by ``--config``; exit 2 naming the bad field when it is invalid."""
    from config.settings import SettingsError, load_settings

    try:
        return load_settings(Path(args.config))
    except SettingsError as exc:
        print(f"vigil: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def control_api(args: argparse.Namespace) -> tuple[str, str]:
    """The control API's URL and token: from ``control.json`` (loopback URLs only) and
    ``control.token`` in the data directory, or ``--url`` and ``--token-file`` given."""
    settings = cli_settings(args)
    data_dir = settings.data_dir.resolve()
    url = args.url.rstrip("/") if args.url else discovered_url(data_dir)
    if args.url and not url_is_loopback(url) and urlsplit(url).scheme != "https":
        print(f"vigil: warning: the control token goes to {url} unencrypted", file=sys.stderr)
    token_file = Path(args.token_file) if args.token_file else data_dir / "control.token"
    try:
        token = token_file.read_text().strip()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise SystemExit(
            fail(f"cannot read the control token from {token_file}: {reason}", 1)
        ) from None
    if not token:
        raise SystemExit(fail(f"the control token file {token_file} is empty", 1))
    return url, token


def discovered_url(data_dir: Path) -> str:
    path = data_dir / "control.json"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SystemExit(
            fail(f"no running Vigil found in {data_dir} (no control.json)", 1)
        ) from None
    except OSError as exc:
        raise SystemExit(
            fail(f"control.json in {data_dir} cannot be read: {exc.strerror or exc}", 1)
        ) from None
    try:
        url = control_url(json.loads(raw.decode("utf-8")))
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise SystemExit(fail(f"control.json in {data_dir} is malformed: {exc}", 1)) from None
    if not url_is_loopback(url):
        raise SystemExit(
            fail(
                f"control.json in {data_dir} points at {url}, which is not a loopback address: "
                "refusing to send the control token there (give --url to talk to a remote "
                "instance on purpose)",
                1,
            )
        )
    return url


def control_url(document: Any) -> str:
    """The control API's base URL from a ``control.json`` document; ValueError naming what is
    wrong with it."""
    if not isinstance(document, dict):
        raise ValueError(f"expected a JSON object, found {type(document).__name__}")
    missing = [key for key in ("url", "pid") if key not in document]
    if missing:
        raise ValueError(f"missing {', '.join(repr(k) for k in missing)}")
    url, pid = document["url"], document["pid"]
    if not isinstance(url, str):
        raise ValueError(f"'url' must be a string, not {type(url).__name__}")
    if not isinstance(pid, int) or isinstance(pid, bool):
        raise ValueError(f"'pid' must be an integer, not {type(pid).__name__}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError as exc:
        raise ValueError(f"'url' is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'url' is not an http(s) URL: {url!r}")
    return url.rstrip("/")


def url_is_loopback(url: str) -> bool:
    """The URL's host is 127.0.0.0/8, ::1 or localhost."""
    from config.sections import is_loopback

    host = urlsplit(url).hostname
    return host is not None and is_loopback(host)


def call(
    args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None = None
) -> int:
    return request(args, method, path, body)[0]


def request(
    args: argparse.Namespace,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    timeout: float = 30,
) -> tuple[int, Any]:
    """Call the running instance, print its JSON answer; (exit status, answer)."""
    import requests

    url, token = control_api(args)
    try:
        resp = requests.request(
            method,
            url + path,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        return fail(f"cannot reach the control API at {url}: {exc}", 1), None
    try:
        payload = resp.json()
    except ValueError:
        payload = {"status": resp.status_code, "body": resp.text}
    print(json.dumps(payload, indent=2, sort_keys=True))
    return (0 if resp.status_code < 400 else 1), payload


def cmd_status(args: argparse.Namespace) -> int:
    return call(args, "GET", "/v1/status")


def cmd_halt(args: argparse.Namespace) -> int:
    return call(args, "POST", "/v1/halt", {"reason": args.reason})


def cmd_reset(args: argparse.Namespace) -> int:
    if not args.confirm:
        return fail("reset clears RED: add --confirm", 1)
    return call(args, "POST", "/v1/reset", {"reason": args.reason, "confirm": True})


def cmd_resync(args: argparse.Namespace) -> int:
    if not args.confirm:
        return fail("resync rebuilds the book from the exchange: add --confirm", 1)
    return call(args, "POST", "/v1/resync", {"confirm": True, "reason": args.reason or ""})


def cmd_cancel_all(args: argparse.Namespace) -> int:
    return call(args, "POST", "/v1/cancel-all")


def cmd_flatten(args: argparse.Namespace) -> int:
    from control.flatten_cli import run

    return run(args, request, fail)


def cmd_reconcile(args: argparse.Namespace) -> int:
    """One reconciliation cycle now; prints its result. Exit 0 only when it is HEALTHY."""
    body = {"timeout_s": args.timeout}
    code, answer = request(args, "POST", "/v1/reconcile", body, timeout=args.timeout + 10)
    healthy = isinstance(answer, dict) and answer.get("result") == "HEALTHY"
    return 0 if code == 0 and healthy else 1
