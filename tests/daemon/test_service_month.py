"""service.get's month SLA row from its own reads (``store.service_rollups``,
``store.service_episodes``, ``reports.month_figures``) equals ``sla_report``'s row for the
service, on both backends; and the days below target and the episodes of the month are the
ones computed by hand (month and midnight boundaries)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from slamon_daemon.api.services import RECENT_CHECKS, long_windows, recent_since
from slamon_daemon.detail import figures
from slamon_daemon.models import OutageEpisode, ServiceStatus
from slamon_daemon.reports import month_figures, month_first_check, sla_report
from slamon_daemon.rollup import Rollup, sum_rollups
from slamon_daemon.sla import month_period
from slamon_daemon.state import RecentChecks, ServiceState
from slamon_daemon.store.base import Store

from .test_sla import HOUR, checks, row, seed, svc

OCT = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 10, 20, 12, 30, tzinfo=UTC)  # mid-month: the period is not over


def _episode(sid: str, start: datetime, end: datetime | None) -> OutageEpisode:
    return OutageEpisode(sid, start, ServiceStatus.MAJOR_OUTAGE, end, "timeout", None, 1)


async def _service_get_row(store: Store, sid: str, target: float, now: datetime) -> dict[str, Any]:
    """What service.get computes for this month (api/services.py), read as it reads it."""
    period = month_period(f"{now:%Y-%m}")
    today = now.date()
    _hourly, daily, monthly = await store.service_rollups(
        sid,
        today - timedelta(days=7),
        today - timedelta(days=1),
        today - timedelta(days=89),
        period.start.date(),
    )
    episodes = await store.service_episodes(sid, 20, period.start, period.end)
    first = await month_first_check(store, period, sid, daily, monthly)
    return month_figures(svc(sid), target, period, now, monthly, daily, episodes, first)


async def test_month_row_equals_the_report_row(store: Store) -> None:
    services = [svc("api"), svc("late")]
    sept_last_hour = OCT - HOUR  # checked the day before: monitored from the 1st, 00:00
    await seed(
        store,
        services,
        # api: hourly from Sept 30 23:00; Oct 3 has 2 failures of 24 (below 99.9 %), Oct 5
        # one of 24 in maintenance and none failed (not below).
        checks(
            "api",
            sept_last_hour,
            1 + 19 * 24 + 12,
            down=(1 + 2 * 24 + 5, 1 + 2 * 24 + 6),
            maintenance=(1 + 4 * 24,),
        ),
        # late: first checked Oct 4 at 10:17:30, every hour, the first three failed
        checks(
            "late", OCT + timedelta(days=3, hours=10, minutes=17, seconds=30), 200, down=(0, 1, 2)
        ),
        # 25 episodes of api: 23 in September (one of them lasting into October: not counted,
        # it did not start in the month), 2 in October; service.get lists the 20 newest.
        [
            _episode("api", OCT - timedelta(days=29 - i), OCT - timedelta(days=29 - i) + HOUR)
            for i in range(22)
        ]
        + [
            _episode("api", OCT - timedelta(hours=5), OCT + timedelta(hours=2)),
            _episode("api", OCT + timedelta(days=2, hours=5), OCT + timedelta(days=2, hours=7)),
            _episode("api", OCT + timedelta(days=2, hours=23, minutes=59), None),
        ],
    )
    report = await sla_report(store, services, 99.9, month_period("2026-10"), NOW)
    for sid in ("api", "late"):
        assert await _service_get_row(store, sid, 99.9, NOW) == row(report, sid)
    api = row(report, "api")
    assert api["days_below_target"] == ["2026-10-03"]  # by hand: 22/24 up; Oct 5: 23/23
    assert api["episodes"] == 2  # started Oct 3 05:00 and 23:59; the Sept 30 one is not counted
    assert api["episodes_from_before"] == 1  # ... but shown apart: it lasted into October
    assert api["monitored_from"] == OCT.isoformat()  # checked on Sept 30
    late = row(report, "late")
    assert late["monitored_from"] == "2026-10-04T10:17:30+00:00"  # to the check
    assert late["days_below_target"] == ["2026-10-04"]  # 3 of 14 checks failed that day
    newest = await store.service_episodes("api", 20, OCT, OCT + timedelta(days=31))
    assert len(newest) == 20  # the 20 newest (the October ones are among them)
    assert [e.started_at for e in newest] == sorted((e.started_at for e in newest), reverse=True)


async def test_days_below_at_exactly_the_target(store: Store) -> None:
    # 1,000 checks on Oct 2 with 1 failed: 99.9 % is not below 99.9; with 2 failed it is.
    # Oct 3 at midnight: the 1,000 checks run from 00:00:00 to 23:58:34 (every 86.4 s).
    step = timedelta(seconds=86.4)
    services = [svc("edge")]
    await seed(
        store,
        services,
        checks("edge", OCT + timedelta(days=1), 1000, step, interval_s=86.4, down=(500,)),
        checks("edge", OCT + timedelta(days=2), 1000, step, interval_s=86.4, down=(0, 999)),
    )
    report = await sla_report(store, services, 99.9, month_period("2026-10"), NOW)
    assert row(report, "edge")["days_below_target"] == ["2026-10-03"]
    assert await _service_get_row(store, "edge", 99.9, NOW) == row(report, "edge")
    daily = await store.daily_rollups(date(2026, 10, 2), date(2026, 10, 3), ["edge"])
    assert [(r.checks, r.down) for r in daily] == [(1000, 1), (1000, 2)]


async def test_days_below_each_target_by_hand(store: Store) -> None:
    # The store's statement reads only the days with a failed check when the target is at
    # most 100 % (an index of their own, migration 0013); the days are those computed by
    # hand for every target, also above 100 % where a day without a failure is below.
    step = timedelta(seconds=86.4)
    await seed(
        store,
        [svc("edge"), svc("calm")],
        checks("edge", OCT + timedelta(days=1), 1000, step, interval_s=86.4, down=(500,)),
        checks("edge", OCT + timedelta(days=2), 1000, step, interval_s=86.4, down=(0, 999)),
        checks("edge", OCT + timedelta(days=3), 24),  # all up
        checks("edge", OCT + timedelta(days=4), 24, maintenance=(3,), degraded=(5,)),
        checks("edge", OCT + timedelta(days=5), 24, maintenance=range(24), down=range(24)),
        checks("calm", OCT + timedelta(days=2), 24, down=(7,)),  # 23 of 24: 95.83 %
    )

    async def below(target: float, sids: tuple[str, ...] = ("edge", "calm")) -> list[str]:
        found = await store.days_below(list(sids), OCT.date(), date(2026, 10, 31), target)
        return [f"{sid} {day:%d}" for sid, day in found]

    assert await below(99.9) == ["calm 03", "edge 03"]  # 999/1000 is not below 99.9
    assert await below(99.95) == ["calm 03", "edge 02", "edge 03"]
    assert await below(95.84) == ["calm 03"]  # 23/24 = 95.8333... %; edge: 99.8 %
    assert await below(95.83) == []
    assert await below(100) == ["calm 03", "edge 02", "edge 03"]
    # above 100 %: every day with a counted check (Oct 6 was all maintenance)
    assert await below(100.5, ("edge",)) == ["edge 02", "edge 03", "edge 04", "edge 05"]
    assert await below(99.9, ()) == []


def test_long_windows_equal_the_sums_of_every_day_after_each_change() -> None:
    # service.get keeps the past days' 30/90-day sums between calls: the windows must
    # still be the sums of every row, also after a late check changed a past day and
    # when the day turns.
    today = date(2026, 10, 20)
    rng = random.Random(7)

    def day_row(d: date) -> Rollup:
        r = Rollup(service_id="api", day=d)
        for c in checks(
            "api",
            datetime(d.year, d.month, d.day, tzinfo=UTC),
            rng.randint(1, 30),
            down=(rng.randint(0, 40),),
            latency=lambda i: rng.uniform(5, 900),
        ):
            r.add(c)
        return r

    daily = [day_row(today - timedelta(days=i)) for i in range(89, -1, -1)]

    def want(rows: list[Rollup], first: date) -> dict[str, Any]:
        return figures(sum_rollups([r for r in rows if r.day > first], "api", date.min))

    for step in range(4):
        if step == 1:  # a late check on a past day
            daily[40].add(checks("api", datetime.combine(daily[40].day, time(23), UTC), 1)[0])
        if step == 3:  # the next day: today's row becomes a past one
            today += timedelta(days=1)
            daily = [*daily[1:], day_row(today)]
        got = long_windows("api", today, daily)
        assert figures(got["30d"]) == want(daily, today - timedelta(days=30))
        assert figures(got["90d"]) == want(daily, date.min)
        assert got["90d"].errors == sum_rollups(daily, "api", date.min).errors


def test_where_service_get_reads_its_latest_checks_from() -> None:
    # The hint leaves room for 20 checks the database does not have yet: the 40th latest
    # the live state holds, its oldest when it holds 20 to 39, none below 20.
    st = ServiceState(service=svc("api"))
    made = checks("api", OCT, 60)
    assert RECENT_CHECKS == 20
    for n, want in (
        (0, None),
        (19, None),
        (20, made[0]),
        (35, made[0]),
        (40, made[0]),
        (60, made[20]),
    ):
        st.recent = RecentChecks(made[:n])
        assert recent_since(st) == (want.started_at if want else None), n
