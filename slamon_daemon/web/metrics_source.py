"""What /metrics reads: per-service counters kept as checks arrive, and samples built from
the live state at scrape time (no database query at scrape).

The daemon calls ``MetricsBook.record`` for every durable check and ``observe_lateness``
for every check start; ``service_samples`` and ``daemon_sample`` turn the book, the live
state and the daemon's figures into metrics.py's samples.

Uptime windows: 24h is rolling, from hourly counts kept here since the daemon started (a
daemon up for less than a day shows what it saw); 7d, 30d and 90d are whole UTC days
ending today, from the live state's daily rollups (the 90-day bar's). The error budget is
that of the current UTC month: 1 − (1 − uptime) / (1 − target), below 0 when overspent.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..models import Check
from ..rollup import uptime_ratio
from ..state import ServiceState
from .metrics import LATENESS_BUCKETS_S, CheckCounters, DaemonSample, Histogram, ServiceSample
from .public import Redactor

DAY_WINDOWS = {"7d": 7, "30d": 30, "90d": 90}


_HOURS = 24


_WIDER = {"H": "I", "I": "q"}
"""The next wider typecode of the hours' counts (each holds every value of the narrower)."""
_MOST = {"H": 2**16 - 1, "I": 2**32 - 1, "q": 2**63 - 1}


