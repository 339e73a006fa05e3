"""Async client for the daemon's feed (newline-delimited JSON on a Unix socket).

No Textual here: the TUI's feed worker, ``slamon status`` and ``slamon call`` all use it.
One reader task owns the socket's read side: replies resolve the future of the request with
the same id (so concurrent calls are fine), events go to a bounded queue read by
``events()``. The reader never blocks on that queue: when it is full the queued events are
dropped and replaced by one ``resync`` event, the same contract the daemon gives its clients.

Exceptions::

    FeedClientError                  something went wrong talking to the daemon
    ├── DaemonUnreachable            no socket, nobody listening, or no hello in time
    ├── IncompatibleDaemon           the hello is not slamon's, or another protocol version
    ├── FeedConnectionLost           the connection closed under a pending call or events()
    └── FeedCallError                the daemon answered with an error reply (code, message)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from slamon_daemon import protocol

logger = logging.getLogger("slamon.tui.client")

# Replies can be far larger than requests (status.get with hundreds of services).
READ_LIMIT_BYTES = 64 * 1024 * 1024
DEFAULT_EVENT_QUEUE = 1000
HELLO_TIMEOUT_S = 5.0


FeedCall = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""Call a feed method over the current connection (``SlamonApp.call``); screens get one."""


class FeedClientError(Exception):
    """Base of the client's errors; ``str()`` is a sentence for a person."""


class DaemonUnreachable(FeedClientError):
    """Nothing answers at the socket. ``missing`` is True when the socket file does not exist."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


class IncompatibleDaemon(FeedClientError):
    """The peer's hello is not a slamon protocol 1 hello."""


class FeedConnectionLost(FeedClientError):
    """The connection closed while a call or ``events()`` was waiting."""


