"""Issue 14: a report in a timezone other than UTC looks up the first check
(``store.first_activity``) only for the services not checked on the UTC day before its start
(``reports.first_checks``, as the UTC path does), with the same "monitored from" as the
lookup of every service gave: hand-computed cases at hour, midnight and month boundaries in
Asia/Seoul (+09:00), Asia/Kolkata (+05:30: a start inside a UTC hour), America/New_York
(the DST change on 2026-11-01) and UTC, on both backends, each also compared with the full
hourly computation (which looks up every service).

first_activity's rule, kept as it was: the first hour with checks from the UTC hour the start
falls in to the end; the start itself when the service was checked on the UTC day of the
instant before the start (for a start inside a UTC day, that day: checks after the start
count too).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from slamon_daemon.models import Check, Outcome
from slamon_daemon.reports import sla_report
from slamon_daemon.sla import Period, month_period
from slamon_daemon.store.base import Store

from . import test_sla_timezone_speed
from .test_sla import AFTER, svc

hourly_only = test_sla_timezone_speed.hourly_only  # the fixture: the full hourly computation


def at(d: int, h: int = 0, mi: int = 0, s: int = 0, m: int = 11) -> datetime:
    return datetime(2026, m, d, h, mi, s, tzinfo=UTC)


def checks(sid: str, *times: datetime) -> list[Check]:
    return [
        Check(service_id=sid, started_at=t, latency_ms=50.0, outcome=Outcome.UP, interval_s=3600.0)
        for t in times
    ]


def daily(start: datetime, end: datetime) -> list[datetime]:
    """A check at 12:00 UTC of every day in [start, end)."""
    out, t = [], start.replace(hour=12)
    while t < end:
        out.append(t)
        t += timedelta(days=1)
    return out


# service -> (its check times, the report's checks, its monitored_from)
Case = dict[str, tuple[list[datetime], int, str | None]]

SEOUL: Case = {
    # Nov in Seoul is [Oct 31 15:00, Nov 30 15:00) UTC.
    "new": ([at(10, 5, 17, 23), at(12)], 2, "2026-11-10T05:17:23+00:00"),
    # Checked at noon of Oct 31 in Seoul (03:00 UTC, before the start, on the start's UTC
    # day): monitored from the start.
    "morning": ([at(31, 3, m=10), at(10, 5)], 1, "2026-10-31T15:00:00+00:00"),
    # First checked 20 minutes after the start, on the start's UTC day: the start.
    "evening": ([at(31, 15, 20, m=10), at(3)], 2, "2026-10-31T15:00:00+00:00"),
    "always": (daily(at(1, m=10), at(2, m=12)), 30, "2026-10-31T15:00:00+00:00"),
    # Checked on Oct 29, then Nov 3: the first check in the month.
    "gap": ([at(29, m=10), at(3, 12, 34, 56)], 1, "2026-11-03T12:34:56+00:00"),
    # The UTC month's first instant, the last second of the local month.
    "utc-midnight": ([at(1), at(20)], 2, "2026-11-01T00:00:00+00:00"),
    "last-second": ([at(30, 14, 59, 59)], 1, "2026-11-30T14:59:59+00:00"),
    "after": ([at(30, 15)], 0, None),
}

KOLKATA: Case = {
    # Nov in Kolkata is [Oct 31 18:30, Nov 30 18:30) UTC; its hours counted start at
    # 19:00 (18:00 UTC is 23:30 of Oct 31 there).
    # Only a check 20 minutes before the start, in the hour the start falls in: no check
    # counted, monitored from the start (first_activity finds that hour; the day is checked).
    "before-in-hour": ([at(31, 18, 10, m=10)], 0, "2026-10-31T18:30:00+00:00"),
    # A check after the start in that hour (not counted), then Nov 5.
    "after-in-hour": ([at(31, 18, 45, m=10), at(5)], 1, "2026-10-31T18:30:00+00:00"),
    "only-in-hour": ([at(31, 18, 45, m=10)], 0, "2026-10-31T18:30:00+00:00"),
    "new": ([at(2, 7, 7, 7)], 1, "2026-11-02T07:07:07+00:00"),
    "first-hour": ([at(31, 19, 0, 1, m=10)], 1, "2026-10-31T18:30:00+00:00"),
    # The local month's last half hour: 18:00-18:30 of Nov 30 UTC is counted.
    "last-half-hour": ([at(30, 18, 29, 59)], 1, "2026-11-30T18:29:59+00:00"),
    "after": ([at(30, 18, 30)], 1, "2026-11-30T18:30:00+00:00"),
    "gap": ([at(30, 12, m=10), at(15, 1)], 1, "2026-11-15T01:00:00+00:00"),
}

NEW_YORK: Case = {
    # Nov in New York is [Nov 1 04:00 EDT, Dec 1 05:00 EST) UTC (a 25-hour Nov 1).
    "before": ([at(1, 2), at(20)], 1, "2026-11-01T04:00:00+00:00"),
    "half-hour-in": ([at(1, 4, 30), at(21)], 2, "2026-11-01T04:00:00+00:00"),
    # Checked on Oct 31 (UTC), not on Nov 1 (UTC): the first check in the month.
    "day-before": ([at(31, 12, m=10), at(2, 10)], 1, "2026-11-02T10:00:00+00:00"),
    # 01:30 EST, the hour that came twice.
    "again": ([at(1, 6, 30, 0)], 1, "2026-11-01T04:00:00+00:00"),
    "last-second": ([at(1, 4, 59, 59, m=12)], 1, "2026-12-01T04:59:59+00:00"),
    "after": ([at(1, 5, m=12)], 0, None),
    "always": (daily(at(1, m=10), at(2, m=12)), 30, "2026-11-01T04:00:00+00:00"),
}

UTC_NOV: Case = {
    "late": ([at(30, 23, 59, 59)], 1, "2026-11-30T23:59:59+00:00"),
    "before": ([at(31, 23, 59, m=10), at(15)], 1, "2026-11-01T00:00:00+00:00"),
    "gap": ([at(30, 23, m=10), at(1, 0, 0, 1)], 1, "2026-11-01T00:00:01+00:00"),
}


@pytest.mark.parametrize(
    ("zone", "case"),
    [
        ("Asia/Seoul", SEOUL),
        ("Asia/Kolkata", KOLKATA),
        ("America/New_York", NEW_YORK),
        ("UTC", UTC_NOV),
    ],
)
async def test_first_checks_by_hand(
    store: Store, hourly_only: Callable[[bool], None], zone: str, case: Case
) -> None:
    services = [svc(sid) for sid in case]
    await store.sync_services(services)
    await store.write_batch([c for sid, (times, _, _) in case.items() for c in checks(sid, *times)])
    period: Period = month_period("2026-11", zone)
    calls: list[Any] = []
    real = store.first_activity

    async def counting(service_ids: Any, since: datetime, until: datetime) -> Any:
        calls.append(None if service_ids is None else sorted(service_ids))
        return await real(service_ids, since, until)

    store.first_activity = counting  # type: ignore[method-assign]
    got = await sla_report(store, services, 99.9, period, AFTER)
    for sid, (_, n, monitored_from) in case.items():
        [r] = [r for r in got["services"] if r["id"] == sid]
        assert (r["checks"], r["monitored_from"]) == (n, monitored_from), sid
    # Looked up: only the services not checked on the UTC day before the start (with the
    # other reads; the UTC path: those of them checked in the period, after), and, for a
    # start inside a UTC hour, those checked that day without a check counted.
    prior_day = (period.start - timedelta(microseconds=1)).date()
    prior = {
        sid for sid, (times, _, _) in case.items() if any(t.date() == prior_day for t in times)
    }
    checked = {sid for sid, (_, n, _) in case.items() if n}
    if zone == "UTC":
        want = [sorted(checked - prior)]
    else:
        want = [sorted(set(case) - prior)]
        if period.start.minute:
            want.append(sorted(prior - checked))
    assert calls == [w for w in want if w]
    # The same reports (each service alone too) as the lookup of every service.
    for only in (None, *case):
        got = await sla_report(store, services, 99.9, period, AFTER, only=only)
        hourly_only(True)
        want_report = await sla_report(store, services, 99.9, period, AFTER, only=only)
        hourly_only(False)
        assert got == want_report, only
