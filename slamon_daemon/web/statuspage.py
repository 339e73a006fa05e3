"""Atlassian-Statuspage-compatible public JSON (``/api/v2/*.json``), from a PublicView.

Field names and value vocabulary follow Atlassian's public status API, so widgets and
scripts written for a Statuspage page work unchanged:

* ``status.indicator``: none | minor | major | critical, from the public overall status
  (operational → none "All Systems Operational", degraded → minor "Minor Service Outage",
  partial outage → major "Partial System Outage", major outage → critical "Major Service
  Outage").
* component ``status``: operational | degraded_performance | partial_outage | major_outage
  | under_maintenance. A service not checked yet (``unknown``) is reported ``operational``,
  as Statuspage reports a new component: the vocabulary has no "unknown".
* Groups (``group = "Payments"`` on services) are components with ``group: true`` and the
  ids of their ``components``; members carry ``group_id``.
* incident ``impact``: severity low → none, medium → minor, high → major, critical →
  critical (the same steps as the overall status an open incident raises).
* Scheduled maintenance: ``status`` scheduled | in_progress | completed, ``impact``
  "maintenance", ``scheduled_for`` / ``scheduled_until``; its updates are generated from
  its phases (slamon's windows have no timeline of their own).
* Ids are strings; times are RFC 3339 in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..models import ServiceStatus
from .public import PublicIncident, PublicMaintenance, PublicService, PublicView
from .settings import PageSettings

INDICATOR: dict[ServiceStatus, tuple[str, str]] = {
    ServiceStatus.OPERATIONAL: ("none", "All Systems Operational"),
    ServiceStatus.DEGRADED: ("minor", "Minor Service Outage"),
    ServiceStatus.PARTIAL_OUTAGE: ("major", "Partial System Outage"),
    ServiceStatus.MAJOR_OUTAGE: ("critical", "Major Service Outage"),
    ServiceStatus.MAINTENANCE: ("none", "All Systems Operational"),
    ServiceStatus.UNKNOWN: ("none", "All Systems Operational"),
}
COMPONENT_STATUS = {
    "operational": "operational",
    "degraded": "degraded_performance",
    "partial_outage": "partial_outage",
    "major_outage": "major_outage",
    "maintenance": "under_maintenance",
    "unknown": "operational",
}
_COMPONENT_RANK = [
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
]
IMPACT = {"low": "none", "medium": "minor", "high": "major", "critical": "critical"}
RECENT_INCIDENTS = 50
"""incidents.json and scheduled-maintenances.json list the 50 most recent, as Statuspage."""


def _t(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def group_id(name: str) -> str:
    """The component id of a group: stable as long as its name is."""
    return "group-" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unnamed")


def page(view: PublicView, settings: PageSettings) -> dict[str, Any]:
    """The ``page`` object every response starts with."""
    return {
        "id": settings.page_id,
        "name": settings.title,
        "url": settings.link("/status"),
        "time_zone": settings.time_zone,
        "updated_at": _t(view.updated_at),
    }


def status_indicator(view: PublicView) -> dict[str, str]:
    indicator, description = INDICATOR[view.overall]
    return {"indicator": indicator, "description": description}


def _component(s: PublicService, settings: PageSettings) -> dict[str, Any]:
    first = next((d.day for d in s.days if d.status != "nd"), None)
    return {
        "id": s.id,
        "name": s.name,
        "status": COMPONENT_STATUS.get(s.status, "operational"),
        "created_at": _t(s.created_at or s.status_since),
        "updated_at": _t(s.status_since),
        "position": s.position,
        "description": s.description,
        "showcase": True,
        "start_date": first.isoformat() if first else None,
        "group_id": group_id(s.group) if s.group else None,
        "page_id": settings.page_id,
        "group": False,
        "only_show_if_degraded": False,
    }


def components(view: PublicView, settings: PageSettings) -> list[dict[str, Any]]:
    """Services and their groups as Statuspage components, in page order."""
    out: list[dict[str, Any]] = []
    position = 0
    for name, members in view.groups():
        if name is not None:
            position += 1
            worst = max(
                (COMPONENT_STATUS.get(s.status, "operational") for s in members),
                key=_COMPONENT_RANK.index,
            )
            out.append(
                {
                    "id": group_id(name),
                    "name": name,
                    "status": worst,
                    "created_at": _t(min(s.created_at or s.status_since for s in members)),
                    "updated_at": _t(max(s.status_since for s in members)),
                    "position": position,
                    "description": None,
                    "showcase": False,
                    "start_date": None,
                    "group_id": None,
                    "page_id": settings.page_id,
                    "group": True,
                    "only_show_if_degraded": False,
                    "components": [s.id for s in members],
                }
            )
        for s in members:
            position += 1
            out.append({**_component(s, settings), "position": position})
    return out


def _affected(view: PublicView, ids: Iterable[str], settings: PageSettings) -> list[Any]:
    found = [s for i in ids if (s := view.service(i)) is not None]
    return [_component(s, settings) for s in found]


def incident(view: PublicView, inc: PublicIncident, settings: PageSettings) -> dict[str, Any]:
    """One incident with its customer-visible updates, newest first (as Statuspage)."""
    iid = str(inc.id)
    updates = [
        {
            "id": u.id,
            "status": u.status,
            "body": u.message,
            "incident_id": iid,
            "created_at": _t(u.at),
            "updated_at": _t(u.at),
            "display_at": _t(u.at),
            "affected_components": None,
            "deliver_notifications": True,
            "custom_tweet": None,
            "tweet_id": None,
        }
        for u in reversed(inc.updates)
    ]
    return {
        "id": iid,
        "name": inc.title,
        "status": inc.status,
        "created_at": _t(inc.created_at),
        "updated_at": _t(inc.updated_at),
        "monitoring_at": _t(inc.monitoring_at),
        "resolved_at": _t(inc.resolved_at),
        "impact": IMPACT.get(inc.severity, "none"),
        "shortlink": settings.link(f"/status/incidents/{inc.id}"),
        "started_at": _t(inc.started_at),
        "page_id": settings.page_id,
        "incident_updates": updates,
        "components": _affected(view, inc.services, settings),
    }


def _maintenance_updates(m: PublicMaintenance, now: datetime) -> list[dict[str, Any]]:
    mid = f"maintenance-{m.id}"
    scheduled = f"{m.title}: scheduled from {_t(m.starts_at)} to {_t(m.ends_at)}."
    phases = [("scheduled", m.created_at, scheduled)]
    if now >= m.starts_at:
        phases.append(("in_progress", m.starts_at, "Scheduled maintenance is in progress."))
    if now >= m.ends_at:
        phases.append(("completed", m.ends_at, "The scheduled maintenance has been completed."))
    return [
        {
            "id": f"{mid}-{status}",
            "status": status,
            "body": body,
            "incident_id": mid,
            "created_at": _t(at),
            "updated_at": _t(at),
            "display_at": _t(at),
            "affected_components": None,
            "deliver_notifications": True,
            "custom_tweet": None,
            "tweet_id": None,
        }
        for status, at, body in reversed(phases)
    ]


def maintenance(view: PublicView, m: PublicMaintenance, settings: PageSettings) -> dict[str, Any]:
    """One maintenance window as a Statuspage scheduled maintenance."""
    state = m.state(view.now)
    ids = m.services or tuple(s.id for s in view.services)
    updates = _maintenance_updates(m, view.now)
    return {
        "id": f"maintenance-{m.id}",
        "name": m.title,
        "status": state,
        "created_at": _t(m.created_at),
        "updated_at": updates[0]["created_at"],
        "monitoring_at": None,
        "resolved_at": _t(m.ends_at) if state == "completed" else None,
        "impact": "maintenance",
        "shortlink": settings.link(f"/status#maintenance-{m.id}"),
        "started_at": _t(m.starts_at),
        "page_id": settings.page_id,
        "incident_updates": updates,
        "components": _affected(view, ids, settings),
        "scheduled_for": _t(m.starts_at),
        "scheduled_until": _t(m.ends_at),
    }


def _upcoming_or_active(view: PublicView) -> list[PublicMaintenance]:
    return [m for m in view.maintenance if m.state(view.now) != "completed"]


def summary_json(view: PublicView, settings: PageSettings) -> dict[str, Any]:
    """``/api/v2/summary.json``: page, status, components, unresolved incidents, upcoming
    and in-progress maintenance."""
    return {
        "page": page(view, settings),
        "components": components(view, settings),
        "incidents": [incident(view, i, settings) for i in view.active_incidents],
        "scheduled_maintenances": [
            maintenance(view, m, settings) for m in _upcoming_or_active(view)
        ],
        "status": status_indicator(view),
    }


def status_json(view: PublicView, settings: PageSettings) -> dict[str, Any]:
    """``/api/v2/status.json``."""
    return {"page": page(view, settings), "status": status_indicator(view)}


def components_json(view: PublicView, settings: PageSettings) -> dict[str, Any]:
    """``/api/v2/components.json``."""
    return {"page": page(view, settings), "components": components(view, settings)}


def incidents_json(view: PublicView, settings: PageSettings) -> dict[str, Any]:
    """``/api/v2/incidents.json``: the 50 most recent incidents, active and resolved."""
    recent = list(view.incidents)[:RECENT_INCIDENTS]
    return {
        "page": page(view, settings),
        "incidents": [incident(view, i, settings) for i in recent],
    }


def unresolved_json(view: PublicView, settings: PageSettings) -> dict[str, Any]:
    """``/api/v2/incidents/unresolved.json``."""
    return {
        "page": page(view, settings),
        "incidents": [incident(view, i, settings) for i in view.active_incidents],
    }


def scheduled_maintenances_json(view: PublicView, settings: PageSettings) -> dict[str, Any]:
    """``/api/v2/scheduled-maintenances.json``: the 50 most recent windows, newest first."""
    recent = sorted(view.maintenance, key=lambda m: m.starts_at, reverse=True)[:RECENT_INCIDENTS]
    return {
        "page": page(view, settings),
        "scheduled_maintenances": [maintenance(view, m, settings) for m in recent],
    }
