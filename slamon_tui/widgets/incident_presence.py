"""Who else is on an incident: "✎ bob is editing title · ◉ carol is viewing" (hidden when
nobody else is)."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from slamon_tui.models.incidents import PresenceBoard


class PresenceLine(Static):
    """Shows a ``PresenceBoard``; the screen feeds it events."""

    def __init__(self, incident_id: int, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.board = PresenceBoard(incident_id)

    def on_mount(self) -> None:
        """Hidden until someone else is here."""
        self._redraw()

    def replace(self, presence: list[dict[str, Any]] | None) -> None:
        """The incident's presence list as fetched."""
        self.board.replace(presence)
        self._redraw()

    def set_own_session(self, session: Any) -> None:
        """Our own connection's session: never listed."""
        self.board.own_session = session
        self._redraw()

    def apply_event(self, data: dict[str, Any]) -> bool:
        """Fold a ``presence`` event in; True when it changed what is shown."""
        changed = self.board.apply_event(data)
        if changed:
            self._redraw()
        return changed

    @property
    def text(self) -> str:
        """What the line says ("" when nobody else is here)."""
        return self.board.text()

    def _redraw(self) -> None:
        text = self.board.text()
        self.update(f"Also here: {text}" if text else "")
        self.display = bool(text)
