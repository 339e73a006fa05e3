"""What the incident and SLA screens share: the app's hooks into them and who the user is.

The app calls, on every open screen that is a ``LiveScreen`` (even one under an overlay):
``incident_event`` / ``presence_event`` for feed events, ``reload`` after a (re)connection
or resync, and ``feed_down`` when the connection drops.

Who the user is comes from ``app.identity`` (the ``auth.whoami`` result the login screens
keep); without it a screen asks ``auth.whoami`` itself, and until it knows it acts as a
viewer: edit keys stay hidden, and the daemon refuses edits from viewers anyway.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from slamon_tui.client import FeedCall, FeedClientError
from slamon_tui.incident_model import can_edit, role_of


class LiveScreen:
    """Mixin for screens that follow the feed (put it before ``Screen`` in the bases)."""

    _whoami: dict[str, Any] | None = None

    def incident_event(self, data: dict[str, Any]) -> None:
        """An ``incident`` event arrived."""

    def presence_event(self, data: dict[str, Any]) -> None:
        """A ``presence`` event arrived."""

    def reload(self) -> None:
        """The feed (re)connected or resynced: fetch again what is shown."""

    def feed_down(self, connection: str) -> None:
        """The connection dropped; ``connection`` is the dashboard's line saying so."""

    def identity_changed(self) -> None:
        """Who the user is changed (login, logout, role): show or hide the edit keys."""

    # --- who the user is ------------------------------------------------------------------

    @property
    def identity(self) -> dict[str, Any] | None:
        """The app's ``auth.whoami`` result when it keeps one, else the one asked here."""
        app = getattr(self, "app", None)
        known = getattr(app, "identity", None)
        if isinstance(known, dict):
            return known
        return self._whoami

    @property
    def role(self) -> str:
        """anonymous | viewer | reporter | admin ("viewer" until known)."""
        return role_of(self.identity)

    @property
    def may_edit(self) -> bool:
        """Whether the user may create and edit incidents."""
        return can_edit(self.role)

    async def ask_identity(self, call: FeedCall) -> None:
        """Ask ``auth.whoami`` when the app keeps no identity; tell the screen when known."""
        app = getattr(self, "app", None)
        if isinstance(getattr(app, "identity", None), dict):
            return
        try:
            result = await call("auth.whoami", {})
        except FeedClientError:
            return  # stay a viewer; the next reload asks again
        if isinstance(result, dict) and result != self._whoami:
            self._whoami = result
            if isinstance(self, Screen):
                self.refresh_bindings()
            self.identity_changed()


class EditingForm(LiveScreen):
    """Mixin of the update and resolve forms: editing presence on one field, a notice line,
    and leaving without losing what was typed. Subclasses set the class attributes and
    ``has_unsaved``; they have ``incident_id`` and ``_call`` and a ``#editor-notice`` Static."""

    EDIT_FIELD = "message"
    """The field announced with presence.set while the form is open."""
    DISCARD_WHAT = "this update"
    """How the discard question names what would be lost."""
    KEPT_NOTE = "Your message is kept; post it once connected."
    """Said when the connection drops."""

    incident_id: int
    _call: FeedCall

    def has_unsaved(self) -> bool:
        """Whether leaving now would lose something typed."""
        raise NotImplementedError

    def _notice(self, text: str) -> None:
        from textual.widgets import Static

        line = self.query_one("#editor-notice", Static)  # type: ignore[attr-defined]
        line.update(text)
        line.display = bool(text)

    def action_cancel(self) -> None:
        """Leave; asks first when something typed would be lost."""
        if not self.has_unsaved():
            self.dismiss(None)  # type: ignore[attr-defined]
            return
        from slamon_tui.screens.confirm_discard import ConfirmDiscardScreen

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)  # type: ignore[attr-defined]

        self.app.push_screen(ConfirmDiscardScreen(self.DISCARD_WHAT), answered)  # type: ignore[attr-defined]

    async def _set_editing(self) -> None:
        from slamon_tui.widgets.incident_presence import PresenceLine

        try:
            mine = await self._call(
                "presence.set",
                {"incident_id": self.incident_id, "mode": "editing", "field": self.EDIT_FIELD},
            )
        except FeedClientError:
            return
        if isinstance(mine, dict):
            self.query_one(PresenceLine).set_own_session(mine.get("session"))  # type: ignore[attr-defined]

    def presence_event(self, data: dict[str, Any]) -> None:
        """Someone came, went or moved."""
        from slamon_tui.widgets.incident_presence import PresenceLine

        self.query_one(PresenceLine).apply_event(data)  # type: ignore[attr-defined]

    def reload(self) -> None:
        """Reconnected: say again that we are editing."""
        self.run_worker(self._set_editing(), group="presence", exit_on_error=False)  # type: ignore[attr-defined]

    def feed_down(self, connection: str) -> None:
        """Keep what was typed; say saving waits for the connection."""
        self._notice(f"{connection}\n{self.KEPT_NOTE}")
