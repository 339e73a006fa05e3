"""What customers may see, decided once: the ``PublicView`` every public renderer reads.

Rules (SPEC §3.12; a renderer never sees anything these rules removed):

* A service with ``public = false`` does not exist publicly: not listed, not counted in the
  overall status, never named in an incident or a maintenance window; an incident or window
  that concerns private services only is left out whole.
* Of an incident, only its title, status, severity, timestamps, public services and the
  updates marked ``customer_visible`` are kept: never its description, impact text, root
  cause, resolution notes or authors (the description of an auto-incident quotes the check
  error, which may name a host).
* Target URLs never appear: the fields that hold them are not copied, and every free text
  that is copied (incident titles, update messages, maintenance titles, descriptions) has
  each service's target URL and host name replaced by ``[redacted]``. Service names and
  group names are shown as configured: they are labels an admin chose for display.
* Check errors (``last_check.error``) are never copied: they name hosts and addresses.

The overall status is recomputed from public services and public incidents only, by the
daemon's rule (``overall_of``), so a private outage never turns the public banner red.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ..models import STATUS_SEVERITY, ServiceStatus, parse_ts

REDACTED = "[redacted]"

INCIDENT_FLOOR = {
    "low": ServiceStatus.OPERATIONAL,
    "medium": ServiceStatus.DEGRADED,
    "high": ServiceStatus.PARTIAL_OUTAGE,
    "critical": ServiceStatus.MAJOR_OUTAGE,
}
"""The overall status is at least this while an incident of that severity is open
(docs/feed.md "Incidents"; the daemon's INCIDENT_FLOOR, to be shared from one place)."""


def overall_of(statuses: Iterable[str], severities: Iterable[str]) -> ServiceStatus:
    """The overall status of these services and open incidents (SPEC §3.3, state.py).

    Worst service status, ignoring unknown and maintenance; several statuses with some
    services in major outage make a partial outage; at least the open incidents' floor.
    """
    counted = {ServiceStatus(s) for s in statuses} - {
        ServiceStatus.UNKNOWN,
        ServiceStatus.MAINTENANCE,
    }
    worst = ServiceStatus.OPERATIONAL
    if counted:
        worst = max(counted, key=STATUS_SEVERITY.__getitem__)
        if worst is ServiceStatus.MAJOR_OUTAGE and len(counted) > 1:
            worst = ServiceStatus.PARTIAL_OUTAGE
    floor = max(
        (INCIDENT_FLOOR.get(s, ServiceStatus.OPERATIONAL) for s in severities),
        key=STATUS_SEVERITY.__getitem__,
        default=ServiceStatus.OPERATIONAL,
    )
    return max(worst, floor, key=STATUS_SEVERITY.__getitem__)


class Redactor:
    """Replaces target URLs and their host names in free text."""

    def __init__(self, urls: Iterable[str]) -> None:
        needles: set[str] = set()
        for url in urls:
            if not url:
                continue
            needles.add(url)
            parts = urlsplit(url)
            if parts.netloc:
                needles.add(parts.netloc.rsplit("@", 1)[-1])
            if parts.hostname:
                needles.add(parts.hostname)
        ordered = sorted(needles, key=len, reverse=True)  # the URL before its host
        self._pattern = (
            re.compile("|".join(re.escape(n) for n in ordered), re.IGNORECASE) if ordered else None
        )

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)


@dataclass(frozen=True, slots=True)
class PublicUpdate:
    """One customer-visible update of an incident."""

    id: str
    status: str
    message: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PublicIncident:
    """An incident as customers see it."""

    id: int
    title: str
    status: str
    severity: str
    services: tuple[str, ...]
    started_at: datetime
    created_at: datetime
    updated_at: datetime
    identified_at: datetime | None
    monitoring_at: datetime | None
    resolved_at: datetime | None
    updates: tuple[PublicUpdate, ...]  # oldest first

    @property
    def active(self) -> bool:
        return self.status != "resolved"

    def covers(self, day: date, now: datetime) -> bool:
        """True when the incident was open during (part of) this UTC day."""
        end = self.resolved_at or now
        return self.started_at.date() <= day <= end.date()


@dataclass(frozen=True, slots=True)
class PublicMaintenance:
    """A maintenance window as customers see it; ``services`` empty means every service."""

    id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    services: tuple[str, ...]
    created_at: datetime

    def last_change(self, now: datetime) -> datetime:
        """The window's latest phase change so far: created, started, ended."""
        return max(t for t in (self.created_at, self.starts_at, self.ends_at) if t <= now)

    def state(self, now: datetime) -> str:
        """``scheduled``, ``in_progress`` or ``completed`` (Statuspage's words)."""
        if now < self.starts_at:
            return "scheduled"
        return "in_progress" if now < self.ends_at else "completed"


@dataclass(frozen=True, slots=True)
class PublicDay:
    """One cell of a service's 90-day bar."""

    day: date
    status: str  # o | po | mo | nd | maintenance (docs/feed.md)
    uptime: str  # "99.42" or "—"
    downtime_s: float | None  # None: not known (only the cell was given)
    incidents: tuple[str, ...] = ()  # titles of the public incidents open that day


