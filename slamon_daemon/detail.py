"""Figures of the service detail (feed methods service.get / .series / .calendar / .day).

Pure functions over rollups and checks read from the store; the definitions of uptime,
downtime and percentiles are rollup.py's.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .models import Check
from .rollup import Rollup, daily_status

RANGES: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
"""Windows of service.get. 24h and 7d are read from hourly rollups, 30d/90d from daily ones."""

SERIES: dict[str, tuple[timedelta, timedelta]] = {
    "1h": (timedelta(hours=1), timedelta(minutes=1)),
    "24h": (timedelta(hours=24), timedelta(minutes=15)),
    "7d": (timedelta(days=7), timedelta(hours=1)),
    "30d": (timedelta(days=30), timedelta(hours=6)),
}
"""service.series ranges: (span, bucket). 1h and 24h come from raw checks, 7d/30d from hourly rollups."""


def figures(r: Rollup) -> dict[str, Any]:
    """The figures service.get shows for one window."""
    d = r.to_dict()
    d.pop("day", None)
    return d


def hour_floor(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def series_points(
    service_id: str,
    start: datetime,
    end: datetime,
    bucket: timedelta,
    checks: Sequence[Check] = (),
    hourly: Sequence[Rollup] = (),
) -> list[dict[str, Any]]:
    """One point per bucket in [start, end); a bucket without checks is a gap (nulls), not 0."""
    n = int((end - start) / bucket)
    slots = [Rollup(service_id=service_id, day=date.min) for _ in range(n)]
    for c in checks:
        i = int((c.started_at - start) / bucket)
        if 0 <= i < n:
            slots[i].add(c)
    for h in hourly:
        i = int((h.start - start) / bucket)
        if 0 <= i < n:
            slots[i].merge(h)
    points = []
    for i, r in enumerate(slots):
        t = start + i * bucket
        points.append(
            {
                "t": t.isoformat(),
                "checks": r.checks,
                "down": r.down,
                "p50_ms": _r(r.percentile(50)),
                "p95_ms": _r(r.percentile(95)),
                "p99_ms": _r(r.percentile(99)),
                "avg_ms": _r(r.latency_avg_ms),
                "min_ms": _r(r.latency_min_ms),
                "max_ms": _r(r.latency_max_ms),
            }
        )
    return points


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def calendar_months(
    dailies: Sequence[Rollup], months: list[tuple[int, int]], major_threshold: float, today: date
) -> list[dict[str, Any]]:
    """Daily status of every day of each (year, month); days after today are "future"."""
    by_day = {r.day: r for r in dailies}
    out = []
    for year, month in months:
        days = []
        for d in range(1, calendar.monthrange(year, month)[1] + 1):
            day = date(year, month, d)
            r = by_day.get(day)
            days.append(
                {
                    "day": day.isoformat(),
                    "status": "future" if day > today else daily_status(r, major_threshold).value,
                    "uptime": r.uptime_text() if r else "—",
                    "downtime_s": round(r.downtime_s, 3) if r else 0,
                }
            )
        out.append({"month": f"{year:04d}-{month:02d}", "days": days})
    return out


def months_back(until: tuple[int, int], count: int) -> list[tuple[int, int]]:
    """``count`` (year, month) pairs ending with ``until``, oldest first."""
    y, m = until
    out = []
    for _ in range(count):
        out.append((y, m))
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    return list(reversed(out))
