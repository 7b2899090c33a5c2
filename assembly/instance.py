"""One Vigil per data directory, and the data directory kept private.

``InstanceLock.acquire`` takes an exclusive ``flock`` on ``<data dir>/vigil.lock`` before
anything else in the data directory is opened or written; the OS drops it when the process
ends, however it ends, so a crashed process leaves no obstacle. A second process on the
same data directory gets ``AlreadyRunning`` naming the holder's PID (the lock file's
informational content) and, once it has written it, its control URL (``control.json``),
having written nothing.

``make_private`` removes group and other permissions from the data directory and
everything in it (without following symbolic links), with a warning naming each path it
had to tighten; the main job sets ``umask 077`` so that what it creates afterwards is
private from the start (directories 0700, files 0600).

``write_private`` writes a file atomically (a fresh 0600 temporary file in the same
directory, then a rename), so a secret is never written into an existing file, a planted
link, or a file anyone else can read; ``remove_own_control_files`` deletes ``control.json``
and ``control.token`` only when ``control.json`` carries this process's PID.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from loguru import logger

LOCK_NAME = "vigil.lock"
CONTROL_JSON = "control.json"
CONTROL_TOKEN = "control.token"
PRIVATE_UMASK = 0o077


class AlreadyRunning(RuntimeError):
    """Another process holds the data directory's lock."""

    def __init__(self, data_dir: Path, pid: int | None, url: str | None) -> None:
        self.data_dir = data_dir
        self.pid = pid
        self.url = url
        who = f"pid {pid}" if pid is not None else "pid unknown"
        where = f"control API {url}" if url else "still starting: no control.json yet"
        super().__init__(
            f"another Vigil is already running on {data_dir} ({who}, {where}); "
            "stop it first, or give this one another data directory (VIGIL_DATA_DIR)"
        )


class InstanceLock:
    """The exclusive lock on ``<data dir>/vigil.lock``, held until ``release`` (or the
    process's end)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> InstanceLock:
        """Create the data directory (0700) if it is missing, then lock it. Raises
        ``AlreadyRunning`` without writing anything if another process holds the lock."""
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = data_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                pid = _pid_in(os.pread(fd, 64, 0))
            finally:
                os.close(fd)
            raise AlreadyRunning(data_dir, pid, _control_url_of(data_dir, pid)) from None
        except BaseException:
            os.close(fd)
            raise
        # ours now: the PID in it is informational (the lock itself is the OS's)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _pid_in(raw: bytes) -> int | None:
    try:
        pid = int(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        return None
    return pid if pid > 0 else None


def _control_url_of(data_dir: Path, pid: int | None) -> str | None:
    """The running holder's control URL, if its ``control.json`` is there (one carrying
    another PID is a dead process's leftover)."""
    try:
        document = json.loads((data_dir / CONTROL_JSON).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("url"), str):
        return None
    if pid is not None and document.get("pid") != pid:
        return None
    return str(document["url"])


# ---------------------------------------------------------------------------- file modes


def make_private(data_dir: Path) -> list[Path]:
    """Remove group/other permissions from the data directory and everything in it (never
    following a symbolic link); warn naming each path that was looser. Returns them."""
    tightened: list[Path] = []

    def tighten(path: Path) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
            return
        mode = stat.S_IMODE(st.st_mode)
        os.chmod(path, mode & 0o700, follow_symlinks=False)
        tightened.append(path)
        logger.warning(
            "{} was accessible to other users (mode {:04o}): tightened to {:04o}",
            path,
            mode,
            mode & 0o700,
        )

    tighten(data_dir)
    for root, dirs, files in os.walk(data_dir):  # does not descend into linked directories
        for name in (*dirs, *files):
            tighten(Path(root) / name)
    return tightened


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a new 0600 file in the same directory, then a
    rename over ``path`` (an existing file, hard link or symbolic link there is replaced,
    never written into)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)  # mkstemp's mode already; said again, before the content
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def control_pid(data_dir: Path) -> Any:
    """The ``pid`` that ``control.json`` carries (None if there is none or it is unreadable)."""
    try:
        document = json.loads((data_dir / CONTROL_JSON).read_text())
    except (OSError, ValueError):
        return None
    return document.get("pid") if isinstance(document, dict) else None


def remove_own_control_files(data_dir: Path, pid: int) -> bool:
    """Delete ``control.json`` and ``control.token`` if ``control.json`` carries ``pid``
    (another process's files are left alone). Whether they were removed."""
    pid_there = control_pid(data_dir)
    if pid_there != pid or isinstance(pid_there, bool):
        return False
    for name in (CONTROL_JSON, CONTROL_TOKEN):  # the URL first: no one finds a URL without token
        with contextlib.suppress(FileNotFoundError):
            (data_dir / name).unlink()
    return True
