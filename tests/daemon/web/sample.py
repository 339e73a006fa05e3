"""Feed replies in their documented shapes (docs/feed.md), for the renderers' tests.

``sample_inputs`` builds a ``status.get`` reply with its companions (incident.get replies,
maintenance.list, per-day records) for any number of services, with secret markers planted
where the public output must never show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

PRIVATE_MARK = "SECRETPRIVATESVC"
INTERNAL_MARK = "SECRETINTERNALNOTE"
URL_MARK = "secret-target-host.internal"
DESCRIPTION_MARK = "SECRETDESCRIPTION"
ERROR_MARK = "SECRETCHECKERROR"
MARKERS = (PRIVATE_MARK, INTERNAL_MARK, URL_MARK, DESCRIPTION_MARK, ERROR_MARK)
"""Strings that must never appear in any public output."""


def iso(t: datetime) -> str:
    return t.isoformat()


def _cell(i: int, d: int) -> str:
    """A deterministic mix: mostly operational, some trouble, a maintenance day, no data."""
    if d < 3 and i % 7 == 6:
        return "nd"  # a service added recently
    if (i * 31 + d * 17) % 97 == 0:
        return "mo"
    if (i * 13 + d * 7) % 41 == 0:
        return "po"
    if d == 40 and i % 5 == 0:
        return "maintenance"
    return "o"


@dataclass
class Inputs:
    """A status.get reply and its companions."""

    status: dict[str, Any]
    incidents: list[dict[str, Any]]
    maintenance: list[dict[str, Any]]
    days: dict[str, list[dict[str, Any]]]
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)


def _service(i: int, days: list[str], private: bool = False) -> dict[str, Any]:
    sid = f"{PRIVATE_MARK.lower()}-db" if private else f"svc-{i:03d}"
    daily = [_cell(i, 89 - n) for n in range(90)]
    worst = "major_outage" if i == 1 else "operational"
    entry: dict[str, Any] = {
        "id": sid,
        "name": f"{PRIVATE_MARK} database" if private else f"Service {i:03d}",
        "url": f"https://{URL_MARK}:8443/{sid}/health?token=x",
        "interval_s": 60.0,
        "status": "major_outage" if private else worst,
        "status_since": iso(NOW - timedelta(minutes=30 + i)),
        "last_check": {
            "service_id": sid,
            "started_at": iso(NOW - timedelta(seconds=20)),
            "latency_ms": 70.7,
            "outcome": "down" if i == 1 or private else "up",
            "status_code": 503 if i == 1 else 200,
            "error_kind": "http_error" if i == 1 else None,
            "error": f"{ERROR_MARK} connect to {URL_MARK} refused" if i == 1 or private else None,
            "node": "eu-1",
            "maintenance": False,
            "interval_s": 60.0,
            "cert_expires_at": iso(NOW + timedelta(days=40 + i)),
        },
        "daily": daily,
        "uptime": {"30": "99.42", "60": "99.71", "90": "99.80"},
        "latencies": [12.3, 11.9, 14.0, 5000.0],
        "outcomes": ["up", "up", "degraded", "down"],
        "group": None if i % 3 == 0 else ("Payments" if i % 3 == 1 else "Identity"),
        "description": f"Checks {URL_MARK} every minute" if i == 2 else None,
        "public": not private,
    }
    if private:
        entry["group"] = f"{PRIVATE_MARK} group"
        entry["description"] = DESCRIPTION_MARK
    return entry


def _records(entry: dict[str, Any], days: list[str]) -> list[dict[str, Any]]:
    out = []
    for day, cell in zip(days, entry["daily"], strict=True):
        uptime = {"o": "100.00", "po": "99.42", "mo": "91.37", "nd": "—", "maintenance": "—"}
        down = {"o": 0, "po": 480, "mo": 7440, "nd": 0, "maintenance": 0}
        out.append({"day": day, "status": cell, "uptime": uptime[cell], "downtime_s": down[cell]})
    return out


def sample_inputs(services: int = 6, *, with_private: bool = True) -> Inputs:
    """``services`` public services (plus one private one) with incidents and maintenance."""
    first = NOW.date() - timedelta(days=89)
    days = [(first + timedelta(days=n)).isoformat() for n in range(90)]
    entries = [_service(i, days) for i in range(1, services + 1)]
    if with_private:
        entries.insert(1, _service(999, days, private=True))
    private_id = f"{PRIVATE_MARK.lower()}-db"
    active = {
        "id": 7,
        "title": "Payments failing",
        "description": f"{DESCRIPTION_MARK}: opened after errors from {URL_MARK}",
        "status": "identified",
        "severity": "high",
        "priority": "P1",
        "impact": f"{DESCRIPTION_MARK} impact",
        "root_cause": DESCRIPTION_MARK,
        "resolution_notes": "",
        "services": ["svc-001", private_id],
        "created_by": "alice",
        "resolved_by": None,
        "version": 3,
        "started_at": iso(NOW - timedelta(hours=2)),
        "identified_at": iso(NOW - timedelta(hours=1)),
        "monitoring_at": None,
        "resolved_at": None,
        "created_at": iso(NOW - timedelta(hours=2)),
        "updated_at": iso(NOW - timedelta(minutes=30)),
        "updates": [
            {
                "id": 70,
                "status": "investigating",
                "message": "We are looking into failed payments at <b>checkout</b>.",
                "customer_visible": True,
                "author": "alice",
                "created_at": iso(NOW - timedelta(hours=2)),
            },
            {
                "id": 71,
                "status": "identified",
                "message": f"{INTERNAL_MARK}: db primary on {URL_MARK} is out of disk",
                "customer_visible": False,
                "author": "bob",
                "created_at": iso(NOW - timedelta(hours=1)),
            },
            {
                "id": 72,
                "status": "identified",
                "message": f"The cause is found; https://{URL_MARK}:8443/ is being repaired.",
                "customer_visible": True,
                "author": "bob",
                "created_at": iso(NOW - timedelta(minutes=30)),
            },
        ],
    }
    resolved = {
        **active,
        "id": 5,
        "title": "Slow logins",
        "status": "resolved",
        "severity": "medium",
        "services": ["svc-002"],
        "started_at": iso(NOW - timedelta(days=3, hours=1)),
        "identified_at": None,
        "monitoring_at": iso(NOW - timedelta(days=3)),
        "resolved_at": iso(NOW - timedelta(days=2, hours=23)),
        "created_at": iso(NOW - timedelta(days=3, hours=1)),
        "updated_at": iso(NOW - timedelta(days=2, hours=23)),
        "updates": [
            {
                "id": 50,
                "status": "resolved",
                "message": "Logins are fast again.",
                "customer_visible": True,
                "author": "carol",
                "created_at": iso(NOW - timedelta(days=2, hours=23)),
            }
        ],
    }
    private_only = {
        **active,
        "id": 9,
        "title": f"{PRIVATE_MARK} is down",
        "services": [private_id],
        "updates": [],
    }
    status = {
        "node": "eu-1",
        "generated_at": iso(NOW),
        "notice": None,
        "overall": {"status": "major_outage", "since": iso(NOW - timedelta(hours=2))},
        "days": days,
        "incidents": [
            {k: v for k, v in inc.items() if k != "updates"} for inc in (active, private_only)
        ],
        "services": entries,
    }
    maintenance = [
        {
            "id": 3,
            "title": "Database upgrade",
            "starts_at": iso(NOW + timedelta(days=2)),
            "ends_at": iso(NOW + timedelta(days=2, hours=2)),
            "services": ["svc-002", private_id],
            "created_by": "admin",
            "source": "feed",
            "cancelled_at": None,
            "created_at": iso(NOW - timedelta(days=1)),
        },
        {
            "id": 4,
            "title": f"{PRIVATE_MARK} migration",
            "starts_at": iso(NOW - timedelta(hours=1)),
            "ends_at": iso(NOW + timedelta(hours=1)),
            "services": [private_id],
            "created_by": "admin",
            "source": "feed",
            "cancelled_at": None,
        },
        {
            "id": 6,
            "title": "Network work",
            "starts_at": iso(NOW - timedelta(minutes=10)),
            "ends_at": iso(NOW + timedelta(minutes=50)),
            "services": [],
            "created_by": "admin",
            "source": "config",
            "cancelled_at": None,
            "created_at": iso(NOW - timedelta(days=3)),
        },
    ]
    records = {e["id"]: _records(e, days) for e in entries}
    calendars = {
        e["id"]: {
            "id": e["id"],
            "months": [
                {"month": m, "days": [r for r in records[e["id"]] if r["day"].startswith(m)]}
                for m in ("2026-09", "2026-10", "2026-11")
            ],
        }
        for e in entries
    }
    for cal in calendars.values():
        nov = cal["months"][-1]["days"]
        for n in range(22, 31):
            nov.append(
                {"day": f"2026-11-{n:02d}", "status": "future", "uptime": "—", "downtime_s": 0}
            )
    return Inputs(status, [active, resolved, private_only], maintenance, records, calendars)
