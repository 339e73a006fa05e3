"""The shape of Atlassian Statuspage's public ``/api/v2/summary.json``: keys and value types.

Written from Atlassian's documented example response of a hosted status page's API page
("Summary": page, status, components, incidents with incident_updates, scheduled
maintenances) and the documented component fields (group, group_id, only_show_if_degraded,
showcase, start_date). A type is a Python type, a tuple of types (``NONE`` for null), or a
nested shape; vocabularies list the documented values.
"""

from __future__ import annotations

from typing import Any

NONE = type(None)
TIME = str  # ISO 8601 date-time
OPT_TIME = (str, NONE)

PAGE = {"id": str, "name": str, "url": str, "time_zone": str, "updated_at": TIME}
STATUS = {"indicator": str, "description": str}
COMPONENT = {
    "id": str,
    "name": str,
    "status": str,
    "created_at": TIME,
    "updated_at": TIME,
    "position": int,
    "description": (str, NONE),
    "showcase": bool,
    "start_date": (str, NONE),
    "group_id": (str, NONE),
    "page_id": str,
    "group": bool,
    "only_show_if_degraded": bool,
}
GROUP_EXTRA = {"components": list}
INCIDENT_UPDATE = {
    "id": str,
    "status": str,
    "body": str,
    "incident_id": str,
    "created_at": TIME,
    "updated_at": TIME,
    "display_at": TIME,
    "affected_components": (list, NONE),
    "deliver_notifications": bool,
    "custom_tweet": (str, NONE),
    "tweet_id": (str, NONE),
}
INCIDENT = {
    "id": str,
    "name": str,
    "status": str,
    "created_at": TIME,
    "updated_at": OPT_TIME,
    "monitoring_at": OPT_TIME,
    "resolved_at": OPT_TIME,
    "impact": str,
    "shortlink": str,
    "started_at": TIME,
    "page_id": str,
    "incident_updates": [INCIDENT_UPDATE],
    "components": [COMPONENT],
}
SCHEDULED_MAINTENANCE = {**INCIDENT, "scheduled_for": TIME, "scheduled_until": TIME}
SUMMARY = {
    "page": PAGE,
    "components": [COMPONENT],
    "incidents": [INCIDENT],
    "scheduled_maintenances": [SCHEDULED_MAINTENANCE],
    "status": STATUS,
}

INDICATORS = {"none", "minor", "major", "critical"}
STATUS_DESCRIPTIONS = {
    "All Systems Operational",
    "Minor Service Outage",
    "Partial System Outage",
    "Major Service Outage",
}
COMPONENT_STATUSES = {
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
IMPACTS = {"none", "minor", "major", "critical", "maintenance"}


def shape_errors(value: Any, shape: Any, path: str = "$") -> list[str]:
    """Every place where ``value`` does not have ``shape``: missing or extra keys, wrong types."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        errors = [f"{path}.{k}: missing" for k in shape if k not in value]
        for k, v in value.items():
            if k not in shape:
                if k in GROUP_EXTRA and value.get("group") is True:
                    errors += shape_errors(v, GROUP_EXTRA[k], f"{path}.{k}")
                    continue
                errors.append(f"{path}.{k}: not in Statuspage's shape")
                continue
            errors += shape_errors(v, shape[k], f"{path}.{k}")
        return errors
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        return [
            e for n, item in enumerate(value) for e in shape_errors(item, shape[0], f"{path}[{n}]")
        ]
    types = shape if isinstance(shape, tuple) else (shape,)
    if isinstance(value, bool) and bool not in types:
        return [f"{path}: expected {types}, got bool"]
    if not isinstance(value, types):
        return [f"{path}: expected {types}, got {type(value).__name__} {value!r}"]
    return []
