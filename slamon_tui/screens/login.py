"""The login overlay: username, password (masked), Enter logs in, problems shown inline.

It opens by itself when the daemon lets nobody read without a login (``anonymous_read =
false``), when a login ended, with ``slamon --user NAME``, and on ``L``. When the daemon
allows anonymous reads, Escape or "Continue without login" closes it and the app reads as
an anonymous viewer. The daemon's own sentences are shown as they come: "wrong username or
password", "too many failed logins; retry in N s".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.identity import Identity

LogIn = Callable[[str, str], Awaitable[Identity]]
"""``FeedSession.log_in``: log in over the live connection; returns the new identity."""


class LoginScreen(ModalScreen[Identity | None]):
    """Dismissed with the new identity, or None when the user goes on without a login."""

    BINDINGS = [Binding("escape", "skip", "Continue without login", key_display="Esc")]

    def __init__(
        self,
        log_in: LogIn,
        *,
        username: str = "",
        anonymous_allowed: bool = True,
        reason: str = "",
        where: str = "",
    ) -> None:
        super().__init__()
        self._log_in = log_in
        self._username = username
        self.anonymous_allowed = anonymous_allowed
        self._reason = reason
        self._where = where
        self.busy = False

    def compose(self) -> ComposeResult:
        """A small box: why, the two fields, the problem line, the buttons."""
        with Vertical(id="login-box") as box:
            box.border_title = "Log in to slamon"
            box.border_subtitle = self._where
            yield Static(self._reason, id="login-reason")
            with Horizontal(classes="login-row"):
                yield Label("Username", classes="login-label")
                yield Input(
                    self._username,
                    placeholder="username",
                    id="login-username",
                    compact=True,
                    max_length=64,
                )
            with Horizontal(classes="login-row"):
                yield Label("Password", classes="login-label")
                yield Input(
                    placeholder="password",
                    password=True,
                    id="login-password",
                    compact=True,
                    max_length=1024,
                )
            yield Static("", id="login-error")
            with Horizontal(id="login-buttons"):
                yield Button("Log in", variant="primary", id="login-submit", compact=True)
                yield Button("Continue without login", id="login-skip", compact=True)
            yield Static("", id="login-hint")

    def on_mount(self) -> None:
        """Focus the first empty field; show only what applies."""
        self.set_reason(self._reason)
        self.query_one("#login-error").display = False
        self._show_skip()
        field = "#login-password" if self._username else "#login-username"
        self.query_one(field, Input).focus()

    # --- what the app tells it ----------------------------------------------------------------

    def set_reason(self, reason: str) -> None:
        """Say why a login is asked for (empty: nothing to say)."""
        self._reason = reason
        line = self.query_one("#login-reason", Static)
        line.update(reason)
        line.display = bool(reason)

    def set_anonymous_allowed(self, allowed: bool) -> None:
        """Whether going on without a login is offered (the daemon's anonymous_read)."""
        self.anonymous_allowed = allowed
        self._show_skip()

    def _show_skip(self) -> None:
        self.query_one("#login-skip").display = self.anonymous_allowed
        hint = "Enter logs in · " + (
            "Esc continues without login" if self.anonymous_allowed else "Ctrl+Q quits"
        )
        self.query_one("#login-hint", Static).update(hint)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No "continue without login" where the daemon does not allow it."""
        if action == "skip":
            return self.anonymous_allowed
        return True

    # --- input --------------------------------------------------------------------------------

    @property
    def error_text(self) -> str:
        """The problem shown under the fields ("" when none)."""
        line = self.query_one("#login-error", Static)
        return str(line.content).removeprefix("✕ ") if line.display else ""

    def show_error(self, text: str) -> None:
        """Show a problem under the fields ("" hides the line)."""
        line = self.query_one("#login-error", Static)
        line.update(f"✕ {text}" if text else "")
        line.display = bool(text)

    @on(Input.Submitted, "#login-username")
    def _username_done(self) -> None:
        password = self.query_one("#login-password", Input)
        if password.value:
            self.submit()
        else:
            password.focus()

    @on(Input.Submitted, "#login-password")
    @on(Button.Pressed, "#login-submit")
    def _submit_pressed(self) -> None:
        self.submit()

    @on(Button.Pressed, "#login-skip")
    def _skip_pressed(self) -> None:
        self.action_skip()

    def action_skip(self) -> None:
        """Go on without a login (only where the daemon allows anonymous reads)."""
        if self.anonymous_allowed:
            self.dismiss(None)

    def submit(self) -> None:
        """Check the fields, then log in."""
        if self.busy:
            return
        username = self.query_one("#login-username", Input).value.strip()
        password = self.query_one("#login-password", Input).value
        if not username:
            self.show_error("enter a username")
            self.query_one("#login-username", Input).focus()
            return
        if not password:
            self.show_error("enter the password")
            self.query_one("#login-password", Input).focus()
            return
        self._attempt(username, password)

    @work(exclusive=True, group="login", exit_on_error=False)
    async def _attempt(self, username: str, password: str) -> None:
        self.busy = True
        self.show_error("")  # the answer to this attempt replaces the last one
        button = self.query_one("#login-submit", Button)
        button.disabled = True
        button.label = "Logging in…"
        try:
            identity = await self._log_in(username, password)
        except FeedCallError as exc:
            self._failed(exc.message)
        except FeedClientError as exc:
            self._failed(f"cannot reach the daemon: {exc}")
        else:
            self.app.notify(f"Logged in as {identity.label}.", timeout=3)
            self.dismiss(identity)
        finally:
            self.busy = False
            if self.is_mounted:
                button.disabled = False
                button.label = "Log in"

    def _failed(self, message: str) -> None:
        self.show_error(message)
        password = self.query_one("#login-password", Input)
        password.value = ""
        password.focus()
