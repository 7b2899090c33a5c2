"""The strategy keys: who may trade through the gateway, with which API key and secret, and
within which per-strategy limits.

One JSON file in the data directory (``strategy_keys.json``, mode 0600), rewritten whole and
atomically (a new private file renamed over the old one), under an exclusive ``flock`` so
two ``run.py keys`` commands never lose each other's change. A revoked key stays in the file
(revoked), so its name is not reused by accident. :class:`KeyRing` is the running instance's
view: it re-reads the file when its modification time or size changed, at most every
``check_every_s`` seconds, so an added or revoked key counts within that time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from loguru import logger

KEYS_FILE = "strategy_keys.json"
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}$")
KEY_CHARS = 64  # Binance's API keys and secrets are 64 characters


class StrategyKeyError(ValueError):
    """A key command Vigil refuses (bad name, duplicate, unknown, bad limit); names why."""


@dataclass(frozen=True, slots=True)
class StrategyKey:
    """One strategy's credentials and limits. ``repr`` never shows the secret."""

    name: str
    api_key: str
    secret: str
    symbols: tuple[str, ...] | None = None
    max_order_notional: Decimal | None = None
    max_open_orders: int | None = None
    revoked: bool = False
    created_ms: int = 0

    def __repr__(self) -> str:
        return f"StrategyKey(name={self.name!r}, revoked={self.revoked})"

    def public(self) -> dict[str, Any]:
        """Name, limits and state: what ``keys list`` shows (never the key or secret)."""
        return {
            "name": self.name,
            "symbols": list(self.symbols) if self.symbols is not None else None,
            "max_order_notional": (
                None if self.max_order_notional is None else f"{self.max_order_notional:f}"
            ),
            "max_open_orders": self.max_open_orders,
            "revoked": self.revoked,
            "created_ms": self.created_ms,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.public(), "api_key": self.api_key, "secret": self.secret}

    @classmethod
    def from_json(cls, raw: Any) -> StrategyKey:
        if not isinstance(raw, dict):
            raise StrategyKeyError("a key entry is not an object")
        try:
            symbols = raw.get("symbols")
            notional = raw.get("max_order_notional")
            return cls(
                name=str(raw["name"]),
                api_key=str(raw["api_key"]),
                secret=str(raw["secret"]),
                symbols=None if symbols is None else tuple(str(s) for s in symbols),
                max_order_notional=None if notional is None else Decimal(str(notional)),
                max_open_orders=(
                    None if raw.get("max_open_orders") is None else int(raw["max_open_orders"])
                ),
                revoked=bool(raw.get("revoked", False)),
                created_ms=int(raw.get("created_ms", 0)),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise StrategyKeyError(f"a key entry is malformed: {type(exc).__name__}") from None

    def __post_init__(self) -> None:
        # the same rules as ``add_key``, for an entry edited into the file by hand: an empty
        # name would be no strategy at all (the operator's own orders), an empty key or
        # secret would match an empty one
        if not NAME_RE.match(self.name):
            raise StrategyKeyError(f"a key entry has a bad name: {self.name!r}")
        if not self.api_key or not self.secret:
            raise StrategyKeyError(f"key {self.name!r} has an empty api_key or secret")


def parse_symbols(text: str | None) -> tuple[str, ...] | None:
    """``"BTCUSDT,ETHUSDT"`` → a tuple of symbols (None: every symbol)."""
    if text is None:
        return None
    symbols = tuple(s.strip().upper() for s in text.split(",") if s.strip())
    if not symbols:
        raise StrategyKeyError("--symbols: name at least one symbol")
    for symbol in symbols:
        if not SYMBOL_RE.match(symbol):
            raise StrategyKeyError(f"--symbols: {symbol!r} is not a symbol")
    return symbols


def parse_notional(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise StrategyKeyError(f"--max-order-notional: {text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise StrategyKeyError("--max-order-notional: must be a positive number")
    return value


# ---------------------------------------------------------------------------- the file


def keys_path(data_dir: Path) -> Path:
    return data_dir / KEYS_FILE


def read_keys(path: Path) -> dict[str, StrategyKey]:
    """Every key in the file by name ({} when there is no file)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    try:
        document = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise StrategyKeyError(f"{path} is not valid JSON: {exc}") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise StrategyKeyError(f"{path} has no 'keys' list")
    keys = [StrategyKey.from_json(e) for e in entries]
    return {k.name: k for k in keys}


def _write(path: Path, keys: dict[str, StrategyKey]) -> None:
    text = json.dumps({"keys": [k.to_json() for k in keys.values()]}, indent=1)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[dict[str, StrategyKey]]:
    """The keys, read under an exclusive lock; the caller changes the dict, it is written."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        keys = read_keys(path)
        before = dict(keys)
        yield keys
        if keys != before:
            _write(path, keys)
    finally:
        os.close(lock)


def add_key(
    path: Path,
    name: str,
    *,
    symbols: tuple[str, ...] | None = None,
    max_order_notional: Decimal | None = None,
    max_open_orders: int | None = None,
) -> StrategyKey:
    """A new key for strategy ``name`` (refused if the name is taken, even by a revoked one)."""
    if not NAME_RE.match(name):
        raise StrategyKeyError(f"{name!r}: a key name is 1-32 letters, digits, '_' or '-'")
    if max_open_orders is not None and max_open_orders < 1:
        raise StrategyKeyError("--max-open-orders: must be at least 1")
    with _locked(path) as keys:
        if name in keys:
            state = "revoked" if keys[name].revoked else "in use"
            raise StrategyKeyError(f"a key named {name!r} exists ({state}); choose another name")
        key = StrategyKey(
            name=name,
            api_key=_random(KEY_CHARS),
            secret=_random(KEY_CHARS),
            symbols=symbols,
            max_order_notional=max_order_notional,
            max_open_orders=max_open_orders,
            created_ms=int(time.time() * 1000),
        )
        keys[name] = key
    return key


def revoke_key(path: Path, name: str) -> StrategyKey:
    with _locked(path) as keys:
        if name not in keys:
            raise StrategyKeyError(f"no key named {name!r}")
        keys[name] = replace(keys[name], revoked=True)
        return keys[name]


def _random(length: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


# ---------------------------------------------------------------------------- the running view


class KeyRing:
    """The running instance's view of the keys file: by API key, re-read on change.

    ``lookup`` costs a ``stat`` at most every ``check_every_s``. Fail closed: a file that is
    gone, unreadable or malformed means no keys (every request -2015) until it is good
    again; ``error`` says why.
    """

    def __init__(self, path: Path, check_every_s: float = 0.5) -> None:
        self.path = path
        self.check_every_s = check_every_s
        self.error: str | None = None
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._checked = float("-inf")
        self._by_api_key: dict[str, StrategyKey] = {}
        self._by_name: dict[str, StrategyKey] = {}
        self.reload()

    def __repr__(self) -> str:
        return f"KeyRing({str(self.path)!r}, keys={len(self._by_api_key)})"

    def reload(self) -> None:
        with self._lock:
            self._checked = time.monotonic()
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._stamp, self._by_api_key, self._by_name = None, {}, {}
                return
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp == self._stamp:
                return
            try:
                keys = read_keys(self.path)
            except (OSError, StrategyKeyError) as exc:
                if self.error != str(exc):
                    logger.error("strategy keys: {}: no strategy may trade until fixed", exc)
                self.error = str(exc)
                self._stamp, self._by_api_key, self._by_name = stamp, {}, {}
                return
            self.error = None
            self._stamp = stamp
            self._by_api_key = {k.api_key: k for k in keys.values()}
            self._by_name = dict(keys)

    def lookup(self, api_key: str) -> StrategyKey | None:
        """The live (not revoked) key with this API key, or None."""
        if time.monotonic() - self._checked >= self.check_every_s:
            self.reload()
        key = self._by_api_key.get(api_key)
        return key if key is not None and not key.revoked else None

    def revoked(self, name: str) -> bool:
        """Whether strategy ``name`` has no live key any more (revoked or removed)."""
        if time.monotonic() - self._checked >= self.check_every_s:
            self.reload()
        key = self._by_name.get(name)
        return key is None or key.revoked
