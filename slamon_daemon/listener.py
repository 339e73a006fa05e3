"""Accepting feed connections within limits, so that no flood of them can starve the daemon
of file descriptors (issue 10).

* ``raise_open_files_limit`` lifts the soft RLIMIT_NOFILE to the hard limit at start.
* ``ConnectionLimits`` bounds the feed connections: ``max_connections`` in all and
  ``per_uid`` for one Unix user, so one user (one NOC screen gone mad, one script) cannot
  take them all. The default leaves ``reserved_descriptors`` free for what must never fail
  for want of one: the journal, the database, the checks in flight (max_concurrency) and
  the alerts; a flood then meets the limit, never the descriptor table.
* ``UnixListener`` accepts on the socket itself: a connection over a limit gets one line
  (an error frame saying which limit) and is closed; an accept that fails (EMFILE, ENFILE,
  ENOBUFS, ENOMEM) is counted and logged once per ``ACCEPT_LOG_S`` with the count, never as a
  traceback per attempt, and accepting pauses a moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import resource
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger("slamon.feed")

ACCEPT_LOG_S = 60.0
"""Accept errors are logged at most once per this many seconds, with their count."""
ACCEPT_PAUSE_S = 0.5
"""After an accept failed for want of resources, accepting waits this long."""
DESCRIPTOR_SLACK = 64
"""Descriptors kept free beyond the checks in flight: journal, database, lock files, DNS,
alert deliveries, the log."""
_RESOURCE_ERRORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def raise_open_files_limit() -> tuple[int, int]:
    """Lift the soft limit of open files to the hard limit; returns (soft, hard) after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft, hard


def reserved_descriptors(max_concurrency: int, database_pool: int = 8) -> int:
    """Descriptors kept out of the feed's reach: a socket per check in flight, the database's
    connections, and DESCRIPTOR_SLACK for the rest."""
    return max_concurrency + database_pool + DESCRIPTOR_SLACK


def default_max_connections(open_files: int, reserved: int) -> int:
    """Feed connections allowed by default: half of what the reserve leaves, at most 1,000
    and at least 8."""
    return max(8, min(1000, (open_files - reserved) // 2))


class ConnectionLimits:
    """How many feed connections are open, in all and per Unix uid, against the limits."""

    def __init__(self, max_connections: int, per_uid: int) -> None:
        self.max_connections = max_connections
        self.per_uid = min(per_uid, max_connections)
        self.open = 0
        self.by_uid: dict[int | None, int] = {}
        self.refused = 0

    def refusal(self, uid: int | None) -> str | None:
        """Why a new connection from ``uid`` is refused, or None when it may open."""
        if self.open >= self.max_connections:
            return (
                f"too many connections: this daemon serves at most {self.max_connections}"
                " feed connections; close some and retry"
            )
        if self.by_uid.get(uid, 0) >= self.per_uid:
            who = f"uid {uid}" if uid is not None else "one user"
            return (
                f"too many connections from {who}: at most {self.per_uid} per user"
                f" (of {self.max_connections}); close some and retry"
            )
        return None

    def opened(self, uid: int | None) -> None:
        self.open += 1
        self.by_uid[uid] = self.by_uid.get(uid, 0) + 1

    def closed(self, uid: int | None) -> None:
        self.open -= 1
        n = self.by_uid.get(uid, 0) - 1
        if n > 0:
            self.by_uid[uid] = n
        else:
            self.by_uid.pop(uid, None)

    def stats(self) -> dict[str, Any]:
        return {
            "open": self.open,
            "max": self.max_connections,
            "per_uid": self.per_uid,
            "refused": self.refused,
        }


class UnixListener:
    """Accepts connections on a listening Unix socket ``sock`` and hands each admitted one to
    ``handle`` as a stream pair; ``refuse(reason)`` is the line a refused one gets."""

    def __init__(
        self,
        sock: socket.socket,
        handle: Handler,
        limits: ConnectionLimits,
        refuse: Callable[[str], bytes],
        *,
        stream_limit: int,
    ) -> None:
        self.sock = sock
        self.handle = handle
        self.limits = limits
        self.refuse = refuse
        self.stream_limit = stream_limit
        self.accept_errors = 0
        self._unlogged_errors = 0
        self._logged_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._serving: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self.sock.setblocking(False)
        self._task = asyncio.create_task(self._accept_loop(), name="feed-accept")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(OSError):
            self.sock.close()

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _addr = await loop.sock_accept(self.sock)
            except OSError as exc:
                if exc.errno in _RESOURCE_ERRORS:
                    self._accept_failed(exc)
                    await asyncio.sleep(ACCEPT_PAUSE_S)
                continue  # ECONNABORTED and the like: the peer gave up
            uid = peer_uid(conn)
            reason = self.limits.refusal(uid)
            if reason is not None:
                self.limits.refused += 1
                with contextlib.suppress(OSError):
                    conn.setblocking(False)
                    conn.send(self.refuse(reason))
                conn.close()
                continue
            self.limits.opened(uid)
            task = asyncio.create_task(self._serve(conn, uid))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)

    async def _serve(self, conn: socket.socket, uid: int | None) -> None:
        try:
            try:
                reader, writer = await asyncio.open_unix_connection(
                    sock=conn, limit=self.stream_limit
                )
            except OSError:
                conn.close()
                return
            await self.handle(reader, writer)
        finally:
            self.limits.closed(uid)

    def _accept_failed(self, exc: OSError) -> None:
        self.accept_errors += 1
        self._unlogged_errors += 1
        now = time.monotonic()
        if now - self._logged_at >= ACCEPT_LOG_S:
            logger.error(
                "cannot accept feed connections: %s (%d times since the last report);"
                " %d connections are open, limit %d",
                exc.strerror or exc,
                self._unlogged_errors,
                self.limits.open,
                self.limits.max_connections,
            )
            self._unlogged_errors = 0
            self._logged_at = now


def peer_uid(conn: socket.socket) -> int | None:
    """The Unix uid of the process at the other end of ``conn`` (SO_PEERCRED)."""
    try:
        raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)
