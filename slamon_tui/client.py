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
        └── LoginExpired             the login ended and refreshing it failed: log in again

Logins: a ``Credentials`` object holds the tokens of ``auth.login``; every connection made
with it sends the access token as each request's ``token``. When the daemon answers a call
made with a token ``unauthorized`` (expired, revoked, a disabled user), the client trades the
refresh token for a new pair (``auth.refresh``, once) and makes the call again; when that
fails the login is dropped (``Credentials.on_change`` hears of it) and the call raises
``LoginExpired``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slamon_daemon import protocol

logger = logging.getLogger("slamon.tui.client")

# Replies can be far larger than requests (status.get with hundreds of services).
READ_LIMIT_BYTES = 64 * 1024 * 1024
DEFAULT_EVENT_QUEUE = 1000
HELLO_TIMEOUT_S = 5.0


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


class LoginExpired(FeedCallError):
    """The daemon no longer takes the login's token and refreshing it failed."""

    def __init__(self, message: str) -> None:
        super().__init__(protocol.ErrorCode.UNAUTHORIZED, message)


UNTOKENED_METHODS = frozenset({"auth.login", "auth.refresh", "auth.logout"})
"""Sent without the access token: they must work when that token is expired or revoked."""


@dataclass(frozen=True, slots=True)
class Login:
    """The answer of ``auth.login`` / ``auth.refresh``: tokens and the user they are for."""

    access_token: str
    refresh_token: str
    expires_at: str
    user: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_result(cls, result: Any) -> Login:
        """Build from an auth.login / auth.refresh result (ValueError when it is not one)."""
        try:
            return cls(
                access_token=str(result["access_token"]),
                refresh_token=str(result["refresh_token"]),
                expires_at=str(result["expires_at"]),
                user=dict(result.get("user") or {}),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a login: {exc!r}") from None

    def to_dict(self) -> dict[str, Any]:
        """The four keys, as auth.login sends them (and the token cache keeps them)."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "user": self.user,
        }

    @property
    def username(self) -> str:
        """Who logged in."""
        return str(self.user.get("username") or "")


LoginListener = Callable[["Login | None", str], None]
"""Told of every change of the login: the new one (None: logged out / ended) and why."""


class Credentials:
    """The login shared by every connection one app makes (it outlives reconnections)."""

    def __init__(self, login: Login | None = None, on_change: LoginListener | None = None) -> None:
        self.login = login
        self.on_change = on_change
        self._refreshing = asyncio.Lock()

    @property
    def token(self) -> str | None:
        """The access token to send, or None (anonymous)."""
        return self.login.access_token if self.login else None

    def set(self, login: Login | None, reason: str = "") -> None:
        """Use ``login`` from now on (None: act anonymously); tell the listener."""
        self.login = login
        if self.on_change is not None:
            self.on_change(login, reason)

    async def refresh(self, client: FeedClient, stale_token: str) -> bool:
        """Trade the refresh token for a new pair once; False (login dropped) when refused.

        Calls that fail together refresh once: whoever comes second finds a new token.
        """
        async with self._refreshing:
            login = self.login
            if login is None:
                return False
            if login.access_token != stale_token:
                return True  # another call refreshed it meanwhile
            try:
                result = await client.request(
                    "auth.refresh", {"refresh_token": login.refresh_token}, token=None
                )
                fresh = Login.from_result(result)
            except FeedCallError as exc:
                self.set(None, exc.message)
                return False
            except ValueError as exc:
                self.set(None, str(exc))
                return False
            self.set(fresh, "refreshed")
            return True


_RESYNC_OVERFLOW = {"event": "resync", "data": {"reason": "client event queue overflowed"}}


class FeedClient:
    """One connection to the feed. Use ``async with FeedClient(path) as c`` or connect/close."""

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        *,
        token: str | None = None,
        credentials: Credentials | None = None,
        event_queue_size: int = DEFAULT_EVENT_QUEUE,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.token = token
        """A fixed access token (``slamon call``); ``credentials`` win when both are given."""
        self.credentials = credentials
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

    async def wait_closed(self) -> None:
        """Return once the connection is lost or closed."""
        await self._done.wait()

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
        refusal = hello.get("error")
        if isinstance(refusal, dict) and "hello" not in hello:
            # Over the daemon's connection limits: it says so in one line and closes.
            await self._close_transport()
            raise DaemonUnreachable(
                f"the daemon at {where} refused the connection: {refusal.get('message')}"
            )
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
        """Send a request with the login's token and wait for its reply.

        Returns the result; raises FeedCallError for an error reply, LoginExpired when the
        token was refused and could not be refreshed.
        """
        token = self._token_for(method)
        try:
            return await self.request(method, params, token=token)
        except FeedCallError as exc:
            credentials = self.credentials
            if exc.code != protocol.ErrorCode.UNAUTHORIZED or token is None or credentials is None:
                raise
            if not await credentials.refresh(self, token):
                raise LoginExpired(exc.message) from None
        return await self.request(method, params, token=self._token_for(method))

    def _token_for(self, method: str) -> str | None:
        if method in UNTOKENED_METHODS:
            return None
        if self.credentials is not None:
            return self.credentials.token
        return self.token

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, token: str | None
    ) -> Any:
        """Send one request with exactly ``token`` (no refresh); return its result."""
        if self._writer is None or self._read_task is None:
            raise FeedConnectionLost("not connected to the daemon")
        if self._lost is not None:
            raise self._lost
        request_id = next(self._ids)
        frame: dict[str, Any] = {"id": request_id, "method": method, "params": params or {}}
        if token:
            frame["token"] = token
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
        async for batch in self.event_batches():
            for frame in batch:
                yield frame

    async def event_batches(self, limit: int = 1000) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield the event frames read so far, in order, as lists of up to ``limit`` (never
        empty): at 200 events/s a consumer then handles one list per read, not one wait per
        event. Raise FeedConnectionLost when the link drops; end quietly after close()."""
        while True:
            if self._events.empty():
                if self._done.is_set():
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
                if not get.done() or get.cancelled():
                    continue
                batch = [get.result()]
            else:
                batch = []
            while len(batch) < limit and not self._events.empty():
                batch.append(self._events.get_nowait())
            yield batch

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
