"""Domain values shared by the daemon and the TUI: services, checks, statuses, rollups.

Pure data: no I/O, no asyncio. Everything here is safe to import from ``slamon_tui``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime


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
    verify_tls: bool = True
    ca_file: str | None = None
    active: bool = True

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
    # The service's interval when the check ran: a failed check stands for this much downtime.
    interval_s: float = 60.0
    # When the https target's certificate expires (None for http or when unknown).
    cert_expires_at: datetime | None = None

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.DOWN

    def to_dict(self) -> dict[str, object]:
        return {
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
            "cert_expires_at": self.cert_expires_at.isoformat() if self.cert_expires_at else None,
        }

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
            cert_expires_at=parse_ts(str(d["cert_expires_at"])) if d.get("cert_expires_at") else None,
        )


@dataclass(slots=True)
class DailyRollup:
    """Aggregates of one service's checks over one UTC day (SPEC §3.4).

    Counts are additive, so a rollup is maintained by adding each new check's
    contribution (``add``) or by merging two partial rollups (``merge``).
    """

    service_id: str
    day: date
    checks: int = 0
    up: int = 0
    degraded: int = 0
    down: int = 0
    maintenance: int = 0
    downtime_s: float = 0.0
    latency_sum_ms: float = 0.0
    latency_min_ms: float | None = None
    latency_max_ms: float | None = None
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, check: Check) -> None:
        """Count one check. A failed check stands for its interval of downtime."""
        self.checks += 1
        if check.maintenance:
            # Maintenance checks are counted apart and excluded from uptime (SPEC §3.7).
            self.maintenance += 1
        elif check.outcome is Outcome.UP:
            self.up += 1
        elif check.outcome is Outcome.DEGRADED:
            self.degraded += 1
        else:
            self.down += 1
            self.downtime_s += check.interval_s
        if check.error_kind is not None and not check.maintenance:
            k = check.error_kind.value
            self.errors[k] = self.errors.get(k, 0) + 1
        lat = check.latency_ms
        self.latency_sum_ms += lat
        self.latency_min_ms = lat if self.latency_min_ms is None else min(self.latency_min_ms, lat)
        self.latency_max_ms = lat if self.latency_max_ms is None else max(self.latency_max_ms, lat)

    def merge(self, other: DailyRollup) -> None:
        """Add another partial rollup of the same service and day."""
        self.checks += other.checks
        self.up += other.up
        self.degraded += other.degraded
        self.down += other.down
        self.maintenance += other.maintenance
        self.downtime_s += other.downtime_s
        self.latency_sum_ms += other.latency_sum_ms
        for mn in (other.latency_min_ms,):
            if mn is not None:
                self.latency_min_ms = mn if self.latency_min_ms is None else min(self.latency_min_ms, mn)
        for mx in (other.latency_max_ms,):
            if mx is not None:
                self.latency_max_ms = mx if self.latency_max_ms is None else max(self.latency_max_ms, mx)
        for k, v in other.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v

    def to_dict(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "checks": self.checks,
            "up": self.up,
            "degraded": self.degraded,
            "down": self.down,
            "maintenance": self.maintenance,
            "downtime_s": round(self.downtime_s, 3),
            "latency_avg_ms": round(self.latency_sum_ms / self.checks, 3) if self.checks else None,
            "latency_min_ms": self.latency_min_ms,
            "latency_max_ms": self.latency_max_ms,
            "errors": dict(self.errors),
        }


def utcnow() -> datetime:
    return datetime.now(UTC)


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
