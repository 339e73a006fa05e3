"""Domain values shared by the daemon and the TUI: services, checks, statuses, rollups.

Pure data: no I/O, no asyncio. Everything here is safe to import from ``slamon_tui``.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime


class Outcome(enum.StrEnum):
    """Result of one check."""

    UP = "up"
    DEGRADED = "degraded"  # answered correctly but slower than degraded_after
    DOWN = "down"


class ErrorKind(enum.StrEnum):
    """Why a check failed (SPEC §3.1)."""

    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    DNS_ERROR = "dns_error"
    TLS_ERROR = "tls_error"
    HTTP_ERROR = "http_error"  # unexpected status code
    ASSERTION_FAILED = "assertion_failed"  # body check failed
    PROTOCOL_ERROR = "protocol_error"  # the answer is not valid HTTP (or not the coding it claims)
    UNKNOWN = "unknown"


class ServiceStatus(enum.StrEnum):
    """Current status of a service, and of the whole system (SPEC §3.3)."""

    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    MAINTENANCE = "maintenance"
    UNKNOWN = "unknown"


# Worst first: used to pick the overall status and an episode's worst status.
STATUS_SEVERITY: dict[ServiceStatus, int] = {
    ServiceStatus.MAJOR_OUTAGE: 5,
    ServiceStatus.PARTIAL_OUTAGE: 4,
    ServiceStatus.DEGRADED: 3,
    ServiceStatus.MAINTENANCE: 2,
    ServiceStatus.UNKNOWN: 1,
    ServiceStatus.OPERATIONAL: 0,
}


class DailyStatus(enum.StrEnum):
    """One cell of the 90-day bar (the seeds' o/po/mo/nd, SPEC §3.4)."""

    OPERATIONAL = "o"
    PARTIAL_OUTAGE = "po"
    MAJOR_OUTAGE = "mo"
    NO_DATA = "nd"
    MAINTENANCE = "maintenance"
    DEGRADED = "degraded"
    """Slow but correct: degraded checks only, no failed one (issue 12: not "po")."""


@dataclass(frozen=True, slots=True)
class Service:
    """A monitored HTTP endpoint, as configured."""

    id: str
    name: str
    url: str
    interval_s: float = 60.0
    timeout_s: float = 10.0
    method: str = "GET"
    expect_status: tuple[tuple[int, int], ...] = ((200, 299),)
    body_contains: str | None = None
    body_regex: str | None = None
    json_path: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    follow_redirects: bool = False
    degraded_after_s: float | None = None
    confirm_failures: int = 2
    sla_target: float | None = None
    latency_objective_ms: float | None = None
    latency_objective_pct: float | None = None
    verify_tls: bool = True
    ca_file: str | None = None
    active: bool = True
    # issue 12: dashboard sections and filter labels
    group: str | None = None
    tags: tuple[str, ...] = ()
    # issue 13: false keeps the service off every public route (status page, badges, ...)
    public: bool = True
    # issue 15: regions that probe it (empty: every region present) and their quorum
    regions: tuple[str, ...] = ()
    quorum: int | None = None

    def status_expected(self, code: int) -> bool:
        """True when ``code`` falls in one of the expected ranges."""
        return any(lo <= code <= hi for lo, hi in self.expect_status)


@dataclass(frozen=True, slots=True)
class Check:
    """One probe result (SPEC §3.1). ``started_at`` is timezone-aware UTC."""

    service_id: str
    started_at: datetime
    latency_ms: float
    outcome: Outcome
    status_code: int | None = None
    error_kind: ErrorKind | None = None
    error: str | None = None
    node: str = "local"
    maintenance: bool = False
    # The service's interval when the check ran: a failed check stands for at most this much
    # downtime (until the next check of the service: rollup.py).
    interval_s: float = 60.0
    # When the https target's certificate expires (None for http or when unknown).
    cert_expires_at: datetime | None = None
    # Set when the check before it failed and was counted as down until this moment (its
    # start + its interval), later than this check's start (a quick re-check): the downtime
    # from this check's start to then is taken back when this check is counted (rollup.py).
    previous_down_until: datetime | None = None
    # issue 15: the region of the node that made it (None: a single-node daemon)
    region: str | None = None
    # issue 15, a failed check in a cluster: ``regional`` when fewer than the quorum of the
    # service's regions saw it fail (it counts as up in the quorum figures); else ``share``
    # is how many regions saw it fail, each standing for that share of the downtime
    # (README "Several regions"). ``previous_share``: the share of the check before it.
    regional: bool = False
    share: int = 1
    previous_share: int = 1

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.DOWN

    def to_dict(self) -> dict[str, object]:
        return (
            {
                "service_id": self.service_id,
                "started_at": self.started_at.isoformat(),
                "latency_ms": round(self.latency_ms, 3),
                "outcome": self.outcome.value,
                "status_code": self.status_code,
                "error_kind": self.error_kind.value if self.error_kind else None,
                "error": self.error,
                "node": self.node,
                "maintenance": self.maintenance,
                "interval_s": self.interval_s,
                "cert_expires_at": self.cert_expires_at.isoformat()
                if self.cert_expires_at
                else None,
            }
            | (
                {"previous_down_until": self.previous_down_until.isoformat()}
                if self.previous_down_until is not None
                else {}
            )
            | (
                {
                    "region": self.region,
                    "regional": self.regional,
                    "share": self.share,
                    "previous_share": self.previous_share,
                }
                if self.region is not None
                else {}
            )
        )

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Check:
        ek = d.get("error_kind")
        sc = d.get("status_code")
        return cls(
            service_id=str(d["service_id"]),
            started_at=parse_ts(str(d["started_at"])),
            latency_ms=float(d["latency_ms"]),  # type: ignore[arg-type]
            outcome=Outcome(str(d["outcome"])),
            status_code=int(sc) if sc is not None else None,  # type: ignore[call-overload]
            error_kind=ErrorKind(str(ek)) if ek else None,
            error=str(d["error"]) if d.get("error") is not None else None,
            node=str(d.get("node") or "local"),
            maintenance=bool(d.get("maintenance", False)),
            interval_s=float(d.get("interval_s", 60.0)),  # type: ignore[arg-type]
            cert_expires_at=parse_ts(str(d["cert_expires_at"]))
            if d.get("cert_expires_at")
            else None,
            previous_down_until=parse_ts(str(d["previous_down_until"]))
            if d.get("previous_down_until")
            else None,
            region=str(d["region"]) if d.get("region") else None,
            regional=bool(d.get("regional", False)),
            share=max(1, int(d.get("share", 1))),  # type: ignore[call-overload]
            previous_share=max(1, int(d.get("previous_share", 1))),  # type: ignore[call-overload]
        )


def _slot_setting_init(cls: type) -> None:
    """Give a frozen slots dataclass an ``__init__`` that sets each field through its slot's
    descriptor: the generated one calls ``object.__setattr__`` by a global and attribute
    lookup per field, about twice the time (a Check: ~1.8 against ~0.9 µs, at thousands a
    second). Same signature, defaults and semantics: no ``__post_init__``, no factories; the
    instances stay frozen (``__setattr__`` still refuses), ``dataclasses.replace`` and
    ``fields`` work as before."""
    params: list[str] = []
    body: list[str] = []
    env: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING or not f.init:
            raise TypeError(f"{cls.__name__}.{f.name}: only plain fields are supported")
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            params.append(f"{f.name}=_d_{f.name}")
            env[f"_d_{f.name}"] = f.default
        env[f"_s_{f.name}"] = getattr(cls, f.name).__set__
        body.append(f"    _s_{f.name}(self, {f.name})")
    src = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body) + "\n"
    exec(src, env)  # noqa: S102 - built from the class's own field names only
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses assigning a method


