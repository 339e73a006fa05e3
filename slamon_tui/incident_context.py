"""A new incident filled in from what the dashboard knows of a service (issue 12).

``i`` on a service in trouble opens the incident editor with the service affected, the
outage's start as the incident's start, and the outage's cause in the description; the
reporter only has to read it over and save (one key from a red row to a filled form).
"""

from __future__ import annotations

from typing import Any

from slamon_daemon.models import ServiceStatus, parse_ts
from slamon_tui.formatting import error_kind_text, status_word
from slamon_tui.models.dashboard import ServiceState

SEVERITY_OF_STATUS = {
    ServiceStatus.MAJOR_OUTAGE: "critical",
    ServiceStatus.PARTIAL_OUTAGE: "high",
    ServiceStatus.DEGRADED: "medium",
}
"""The severity a new incident starts with, from the service's status (editable)."""


def title_for(s: ServiceState) -> str:
    """ "Checkout API: major outage", "Search: degraded"."""
    if s.status == ServiceStatus.UNKNOWN:
        return f"{s.name}: problem"
    return f"{s.name}: {status_word(s.status).lower()}"


def cause_text(s: ServiceState) -> str:
    """ "connection error: connect refused (since 13:25:04 UTC, 12 failed checks)" from the
    open episode, else from the last check; "" when nothing failed."""
    ep = s.episode or {}
    last = s.last_check or {}
    kind = ep.get("cause") or (last.get("error_kind") if last.get("outcome") == "down" else None)
    error = ep.get("error") or (last.get("error") if last.get("outcome") == "down" else None)
    if not kind and not error:
        return ""
    what = error_kind_text(str(kind)) if kind else "error"
    if kind == "http_error" and last.get("status_code"):
        what = f"HTTP {last['status_code']}"
    text = f"{what}: {error}" if error else what
    details = []
    if ep.get("started_at"):
        try:
            details.append(f"since {parse_ts(str(ep['started_at'])):%Y-%m-%d %H:%M:%S} UTC")
        except ValueError:
            pass
    if ep.get("failed_checks"):
        n = int(ep["failed_checks"])
        details.append(f"{n} failed check{'' if n == 1 else 's'}")
    return f"{text} ({', '.join(details)})" if details else text


def incident_prefill(s: ServiceState) -> dict[str, Any]:
    """The new-incident form's values for service ``s``: title, severity, services,
    started_at (the outage's start) and a description saying the cause."""
    out: dict[str, Any] = {
        "title": title_for(s),
        "severity": SEVERITY_OF_STATUS.get(ServiceStatus(s.status), "high")
        if s.status in SEVERITY_OF_STATUS
        else "high",
        "services": [s.id],
    }
    started = (s.episode or {}).get("started_at") or (s.status_since if s.is_problem else None)
    if started:
        out["started_at"] = str(started)
    cause = cause_text(s)
    lines = [f"{s.name} is in {status_word(s.status).lower()}."]
    if cause:
        lines.append(f"Cause: {cause}.")
    out["description"] = "\n\n".join(lines)
    return out
