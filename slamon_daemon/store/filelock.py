"""A lock file held with flock(2): one process at a time may use what it guards (the SQLite
database, a journal folder). The lock goes with the process, so a killed daemon leaves none.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from ..errors import StoreUnavailable
from .base import DaemonLock


class FileLock(DaemonLock):
    """An exclusive flock on ``path`` (created 0600); the holder's pid is written in it."""

    def __init__(self, path: Path, description: str) -> None:
        self.path = path
        self.description = description
        self._fd: int | None = None

    async def acquire(self) -> str | None:
        if self._fd is not None:
            return None
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Held open read-only: a descriptor open for writing would keep the filesystem
            # from being remounted read-only (and the lock needs none).
            fd = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreUnavailable(f"cannot open the lock file {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip()
            os.close(fd)
            who = f"pid {holder}" if holder.isdigit() else "another process"
            return f"{who} holds {self.path}: another daemon is using {self.description}"
        self._fd = fd
        with contextlib.suppress(OSError):  # who holds it, for the message of the next one
            wfd = os.open(self.path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(wfd, f"{os.getpid()}\n".encode())
            finally:
                os.close(wfd)
        return None

    async def held(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)  # the lock goes with it; the file stays (removing it would race)


def file_lock_holder(path: Path) -> str | None:
    """Who holds the lock file ``path`` now (a sentence), or None when nobody does."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip()
        return f"pid {holder}" if holder.isdigit() else "another process"
    finally:
        os.close(fd)
    return None
