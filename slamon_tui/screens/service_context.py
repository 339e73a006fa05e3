"""``i`` and ``e`` on a service's detail screen (issue 12): its incident and its errors,
from what service.get said (the last check, the open outage episode)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.app import App

from slamon_tui.client import FeedClientError
from slamon_tui.identity import Identity
from slamon_tui.incident_context import incident_prefill
from slamon_tui.models.dashboard import ServiceState
from slamon_tui.screens.check_detail import CheckDetailScreen
from slamon_tui.screens.incident_detail import IncidentDetailScreen
from slamon_tui.screens.incident_edit import IncidentEditScreen
from slamon_tui.types import FeedCall, ServiceNames
from slamon_tui.widgets.service_header import open_episode


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """One service as its detail screen knows it (``detail``: the service.get answer)."""

    service_id: str
    name: str
    status: str
    since: str | None
    detail: dict[str, Any] | None

    @property
    def last_check(self) -> dict[str, Any] | None:
        """The newest of the recent checks."""
        checks = (self.detail or {}).get("recent_checks") or []
        return checks[0] if checks else None

    @property
    def episode(self) -> dict[str, Any] | None:
        """The open outage episode, if any."""
        return open_episode(self.detail) if self.detail else None

    def state(self) -> ServiceState:
        """The service as the dashboard's model would hold it."""
        return ServiceState(
            id=self.service_id,
            name=self.name,
            status=self.status,
            status_since=self.since,
            last_check=self.last_check,
            episode=self.episode,
        )

    def show_errors(self, app: App[Any]) -> None:
        """Open the full error text of the last check and of the open outage."""
        app.push_screen(CheckDetailScreen(self.name, self.last_check, self.episode))

    async def open_incident(
        self, app: App[Any], call: FeedCall, identity: Identity, names: ServiceNames
    ) -> None:
        """Jump to the service's open incident, else open a filled-in new one."""
        try:
            active = await call("incident.list", {})
        except FeedClientError as exc:
            app.notify(f"Cannot list incidents: {exc}", severity="warning")
            return
        mine = [i for i in active or [] if self.service_id in (i.get("services") or [])]
        if mine:
            app.push_screen(IncidentDetailScreen(int(mine[0]["id"]), call, identity, names))
            return
        if not identity.allows("reporter"):
            app.notify(
                f"No open incident for {self.name}; reporters and admins can open one.",
                timeout=4,
            )
            return
        services = names() or [(self.service_id, self.name)]
        app.push_screen(
            IncidentEditScreen(call, None, services, prefill=incident_prefill(self.state()))
        )