_slot_setting_init(Check)


@dataclass(frozen=True, slots=True)
class Transition:
    """A status change of one service (service_id set) or of the whole system (None)."""

    service_id: str | None
    previous: ServiceStatus
    status: ServiceStatus
    at: datetime

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "kind": "service" if self.service_id else "overall",
            "status": self.status.value,
            "previous": self.previous.value,
            "at": self.at.isoformat(),
        }
        if self.service_id:
            d["service_id"] = self.service_id
        return d


@dataclass(slots=True)
class OutageEpisode:
    """A stretch of failure of one service: from the first failed check to confirmed recovery.

    Keyed by (service_id, started_at); ``ended_at`` is None while it lasts.
    """

    service_id: str
    started_at: datetime
    worst_status: ServiceStatus
    ended_at: datetime | None = None
    cause: str | None = None  # error_kind of the first failed check
    error: str | None = None
    failed_checks: int = 0

    def duration_s(self, now: datetime) -> float:
        return ((self.ended_at or now) - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, object]:
        return {
            "service_id": self.service_id,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "worst_status": self.worst_status.value,
            "cause": self.cause,
            "error": self.error,
            "failed_checks": self.failed_checks,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> OutageEpisode:
        return cls(
            service_id=str(d["service_id"]),
            started_at=parse_ts(str(d["started_at"])),
            ended_at=parse_ts(str(d["ended_at"])) if d.get("ended_at") else None,
            worst_status=ServiceStatus(str(d["worst_status"])),
            cause=str(d["cause"]) if d.get("cause") else None,
            error=str(d["error"]) if d.get("error") else None,
            failed_checks=int(d.get("failed_checks") or 0),  # type: ignore[call-overload]
        )


@dataclass(slots=True)
class MaintenanceWindow:
    """A scheduled maintenance (SPEC §3.7). ``services`` empty means every service."""

    title: str
    starts_at: datetime
    ends_at: datetime
    services: tuple[str, ...] = ()
    created_by: str = "config"
    id: int | None = None
    config_key: str | None = None
    cancelled_at: datetime | None = None

    def covers(self, service_id: str, at: datetime) -> bool:
        """True when this window puts ``service_id`` in maintenance at ``at``."""
        if self.cancelled_at is not None and self.cancelled_at <= at:
            return False
        if not (self.starts_at <= at < self.ends_at):
            return False
        return not self.services or service_id in self.services

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "services": list(self.services),
            "created_by": self.created_by,
            "source": "config" if self.config_key else "feed",
            "cancelled_at": self.cancelled_at.isoformat() if self.cancelled_at else None,
        }


