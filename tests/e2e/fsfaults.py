"""A small filesystem the test can fill or make read-only under a running daemon: a tmpfs
mounted for the test (needs root and a kernel that allows it; the tests skip otherwise)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


class SmallFs:
    """A tmpfs of ``size`` mounted at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        """Write until the filesystem is full (ENOSPC)."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            block = b"\0" * 4096
            while True:
                os.write(fd, block)
        except OSError:
            pass
        finally:
            os.close(fd)
        # The last partial block stays; anything bigger than a few bytes fails now.

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    async def read_only(self, timeout: float = 10.0) -> None:
        """Remount read-only; retried while the daemon has a segment open for writing
        (the kernel refuses with EBUSY then; the writer closes segments every flush)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            r = subprocess.run(  # noqa: ASYNC221 - a quick mount(8), in a test
                ["mount", "-o", "remount,ro", str(self.path)], capture_output=True, text=True
            )
            if r.returncode == 0:
                return
            if loop.time() > deadline:
                raise AssertionError(f"cannot remount {self.path} read-only: {r.stderr}")
            await asyncio.sleep(0.02)

    def read_write(self) -> None:
        subprocess.run(["mount", "-o", "remount,rw", str(self.path)], check=True)


@contextlib.contextmanager
def small_fs(size: str = "256k") -> Iterator[SmallFs]:
    """A fresh tmpfs of ``size``; skipped where mounting is not allowed."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    path = Path(tempfile.mkdtemp(prefix="slt-fs-", dir="/tmp"))
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        path.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield SmallFs(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
        with contextlib.suppress(OSError):
            path.rmdir()
