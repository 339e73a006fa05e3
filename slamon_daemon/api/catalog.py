"""Every method of the API, for ``Registry`` (each transport serves the same ones)."""

from __future__ import annotations

from . import (
    alerts,
    control,
    incidents,
    logins,
    maintenance,
    nodes,
    presence,
    service_admin,
    services,
    sla,
    status,
    users,
)
from .registry import Method


def api_methods() -> list[Method]:
    """The methods of every module of the API, fresh (status.get keeps its own cache)."""
    return [
        *status.methods(),
        *services.methods(),
        *sla.methods(),
        *maintenance.methods(),
        *logins.methods(),
        *users.methods(),
        *service_admin.methods(),
        *incidents.methods(),
        *presence.methods(),
        *control.methods(),
        *alerts.methods(),
        *nodes.methods(),
    ]