@dataclass(slots=True)
class User:
    """A person who may log in (SPEC §3.10). The password hash never leaves the daemon."""

    id: int
    username: str
    role: Role
    email: str = ""
    active: bool = True
    token_version: int = 0
    password_hash: str = field(default="", repr=False)
    last_login_at: datetime | None = None
    created_at: datetime | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "email": self.email,
            "role": self.role.name.lower(),
            "active": self.active,
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


@dataclass(slots=True)
class AuditEntry:
    """One mutation: who, when, which method, on what, which fields (never secrets)."""

    actor: str
    method: str
    target: str | None
    changes: dict[str, object]
    at: datetime
    id: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "method": self.method,
            "target": self.target,
            "changes": self.changes,
        }


def role_from_name(name: str) -> Role:
    """viewer | reporter | admin → Role (ValueError otherwise)."""
    try:
        role = Role[name.upper()]
    except KeyError:
        raise ValueError(f"unknown role {name!r}; allowed: viewer, reporter, admin") from None
    if role is Role.ANONYMOUS:
        raise ValueError("unknown role 'anonymous'; allowed: viewer, reporter, admin")
    return role


def parse_ts(s: str) -> datetime:
    """Parse an ISO-8601 timestamp; naive values are taken as UTC."""
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


class Role(enum.IntEnum):
    """Who may call a feed method; each role may do everything the ones below it may."""

    ANONYMOUS = 0
    VIEWER = 1
    REPORTER = 2
    ADMIN = 3


@dataclass(frozen=True, slots=True)
class Identity:
    """Who makes a feed request: a user, the socket's owner, or nobody."""

    name: str
    role: Role
    user_id: int | None = None
    # The access token the request came with (its jti and expiry): auth.logout revokes it.
    token_id: str | None = None
    token_expires_at: datetime | None = None


INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")
SYSTEM_AUTHOR = "system"
"""Author of the daemon's own incidents and updates (auto-incidents): such an update is
never the first human response an incident's priority target waits for (issue 12)."""
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(slots=True)
class IncidentUpdate:
    """One entry of an incident's timeline (the seeds' incident_update)."""

    status: str
    message: str  # markdown
    author: str
    created_at: datetime
    customer_visible: bool = True
    id: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "status": self.status,
            "message": self.message,
            "customer_visible": self.customer_visible,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(slots=True)
class Incident:
    """An incident (SPEC §3.6). ``version`` grows with every saved change."""

    title: str
    status: str
    severity: str
    priority: int  # 1..4 (P1..P4)
    started_at: datetime
    created_by: str
    description: str = ""
    impact: str = ""
    root_cause: str = ""
    resolution_notes: str = ""
    services: tuple[str, ...] = ()
    identified_at: datetime | None = None
    monitoring_at: datetime | None = None
    resolved_at: datetime | None = None
    first_update_at: datetime | None = None
    resolved_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1
    episode_service: str | None = None
    episode_started_at: datetime | None = None
    updates: list[IncidentUpdate] = field(default_factory=list)
    id: int | None = None

    @property
    def active(self) -> bool:
        return self.status != "resolved"
