"""Helpers for the login, role and admin tests: log in through the login screen."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input

from slamon_tui.app import SlamonApp
from slamon_tui.screens.login import LoginScreen

from .helpers import wait_until

PASSWORDS = {
    "alice": "alice-Pa55word",
    "rita": "rita-Pa55word!",
    "victor": "victor-Pa55word",
}
ROLES = {"alice": "admin", "rita": "reporter", "victor": "viewer"}


async def type_into(pilot: Pilot[None], input_id: str, text: str) -> None:
    """Focus the input ``input_id`` of the current screen and fill it with ``text``.

    The value is set, not typed key by key (that costs a frame per key); the tests that
    are about the keyboard press the keys themselves.
    """
    field = pilot.app.screen.query_one(input_id, Input)
    field.focus()
    field.value = text
    field.cursor_position = len(text)
    await pilot.pause()


async def submit_login(pilot: Pilot[None], username: str, password: str) -> LoginScreen:
    """Type into the open login screen and press Enter; return the screen."""
    screen = pilot.app.screen
    assert isinstance(screen, LoginScreen), f"not on the login screen but {screen!r}"
    await type_into(pilot, "#login-username", username)
    await type_into(pilot, "#login-password", password)
    await pilot.press("enter")
    return screen


async def log_in_with_keys(
    pilot: Pilot[None], app: SlamonApp, username: str, password: str | None = None
) -> None:
    """``L``, the two fields, Enter; wait until the app acts as ``username``."""
    await wait_until(pilot, lambda: app.session.client is not None)
    if not isinstance(app.screen, LoginScreen):
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, LoginScreen))
    await submit_login(pilot, username, password or PASSWORDS[username])
    await wait_until(pilot, lambda: app.identity.name == username, 10)
    await wait_until(pilot, lambda: not isinstance(app.screen, LoginScreen))
