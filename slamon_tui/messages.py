"""The messages of the TUI.

Feed messages (the first group) are what the feed session says about the connection and
the daemon's events. The app posts each one to every open screen (``SlamonApp.broadcast``),
even to screens under an overlay; a screen follows what it needs by handling it (screens/
base.py: LiveScreen reloads on a Snapshot and says so on a Disconnected). They do not bubble.

Each check event is its own message and none is replaceable: every check adds a point to
the sparkline, so collapsing a queue of them would lose data. The events the session reads
at once go to the service board as one ``FeedEvents`` (the same messages, in order): at 200
checks/s it folds them in and repaints once per read, not once per event.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Self

from textual.message import Message

from slamon_tui.identity import Identity

# --- from the feed session, to every open screen ----------------------------------------------


@dataclass
class FeedMessage(Message, bubble=False):
    """Base of the messages the app gives every open screen."""

    def copy(self) -> Self:
        """The same message, not yet handled (each screen handles its own copy)."""
        return dataclasses.replace(self)


@dataclass
class Connecting(FeedMessage, bubble=False):
    """The session is trying to reach the daemon (first try or a retry).

    ``line`` is the connection line to show from a retry on ("⟳ reconnecting… (attempt 3) —
    why"); None on a first attempt, which changes nothing on screen.
    """

    socket_path: str
    attempt: int
    line: str | None = None


@dataclass
class Connected(FeedMessage, bubble=False):
    """The session has a connection and a subscription, and is about to send a Snapshot."""

    socket_path: str
    node: str
    version: str
    line: str = ""


@dataclass
class Disconnected(FeedMessage, bubble=False):
    """The connection failed or dropped; the session tries again in ``retry_in`` seconds.

    ``daemon_missing`` is True when nothing listens at the socket (no daemon running),
    as opposed to a daemon that was there and went away or answered badly. ``shutdown`` is
    the reason of the daemon's goodbye when it said one before closing. ``line`` is the
    connection line saying all that ("⟳ reconnecting… next try in 0.5 s — why").
    """

    socket_path: str
    reason: str
    retry_in: float
    daemon_missing: bool = False
    shutdown: str | None = None
    line: str = ""


@dataclass
class Snapshot(FeedMessage, bubble=False):
    """A status.get result: replace everything on screen with it (after a (re)connection or
    a resync, so what a screen shows may be stale)."""

    result: dict[str, Any]

    def can_replace(self, message: Message) -> bool:
        # A newer snapshot makes an older, not yet handled one worthless.
        return isinstance(message, Snapshot)


@dataclass
class CheckEvent(FeedMessage, bubble=False):
    """A ``check`` event's data: one probe result with today's cell and uptime."""

    data: dict[str, Any]


@dataclass
class StatusEvent(FeedMessage, bubble=False):
    """A ``status`` event's data: a service or the overall status changed."""

    data: dict[str, Any]


@dataclass
class IncidentEvent(FeedMessage, bubble=False):
    """An ``incident`` event's data: ``{"action", "incident"}`` (the incident without updates)."""

    data: dict[str, Any]


@dataclass
class PresenceEvent(FeedMessage, bubble=False):
    """A ``presence`` event's data: ``{"action": "set"|"cleared", "presence": {…}}``."""

    data: dict[str, Any]


@dataclass
class FeedEvents(FeedMessage, bubble=False):
    """The feed events read at once (CheckEvent, StatusEvent …), in the order they came."""

    events: list[FeedMessage]

    def copy(self) -> Self:
        """The same events (read-only data, shared), in a message not yet handled."""
        return dataclasses.replace(self, events=list(self.events))


@dataclass
class IdentityChanged(FeedMessage, bubble=False):
    """Who the app acts as changed (login, logout, a new role); ``app.identity`` holds it."""

    identity: Identity


# --- from the feed session, to the app -------------------------------------------------------


@dataclass
class LoginNeeded(Message):
    """Show the login screen. ``required``: the daemon lets nobody read without a login."""

    reason: str
    required: bool = False


@dataclass
class LoginEnded(Message):
    """The daemon refused the login and refreshing it failed; ``reason`` is its message."""

    reason: str


# --- from the screens, to the app -------------------------------------------------------------


@dataclass
class ResyncWanted(Message):
    """An event named a service the dashboard does not know: the services changed."""


# --- within one screen -------------------------------------------------------------------------


@dataclass
class DayFetched(Message):
    """A ``service.day`` answer for the dashboard's day line (``problem`` when it failed)."""

    service_id: str
    day: str
    result: dict[str, Any] | None
    problem: str | None = None


@dataclass
class DetailFetched(Message):
    """An answer to a service detail method (service.get / .series / .calendar).

    ``params`` are those of the call (the series' range); on failure ``result`` is None,
    ``problem`` says why and ``code`` is the feed error code when the daemon refused.
    """

    method: str
    service_id: str
    params: dict[str, Any]
    result: Any
    problem: str | None = None
    code: str | None = None
