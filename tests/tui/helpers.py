"""Helpers for the pilot tests: wait for a condition, read the screen as text."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from slamon_tui.app import SlamonApp, make_app

# Fast backoff so reconnection tests take tenths of a second, not seconds.
FAST_RETRY = {"retry_initial": 0.05, "retry_max": 0.2}


def fast_app(socket_path: Path) -> SlamonApp:
    """The app as the CLI builds it, with a short retry backoff."""
    return make_app(socket_path, **FAST_RETRY)


async def wait_until(
    pilot: Pilot[None], condition: Callable[[], bool], within: float = 5.0
) -> None:
    """Let the app run until ``condition()`` holds; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await pilot.pause(0.02)
    await pilot.pause()


def screen_text(app: App[None]) -> str:
    """What the terminal shows, as plain text (one line per screen row)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        record=True,
        legacy_windows=False,
        color_system="truecolor",
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


async def burst(pilot: Pilot[None], *keys: str) -> None:
    """Send ``keys`` the way a burst over SSH arrives: every key event queued at once,
    without waiting for the app between them (``pilot.press`` waits after each key)."""
    import unicodedata

    from textual import events
    from textual.app import REPLACED_KEYS
    from textual.keys import _character_to_key, _get_unicode_name_from_key

    app = pilot.app
    driver = app._driver
    assert driver is not None
    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        char: str | None
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        driver.send_message(event)
    await pilot.pause()
    # On a loaded machine the app may still be working through the burst: wait until every
    # key has been taken (slamon_tui/key_order.py), never for a fixed time alone.
    await wait_until(
        pilot,
        lambda: not getattr(app, "_keys_waiting", ()) and _last_key_taken(app),
        within=20.0,
    )
    await pilot.pause(0.1)


def _last_key_taken(app: object) -> bool:
    """The key sent last was used by a widget or came back to the app (key_order.py)."""
    key = getattr(app, "_key_in_flight", None)
    return key is None or bool(key._stop_propagation)
