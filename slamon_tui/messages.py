"""Messages the feed worker posts to the app; the dashboard handles them.

Each check event is its own message and none is replaceable: every check adds a point to
the sparkline, so collapsing a queue of them would lose data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class Connecting(Message):
    """The worker is trying to reach the daemon (first try or a retry)."""

    socket_path: str
    attempt: int


@dataclass
class Connected(Message):
    """The worker has a connection, a subscription and is about to post a Snapshot."""

    socket_path: str
    node: str
    version: str


@dataclass
class Disconnected(Message):
    """The connection failed or dropped; the worker tries again in ``retry_in`` seconds.

    ``daemon_missing`` is True when nothing listens at the socket (no daemon running),
    as opposed to a daemon that was there and went away or answered badly. ``shutdown`` is
    the reason of the daemon's goodbye when it said one before closing.
    """

    socket_path: str
    reason: str
    retry_in: float
    daemon_missing: bool = False
    shutdown: str | None = None


@dataclass
class Snapshot(Message):
    """A status.get result: replace everything on screen with it."""

    result: dict[str, Any]

    def can_replace(self, message: Message) -> bool:
        # A newer snapshot makes an older, not yet handled one worthless.
        return isinstance(message, Snapshot)


@dataclass
class CheckEvent(Message):
    """A ``check`` event's data: one probe result with today's cell and uptime."""

    data: dict[str, Any]


@dataclass
class StatusEvent(Message):
    """A ``status`` event's data: a service or the overall status changed."""

    data: dict[str, Any]


@dataclass
class FeedProblem(Message):
    """Something the user should know that does not break the connection (a failed resync)."""

    text: str


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


# --- incidents (screens/incidents.py, incident_detail.py, incident_edit.py) ------------------


@dataclass
class IncidentEvent(Message):
    """An ``incident`` event's data: ``{"action", "incident"}`` (the incident without updates)."""

    data: dict[str, Any]


@dataclass
class PresenceEvent(Message):
    """A ``presence`` event's data: ``{"action": "set"|"cleared", "presence": {…}}``."""

    data: dict[str, Any]


# --- logins and identity (app.py, screens/login.py, screens/admin.py) ------------------------


@dataclass
class IdentityChanged(Message):
    """Who the app acts as changed (login, logout, a new role): the ``auth.whoami`` dict.

    The app posts it to every screen on its stack; ``app.identity`` already holds it.
    """

    identity: dict[str, Any]


@dataclass
class LoginNeeded(Message):
    """Show the login screen. ``required``: the daemon lets nobody read without a login."""

    reason: str
    required: bool = False


@dataclass
class LoginEnded(Message):
    """The daemon refused the login and refreshing it failed; ``reason`` is its message."""

    reason: str
