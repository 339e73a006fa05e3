"""What a method handler may use, and who is calling: the narrow context of the API.

Every transport (the feed's Unix socket today, an HTTP API later) calls the same handlers
with the same ``ApiContext``, built once by the daemon, and its own ``Caller``. A handler
reads the store and the live state, publishes events, and tells the daemon what changed
through the hooks; it never sees the Daemon, the scheduler or a socket session (uvicorn's
``ServerState``, STYLE.md 16).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..alerts.service import AlertingService
from ..auth import Auth
from ..clock import Clock
from ..config import DaemonConfig
from ..events import Publisher
from ..incidents import PresenceBoard
from ..models import Identity, Incident, MaintenanceWindow, Role, ServiceStatus
from ..state import ServiceState
from ..store.base import Store


class LiveView(Protocol):
    """A read view of the live state (state.LiveState): handlers never change it."""

    @property
    def services(self) -> Mapping[str, ServiceState]: ...

    @property
    def overall(self) -> ServiceStatus: ...

    @property
    def overall_since(self) -> datetime: ...

    @property
    def major_threshold(self) -> float: ...

    def quorum_view(self, st: ServiceState) -> dict[str, object]: ...


class OpenIncidents(Protocol):
    """The open incidents as last read (the incident tracker)."""

    @property
    def active(self) -> Sequence[Incident]: ...


class MaintenanceView(Protocol):
    """The maintenance windows that have not ended (the maintenance calendar)."""

    @property
    def windows(self) -> Sequence[MaintenanceWindow]: ...


class Hooks(Protocol):
    """What a handler tells the daemon after a change, and the daemon's own figures."""

    async def services_changed(self) -> None:
        """Services were added, edited, paused or resumed: re-read and reschedule them."""
        ...

    async def maintenance_changed(self) -> None:
        """Maintenance windows were created or cancelled: re-read them."""
        ...

    def incidents_changed(self) -> None:
        """Open incidents changed: refresh them and the overall status (in the background)."""
        ...

    def stats(self) -> dict[str, Any]:
        """The daemon's figures (daemon.stats)."""
        ...

    async def reload_config(self) -> dict[str, Any]:
        """Re-read the config file and apply it (daemon.reload); what changed, or every
        problem of a refused file. Raises StoreError when the database fails meanwhile."""
        ...

    async def nodes(self) -> dict[str, Any]:
        """The nodes of the cluster (nodes.list); this daemon alone when single-node."""
        ...


@dataclass(frozen=True, slots=True)
class Caller:
    """Who makes a request, as the transport knows them.

    ``client_key`` is whom login throttling counts (the feed: the peer's Unix uid);
    ``session`` the lasting connection that presence belongs to (None for a transport
    without one); ``uid`` the peer's Unix uid when the transport knows it.
    """

    identity: Identity
    client_key: str
    session: int | None = None
    uid: int | None = None

    @property
    def role(self) -> Role:
        return self.identity.role

    @property
    def logged_in(self) -> bool:
        return self.identity.user_id is not None

    @property
    def name(self) -> str:
        """How the caller is named in incidents, presence and the audit log: the user, else
        the client (``uid:1000``)."""
        return self.identity.name if self.logged_in else self.client_key


@dataclass(frozen=True, slots=True)
class ApiContext:
    """Everything a handler may use; built once by the daemon, shared by every transport."""

    store: Store
    live: LiveView
    incidents: OpenIncidents
    maintenance: MaintenanceView
    events: Publisher
    presence: PresenceBoard
    auth: Auth
    settings: DaemonConfig
    clock: Clock
    hooks: Hooks
    notice: str | None = None
    alerts: AlertingService | None = None
    """The alerting service (None when the store has no alert tables)."""
    long_region_uptime: dict[str, tuple[datetime, dict[str, dict[str, str]]]] = field(
        default_factory=dict
    )
    """service.get's per-region 7 and 30 day uptime of each service and when it was read
    (api/services.py: read again at most every ``REGION_LONG_EVERY``)."""
