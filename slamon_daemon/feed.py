"""The feed: a Unix-socket server speaking protocol.py to many clients (SPEC §3.11).

Each client is a ``Session`` with its own outbound buffer and writer task, so a client that
reads slowly only slows itself. Events beyond ``max_pending_events`` in a session's buffer
are dropped and replaced by one ``resync`` event (the client re-reads the state); a session
that overflows again and again is disconnected. Replies are never dropped.

Frames are read by hand rather than with ``readline`` so that an oversized line is skipped
up to its newline and answered with ``frame_too_large`` while the session goes on.

The feed is one transport of the API: a request names a method of the ``api.Registry``, the
feed works out who calls (token, else the peer's Unix uid) and lets the registry run it.
What goes wrong is an errors.* exception carrying its code; ``errors.wire_error`` is the one
table that turns it into an error reply (the HTTP transport uses it too).
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import socket
import stat
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import protocol
from .api.context import Caller
from .api.registry import Method, Registry
from .errors import (
    INTERNAL_MESSAGE,
    InvalidParams,
    RateLimited,
    ServeError,
    SlamonError,
    Unauthorized,
    wire_error,
)
from .listener import ConnectionLimits, UnixListener
from .models import Identity, Role
from .protocol import EVENT_TOPICS, ErrorCode, ProtocolError

logger = logging.getLogger("slamon.feed")

Identify = Callable[["str | None", "int | None"], Awaitable[Identity]]
"""``identify(token, peer_uid)``: who makes a request (api.registry.Registry.identify)."""

MAX_REPLY_BACKLOG = 4 * 1024 * 1024
"""Bytes of unread replies after which a client's further requests wait."""


@dataclass(slots=True)
class Session:
    """One connected client."""

    id: int
    writer: asyncio.StreamWriter
    peer_uid: int | None = None
    topics: set[str] = field(default_factory=set)
    out: deque[bytes] = field(default_factory=deque)
    pending_events: int = 0
    overflows: int = 0
    closed: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    out_bytes: int = 0  # bytes queued in ``out``
    tokens: float = 0.0  # request rate limit bucket
    tokens_at: float = 0.0

    @property
    def client_key(self) -> str:
        """The client, for login throttling: the peer's Unix uid (SO_PEERCRED)."""
        return f"uid:{self.peer_uid}" if self.peer_uid is not None else f"session:{self.id}"

    def caller(self, identity: Identity) -> Caller:
        """The caller of a request on this connection."""
        return Caller(identity, self.client_key, session=self.id, uid=self.peer_uid)

    def send_encoded(self, data: bytes) -> None:
        """Queue an encoded reply frame (never dropped)."""
        if not self.closed:
            self.out.append(data)
            self.out_bytes += len(data)
            self.wake.set()

    def send(self, frame: dict[str, Any]) -> None:
        """Queue a reply (never dropped)."""
        self.send_encoded(protocol.encode(frame))


