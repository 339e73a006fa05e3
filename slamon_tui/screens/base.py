"""What the screens that follow the feed share.

The app gives every open screen each feed message (messages.py); these base classes turn
the ones most screens need into three hooks:

- ``reload()`` on a Snapshot: the feed (re)connected or resynced, so fetch what is shown;
- ``feed_down(line)`` on a Disconnected or a retry: ``line`` is the connection line saying
  why (what is on show is the last fetched until the reload that follows);
- for a ``RoleScreen``, ``identity`` kept current from IdentityChanged and the footer's keys
  checked again, so an edit key the role may not use is never offered.

A screen handles any other message it needs itself (IncidentEvent, PresenceEvent …).
"""

from __future__ import annotations

from typing import Any, TypeVar

from textual import on
from textual.screen import Screen
from textual.widgets import Static

from slamon_tui.client import FeedClientError
from slamon_tui.identity import Identity
from slamon_tui.messages import Connecting, Disconnected, IdentityChanged, PresenceEvent, Snapshot
from slamon_tui.screens.confirm_discard import ConfirmDiscardScreen
from slamon_tui.types import FeedCall
from slamon_tui.widgets.incident_presence import PresenceLine

ResultT = TypeVar("ResultT")


class LiveScreen(Screen[ResultT]):
    """A screen showing what the daemon answered over ``call``, kept current by the feed."""

    def __init__(self, call: FeedCall) -> None:
        super().__init__()
        self._call = call

    def reload(self) -> None:
        """The feed (re)connected or resynced: fetch again what is shown."""

    def feed_down(self, line: str) -> None:
        """The connection dropped; ``line`` is the connection line saying so."""

    @on(Snapshot)
    def _feed_resynced(self, message: Snapshot) -> None:
        self.reload()

    @on(Connecting)
    def _feed_retrying(self, message: Connecting) -> None:
        if message.line is not None:
            self.feed_down(message.line)

    @on(Disconnected)
    def _feed_lost(self, message: Disconnected) -> None:
        self.feed_down(message.line)


class RoleScreen(LiveScreen[ResultT]):
    """A live screen whose keys depend on the user's role (``identity``: who the app acts
    as when the screen was made, then kept current)."""

    def __init__(self, call: FeedCall, identity: Identity) -> None:
        super().__init__(call)
        self.identity = identity

    @property
    def may_edit(self) -> bool:
        """Whether the user may create and edit incidents (reporters and admins)."""
        return self.identity.allows("reporter")

    @on(IdentityChanged)
    def _identity_changed(self, message: IdentityChanged) -> None:
        self.identity = message.identity
        self.refresh_bindings()


class EditingForm(LiveScreen[dict[str, Any] | None]):
    """Base of the update and resolve forms: editing presence on one field, a notice line,
    and leaving without losing what was typed. Subclasses set the class attributes, compose
    a ``PresenceLine`` and a ``#editor-notice`` Static, and say ``has_unsaved``.

    Dismissed with the incident as saved, or None when left without saving.
    """

    EDIT_FIELD = "message"
    """The field announced with presence.set while the form is open."""
    DISCARD_WHAT = "this update"
    """How the discard question names what would be lost."""
    KEPT_NOTE = "Your message is kept; post it once connected."
    """Said when the connection drops."""

    def __init__(self, call: FeedCall, incident_id: int) -> None:
        super().__init__(call)
        self.incident_id = incident_id

    def has_unsaved(self) -> bool:
        """Whether leaving now would lose something typed."""
        raise NotImplementedError

    def _notice(self, text: str) -> None:
        line = self.query_one("#editor-notice", Static)
        line.update(text)
        line.display = bool(text)

    def action_cancel(self) -> None:
        """Leave; asks first when something typed would be lost."""
        if not self.has_unsaved():
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmDiscardScreen(self.DISCARD_WHAT), answered)

    async def _set_editing(self) -> None:
        try:
            mine = await self._call(
                "presence.set",
                {"incident_id": self.incident_id, "mode": "editing", "field": self.EDIT_FIELD},
            )
        except FeedClientError:
            return
        if isinstance(mine, dict):
            self.query_one(PresenceLine).set_own_session(mine.get("session"))

    @on(PresenceEvent)
    def _presence_changed(self, message: PresenceEvent) -> None:
        """Someone came, went or moved."""
        self.query_one(PresenceLine).apply_event(message.data)

    def reload(self) -> None:
        """Reconnected: say again that we are editing."""
        self.run_worker(self._set_editing(), group="presence", exit_on_error=False)

    def feed_down(self, line: str) -> None:
        """Keep what was typed; say saving waits for the connection."""
        self._notice(f"{line}\n{self.KEPT_NOTE}")
