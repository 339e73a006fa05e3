"""What the dashboard knows: the last status.get snapshot with live events folded in.

Pure (no Textual, no I/O) so the folding rules are testable on their own: the screen asks
this model what changed and updates only those widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from slamon_daemon.models import STATUS_SEVERITY, DailyStatus, ServiceStatus, parse_ts

MAX_LATENCIES = 60
"""Latencies kept per service for the sparkline (status.get sends up to this many)."""


@dataclass(slots=True)
class ServiceState:
    """One service as the dashboard shows it."""

    id: str
    name: str
    url: str = ""
    status: str = ServiceStatus.UNKNOWN
    status_since: str | None = None
    last_check: dict[str, Any] | None = None
    daily: list[str] = field(default_factory=list)
    uptime: dict[str, str] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    """The outcome of each check in ``latencies`` (up | degraded | down), aligned with it."""
    group: str | None = None
    """The dashboard section it belongs to (``group`` in the config); None: ungrouped."""
    tags: tuple[str, ...] = ()
    episode: dict[str, Any] | None = None
    """The open outage episode (started_at, worst_status, cause, error, failed_checks)."""
    position: int = 0
    """Its place in the daemon's order (the tie-breaker of every sort)."""

    @property
    def severity(self) -> int:
        """How bad its status is (STATUS_SEVERITY: major outage 5 … operational 0)."""
        return severity_of(self.status)

    @property
    def is_problem(self) -> bool:
        """Major or partial outage, or degraded: what the dashboard never hides."""
        return self.status in PROBLEM_STATUSES

    @property
    def trouble_since(self) -> str | None:
        """Since when it has been in trouble: its open episode's start when it has one,
        else since its status holds (issue 12: from the stored history, not a restart)."""
        if self.episode and self.episode.get("started_at") and self.is_problem:
            return str(self.episode["started_at"])
        return self.status_since

    @property
    def failed_points(self) -> list[bool]:
        """True for each latency that is a failed check's time to fail, not a response time."""
        return [o == "down" for o in self.outcomes]

    @classmethod
    def from_dict(cls, d: dict[str, Any], n_days: int) -> ServiceState:
        """Build from one entry of status.get's ``services``; the bar is padded to ``n_days``."""
        daily = [str(c) for c in d.get("daily") or []][-n_days:] if n_days else []
        daily = [DailyStatus.NO_DATA.value] * (n_days - len(daily)) + daily
        latencies = list(map(float, (d.get("latencies") or [])[-MAX_LATENCIES:]))
        return cls(
            id=str(d["id"]),
            name=str(d.get("name") or d["id"]),
            url=str(d.get("url") or ""),
            status=str(d.get("status") or ServiceStatus.UNKNOWN),
            status_since=d.get("status_since"),
            last_check=d.get("last_check"),
            daily=daily,
            uptime={str(k): str(v) for k, v in (d.get("uptime") or {}).items()},
            latencies=latencies,
            outcomes=_aligned_outcomes(d.get("outcomes"), len(latencies)),
            group=str(d["group"]) if d.get("group") else None,
            tags=tuple(str(t) for t in d.get("tags") or ()),
            episode=d.get("episode") if isinstance(d.get("episode"), dict) else None,
        )