class FeedServer:
    """Serves a registry's methods on ``socket_path`` and publishes events to subscribers.

    Besides the registry's methods the feed has its own: ``methods`` (what this transport
    serves), ``subscribe`` and ``unsubscribe`` (a connection's event topics). Without
    ``identify`` every caller is anonymous with ``default_role``.
    """

    def __init__(
        self,
        socket_path: Path,
        registry: Registry,
        *,
        hello: dict[str, Any],
        identify: Identify | None = None,
        default_role: Role = Role.VIEWER,
        max_pending_events: int = 2000,
        max_overflows: int = 3,
        request_rate: float = 50.0,
        request_burst: float = 200.0,
        socket_group: str | None = None,
        on_close: Callable[[Session], None] | None = None,
        limits: ConnectionLimits | None = None,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.registry = registry.with_methods(self._own_methods())
        self.hello = hello
        self.default_role = default_role
        self.identify = identify or self._anonymous
        self.request_rate = request_rate
        self.request_burst = request_burst
        self.socket_group = socket_group
        self.on_close = on_close
        self.max_pending_events = max_pending_events
        self.max_overflows = max_overflows
        self.sessions: dict[int, Session] = {}
        self.limits = limits or ConnectionLimits(1000, 1000)
        self._server: UnixListener | None = None
        self._bound_inode: int | None = None
        self._next_id = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on the socket (mode 0660), replacing a stale socket file of a dead daemon."""
        path = self.socket_path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            raise ServeError(f"refusing to use {path}: it is a symlink")
        if path.exists():
            st = path.lstat()
            if not stat.S_ISSOCK(st.st_mode):
                raise ServeError(f"refusing to use {path}: not a socket file")
            if st.st_uid != os.getuid():
                raise ServeError(
                    f"refusing to use {path}: it belongs to uid {st.st_uid}, not to this user"
                )
            if await _socket_alive(path):
                raise ServeError(f"another daemon is already serving on {path}")
            path.unlink()  # stale: its daemon is gone
        gid = None
        if self.socket_group:
            try:
                gid = grp.getgrnam(self.socket_group).gr_gid
            except KeyError:
                raise ServeError(
                    f"socket_group {self.socket_group!r} is not a group on this machine"
                ) from None
        # Bound under a temporary name, given its mode and group, then renamed into place:
        # a client never sees the socket file with any other mode.
        staging = path.with_name(f".{path.name}.{os.getpid()}")
        if len(os.fsencode(staging)) > 107:  # sun_path's limit: bind in place instead
            staging = path
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(staging))
            os.chmod(staging, 0o660)
            if gid is not None:
                os.chown(staging, -1, gid)
            sock.listen(1024)
            if staging != path:
                os.rename(staging, path)
        except OSError as exc:
            sock.close()
            if staging != path:
                with contextlib.suppress(FileNotFoundError):
                    staging.unlink()
            raise ServeError(f"cannot listen on {path}: {exc}") from exc
        # Accepted by hand: within the connection limits, accept errors counted (listener.py).
        self._server = UnixListener(
            sock, self._serve, self.limits, _refusal, stream_limit=protocol.MAX_FRAME_BYTES
        )
        self._server.start()
        self._bound_inode = path.stat().st_ino
        logger.info("feed listening on %s", path)

    async def stop(self) -> None:
        """Say goodbye to every client, close them and remove the socket file."""
        if self._server is not None:
            await self._server.close()
        for s in list(self.sessions.values()):
            s.send(protocol.event("goodbye", {"reason": "daemon shutting down"}))
        await asyncio.sleep(0.05)
        for s in list(self.sessions.values()):
            self._close(s)
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._server = None
        # Remove the socket file only if it is the one this server bound: a daemon that failed
        # to start because another one serves there must not unlink the other's socket.
        with contextlib.suppress(FileNotFoundError):
            if (
                self._bound_inode is not None
                and self.socket_path.stat().st_ino == self._bound_inode
            ):
                self.socket_path.unlink()
        self._bound_inode = None

    # -- events -----------------------------------------------------------------------

    def has_subscribers(self, topic: str) -> bool:
        """Whether any session would receive an event of ``topic`` (saves building it).
        Asked at every check: a loop, not a generator."""
        for s in self.sessions.values():
            if topic in s.topics:
                return True
        return False

    def publish(self, topic: str, data: dict[str, Any]) -> None:
        """Send an event to every session subscribed to ``topic``; never blocks."""
        frame: bytes | None = None
        for s in list(self.sessions.values()):
            if topic not in s.topics or s.closed:
                continue
            if frame is None:
                frame = protocol.encode(protocol.event(topic, data))
            if s.pending_events >= self.max_pending_events:
                self._overflow(s)
                continue
            s.out.append(frame)
            s.out_bytes += len(frame)
            s.pending_events += 1
            s.wake.set()

    def _overflow(self, s: Session) -> None:
        s.overflows += 1
        if s.overflows > self.max_overflows:
            logger.warning("session %d too slow %d times; disconnecting it", s.id, s.overflows)
            self._close(s)
            return
        # Keep the replies, drop the queued events, and tell the client to re-read the state.
        s.out = deque(f for f in s.out if not f.startswith(b'{"event"'))
        s.out.append(
            protocol.encode(protocol.event("resync", {"reason": "client too slow; events dropped"}))
        )
        s.out_bytes = sum(len(f) for f in s.out)
        s.pending_events = 1
        s.wake.set()

    # -- sessions ---------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._next_id += 1
        s = Session(id=self._next_id, writer=writer, peer_uid=_peer_uid(writer))
        self.sessions[s.id] = s
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        sender = asyncio.create_task(self._send_loop(s))
        self._tasks.add(sender)
        s.send(self.hello)
        try:
            async for line in _frames(reader, protocol.MAX_FRAME_BYTES):
                if line is None:
                    s.send(
                        protocol.error_reply(
                            None,
                            ErrorCode.FRAME_TOO_LARGE,
                            f"frame longer than {protocol.MAX_FRAME_BYTES} bytes; it was skipped",
                        )
                    )
                    continue
                if not line.strip():
                    continue
                await self._handle(s, line)
                if s.closed:
                    break
                # A client that sends requests but does not read the replies is not read
                # further until its replies drain: the daemon's memory for it stays bounded.
                while not s.closed and self._backlog(s) > MAX_REPLY_BACKLOG:  # noqa: ASYNC110 - no event for a transport buffer
                    await asyncio.sleep(0.05)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._close(s)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            self._tasks.discard(sender)
            if task is not None:
                self._tasks.discard(task)

    async def _handle(self, s: Session, line: bytes) -> None:
        rid: Any = None
        try:
            req = protocol.decode_request(line)
            rid = req.id
            method = self.registry.get(req.method)
            if method is None:
                raise ProtocolError(
                    ErrorCode.UNKNOWN_METHOD,
                    f'unknown method {req.method!r}; see docs/feed.md (or call "methods")',
                    rid,
                )
            if not self._allow(s):
                raise RateLimited(
                    f"too many requests on this connection (at most {self.request_rate:g} per"
                    " second); slow down and retry"
                )
            try:
                identity = await self.identify(req.token, s.peer_uid)
            except Unauthorized:
                # An expired token must not lock a client out of auth.login / auth.refresh.
                if not method.login_flow:
                    raise
                identity = await self.identify(None, s.peer_uid)
            result = await self.registry.call(method, s.caller(identity), req.params)
            s.send_encoded(protocol.encode_reply(rid, result))
        except ProtocolError as exc:
            frame_id = exc.request_id if exc.request_id is not None else rid
            s.send(protocol.error_reply(frame_id, exc.code, exc.message, exc.fields, exc.data))
        except SlamonError as exc:
            if exc.code == ErrorCode.INTERNAL:
                logger.error("feed method failed: %s", exc)
            s.send(protocol.error_reply(rid, *wire_error(exc)))
        except Exception:
            logger.exception("feed method failed")
            s.send(protocol.error_reply(rid, ErrorCode.INTERNAL, INTERNAL_MESSAGE))

    @staticmethod
    def _backlog(s: Session) -> int:
        transport = s.writer.transport
        buffered = transport.get_write_buffer_size() if transport is not None else 0
        return s.out_bytes + buffered

    def _allow(self, s: Session) -> bool:
        """Token bucket: ``request_rate`` per second, bursts up to ``request_burst``."""
        now = time.monotonic()
        if s.tokens_at == 0.0:
            s.tokens, s.tokens_at = self.request_burst, now
        s.tokens = min(self.request_burst, s.tokens + (now - s.tokens_at) * self.request_rate)
        s.tokens_at = now
        if s.tokens < 1.0:
            return False
        s.tokens -= 1.0
        return True

    async def _anonymous(self, token: str | None, uid: int | None) -> Identity:
        return Identity("anonymous", self.default_role)

    # -- the feed's own methods ---------------------------------------------------------

    @property
    def methods(self) -> dict[str, Method]:
        """Every method served here, by name."""
        return self.registry.methods

    def _own_methods(self) -> list[Method]:
        async def list_methods(ctx: Any, caller: Caller, params: dict[str, Any]) -> Any:
            if params:
                raise InvalidParams(f"methods takes no params; got {sorted(params)}")
            return [
                {"name": m.name, "role": m.role.name.lower(), "doc": m.doc}
                for m in sorted(self.registry, key=lambda m: m.name)
            ]

        async def subscribe(ctx: Any, caller: Caller, params: dict[str, Any]) -> Any:
            s = self._session_of(caller, params, "subscribe")
            s.topics |= set(_topics(params))
            return {"topics": sorted(s.topics)}

        async def unsubscribe(ctx: Any, caller: Caller, params: dict[str, Any]) -> Any:
            s = self._session_of(caller, params, "unsubscribe")
            s.topics -= set(_topics(params))
            return {"topics": sorted(s.topics)}

        return [
            Method("methods", Role.ANONYMOUS, list_methods, "list methods and the role each needs"),
            Method("subscribe", Role.VIEWER, subscribe, "receive events of the given topics"),
            Method("unsubscribe", Role.VIEWER, unsubscribe, "stop events of the given topics"),
        ]

    def _session_of(self, caller: Caller, params: dict[str, Any], method: str) -> Session:
        unknown = sorted(set(params) - {"topics"})
        if unknown:
            raise InvalidParams(f"{method}: unknown params {unknown}; allowed: topics")
        s = self.sessions.get(caller.session) if caller.session is not None else None
        if s is None:
            raise ServeError(f"{method}: no session {caller.session}")
        return s

    async def _send_loop(self, s: Session) -> None:
        w = s.writer
        try:
            while not s.closed:
                if not s.out:
                    s.wake.clear()
                    await s.wake.wait()
                    continue
                # Write everything queued, then wait for the socket to drain.
                batch = []
                while s.out:
                    f = s.out.popleft()
                    s.out_bytes -= len(f)
                    batch.append(f)
                    if f.startswith(b'{"event"'):
                        s.pending_events -= 1
                w.write(b"".join(batch))
                await w.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._close(s)

    def _close(self, s: Session) -> None:
        if s.closed:
            self.sessions.pop(s.id, None)
            return
        s.closed = True
        s.wake.set()
        self.sessions.pop(s.id, None)
        if self.on_close is not None:
            try:
                self.on_close(s)
            except Exception:
                logger.exception("on_close hook failed")
        with contextlib.suppress(Exception):
            s.writer.close()


def _refusal(reason: str) -> bytes:
    """The one line a connection over the limits gets before it is closed."""
    return protocol.encode(protocol.error_reply(None, ErrorCode.RATE_LIMITED, reason))


def _topics(params: dict[str, Any]) -> list[str]:
    """The topics named by subscribe/unsubscribe (default: all)."""
    topics = params.get("topics", list(EVENT_TOPICS))
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise InvalidParams('"topics" must be a list of strings')
    unknown = sorted(set(topics) - set(EVENT_TOPICS))
    if unknown:
        raise InvalidParams(f"unknown topics {unknown}; allowed: {', '.join(EVENT_TOPICS)}")
    return topics


async def _frames(reader: asyncio.StreamReader, limit: int):  # type: ignore[no-untyped-def]
    """Yield each line (without the newline); None for a line longer than ``limit``."""
    buf = bytearray()
    skipping = False
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return
        buf += chunk
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) > limit:
                    if not skipping:
                        skipping = True
                    buf.clear()
                break
            line = bytes(buf[:nl])
            del buf[: nl + 1]
            if skipping:
                skipping = False
                yield None
            elif len(line) > limit:
                yield None
            else:
                yield line


def _peer_uid(writer: asyncio.StreamWriter) -> int | None:
    """The Unix uid of the process at the other end of the socket (SO_PEERCRED)."""
    sock = writer.get_extra_info("socket")
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", raw)
        return int(uid)
    except (OSError, AttributeError):
        return None


async def _socket_alive(path: Path) -> bool:
    try:
        _r, w = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), timeout=1.0)
    except (OSError, TimeoutError):
        return False
    w.close()
    with contextlib.suppress(Exception):
        await w.wait_closed()
    return True
