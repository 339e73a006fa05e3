"""SlamonApp: the dashboard, the key bindings and the one long-lived feed worker.

The worker owns the connection: connect, subscribe, status.get, then post one message per
event. When the connection fails it says why, waits (0.5 s doubling to 5 s) and tries again,
for ever; every (re)connection starts with a fresh status.get, so nothing missed while away
stays missed. Everything else here only forwards messages to the dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

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
from slamon_tui.identity import ANONYMOUS, identity_label, role_allows
from slamon_tui.messages import (
    CheckEvent,
    Connected,
    Connecting,
    Disconnected,
    FeedProblem,
    IdentityChanged,
    IncidentEvent,
    LoginEnded,
    LoginNeeded,
    PresenceEvent,
    Snapshot,
    StatusEvent,
)
from slamon_tui.screens.admin import AdminScreen
from slamon_tui.screens.audit import AuditScreen
from slamon_tui.screens.dashboard import DashboardScreen
from slamon_tui.screens.help import HelpScreen
from slamon_tui.screens.incident_base import LiveScreen
from slamon_tui.screens.incidents import IncidentsScreen
from slamon_tui.screens.login import LoginScreen
from slamon_tui.screens.service import ServiceScreen
from slamon_tui.screens.sla import SlaScreen
from slamon_tui.token_cache import TokenCache

logger = logging.getLogger("slamon.tui")

ClientFactory = Callable[[Path], FeedClient]
TOPICS = ["check", "status", "incident", "presence"]


class SlamonApp(App[None]):
    """The slamon terminal UI for the daemon whose feed is at ``socket_path``."""

    CSS_PATH = "app.tcss"
    TITLE = "slamon"
    BINDINGS = [
        # Footer order = importance: at 80 columns the last ones fall off (help lists all).
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("I", "incidents", "Incidents"),
        Binding("S", "sla", "SLA"),
        Binding("A", "admin", "Admin"),
        Binding("L", "login", "Log in"),
        Binding("r", "resync", "Resync"),
        Binding("ctrl+l", "logout", "Log out", show=False),  # in the palette and in help
    ]

    identity: reactive[dict[str, Any]] = reactive(lambda: dict(ANONYMOUS), init=False)
    """Who the app acts as: the ``auth.whoami`` answer (``name``, ``role``, ``logged_in``)."""

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        *,
        client_factory: ClientFactory = FeedClient,
        retry_initial: float = 0.5,
        retry_max: float = 5.0,
        user: str | None = None,
        token_cache: TokenCache | None = None,
    ) -> None:
        super().__init__()
        self.socket_path = Path(socket_path)
        self.preset_user = user
        """``slamon --user NAME``: the login screen's username, and the only cached login used."""
        self.token_cache = token_cache or TokenCache.for_socket(self.socket_path)
        self.credentials = Credentials(self.token_cache.load(user=user), self._login_changed)
        self.anonymous_read: bool | None = None
        """The hello's anonymous_read: whether the daemon lets nobody read without a login."""
        self._logged_in = asyncio.Event()
        self._login_offered = False
        self.client_factory = client_factory
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.client: FeedClient | None = None
        self.dashboard = DashboardScreen(str(self.socket_path), self.call)
        self._retry_now = asyncio.Event()
        self._resync_running = False

    def get_default_screen(self) -> Screen[Any]:
        """The dashboard is the home screen."""
        return self.dashboard

    def on_mount(self) -> None:
        """Start the feed worker."""
        self.sub_title = str(self.socket_path)
        self.run_feed()

    # --- the feed worker ------------------------------------------------------------------

    @work(exclusive=True, group="feed", exit_on_error=False)
    async def run_feed(self) -> None:
        """Connect, resync, stream events; on any failure wait with backoff and start over."""
        delay = self.retry_initial
        attempt = 0
        while True:
            attempt += 1
            self.post_message(Connecting(str(self.socket_path), attempt))
            client = self.client_factory(self.socket_path)
            client.credentials = self.credentials
            missing = False
            goodbye: str | None = None
            try:
                hello = await client.connect()
                self.client = client  # the login screen logs in over it
                await self._authenticate(client, hello)
                # Subscribe before status.get: an event that happens in between is then
                # queued rather than lost (the model drops ones the snapshot already holds).
                await client.call("subscribe", {"topics": TOPICS})
                snapshot = await client.call("status.get", {})
                self.client = client
                attempt, delay = 0, self.retry_initial
                self.post_message(
                    Connected(
                        str(self.socket_path),
                        str(hello.get("node", "?")),
                        str(hello.get("version", "?")),
                    )
                )
                self.post_message(Snapshot(snapshot))
                async for frame in client.events():
                    if frame.get("event") == "goodbye":
                        goodbye = (frame.get("data") or {}).get("reason") or "no reason given"
                        break
                    await self._forward(client, frame)
                reason = f"the daemon shut down ({goodbye})" if goodbye else "connection closed"
            except DaemonUnreachable as exc:
                reason, missing = str(exc), exc.missing
            except FeedClientError as exc:
                reason = str(exc)
            finally:
                self.client = None
                await client.close()
            self.post_message(
                Disconnected(str(self.socket_path), reason, delay, missing, shutdown=goodbye)
            )
            await self._wait_before_retry(delay)
            delay = min(delay * 2, self.retry_max)

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """Call ``method`` over the live connection; FeedConnectionLost when there is none."""
        client = self.client
        if client is None:
            raise FeedConnectionLost("not connected to the daemon")
        return await client.call(method, params)

    async def _forward(self, client: FeedClient, frame: dict[str, Any]) -> None:
        topic = frame.get("event")
        data = frame.get("data") or {}
        if topic == "check":
            self.post_message(CheckEvent(data))
        elif topic == "status":
            self.post_message(StatusEvent(data))
        elif topic == "incident":
            self.post_message(IncidentEvent(data))
        elif topic == "presence":
            self.post_message(PresenceEvent(data))
        elif topic == "resync":
            logger.info("resync asked: %s", data.get("reason"))
            self.post_message(Snapshot(await client.call("status.get", {})))

    async def _wait_before_retry(self, delay: float) -> None:
        # `r` sets _retry_now to skip the rest of the wait.
        self._retry_now.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._retry_now.wait(), delay)

    @work(exclusive=True, group="resync", exit_on_error=False)
    async def resync(self, quiet: bool = False) -> None:
        """Fetch a fresh status.get over the live connection and show it."""
        self._resync_running = True
        try:
            client = self.client
            if client is None:
                return  # the feed worker resyncs by itself when it reconnects
            self.post_message(Snapshot(await client.call("status.get", {})))
            if not quiet:
                self.notify("Resynced with the daemon.", timeout=2)
        except FeedClientError as exc:
            self.post_message(FeedProblem(f"Resync failed: {exc}"))
        finally:
            self._resync_running = False

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """A worker died of a bug: say so, and keep the feed alive."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        logger.error("worker %s failed: %r", event.worker.name, error)
        self.notify(f"Internal error: {error!r}", severity="error", timeout=10)
        if event.worker.group == "feed":
            self.set_timer(self.retry_max, self.run_feed)

    # --- messages from the worker -----------------------------------------------------------

    @on(Connecting)
    def _on_connecting(self, message: Connecting) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        self.dashboard.show_connecting(message.attempt)
        if message.attempt > 1:
            for screen in self._detail_screens():
                screen.feed_down(self.dashboard.connection_text)

    @on(Connected)
    def _on_connected(self, message: Connected) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        self.dashboard.show_connected(message.node, message.version)

    @on(Disconnected)
    def _on_disconnected(self, message: Disconnected) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        self.dashboard.show_disconnected(
            message.reason, message.retry_in, message.daemon_missing, message.shutdown
        )
        for screen in self._detail_screens():
            screen.feed_down(self.dashboard.connection_text)

    @on(Snapshot)
    def _on_snapshot(self, message: Snapshot) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        self.dashboard.show_snapshot(message.result)
        for screen in self._detail_screens():
            screen.reload()  # (re)connected or resynced: what it shows may be stale

    @on(CheckEvent)
    def _on_check(self, message: CheckEvent) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        if not self.dashboard.apply_check(message.data):
            self._resync_for_unknown_service()
        for screen in self._detail_screens(message.data.get("service_id")):
            screen.check_arrived()

    @on(StatusEvent)
    def _on_status(self, message: StatusEvent) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        if not self.dashboard.apply_status(message.data):
            self._resync_for_unknown_service()
        data = message.data
        if data.get("kind") == "service":
            for screen in self._detail_screens(data.get("service_id")):
                screen.status_changed(str(data.get("status") or "unknown"), data.get("at"))

    @on(FeedProblem)
    def _on_problem(self, message: FeedProblem) -> None:
        self.notify(message.text, severity="warning")

    def _detail_screens(self, service_id: Any = None) -> list[ServiceScreen]:
        """The open detail screens (of ``service_id`` when given), even under an overlay."""
        return [
            s
            for s in self.screen_stack
            if isinstance(s, ServiceScreen) and service_id in (None, s.service_id)
        ]

    def _resync_for_unknown_service(self) -> None:
        # The services changed on the daemon. One resync at a time: more events for the
        # new service will arrive before the answer does.
        if not self._resync_running:
            self._resync_running = True
            self.resync(quiet=True)

    # --- actions ---------------------------------------------------------------------------

    def action_help(self) -> None:
        """Show the keys and what the symbols mean."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_resync(self) -> None:
        """Resync now; when disconnected, try to connect now instead of waiting."""
        if self.client is None:
            self._retry_now.set()
            self.notify("Not connected: trying again now.", timeout=2)
        else:
            self.resync()

    # --- logins and identity -------------------------------------------------------------------

    async def _authenticate(self, client: FeedClient, hello: dict[str, Any]) -> None:
        """Learn who we are; when the daemon lets nobody read without a login, wait for one."""
        self.anonymous_read = bool(hello.get("anonymous_read", True))
        while True:
            self.identity = await self._whoami(client)
            if role_allows(self.identity, "viewer"):
                if self.preset_user and not self.identity.get("logged_in"):
                    if not self._login_offered:
                        self._login_offered = True
                        self.post_message(LoginNeeded(""))
                return
            self._logged_in.clear()
            self.post_message(LoginNeeded("This daemon needs a login to show anything.", True))
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

    async def _whoami(self, client: FeedClient) -> dict[str, Any]:
        """auth.whoami (asked again without the login when the daemon ended it)."""
        try:
            try:
                result = await client.call("auth.whoami", {})
            except LoginExpired:
                result = await client.call("auth.whoami", {})
        except FeedCallError as exc:
            if exc.code == "unknown_method":  # a daemon from before logins: anyone reads
                return {"name": "anonymous", "role": "viewer", "logged_in": False}
            raise
        identity = dict(result) if isinstance(result, dict) else {}
        identity["name"] = str(identity.get("name") or "anonymous")
        identity["role"] = str(identity.get("role") or "anonymous")
        identity["logged_in"] = bool(identity.get("logged_in"))
        return identity

    async def refresh_identity(self) -> dict[str, Any]:
        """Ask the daemon who we are now (kept as it was while disconnected)."""
        client = self.client
        if client is not None:
            self.identity = await self._whoami(client)
        return self.identity

    async def log_in(self, username: str, password: str) -> dict[str, Any]:
        """auth.login over the live connection; use and cache the login; return the identity.

        Raises FeedCallError (wrong password, rate_limited …) or FeedConnectionLost.
        """
        result = await self.call("auth.login", {"username": username, "password": password})
        self.credentials.set(Login.from_result(result), "logged in")
        identity = await self.refresh_identity()
        self._logged_in.set()
        return identity

    async def log_out(self) -> None:
        """auth.logout, forget the login and its cache; read on anonymously if allowed."""
        login = self.credentials.login
        self.credentials.set(None, "")
        if login is not None:
            with contextlib.suppress(FeedClientError):
                await self.call("auth.logout", {"refresh_token": login.refresh_token})
        try:
            identity = await self.refresh_identity()
        except FeedClientError:
            identity = self.identity = dict(ANONYMOUS)
        self.notify(f"Logged out; now {identity_label(identity)}.", timeout=3)
        if self.client is not None and not role_allows(identity, "viewer"):
            self.run_feed()  # start over: the new connection waits for the next login

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
            self.post_message(LoginEnded(reason))

    def watch_identity(self, identity: dict[str, Any]) -> None:
        """Tell every screen (they show or hide what the role may do) and the footer."""
        for screen in self.screen_stack:
            screen.post_message(IdentityChanged(dict(identity)))
            changed = getattr(screen, "identity_changed", None)
            if callable(changed):
                changed()
        self.refresh_bindings()

    @on(LoginNeeded)
    def _on_login_needed(self, message: LoginNeeded) -> None:
        if self.is_running:
            self._show_login(message.reason, required=message.required)

    @on(LoginEnded)
    def _on_login_ended(self, message: LoginEnded) -> None:
        if not self.is_running:
            return
        self.notify(f"Your login ended: {message.reason}", severity="warning", timeout=8)
        self._after_login_ended()

    @work(exclusive=True, group="identity", exit_on_error=False)
    async def _after_login_ended(self) -> None:
        with contextlib.suppress(FeedClientError):
            await self.refresh_identity()
        self._show_login("Your login ended; log in again.", required=False)

    def _show_login(self, reason: str, *, required: bool) -> None:
        allowed = not required and self.anonymous_read is not False
        screen = self.screen
        if isinstance(screen, LoginScreen):
            screen.set_reason(reason)
            screen.set_anonymous_allowed(allowed)
            return
        self.push_screen(
            LoginScreen(
                self.log_in,
                username=self.preset_user or "",
                anonymous_allowed=allowed,
                reason=reason,
                where=str(self.socket_path),
            )
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer only what the role may do: Admin for admins, Log in / Log out as fits."""
        if action in ("admin", "audit"):
            # Not from the admin screen or above it (the audit log): it is open already.
            open_already = any(isinstance(s, AdminScreen) for s in self.screen_stack)
            return role_allows(self.identity, "admin") and not open_already
        if action == "login":
            return not self.identity.get("logged_in") and not isinstance(self.screen, LoginScreen)
        if action == "logout":
            return self.credentials.login is not None
        return True

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette's commands, with login, logout and admin as the role allows."""
        yield from super().get_system_commands(screen)
        if self.check_action("login", ()):
            yield SystemCommand("Log in", "Log in to the daemon (L)", self.action_login)
        if self.check_action("logout", ()):
            yield SystemCommand("Log out", "End this login (Ctrl+L)", self.action_logout)
        if role_allows(self.identity, "admin"):
            yield SystemCommand(
                "Admin", "Users, services, maintenance windows (A)", self.action_admin
            )
            yield SystemCommand("Audit log", "Who changed what, newest first", self.action_audit)

    def action_login(self) -> None:
        """Open the login screen."""
        if not isinstance(self.screen, LoginScreen):
            self._show_login("", required=False)

    @work(exclusive=True, group="logout", exit_on_error=False)
    async def action_logout(self) -> None:
        """End the login (auth.logout) and forget its cached tokens."""
        if self.credentials.login is not None:
            await self.log_out()

    def action_admin(self) -> None:
        """Open the admin screen (admins only)."""
        if self.check_action("admin", ()):
            self.push_screen(AdminScreen(self.call))

    def action_audit(self) -> None:
        """Open the audit log (admins only)."""
        if self.check_action("audit", ()) and not isinstance(self.screen, AuditScreen):
            self.push_screen(AuditScreen(self.call))

    # --- incidents and the SLA report (screens/incidents.py, incident_*.py, sla.py) -----------

    def _live_screens(self) -> list[LiveScreen]:
        """The open incident and SLA screens, even under an overlay."""
        return [s for s in self.screen_stack if isinstance(s, LiveScreen)]

    def service_names(self) -> list[tuple[str, str]]:
        """The services as (id, name), in the dashboard's order."""
        return [(s.id, s.name) for s in self.dashboard.model.services.values()]

    @on(IncidentEvent)
    def _on_incident(self, message: IncidentEvent) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        self.dashboard.apply_incident(message.data)
        for screen in self._live_screens():
            screen.incident_event(message.data)

    @on(PresenceEvent)
    def _on_presence(self, message: PresenceEvent) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        for screen in self._live_screens():
            screen.presence_event(message.data)

    @on(Snapshot)
    def _incidents_on_snapshot(self, message: Snapshot) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        self.dashboard.show_incidents(message.result.get("incidents"))
        for screen in self._live_screens():
            screen.reload()  # (re)connected or resynced: what it shows may be stale

    @on(Disconnected)
    def _incidents_on_disconnected(self, message: Disconnected) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        for screen in self._live_screens():
            screen.feed_down(self.dashboard.connection_text)

    def action_incidents(self) -> None:
        """Open the incidents screen (from the dashboard or a service's detail)."""
        if not any(isinstance(s, IncidentsScreen) for s in self.screen_stack) and not isinstance(
            self.screen, ModalScreen
        ):
            self.push_screen(IncidentsScreen(self.call, self.service_names))

    def action_sla(self) -> None:
        """Open the SLA report."""
        if not any(isinstance(s, SlaScreen) for s in self.screen_stack) and not isinstance(
            self.screen, ModalScreen
        ):
            self.push_screen(SlaScreen(self.call))


def make_app(
    socket_path: str | os.PathLike[str],
    *,
    client_factory: ClientFactory = FeedClient,
    retry_initial: float = 0.5,
    retry_max: float = 5.0,
    user: str | None = None,
    token_cache: TokenCache | None = None,
) -> SlamonApp:
    """Build the app; the CLI and the tests both use this."""
    return SlamonApp(
        socket_path,
        client_factory=client_factory,
        retry_initial=retry_initial,
        retry_max=retry_max,
        user=user,
        token_cache=token_cache,
    )
