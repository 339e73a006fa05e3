"""SlamonApp: the screens, the key bindings, and one broadcast of feed messages to screens.

The connection, the login and the identity belong to the feed session (feed_session.py),
which the app runs in one long-lived worker. Everything the session says about the feed
goes to every open screen (``broadcast``); each screen handles what it follows. The app
itself acts only on what concerns it: who the user is (the footer and the palette offer
what the role may do), a login to ask for, a resync a screen wants.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.theme import Theme
from textual.worker import Worker, WorkerState

from slamon_tui.client import FeedClient, FeedClientError
from slamon_tui.feed_session import ClientFactory, FeedSession
from slamon_tui.identity import ANONYMOUS, Identity
from slamon_tui.key_order import OrderedKeys
from slamon_tui.messages import (
    FeedEvents,
    FeedMessage,
    IdentityChanged,
    LoginEnded,
    LoginNeeded,
    ResyncWanted,
)
from slamon_tui.screens.board import ServiceBoard
from slamon_tui.themes import THEMES
from slamon_tui.token_cache import TokenCache
from slamon_tui.ui_state import UiState

logger = logging.getLogger("slamon.tui")

NOC_ACTIONS = frozenset({"quit", "help", "resync", "command_palette"})
"""What NOC mode offers: it is read-only and needs no key at all."""


def loaded_screen(module: str, name: str) -> type[Screen[Any]] | None:
    """The screen class ``slamon_tui.screens.<module>.<name>`` if its module is imported
    already, else None. Screens other than the home screen are imported when first opened
    (issue 14: a second less of imports before the first paint), so while their module is
    not loaded no screen of theirs can be open."""
    found = getattr(sys.modules.get(f"slamon_tui.screens.{module}"), name, None)
    return found if isinstance(found, type) and issubclass(found, Screen) else None


class SlamonApp(OrderedKeys):
    """The slamon terminal UI for the daemon whose feed is at ``socket_path``.

    Keys are handled one after the other in the order they came (key_order.py), so a burst
    typed over SSH acts exactly as typed. ``noc``: NOC mode (screens/noc.py), read-only.
    """

    CSS_PATH = "app.tcss"
    TITLE = "slamon"
    BINDINGS = [
        # Footer order = importance: at 80 columns the last ones fall off (help lists all).
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("I", "incidents", "Incidents"),
        Binding("S", "sla", "SLA"),
        Binding("A", "admin", "Admin"),
        # In help, the palette and the dashboard's alert line; at 80 columns the footer
        # keeps "L Log in" (what a newcomer needs first).
        Binding("exclamation_mark", "alerts", "Alerts", key_display="!", show=False),
        Binding("O", "nodes", "Nodes", show=False),  # issue 15: in help and the palette
        Binding("L", "login", "Log in"),
        Binding("r", "resync", "Resync"),
        Binding("ctrl+l", "logout", "Log out", show=False),  # in the palette and in help
    ]

    identity: reactive[Identity] = reactive(ANONYMOUS, init=False)
    """Who the app acts as (the session's last ``auth.whoami``)."""

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        *,
        client_factory: ClientFactory = FeedClient,
        retry_initial: float = 0.5,
        retry_max: float = 5.0,
        user: str | None = None,
        token_cache: TokenCache | None = None,
        noc: bool = False,
        ui_state: UiState | None = None,
    ) -> None:
        super().__init__()
        self.noc = noc
        self.ui_state = ui_state if ui_state is not None else UiState.load()
        """Sort, filter, folded groups and theme, kept between runs (ui_state.py)."""
        for theme in THEMES:
            self.register_theme(theme)
        self.socket_path = Path(socket_path)
        self.session = FeedSession(
            self.socket_path,
            self,
            client_factory=client_factory,
            retry_initial=retry_initial,
            retry_max=retry_max,
            user=user,
            token_cache=token_cache,
        )
        self.dashboard = self._home_screen()
        self._resync_running = False

    def _home_screen(self) -> ServiceBoard:
        """The dashboard, or the NOC screen (only the one used is imported)."""
        where = str(self.socket_path)
        if self.noc:
            from slamon_tui.screens.noc import NocScreen

            return NocScreen(where, self.session.call, ANONYMOUS)
        from slamon_tui.screens.dashboard import DashboardScreen

        return DashboardScreen(where, self.session.call, ANONYMOUS, self.ui_state)

    def get_default_screen(self) -> Screen[Any]:
        """The dashboard (or the NOC screen) is the home screen."""
        return self.dashboard

    def on_mount(self) -> None:
        """Start the feed worker; keep the theme chosen for next time."""
        self.sub_title = str(self.socket_path)
        if self.ui_state.theme in self.available_themes:
            self.theme = self.ui_state.theme  # the one chosen last time
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.run_feed()

    def _theme_changed(self, theme: Theme) -> None:
        if theme.name != self.ui_state.theme:
            self.ui_state.update(theme=theme.name)

    # --- the feed worker and the session's doors ---------------------------------------------

    @work(exclusive=True, group="feed", exit_on_error=False)
    async def run_feed(self) -> None:
        """Run the feed session (for ever; starting it again starts a new connection)."""
        await self.session.run()

    def broadcast(self, message: FeedMessage) -> None:
        """Give ``message`` to every open screen, even one under an overlay."""
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        for screen in self.screen_stack:
            screen.post_message(message.copy())

    def broadcast_events(self, messages: list[FeedMessage]) -> None:
        """Give every open screen the event messages read at once: the service board takes
        them in one ``FeedEvents`` (one repaint for all), other screens one by one."""
        if not self.is_running:
            return
        for screen in self.screen_stack:
            if isinstance(screen, ServiceBoard):
                screen.post_message(FeedEvents(list(messages)))
            else:
                for message in messages:
                    screen.post_message(message.copy())

    def identity_changed(self, identity: Identity) -> None:
        """The session learned who we are."""
        self.identity = identity

    def watch_identity(self, identity: Identity) -> None:
        """Tell every screen (they show or hide what the role may do) and the footer."""
        self.broadcast(IdentityChanged(identity))
        self.refresh_bindings()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """A worker died of a bug: say so, and keep the feed alive."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        logger.error("worker %s failed: %r", event.worker.name, error)
        self.notify(f"Internal error: {error!r}", severity="error", timeout=10)
        if event.worker.group == "feed":
            self.set_timer(self.session.retry_max, self.run_feed)

    # --- resync ------------------------------------------------------------------------------

    @work(exclusive=True, group="resync", exit_on_error=False)
    async def resync(self, quiet: bool = False) -> None:
        """Fetch a fresh status.get over the live connection and show it."""
        self._resync_running = True
        try:
            if await self.session.resync() and not quiet:
                self.notify("Resynced with the daemon.", timeout=2)
        except FeedClientError as exc:
            self.notify(f"Resync failed: {exc}", severity="warning")
        finally:
            self._resync_running = False

    @on(ResyncWanted)
    def _resync_wanted(self) -> None:
        # The services changed on the daemon. One resync at a time: more events for the
        # new service will arrive before the answer does.
        if not self._resync_running:
            self._resync_running = True
            self.resync(quiet=True)

    def action_resync(self) -> None:
        """Resync now; when disconnected, try to connect now instead of waiting."""
        if not self.session.connected:
            self.session.retry_now()
            self.notify("Not connected: trying again now.", timeout=2)
        else:
            self.resync()

    # --- logins --------------------------------------------------------------------------------

    @on(LoginNeeded)
    def _login_needed(self, message: LoginNeeded) -> None:
        if self.is_running:
            self._show_login(message.reason, required=message.required)

    @on(LoginEnded)
    def _login_ended(self, message: LoginEnded) -> None:
        if not self.is_running:
            return
        self.notify(f"Your login ended: {message.reason}", severity="warning", timeout=8)
        self._after_login_ended()

    @work(exclusive=True, group="identity", exit_on_error=False)
    async def _after_login_ended(self) -> None:
        with contextlib.suppress(FeedClientError):
            await self.session.refresh_identity()
        self._show_login("Your login ended; log in again.", required=False)

    def _show_login(self, reason: str, *, required: bool) -> None:
        if self.noc and not required:
            return  # a NOC screen reads anonymously where the daemon allows it
        from slamon_tui.screens.login import LoginScreen

        allowed = not required and self.session.anonymous_read is not False
        screen = self.screen
        if isinstance(screen, LoginScreen):
            screen.set_reason(reason)
            screen.set_anonymous_allowed(allowed)
            return
        self.push_screen(
            LoginScreen(
                self.session.log_in,
                username=self.session.preset_user or "",
                anonymous_allowed=allowed,
                reason=reason,
                where=str(self.socket_path),
            )
        )

    def action_login(self) -> None:
        """Open the login screen."""
        if not self._on_top("login", "LoginScreen"):
            self._show_login("", required=False)

    @work(exclusive=True, group="logout", exit_on_error=False)
    async def action_logout(self) -> None:
        """End the login (auth.logout), forget its cached tokens; read on if allowed."""
        if self.session.credentials.login is None:
            return
        identity = await self.session.log_out()
        self.notify(f"Logged out; now {identity.label}.", timeout=3)
        if self.session.connected and not identity.allows("viewer"):
            self.run_feed()  # start over: the new connection waits for the next login

    # --- what the role may do -------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer only what the role may do: Admin for admins, Log in / Log out as fits.
        NOC mode is read-only: quit, help and resync only."""
        if self.noc and action not in NOC_ACTIONS:
            return False
        if action in ("admin", "audit"):
            # Not from the admin screen or above it (the audit log): it is open already.
            return self.identity.allows("admin") and not self._open("admin", "AdminScreen")
        if action == "login":
            return not self.identity.logged_in and not self._on_top("login", "LoginScreen")
        if action == "logout":
            return self.session.credentials.login is not None
        return True

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette's commands, with login, logout and admin as the role allows."""
        yield from super().get_system_commands(screen)
        if self.check_action("login", ()):
            yield SystemCommand("Log in", "Log in to the daemon (L)", self.action_login)
        if self.check_action("logout", ()):
            yield SystemCommand("Log out", "End this login (Ctrl+L)", self.action_logout)
        if self.identity.allows("admin"):
            yield SystemCommand(
                "Admin", "Users, services, maintenance windows (A)", self.action_admin
            )
            yield SystemCommand("Audit log", "Who changed what, newest first", self.action_audit)
        if self.check_action("nodes", ()):
            yield SystemCommand(
                "Nodes", "The nodes of a cluster and their health (O)", self.action_nodes
            )

    # --- screens ---------------------------------------------------------------------------

    def action_help(self) -> None:
        """Show the keys and what the symbols mean."""
        if not self._on_top("help", "HelpScreen"):
            from slamon_tui.screens.help import HelpScreen

            self.push_screen(HelpScreen(self.screen))

    def action_admin(self) -> None:
        """Open the admin screen (admins only)."""
        if self.check_action("admin", ()):
            from slamon_tui.screens.admin import AdminScreen

            self.push_screen(AdminScreen(self.session.call))

    def action_nodes(self) -> None:
        """Open the cluster's nodes (issue 15)."""
        if not self._on_top("nodes", "NodesScreen"):
            from slamon_tui.screens.nodes import NodesScreen

            self.push_screen(NodesScreen(self.session.call))

    def action_audit(self) -> None:
        """Open the audit log (admins only)."""
        if self.check_action("audit", ()) and not self._on_top("audit", "AuditScreen"):
            from slamon_tui.screens.audit import AuditScreen

            self.push_screen(AuditScreen(self.session.call))

    def service_names(self) -> list[tuple[str, str]]:
        """The services as (id, name), in the dashboard's order."""
        return [(s.id, s.name) for s in self.dashboard.model.services.values()]

    def action_alerts(self) -> None:
        """Open the Alerts screen: firing alerts, channels, rules, silences, deliveries."""
        if not self._opened("alerts", "AlertsScreen"):
            from slamon_tui.screens.alerts import AlertsScreen

            self.push_screen(AlertsScreen(self.session.call, self.identity))

    def action_incidents(self) -> None:
        """Open the incidents screen (from the dashboard or a service's detail)."""
        if not self._opened("incidents", "IncidentsScreen"):
            from slamon_tui.screens.incidents import IncidentsScreen

            self.push_screen(IncidentsScreen(self.session.call, self.identity, self.service_names))

    def action_sla(self) -> None:
        """Open the SLA report."""
        if not self._opened("sla", "SlaScreen"):
            from slamon_tui.screens.sla import SlaScreen

            self.push_screen(SlaScreen(self.session.call))

    def _opened(self, module: str, name: str) -> bool:
        """Whether a ``name`` screen is open already, or an overlay is on top."""
        return isinstance(self.screen, ModalScreen) or self._open(module, name)

    def _open(self, module: str, name: str) -> bool:
        """Whether a screen of class ``name`` (``loaded_screen``) is anywhere on the stack."""
        kind = loaded_screen(module, name)
        return kind is not None and any(isinstance(s, kind) for s in self.screen_stack)

    def _on_top(self, module: str, name: str) -> bool:
        """Whether the screen on top is of class ``name`` (``loaded_screen``)."""
        kind = loaded_screen(module, name)
        return kind is not None and isinstance(self.screen, kind)


def make_app(
    socket_path: str | os.PathLike[str],
    *,
    client_factory: ClientFactory = FeedClient,
    retry_initial: float = 0.5,
    retry_max: float = 5.0,
    user: str | None = None,
    token_cache: TokenCache | None = None,
    noc: bool = False,
    ui_state: UiState | None = None,
) -> SlamonApp:
    """Build the app; the CLI and the tests both use this."""
    return SlamonApp(
        socket_path,
        client_factory=client_factory,
        retry_initial=retry_initial,
        retry_max=retry_max,
        user=user,
        token_cache=token_cache,
        noc=noc,
        ui_state=ui_state,
    )