@dataclass(slots=True)
class DashboardModel:
    """The snapshot plus events. ``services`` keeps the daemon's order."""

    notice: str | None = None
    overall: str = ServiceStatus.UNKNOWN
    overall_since: str | None = None
    days: list[str] = field(default_factory=list)
    services: dict[str, ServiceState] = field(default_factory=dict)
    loaded: bool = False

    def apply_snapshot(self, result: dict[str, Any]) -> None:
        """Replace everything with a status.get result."""
        self.notice = result.get("notice") or None
        overall = result.get("overall") or {}
        self.overall = str(overall.get("status") or ServiceStatus.UNKNOWN)
        self.overall_since = overall.get("since")
        self.days = [str(d) for d in result.get("days") or []]
        n = len(self.days)
        self.services = {
            str(s["id"]): ServiceState.from_dict(s, n) for s in result.get("services") or []
        }
        for i, service in enumerate(self.services.values()):
            service.position = i
        self.loaded = True

    def counts(self) -> StatusCounts:
        """How many services are in each status (the banner's counts)."""
        counts = StatusCounts()
        for s in self.services.values():
            counts.add(s.status)
        return counts

    def apply_check(self, data: dict[str, Any]) -> ServiceState | None:
        """Fold a ``check`` event in; None when the service is unknown (resync then)."""
        service = self.services.get(str(data.get("service_id")))
        if service is None:
            return None
        check = data.get("check") or {}
        if not _is_newer(check, service.last_check):
            # Already in the snapshot: the event was queued while status.get was answered.
            return service
        service.last_check = check
        if "latency_ms" in check:
            service.latencies.append(float(check["latency_ms"]))
            service.outcomes.append(str(check.get("outcome") or "up"))
            del service.latencies[:-MAX_LATENCIES]
            del service.outcomes[:-MAX_LATENCIES]
        if "started_at" in check:
            self._roll_days_to(parse_ts(str(check["started_at"])).date())
        if data.get("daily") and service.daily:
            service.daily[-1] = str(data["daily"])
        if data.get("uptime"):
            service.uptime = {str(k): str(v) for k, v in data["uptime"].items()}
        if check.get("outcome") == "down" and service.episode is None and "started_at" in check:
            # A first failure opens an episode on the daemon: the same here until a snapshot.
            service.episode = {
                "started_at": check["started_at"],
                "worst_status": service.status,
                "cause": check.get("error_kind"),
                "error": check.get("error"),
                "failed_checks": 1,
            }
        return service

    def apply_status(self, data: dict[str, Any]) -> ServiceState | bool | None:
        """Fold a ``status`` event in.

        Returns the service changed, True when the overall status changed, or None when the
        event names a service we do not know (resync then).
        """
        status = str(data.get("status") or ServiceStatus.UNKNOWN)
        if data.get("kind") == "overall":
            self.overall = status
            self.overall_since = data.get("at") or self.overall_since
            return True
        service = self.services.get(str(data.get("service_id")))
        if service is None:
            return None
        service.status = status
        service.status_since = data.get("at") or service.status_since
        if status in (ServiceStatus.OPERATIONAL, ServiceStatus.MAINTENANCE):
            service.episode = None  # recovered: the outage is over (the next snapshot agrees)
        return service

    def _roll_days_to(self, day: date) -> None:
        """Move the bar's window forward when a check lands on a new UTC day."""
        if not self.days:
            return
        last = date.fromisoformat(self.days[-1])
        shift = (day - last).days
        if shift <= 0:
            return
        n = len(self.days)
        new_days = [(last + timedelta(days=i)).isoformat() for i in range(1, shift + 1)]
        self.days = (self.days + new_days)[-n:]
        for s in self.services.values():
            s.daily = (s.daily + [DailyStatus.NO_DATA.value] * shift)[-n:]


PROBLEM_STATUSES = frozenset(
    {ServiceStatus.MAJOR_OUTAGE, ServiceStatus.PARTIAL_OUTAGE, ServiceStatus.DEGRADED}
)
"""The statuses the dashboard counts as problems: sorted first, never hidden unmarked."""


def severity_of(status: str) -> int:
    """STATUS_SEVERITY of a status value (an unknown value ranks as unknown)."""
    try:
        return STATUS_SEVERITY[ServiceStatus(status)]
    except ValueError:
        return STATUS_SEVERITY[ServiceStatus.UNKNOWN]


@dataclass(slots=True)
class StatusCounts:
    """Services per status, and the banner's words for them."""

    by_status: dict[str, int] = field(default_factory=dict)

    def add(self, status: str) -> None:
        """Count one service in ``status``."""
        self.by_status[status] = self.by_status.get(status, 0) + 1

    def __getitem__(self, status: str) -> int:
        return self.by_status.get(status, 0)

    @property
    def problems(self) -> int:
        """Services in major or partial outage, or degraded."""
        return sum(self[s] for s in PROBLEM_STATUSES)

    @property
    def total(self) -> int:
        """Every service counted."""
        return sum(self.by_status.values())

    def text(self) -> str:
        """ "3 down · 1 partial · 1 degraded · 36 up · 2 in maintenance · 1 no data yet"
        (statuses with none are left out, but for "up")."""
        parts = [
            (ServiceStatus.MAJOR_OUTAGE, "down"),
            (ServiceStatus.PARTIAL_OUTAGE, "partial"),
            (ServiceStatus.DEGRADED, "degraded"),
            (ServiceStatus.OPERATIONAL, "up"),
            (ServiceStatus.MAINTENANCE, "in maintenance"),
            (ServiceStatus.UNKNOWN, "no data yet"),
        ]
        words = [f"{self[s]} {w}" for s, w in parts if self[s] or s is ServiceStatus.OPERATIONAL]
        return " · ".join(words)


def _aligned_outcomes(outcomes: Any, n: int) -> list[str]:
    """``outcomes`` cut or padded (on the left, with "up") to ``n``: a daemon older than
    the ``outcomes`` key sends none, and those points are then drawn as answered checks."""
    shown = list(map(str, (outcomes or [])[-n:])) if n else []
    return ["up"] * (n - len(shown)) + shown


def _is_newer(check: dict[str, Any], last: dict[str, Any] | None) -> bool:
    if not last or "started_at" not in check or "started_at" not in last:
        return True
    try:
        return parse_ts(str(check["started_at"])) > parse_ts(str(last["started_at"]))
    except ValueError:
        return True