class _Hours:
    """Counts of the last 24 hours, one slot per hour: up, degraded, checks, maintenance.

    One array of 4 counters a slot, ``head`` the newest hour counted: moving on zeroes the
    slots passed over (a dict of one list per hour took 4.1 KB, 200 MB for 50,000 services
    after a day). The counters start as 2 bytes (0.25 KB a service; 4 bytes took 0.45 KB,
    ~9 MiB more at 50,000 services) and the array is copied to a wider typecode before an
    hour's count of checks (the largest of its four) would not fit, so counts stay exact
    (65,535 checks of one service in an hour: a cluster of 19 nodes at 1 s). A check older
    than the 24 hours up to ``head`` counts nowhere.
    """

    __slots__ = ("head", "counts")

    def __init__(self) -> None:
        self.head = -1
        self.counts = array("H", bytes(2 * 4 * _HOURS))

    def add(self, check: Check) -> None:
        hour = int(check.started_at.timestamp() // 3600)
        counts = self.counts
        if hour > self.head:
            zero = array(counts.typecode, bytes(4 * counts.itemsize))
            for h in range(max(self.head + 1, hour - _HOURS + 1), hour + 1):
                i = 4 * (h % _HOURS)
                counts[i : i + 4] = zero
            self.head = hour
        elif hour <= self.head - _HOURS:
            return
        i = 4 * (hour % _HOURS)
        if counts[i + 2] == _MOST[counts.typecode]:
            self.counts = counts = array(_WIDER[counts.typecode], counts)
        outcome = check.outcome.value
        counts[i] += outcome == "up"
        counts[i + 1] += outcome == "degraded"
        counts[i + 2] += 1
        counts[i + 3] += check.maintenance

    def ratio(self, now: datetime) -> float | None:
        first = max(int(now.timestamp() // 3600) - 23, self.head - _HOURS + 1)
        sums = [0, 0, 0, 0]
        for hour in range(first, self.head + 1):
            i = 4 * (hour % _HOURS)
            for k in range(4):
                sums[k] += self.counts[i + k]
        return uptime_ratio(*sums)


class MetricsBook:
    """Counters per service since the daemon started, and the scheduler's lateness."""

    def __init__(self) -> None:
        self.counters: dict[str, CheckCounters] = {}
        self.hours: dict[str, _Hours] = {}
        self.lateness = Histogram(LATENESS_BUCKETS_S)
        self._days_cache: dict[str, tuple[Any, dict[str, float], float | None]] = {}

    def record(self, check: Check, *, made_here: bool = True) -> None:
        """Count one durable check (O(1)). In a cluster another node's check
        (``made_here=False``) feeds the uptime but not the counters and latency histogram:
        each node counts the checks it made, so summing the nodes' series counts each check
        once."""
        if made_here:
            c = self.counters.get(check.service_id)
            if c is None:
                c = self.counters[check.service_id] = CheckCounters()
            kind = check.error_kind.value if check.error_kind else None
            c.record(check.outcome.value, kind, check.latency_ms / 1000.0)
        h = self.hours.get(check.service_id)
        if h is None:
            h = self.hours[check.service_id] = _Hours()
        h.add(check)

    def observe_lateness(self, seconds: float) -> None:
        self.lateness.observe(seconds)

    def _day_windows(
        self, st: ServiceState, today: date, target: float
    ) -> tuple[dict[str, float], float | None]:
        """Uptime ratios of the day windows and the month's budget left (cached until the
        service's next check or the next day)."""
        key = (today, st.last_check, target)
        hit = self._days_cache.get(st.service.id)
        if hit is not None and hit[0] == key:
            return hit[1], hit[2]
        # The live state's day counts (issue 14 point 3: its past days are compact).
        sums = {w: st.counts(today - timedelta(days=n - 1), today) for w, n in DAY_WINDOWS.items()}
        month = st.counts(today.replace(day=1), today)
        uptime: dict[str, float] = {}
        for w, (good, counted) in sums.items():
            ratio = uptime_ratio(good, 0, counted, 0)
            if ratio is not None:
                uptime[w] = ratio
        month_ratio = uptime_ratio(month[0], 0, month[1], 0)
        budget = None
        if month_ratio is not None and target < 100:
            budget = 1.0 - (1.0 - month_ratio) / (1.0 - target / 100.0)
        self._days_cache[st.service.id] = (key, uptime, budget)
        return uptime, budget

    def service_samples(
        self,
        services: Mapping[str, ServiceState],
        *,
        node: str,
        now: datetime,
        default_target: float,
        include: Callable[[ServiceState], bool] = lambda st: True,
    ) -> list[ServiceSample]:
        """A sample per service ``include`` lets through (counters copied: the live ones
        keep moving while a worker thread renders)."""
        today = now.astimezone(UTC).date()
        redact = Redactor(st.service.url for st in services.values())
        out = []
        for sid, st in services.items():
            if not include(st):
                continue
            uptime, budget = self._day_windows(st, today, st.service.sla_target or default_target)
            hours = self.hours.get(sid)
            day_ratio = hours.ratio(now) if hours is not None else None
            windows = {"24h": day_ratio, **uptime} if day_ratio is not None else dict(uptime)
            last = st.last_check
            counters = self.counters.get(sid)
            svc = st.service
            out.append(
                ServiceSample(
                    id=sid,
                    name=svc.name,
                    node=node,
                    status=st.status.value,
                    counters=counters.copy() if counters is not None else CheckCounters(),
                    uptime=windows,
                    budget_remaining=budget,
                    cert_expires_at=(
                        last.cert_expires_at.timestamp()
                        if last is not None and last.cert_expires_at is not None
                        else None
                    ),
                    last_check_at=last.started_at.timestamp() if last is not None else None,
                    group=redact(svc.group or ""),
                    tags=tuple(redact(t) for t in svc.tags),
                )
            )
        for gone in [sid for sid in self._days_cache if sid not in services]:
            del self._days_cache[gone]
        return out

    def daemon_sample(self, node: str, stats: Mapping[str, Any]) -> DaemonSample:
        """The daemon's internals from ``daemon.stats``' figures."""
        journal = stats.get("journal") or {}
        lateness = stats.get("lateness") or {}
        return DaemonSample(
            node=node,
            lateness=Histogram(self.lateness.bounds, list(self.lateness.counts), self.lateness.sum),
            skipped_checks=int(lateness.get("skipped", 0)),
            journal_backlog=int(stats.get("write_pending", 0)) + int(journal.get("held", 0)),
            store_write_failures=int(stats.get("write_failures", 0)),
            feed_clients=int(stats.get("sessions", 0)),
            outbox_depth=_int_or_none(stats.get("outbox_depth")),
            delivery_failures=_int_or_none(stats.get("delivery_failures")),
        )


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None