@dataclass(frozen=True, slots=True)
class PublicService:
    """A public service: what the page, the JSON, the badges may show of it."""

    id: str
    name: str
    group: str | None
    description: str | None
    status: str
    status_since: datetime
    position: int
    days: tuple[PublicDay, ...]
    uptime: Mapping[str, str]  # window ("30d", "60d", "90d", …) -> "99.42" | "—"
    last_check_at: datetime | None
    latency_ms: float | None  # median of the recent correct answers
    cert_expires_at: datetime | None
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class PublicView:
    """Everything public at one moment."""

    now: datetime
    overall: ServiceStatus
    overall_since: datetime
    days: tuple[date, ...]
    services: tuple[PublicService, ...]
    incidents: tuple[PublicIncident, ...]  # active and past, newest first
    maintenance: tuple[PublicMaintenance, ...]  # by start
    _by_id: dict[str, PublicService] = field(default_factory=dict, repr=False)

    def service(self, service_id: str) -> PublicService | None:
        """The public service of that id; None for unknown and private ones alike."""
        return self._by_id.get(service_id)

    @property
    def active_incidents(self) -> list[PublicIncident]:
        return [i for i in self.incidents if i.active]

    @property
    def resolved_incidents(self) -> list[PublicIncident]:
        return [i for i in self.incidents if not i.active]

    def groups(self) -> list[tuple[str | None, list[PublicService]]]:
        """Services by group, in order of first appearance; ungrouped ones first."""
        out: dict[str | None, list[PublicService]] = {None: []}
        for s in self.services:
            out.setdefault(s.group, []).append(s)
        return [(g, ss) for g, ss in out.items() if ss]

    @property
    def updated_at(self) -> datetime:
        """When anything public last changed (Statuspage ``page.updated_at``)."""
        stamps = [self.overall_since]
        stamps += [s.status_since for s in self.services]
        stamps += [i.updated_at for i in self.incidents]
        stamps += [m.last_change(self.now) for m in self.maintenance]
        return max(stamps)


def _ts(value: Any) -> datetime | None:
    return parse_ts(value) if isinstance(value, str) and value else None


