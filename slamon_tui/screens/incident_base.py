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
