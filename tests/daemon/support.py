"""Helpers shared by the daemon tests: polling, a minimal feed client, config files."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from slamon_daemon.protocol import MAX_FRAME_BYTES

WAIT_S = 10.0
"""Generous upper bound for anything asynchronous to happen (never a timing assertion)."""


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = WAIT_S,
    step: float = 0.02,
    what: str = "condition",
) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(step)


def short_dir() -> Path:
    """A fresh directory with a short path (AF_UNIX socket paths are limited to ~107 bytes)."""
    return Path(tempfile.mkdtemp(prefix="slt-", dir="/tmp"))


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


class FeedClient:
    """A bare newline-JSON client of the feed, with no slamon_tui code involved."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.hello: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self._next_id = 0

    @classmethod
    async def connect(cls, path: Path | str) -> FeedClient:
        r, w = await asyncio.open_unix_connection(str(path), limit=4 * MAX_FRAME_BYTES)
        c = cls(r, w)
        c.hello = await c.read()
        return c

    async def read(self, timeout: float = WAIT_S) -> dict[str, Any]:
        """The next frame; raises EOFError when the daemon closed the connection."""
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        if not line:
            raise EOFError("feed connection closed")
        obj = json.loads(line)
        assert isinstance(obj, dict), line
        return obj

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send(self, frame: dict[str, Any]) -> None:
        await self.send_raw(json.dumps(frame).encode() + b"\n")

    async def reply_to(self, rid: Any, timeout: float = WAIT_S) -> dict[str, Any]:
        """Read until the reply with id ``rid``; events read meanwhile go to ``events``."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.read(max(0.01, deadline - time.monotonic()))
            if "event" in frame:
                self.events.append(frame)
                continue
            if frame.get("id") == rid:
                return frame
            raise AssertionError(f"unexpected frame while waiting for reply {rid!r}: {frame}")

    async def call(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = WAIT_S
    ) -> dict[str, Any]:
        """Send a request and return the whole reply frame (result or error)."""
        self._next_id += 1
        rid = self._next_id
        frame: dict[str, Any] = {"id": rid, "method": method}
        if params is not None:
            frame["params"] = params
        await self.send(frame)
        return await self.reply_to(rid, timeout)

    async def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        reply = await self.call(method, params)
        assert "result" in reply, reply
        return reply["result"]

    async def next_event(
        self, predicate: Callable[[dict[str, Any]], bool] = lambda e: True, timeout: float = WAIT_S
    ) -> dict[str, Any]:
        """The first event (already buffered or new) matching ``predicate``."""
        for i, e in enumerate(self.events):
            if predicate(e):
                del self.events[: i + 1]
                return e
        self.events.clear()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching event within {timeout}s")
            frame = await self.read(remaining)
            if "event" in frame and predicate(frame):
                return frame

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


def toml_str(value: str) -> str:
    """A TOML basic string."""
    return json.dumps(value)


def write_config(
    path: Path,
    *,
    db_url: str,
    socket: Path,
    node: str = "test-node",
    services: Sequence[dict[str, Any]] = (),
    extra_daemon: str = "",
) -> Path:
    """Write a slamon.toml with a [daemon] section and one [[service]] per dict."""
    lines = [
        "[daemon]",
        f"database_url = {toml_str(db_url)}",
        f"socket = {toml_str(str(socket))}",
        f"node = {toml_str(node)}",
        'write_flush_interval = "100ms"',
        extra_daemon,
    ]
    for s in services:
        lines.append("")
        lines.append("[[service]]")
        for k, v in s.items():
            if isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, int | float):
                lines.append(f"{k} = {v}")
            elif isinstance(v, list):
                lines.append(f"{k} = {json.dumps(v)}")
            else:
                lines.append(f"{k} = {toml_str(str(v))}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class FakeClock:
    """A clock the test moves (slamon_daemon.clock.Clock).

    ``advance`` moves the wall clock and the monotonic clock together, as time passing does,
    and wakes whoever waits on the clock past that moment; ``step_wall`` moves only the wall
    clock, as an NTP or operator step does.
    """

    def __init__(self, start: datetime) -> None:
        self._wall = start
        self._mono = 1_000.0
        self._waiters: list[tuple[float, asyncio.Event]] = []

    def now(self) -> datetime:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        entry = (self._mono + seconds, asyncio.Event())
        self._waiters.append(entry)
        woken = asyncio.ensure_future(entry[1].wait())
        told = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({woken, told}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            told.cancel()
            self._waiters.remove(entry)

    def advance(self, seconds: float) -> None:
        self._wall += timedelta(seconds=seconds)
        self._mono += seconds
        for deadline, wake in self._waiters:
            if deadline <= self._mono:
                wake.set()

    def step_wall(self, seconds: float) -> None:
        self._wall += timedelta(seconds=seconds)

    @property
    def idle(self) -> bool:
        """Someone waits on the clock, and only for a moment still to come."""
        return bool(self._waiters) and all(d > self._mono for d, _ in self._waiters)
