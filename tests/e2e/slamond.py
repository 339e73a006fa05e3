"""A real ``slamond`` in a child process, for the tests that need one (issue 10): a lowered
descriptor limit, signals, two daemons at once, restarts.

The child runs ``python -m slamon_daemon --config FILE`` with the checkout on PYTHONPATH,
its log going to a file the test reads. ``rlimit_nofile`` is set in the child before it
runs (both soft and hard, so the daemon cannot raise it back).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class Slamond:
    """One daemon process of ``config``; ``log`` is where its stderr goes."""

    def __init__(
        self,
        config: Path,
        log: Path,
        *,
        socket: Path,
        rlimit_nofile: int | None = None,
        umask: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.log = log
        self.socket = socket
        self.rlimit_nofile = rlimit_nofile
        self.umask = umask
        self.env = env or {}
        self.proc: asyncio.subprocess.Process | None = None

    def _child_setup(self) -> None:
        if self.rlimit_nofile is not None:
            n = self.rlimit_nofile
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
        if self.umask is not None:
            os.umask(self.umask)

    async def start(self, *, wait: bool = True) -> Slamond:
        """Start the process; with ``wait``, until its socket answers."""
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        env.pop("LOG_LEVEL", None)
        logf = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "slamon_daemon",
                "--config",
                str(self.config),
                stdout=logf,
                stderr=logf,
                env=env,
                preexec_fn=self._child_setup,
            )
        finally:
            logf.close()
        if wait:
            await self.wait_serving()
        return self

    async def wait_serving(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise AssertionError(
                    f"slamond exited {self.proc.returncode} while starting:\n{self.log_text()}"
                )
            if await serving(self.socket):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"slamond did not serve within {timeout} s:\n{self.log_text()}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; the exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    def log_text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self) -> list[str]:
        return self.log_text().splitlines()

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await call(self.socket, method, params)

    async def stats(self) -> dict[str, Any]:
        reply = await self.call("daemon.stats")
        assert "result" in reply, reply
        result: dict[str, Any] = reply["result"]
        return result


async def call(
    sock: Path, method: str, params: dict[str, Any] | None = None, timeout: float = 10.0
) -> dict[str, Any]:
    """One request on a fresh connection; the whole reply frame."""
    r, w = await asyncio.wait_for(asyncio.open_unix_connection(str(sock), limit=1 << 24), timeout)
    try:
        await asyncio.wait_for(r.readline(), timeout)
        w.write(json.dumps({"id": 1, "method": method, "params": params or {}}).encode() + b"\n")
        await w.drain()
        while True:
            frame = json.loads(await asyncio.wait_for(r.readline(), timeout))
            if "event" not in frame:
                return frame  # type: ignore[no-any-return]
    finally:
        w.close()
        with contextlib.suppress(Exception):
            await w.wait_closed()


async def serving(sock: Path) -> bool:
    """Whether a daemon answers on ``sock`` (a greeting arrives)."""
    if not sock.exists():
        return False
    try:
        r, w = await asyncio.wait_for(asyncio.open_unix_connection(str(sock)), 2)
    except (OSError, TimeoutError):
        return False
    try:
        line = await asyncio.wait_for(r.readline(), 2)
        return b'"hello"' in line
    except (OSError, TimeoutError):
        return False
    finally:
        w.close()


async def wait_for(pred: Any, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll the async or sync ``pred`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = pred()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)


def config_text(
    folder: Path,
    database_url: str,
    services: list[tuple[str, str, str]],
    extra: str = "",
) -> str:
    """A slamon.toml: the daemon in ``folder`` and (id, url, interval) services."""
    lines = [
        "[daemon]",
        f"database_url = {json.dumps(database_url)}",
        f"socket = {json.dumps(str(folder / 's.sock'))}",
        'write_flush_interval = "100ms"',
        extra,
    ]
    for sid, url, interval in services:
        lines += [
            "",
            "[[service]]",
            f'id = "{sid}"',
            f"url = {json.dumps(url)}",
            f'interval = "{interval}"',
            'timeout = "2s"',
        ]
    return "\n".join(lines) + "\n"