def _public_services(raw: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Services whose ``public`` is not false (absent: public, the config's default)."""
    return [s for s in raw if s.get("public", True) is not False]


def _median_latency(entry: Mapping[str, Any]) -> float | None:
    pairs = zip(entry.get("latencies") or [], entry.get("outcomes") or [], strict=False)
    good = [float(ms) for ms, outcome in pairs if outcome != "down"]
    return round(statistics.median(good), 1) if good else None


def _incident(
    raw: Mapping[str, Any], public_ids: set[str], redact: Redactor, now: datetime
) -> PublicIncident | None:
    services = [str(s) for s in raw.get("services") or []]
    shown = tuple(s for s in services if s in public_ids)
    if services and not shown:
        return None  # concerns private services only
    updates = tuple(
        PublicUpdate(
            id=str(u.get("id") or f"{raw['id']}-{n}"),
            status=str(u.get("status") or raw.get("status")),
            message=redact(str(u.get("message") or "")),
            at=_ts(u.get("created_at")) or now,
        )
        for n, u in enumerate(raw.get("updates") or [])
        if u.get("customer_visible") is True
    )
    started = _ts(raw.get("started_at")) or now
    created = _ts(raw.get("created_at")) or started
    return PublicIncident(
        id=int(raw["id"]),
        title=redact(str(raw.get("title") or "")),
        status=str(raw.get("status") or "investigating"),
        severity=str(raw.get("severity") or "low"),
        services=shown,
        started_at=started,
        created_at=created,
        updated_at=max([_ts(raw.get("updated_at")) or created, *(u.at for u in updates)]),
        identified_at=_ts(raw.get("identified_at")),
        monitoring_at=_ts(raw.get("monitoring_at")),
        resolved_at=_ts(raw.get("resolved_at")),
        updates=tuple(sorted(updates, key=lambda u: u.at)),
    )


def _maintenance(
    raw: Mapping[str, Any], public_ids: set[str], redact: Redactor, now: datetime
) -> PublicMaintenance | None:
    if raw.get("cancelled_at"):
        return None
    services = [str(s) for s in raw.get("services") or []]
    shown = tuple(s for s in services if s in public_ids)
    if services and not shown:
        return None
    starts = parse_ts(str(raw["starts_at"]))
    return PublicMaintenance(
        id=int(raw["id"]),
        title=redact(str(raw.get("title") or "")),
        starts_at=starts,
        ends_at=parse_ts(str(raw["ends_at"])),
        services=shown,
        # maintenance.list should carry created_at; without it, the start (or now, for a
        # window not started yet) stands in.
        created_at=_ts(raw.get("created_at")) or min(starts, now),
    )


def _days(
    entry: Mapping[str, Any],
    bar_days: Sequence[date],
    records: Sequence[Mapping[str, Any]] | None,
    incidents: Sequence[PublicIncident],
    now: datetime,
) -> tuple[PublicDay, ...]:
    by_day = {str(r.get("day")): r for r in records or []}
    cells = list(entry.get("daily") or [])
    cells = ["nd"] * (len(bar_days) - len(cells)) + cells[-len(bar_days) :]
    mine = [i for i in incidents if entry["id"] in i.services]
    out = []
    for day, cell in zip(bar_days, cells, strict=True):
        rec = by_day.get(day.isoformat())
        downtime = rec.get("downtime_s") if rec else None
        out.append(
            PublicDay(
                day=day,
                status=str(rec.get("status", cell)) if rec else str(cell),
                uptime=str(rec.get("uptime", "—")) if rec else "—",
                downtime_s=float(downtime) if downtime is not None else None,
                incidents=tuple(i.title for i in mine if i.covers(day, now)),
            )
        )
    return tuple(out)


def public_view(
    status: Mapping[str, Any],
    *,
    incidents: Sequence[Mapping[str, Any]] = (),
    maintenance: Sequence[Mapping[str, Any]] = (),
    days: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    uptime: Mapping[str, Mapping[str, str]] | None = None,
    now: datetime | None = None,
) -> PublicView:
    """The public view of a ``status.get`` reply and its companions.

    Args:
        status: the ``status.get`` reply. Service entries may carry ``public`` (false hides
            the service), ``group``, ``description`` and ``created_at``.
        incidents: ``incident.get`` replies (with ``updates``) of the active incidents and
            the past ones to show; active incidents listed by ``status.get`` but missing
            here are shown without updates.
        maintenance: the ``maintenance.list`` reply (``include_past`` as wanted).
        days: per service id, day records ``{"day", "status", "uptime", "downtime_s"}`` as
            ``service.calendar`` / ``service.day`` give them, for the bar's tooltips; a day
            without one shows its cell from ``status.get`` only.
        uptime: per service id, extra uptime windows (``service.get``'s ``uptime``:
            "24h", "7d", "30d", "90d").
        now: the moment of the view (default: ``status["generated_at"]``).
    """
    now = now or _ts(status.get("generated_at")) or datetime.now(UTC)
    raw_services: Sequence[Mapping[str, Any]] = status.get("services") or []
    redact = Redactor(str(s.get("url") or "") for s in raw_services)
    shown = _public_services(raw_services)
    public_ids = {str(s["id"]) for s in shown}

    by_id: dict[int, Mapping[str, Any]] = {int(i["id"]): i for i in status.get("incidents") or []}
    by_id.update({int(i["id"]): i for i in incidents})
    public_incidents = [
        p for raw in by_id.values() if (p := _incident(raw, public_ids, redact, now)) is not None
    ]
    public_incidents.sort(key=lambda i: i.started_at, reverse=True)
    windows = [
        w for raw in maintenance if (w := _maintenance(raw, public_ids, redact, now)) is not None
    ]
    windows.sort(key=lambda m: m.starts_at)

    bar_days = [date.fromisoformat(d) for d in status.get("days") or []]
    if not bar_days:
        bar_days = [now.date() - timedelta(days=89 - i) for i in range(90)]
    services = []
    for position, entry in enumerate(shown, start=1):
        sid = str(entry["id"])
        last = entry.get("last_check") or {}
        cert = _ts(last.get("cert_expires_at"))
        windows_text = {f"{k}d": str(v) for k, v in (entry.get("uptime") or {}).items()}
        windows_text.update((uptime or {}).get(sid, {}))
        description = entry.get("description")
        services.append(
            PublicService(
                id=sid,
                name=str(entry.get("name") or sid),
                group=str(entry["group"]) if entry.get("group") else None,
                description=redact(str(description)) if description else None,
                status=str(entry.get("status") or "unknown"),
                status_since=_ts(entry.get("status_since")) or now,
                position=position,
                days=_days(entry, bar_days, (days or {}).get(sid), public_incidents, now),
                uptime=windows_text,
                last_check_at=_ts(last.get("started_at")),
                latency_ms=_median_latency(entry),
                cert_expires_at=cert,
                created_at=_ts(entry.get("created_at")),
            )
        )
    overall = overall_of(
        (s.status for s in services), (i.severity for i in public_incidents if i.active)
    )
    daemon_overall = (status.get("overall") or {}).get("status")
    since = _ts((status.get("overall") or {}).get("since")) or now
    if daemon_overall != overall.value:
        # The public overall differs from the daemon's (private services or incidents left
        # out): it changed when its latest input did.
        since = max([s.status_since for s in services] or [now])
    return PublicView(
        now=now,
        overall=overall,
        overall_since=since,
        days=tuple(bar_days),
        services=tuple(services),
        incidents=tuple(public_incidents),
        maintenance=tuple(windows),
        _by_id={s.id: s for s in services},
    )
