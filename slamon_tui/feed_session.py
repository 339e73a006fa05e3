"""The TUI's connection to one daemon: connect, learn who we are, follow the feed, reconnect.

The app's feed worker runs ``FeedSession.run()`` for as long as the app runs. Each round:
connect, ``auth.whoami`` (when the daemon lets nobody read without a login, wait for one),
subscribe, ``status.get``, then the events: those read at once go out together
(``SessionHost.broadcast_events``), each one message, in order, at most every
EVENTS_EVERY_S. When the connection fails the
session says why, waits (0.5 s doubling to 5 s; ``retry_now`` ends the wait) and starts
over; every round begins with a fresh ``status.get``, so nothing missed while away stays
missed.

The session also owns the login: the ``Credentials`` every connection sends, cached per
socket (token_cache.py), ``log_in`` / ``log_out``, and the ``Identity`` they give.

It speaks to its host (the app) through ``SessionHost``: ``broadcast`` for what any open
screen may follow (Connecting … Snapshot, CheckEvent …), ``post_message`` for what the app
itself acts on (LoginNeeded, LoginEnded), and ``identity_changed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from textual.message import Message

from slamon_tui.client import (
    Credentials,
    DaemonUnreachable,
    FeedCallError,
    FeedClient,
    FeedClientError,
    FeedConnectionLost,
    Login,
    LoginExpired,
)
from slamon_tui.identity import ANONYMOUS, READ_ONLY, Identity
from slamon_tui.messages import (
    CheckEvent,
    Connected,
    Connecting,
    Disconnected,
    FeedMessage,
    IncidentEvent,
    LoginEnded,
    LoginNeeded,
    PresenceEvent,
    Snapshot,
    StatusEvent,
)
from slamon_tui.token_cache import TokenCache

logger = logging.getLogger("slamon.tui")

ClientFactory = Callable[[Path], FeedClient]
TOPICS = ("check", "status", "incident", "presence")
FIRST_PAINT_OMITS = ("daily", "latencies", "outcomes")
"""What the first status.get of a connection leaves out (docs/feed.md `omit`): the 90-day
bars and sparklines, most of the bytes; the statuses, uptimes and last checks stay."""
EVENT_MESSAGES: dict[str, Callable[[dict[str, Any]], FeedMessage]] = {
    "check": CheckEvent,
    "status": StatusEvent,
    "incident": IncidentEvent,
    "presence": PresenceEvent,
}
"""Feed event topic -> the message each of its events becomes."""
EVENTS_EVERY_S = 0.1
"""After giving the screens a batch of events, the next batch waits this long (issue 14):
at 200 check events/s the screens take ten batches a second, not one per read of the
socket, and a key rarely waits behind one. A lone event after a quiet spell goes at once."""
NEEDS_LOGIN = "This daemon needs a login to show anything."


class SessionHost(Protocol):
    """What the session tells (SlamonApp is one)."""

    def broadcast(self, message: FeedMessage) -> None:
        """Give ``message`` to every open screen."""

    def broadcast_events(self, messages: list[FeedMessage]) -> None:
        """Give every open screen the event messages read at once, in order."""

    def post_message(self, message: Message) -> bool:
        """Give ``message`` to the app itself."""

    def identity_changed(self, identity: Identity) -> None:
        """The daemon said who we are (it may be who we were)."""


class ConnectionLine:
    """The one line saying how the connection is: "● live · node … · slamon … · socket",
    "⟳ reconnecting… next try in 0.5 s — why". The dashboard shows it; other screens show it
    when the feed goes down."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.text = "Connecting…"
        self._last_failure = ""
        self._shutdown: str | None = None
        """The reason of the daemon's last goodbye, kept over the "no daemon" failures that
        follow it: the goodbye is the real cause."""

    def connecting(self, attempt: int) -> str | None:
        """A retry is under way (the last failure stays on show); None on a first attempt."""
        if attempt <= 1:
            return None
        self.text = f"⟳ reconnecting… (attempt {attempt}){self._why()}"
        return self.text

    def connected(self, node: str, version: str) -> str:
        """The feed is live."""
        self._shutdown = None
        self.text = f"● live · node {node} · slamon {version} · {self.socket_path}"
        return self.text

    def disconnected(
        self, reason: str, retry_in: float, daemon_missing: bool, shutdown: str | None
    ) -> str:
        """The feed is down: why (unless no daemon runs: the start hint says it all), and
        when the next try is."""
        if shutdown:
            self._shutdown = shutdown
        if daemon_missing:
            self._last_failure = (
                f"the daemon shut down ({self._shutdown})" if self._shutdown else ""
            )
        else:
            self._last_failure = reason
        when = f"{retry_in:.1f} s" if retry_in < 10 else f"{retry_in:.0f} s"
        self.text = f"⟳ reconnecting… next try in {when}{self._why()}"
        return self.text

    def _why(self) -> str:
        return f" — {self._last_failure}" if self._last_failure else ""


