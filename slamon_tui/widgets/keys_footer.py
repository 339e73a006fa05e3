"""The footer of every screen: Textual's ``Footer``, composed again only when the keys it
shows change (issue 14).

Textual's footer composes itself again (a dozen widgets mounted and styled) on every
"bindings updated" signal: a focus change, the identity learned, a screen pushed, a Tab in a
form. At start the dashboard sent four or five in a row, 35–165 ms each on a busy machine,
all before the first snapshot could be drawn. This one handles a burst of signals once,
after the next refresh, and composes only when the keys shown (key, label, enabled,
tooltip) are not the ones already on screen.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer

KeysShown = tuple[tuple[str, str, str, bool, str], ...]


class KeysFooter(Footer):
    """A ``Footer`` that composes again only when what it shows changed."""

    def __init__(self) -> None:
        super().__init__()
        self._shown: KeysShown | None = None
        self._due = False

    def bindings_changed(self, screen: Screen[Any]) -> None:
        """The screen's bindings may have changed: look once, after the next refresh."""
        self._bindings_ready = True
        if not screen.app.app_focus:
            return  # as Textual's: an unfocused app shows the keys it had
        if self.is_attached and screen is self.screen and not self._due:
            self._due = True
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        self._due = False
        if not self.is_attached:
            return
        shown = self.keys_shown()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()

    def keys_shown(self) -> KeysShown:
        """What the footer shows: (key, action, label, enabled, tooltip) of each binding."""
        return tuple(
            (b.key, b.action, b.description, enabled, tooltip)
            for _, b, enabled, tooltip in self.screen.active_bindings.values()
            if b.show
        )