class FeedCallError(FeedClientError):
    """An error reply; ``code`` is one of ``protocol.ErrorCode``.

    ``fields`` names each parameter's problem (for a form to show by the field) and ``data``
    carries more (on ``conflict``: the incident as it is now); both empty when not sent.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})
        self.data: dict[str, Any] = dict(data or {})


_RESYNC_OVERFLOW = {"event": "resync", "data": {"reason": "client event queue overflowed"}}


class FeedClient:
    """One connection to the feed. Use ``async with FeedClient(path) as c`` or connect/close."""

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        *,
        token: str | None = None,
        event_queue_size: int = DEFAULT_EVENT_QUEUE,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.token = token
        self.hello: dict[str, Any] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=event_queue_size)
        self._lost: FeedConnectionLost | None = None
        self._closed_here = False
        self._done = asyncio.Event()

    async def __aenter__(self) -> FeedClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        """True between a successful connect() and the loss or close of the connection."""
        return self._read_task is not None and not self._done.is_set()

    async def connect(self, hello_timeout: float = HELLO_TIMEOUT_S) -> dict[str, Any]:
        """Open the socket, read and check the hello, start the reader; return the hello."""
        where = str(self.socket_path)
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(
                where, limit=READ_LIMIT_BYTES
            )
        except FileNotFoundError:
            raise DaemonUnreachable(
                f"no slamon daemon is running at {where} (the socket does not exist)", missing=True
            ) from None
        except ConnectionRefusedError:
            # A socket file left behind by a daemon that died: nobody accepts on it.
            raise DaemonUnreachable(
                f"no slamon daemon is running at {where} (connection refused)", missing=True
            ) from None
        except OSError as exc:
            raise DaemonUnreachable(f"cannot connect to {where}: {exc.strerror or exc}") from None
        try:
            line = await asyncio.wait_for(self._reader.readline(), hello_timeout)
        except (TimeoutError, OSError, ValueError) as exc:
            await self._close_transport()
            raise DaemonUnreachable(f"the daemon at {where} sent no greeting ({exc!r})") from None
        if not line:
            await self._close_transport()
            raise DaemonUnreachable(f"the daemon at {where} closed the connection at once")
        try:
            hello = protocol.decode_message(line)
        except ValueError:
            await self._close_transport()
            raise IncompatibleDaemon(f"{where} does not speak the slamon feed protocol") from None
        if hello.get("hello") != "slamon":
            await self._close_transport()
            raise IncompatibleDaemon(f"{where} does not speak the slamon feed protocol")
        if hello.get("protocol") != protocol.PROTOCOL_VERSION:
            await self._close_transport()
            raise IncompatibleDaemon(
                f"the daemon at {where} speaks feed protocol {hello.get('protocol')!r}; "
                f"this slamon speaks {protocol.PROTOCOL_VERSION}"
            )
        self.hello = hello
        self._read_task = asyncio.create_task(self._read_loop(), name="slamon-feed-reader")
        return hello

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Send a request and wait for its reply; return the result or raise FeedCallError."""
        if self._writer is None or self._read_task is None:
            raise FeedConnectionLost("not connected to the daemon")
        if self._lost is not None:
            raise self._lost
        request_id = next(self._ids)
        frame: dict[str, Any] = {"id": request_id, "method": method, "params": params or {}}
        if self.token:
            frame["token"] = self.token
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._writer.write(protocol.encode(frame))
            await self._writer.drain()
        except (OSError, RuntimeError) as exc:
            self._pending.pop(request_id, None)
            raise FeedConnectionLost(
                f"connection to the daemon lost while sending: {exc}"
            ) from None
        try:
            return await future
        finally:
            self._pending.pop(request_id, None)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Yield event frames ``{"event", "data"}``; raise FeedConnectionLost when the link drops.

        Ends quietly after close().
        """
        while True:
            if self._events.empty() and self._done.is_set():
                if self._lost is not None and not self._closed_here:
                    raise self._lost
                return
            get = asyncio.ensure_future(self._events.get())
            done_wait = asyncio.ensure_future(self._done.wait())
            try:
                await asyncio.wait({get, done_wait}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                done_wait.cancel()
                if not get.done():
                    get.cancel()
            if get.done() and not get.cancelled():
                yield get.result()

    async def close(self) -> None:
        """Close the connection; pending calls fail with FeedConnectionLost."""
        self._closed_here = True
        if self._read_task is not None:
            self._read_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._read_task
        self._fail_pending(FeedConnectionLost("the connection was closed"))
        self._done.set()
        await self._close_transport()

    async def _close_transport(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, RuntimeError):
                await self._writer.wait_closed()

    async def _read_loop(self) -> None:
        assert self._reader is not None
        reason = "the daemon closed the connection"
        try:
            while True:
                try:
                    line = await self._reader.readline()
                except (OSError, ValueError) as exc:
                    # ValueError: a line longer than READ_LIMIT_BYTES; the stream is unusable.
                    reason = f"connection error: {exc}"
                    break
                if not line:
                    break
                try:
                    frame = protocol.decode_message(line)
                except ValueError:
                    logger.warning("ignoring a frame that is not a JSON object: %.200r", line)
                    continue
                self._dispatch(frame)
        finally:
            if self._closed_here:
                reason = "the connection was closed"
            self._lost = FeedConnectionLost(f"lost the connection to the daemon: {reason}")
            self._fail_pending(self._lost)
            self._done.set()

    def _dispatch(self, frame: dict[str, Any]) -> None:
        if "event" in frame:
            self._put_event(frame)
            return
        future = self._pending.get(frame.get("id"))  # type: ignore[arg-type]
        if future is None or future.done():
            logger.warning("reply for an unknown request id %r", frame.get("id"))
            return
        error = frame.get("error")
        if isinstance(error, dict):
            fields = error.get("fields")
            data = error.get("data")
            future.set_exception(
                FeedCallError(
                    str(error.get("code", "unknown")),
                    str(error.get("message", "")),
                    fields={str(k): str(v) for k, v in fields.items()}
                    if isinstance(fields, dict)
                    else None,
                    data=data if isinstance(data, dict) else None,
                )
            )
        else:
            future.set_result(frame.get("result"))

    def _put_event(self, frame: dict[str, Any]) -> None:
        try:
            self._events.put_nowait(frame)
        except asyncio.QueueFull:
            # The consumer fell behind: stale events are worth less than a fresh snapshot.
            while not self._events.empty():
                self._events.get_nowait()
            self._events.put_nowait(dict(_RESYNC_OVERFLOW))

    def _fail_pending(self, exc: FeedClientError) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)
        self._pending.clear()