class FeedSession:
    """The connection to the daemon whose feed is at ``socket_path``, and the login on it.

    ``user`` (``slamon --user NAME``) is the login screen's username, and the only cached
    login used.
    """

    def __init__(
        self,
        socket_path: Path,
        host: SessionHost,
        *,
        client_factory: ClientFactory = FeedClient,
        retry_initial: float = 0.5,
        retry_max: float = 5.0,
        user: str | None = None,
        token_cache: TokenCache | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.host = host
        self.client_factory = client_factory
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.preset_user = user
        self.token_cache = token_cache or TokenCache.for_socket(socket_path)
        self.credentials = Credentials(self.token_cache.load(user=user), self._login_changed)
        self.client: FeedClient | None = None
        """The live connection (the login screen logs in over it); None while down."""
        self.identity = ANONYMOUS
        self.anonymous_read: bool | None = None
        """The hello's anonymous_read: whether the daemon lets nobody read without a login."""
        self.line = ConnectionLine(str(socket_path))
        self._logged_in = asyncio.Event()
        self._login_offered = False
        self._retry_now = asyncio.Event()

    @property
    def connected(self) -> bool:
        """Whether there is a live connection."""
        return self.client is not None

    # --- the feed -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, resync, stream events; on any failure wait with backoff and start over."""
        where = str(self.socket_path)
        delay = self.retry_initial
        attempt = 0
        while True:
            attempt += 1
            self.host.broadcast(Connecting(where, attempt, self.line.connecting(attempt)))
            client = self.client_factory(self.socket_path)
            client.credentials = self.credentials
            missing = False
            goodbye: str | None = None
            try:
                hello = await client.connect()
                self.client = client
                await self._authenticate(client, hello)
                # Subscribe before status.get: an event that happens in between is then
                # queued rather than lost (the model drops ones the snapshot already holds).
                await client.call("subscribe", {"topics": list(TOPICS)})
                # The rows first: statuses without the sparklines and day bars (a sixth of
                # the bytes to read and decode), then the whole picture (issue 14: first
                # paint). Events meanwhile wait in the client and come after both.
                snapshot = await client.call("status.get", {"omit": list(FIRST_PAINT_OMITS)})
                attempt, delay = 0, self.retry_initial
                node, version = str(hello.get("node", "?")), str(hello.get("version", "?"))
                line = self.line.connected(node, version)
                self.host.broadcast(Connected(where, node, version, line))
                self.host.broadcast(Snapshot(snapshot))
                self.host.broadcast(Snapshot(await client.call("status.get", {})))
                async for frames in client.event_batches():
                    goodbye = await self._forward(client, frames)
                    if goodbye is not None:
                        break
                    await asyncio.sleep(EVENTS_EVERY_S)  # (what comes meanwhile waits)
                reason = f"the daemon shut down ({goodbye})" if goodbye else "connection closed"
            except DaemonUnreachable as exc:
                reason, missing = str(exc), exc.missing
            except FeedClientError as exc:
                reason = str(exc)
            finally:
                self.client = None
                await client.close()
            line = self.line.disconnected(reason, delay, missing, goodbye)
            self.host.broadcast(Disconnected(where, reason, delay, missing, goodbye, line))
            await self._wait_before_retry(delay)
            delay = min(delay * 2, self.retry_max)

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """Call ``method`` over the live connection; FeedConnectionLost when there is none."""
        client = self.client
        if client is None:
            raise FeedConnectionLost("not connected to the daemon")
        return await client.call(method, params)

    async def resync(self) -> bool:
        """Send every screen a fresh status.get; False when not connected (the next
        connection starts with one anyway). Raises FeedClientError."""
        client = self.client
        if client is None:
            return False
        self.host.broadcast(Snapshot(await client.call("status.get", {})))
        return True

    def retry_now(self) -> None:
        """While disconnected: try again now instead of at the end of the wait."""
        self._retry_now.set()

    async def _forward(self, client: FeedClient, frames: list[dict[str, Any]]) -> str | None:
        """Send the screens the events of ``frames`` (at once, in order); a resync asked for
        is a fresh snapshot in its place. Returns the reason of a goodbye (None: none)."""
        messages: list[FeedMessage] = []
        for frame in frames:
            topic = str(frame.get("event"))
            data = frame.get("data") or {}
            message = EVENT_MESSAGES.get(topic)
            if message is not None:
                messages.append(message(data))
            elif topic == "goodbye":
                if messages:
                    self.host.broadcast_events(messages)
                return str((frame.get("data") or {}).get("reason") or "no reason given")
            elif topic == "resync":
                if messages:
                    self.host.broadcast_events(messages)
                    messages = []
                logger.info("resync asked: %s", data.get("reason"))
                self.host.broadcast(Snapshot(await client.call("status.get", {})))
        if messages:
            self.host.broadcast_events(messages)
        return None

    async def _wait_before_retry(self, delay: float) -> None:
        self._retry_now.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._retry_now.wait(), delay)

    # --- who we are ---------------------------------------------------------------------------

    async def _authenticate(self, client: FeedClient, hello: dict[str, Any]) -> None:
        """Learn who we are; when the daemon lets nobody read without a login, wait for one."""
        self.anonymous_read = bool(hello.get("anonymous_read", True))
        while True:
            self._learned(await self._whoami(client))
            if self.identity.allows("viewer"):
                if self.preset_user and not self.identity.logged_in and not self._login_offered:
                    self._login_offered = True
                    self.host.post_message(LoginNeeded(""))
                return
            self._logged_in.clear()
            self.host.post_message(LoginNeeded(NEEDS_LOGIN, True))
            waits = [
                asyncio.ensure_future(self._logged_in.wait()),
                asyncio.ensure_future(client.wait_closed()),
            ]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
            if not client.connected:
                raise FeedConnectionLost("the connection closed while waiting for a login")

    async def _whoami(self, client: FeedClient) -> Identity:
        """auth.whoami (asked again without the login when the daemon ended it)."""
        try:
            try:
                result = await client.call("auth.whoami", {})
            except LoginExpired:
                result = await client.call("auth.whoami", {})
        except FeedCallError as exc:
            if exc.code == "unknown_method":  # a daemon from before logins: anyone reads
                return READ_ONLY
            raise
        return Identity.from_whoami(result)

    def _learned(self, identity: Identity) -> None:
        self.identity = identity
        self.host.identity_changed(identity)

    async def refresh_identity(self) -> Identity:
        """Ask the daemon who we are now (kept as it was while disconnected)."""
        client = self.client
        if client is not None:
            self._learned(await self._whoami(client))
        return self.identity

    async def log_in(self, username: str, password: str) -> Identity:
        """auth.login over the live connection; use and cache the login; return who we are.

        Raises FeedCallError (wrong password, rate_limited …) or FeedConnectionLost.
        """
        result = await self.call("auth.login", {"username": username, "password": password})
        self.credentials.set(Login.from_result(result), "logged in")
        identity = await self.refresh_identity()
        self._logged_in.set()
        return identity

    async def log_out(self) -> Identity:
        """auth.logout, forget the login and its cache; return who we are without it."""
        login = self.credentials.login
        self.credentials.set(None, "")
        if login is not None:
            with contextlib.suppress(FeedClientError):
                await self.call("auth.logout", {"refresh_token": login.refresh_token})
        try:
            return await self.refresh_identity()
        except FeedClientError:
            self._learned(ANONYMOUS)
            return ANONYMOUS

    def _login_changed(self, login: Login | None, reason: str) -> None:
        """The credentials changed: keep the cache in step; a login the daemon ended is news."""
        if login is not None:
            try:
                self.token_cache.save(login)
            except OSError as exc:
                logger.warning("cannot cache the login in %s: %s", self.token_cache.path, exc)
            return
        self.token_cache.delete()
        if reason:
            self.host.post_message(LoginEnded(reason))
