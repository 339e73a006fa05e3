"""Issue 12: an SLA period starts at the service's first check (README "SLA periods"), not at
the top of its hour; a service already checked the day before counts from the period start.
Both backends, the same expected values."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon import reports
from slamon_daemon.models import OutageEpisode, ServiceStatus
from slamon_daemon.reports import sla_report
from slamon_daemon.sla import month_period
from slamon_daemon.store import SqliteStore
from slamon_daemon.store.base import Store
from tests.conftest import migrated

from .test_sla import checks, row, seed, svc

NOV = datetime(2026, 11, 1, tzinfo=UTC)


async def test_a_service_checked_for_twelve_seconds_has_been_monitored_twelve_seconds(
    store: Store,
) -> None:
    services = [svc("fresh", interval_s=2.0)]
    first = datetime(2026, 11, 20, 13, 12, 0, tzinfo=UTC)
    step = timedelta(seconds=2)
    episode = OutageEpisode(
        "fresh", first + 6 * step, ServiceStatus.MAJOR_OUTAGE, first + 8 * step, "timeout"
    )
    await seed(
        store,
        services,
        checks("fresh", first, 7, step, interval_s=2.0, down=(6,)),
        [episode],
    )
    now = first + timedelta(seconds=12)
    r = row(await sla_report(store, services, 99.9, month_period("2026-11"), now), "fresh")
    assert r["monitored_from"] == first.isoformat()
    assert r["monitored_s"] == 12.0
    assert r["budget_min"] == 0.0  # (1 − 0.999) × 12 s = 0.012 s, rounded to 3 places of a min
    assert r["consumed_min"] == round(2.0 / 60, 3)
    # MTBF over 12 s monitored, not 36 min from the top of the hour: (12 − 2) s / 1 episode.
    assert r["mtbf_s"] == 10.0


async def test_a_service_checked_the_day_before_counts_from_the_period_start(
    store: Store,
) -> None:
    services = [svc("veteran"), svc("newcomer")]
    # veteran: hourly from Oct 31 00:37 on, so its first November check is Nov 1 00:37;
    # newcomer: the same times in November only.
    await seed(
        store,
        services,
        checks("veteran", NOV - timedelta(hours=23, minutes=23), 24 * 3),
        checks("newcomer", NOV + timedelta(minutes=37), 24 * 2),
    )
    now = NOV + timedelta(days=2)
    r = await sla_report(store, services, 99.9, month_period("2026-11"), now)
    assert row(r, "veteran")["monitored_from"] == NOV.isoformat()
    assert row(r, "veteran")["monitored_s"] == 2 * 86400
    assert row(r, "newcomer")["monitored_from"] == (NOV + timedelta(minutes=37)).isoformat()
    assert row(r, "newcomer")["monitored_s"] == 2 * 86400 - 37 * 60
    assert row(r, "newcomer")["partial_period"] is False  # within the first hour


async def test_checked_on_names_the_services_checked_that_utc_day(store: Store) -> None:
    services = [svc("all"), svc("last-second"), svc("next-day"), svc("idle")]
    await seed(
        store,
        services,
        checks("all", NOV - timedelta(days=2), 72),
        checks("last-second", NOV - timedelta(seconds=1), 1),
        checks("next-day", NOV, 1),
    )
    assert await store.checked_on((NOV - timedelta(days=1)).date()) == {"all", "last-second"}
    assert await store.checked_on(NOV.date()) == {"all", "next-day"}
    assert await store.checked_on((NOV - timedelta(days=3)).date()) == set()
    # of the services named only (a one-service report)
    oct31 = (NOV - timedelta(days=1)).date()
    assert await store.checked_on(oct31, ["last-second", "idle"]) == {"last-second"}
    assert await store.checked_on(oct31, []) == set()


async def test_each_first_check_of_the_month_by_hand(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report and service.get take a service checked the day before the month as
    monitored from the month's start without looking for its first check; the others'
    come from first_activity (named, or every service's when many), as before."""
    services = [svc(s) for s in ("veteran", "late", "idle", "gone", "back", "edge")]
    await seed(
        store,
        services,
        checks("veteran", NOV - timedelta(days=3, minutes=-17), 24 * 10),
        # first checked Nov 4 at 10:17:30 (later than the month's start)
        checks("late", NOV + timedelta(days=3, hours=10, minutes=17, seconds=30), 30),
        # idle: no checks at all
        # gone: checked the day before the month only: not monitored in it
        checks("gone", NOV - timedelta(hours=5), 5),
        # back: checked Oct 30 (not the day before) and again from Nov 5 08:00:05
        checks("back", NOV - timedelta(days=2), 3),
        checks("back", NOV + timedelta(days=4, hours=8, seconds=5), 10),
        # edge: its last October check one second before the month, its next Nov 2 00:00
        checks("edge", NOV - timedelta(seconds=1), 1),
        checks("edge", NOV + timedelta(days=1), 3),
    )
    expected = {
        "veteran": NOV,
        "late": NOV + timedelta(days=3, hours=10, minutes=17, seconds=30),
        "idle": None,
        "gone": None,
        "back": NOV + timedelta(days=4, hours=8, seconds=5),
        "edge": NOV,
    }
    period = month_period("2026-11")
    now = NOV + timedelta(days=10)
    asked: list[object] = []
    first_activity = store.first_activity

    async def counted(ids: Any, since: datetime, until: datetime) -> dict[str, datetime]:
        asked.append(None if ids is None else sorted(ids))
        return await first_activity(ids, since, until)

    monkeypatch.setattr(store, "first_activity", counted)
    for named_at_most in (100, 1):  # the two late ones named, then every service's read
        monkeypatch.setattr(reports, "NAMED_AT_MOST", named_at_most)
        asked.clear()
        r = await sla_report(store, services, 99.9, period, now)
        for sid, first in expected.items():
            assert row(r, sid)["monitored_from"] == (first.isoformat() if first else None), sid
        assert row(r, "gone")["monitored_s"] == 0.0
        assert row(r, "late")["partial_period"] is True
        assert asked == [["back", "late"] if named_at_most == 100 else None]
    # service.get's way, from the rows it reads: a statement only for the late ones
    for sid, first in expected.items():
        asked.clear()
        _hours, daily, monthly = await store.service_rollups(
            sid, now.date(), now.date(), now.date() - timedelta(days=89), NOV.date()
        )
        assert await reports.month_first_check(store, period, sid, daily, monthly) == first
        assert asked == ([[sid]] if sid in ("late", "back") else [])
    # and first_activity itself still says the same of every one of them
    found = await first_activity(None, period.start, period.end)
    assert {sid: found.get(sid) for sid in expected} == expected


async def test_the_reports_monthly_read_goes_by_month(tmp_path: Path) -> None:
    """Migration 0014: SQLite reads one month's rows by an index on the month (PostgreSQL
    has had one since 0006), in the order of months, each service's in order."""
    async with migrated(SqliteStore(str(tmp_path / "t.db"))) as store:
        con = sqlite3.connect(tmp_path / "t.db")
        try:
            plan = " ".join(
                str(r[3])
                for r in con.execute(
                    "EXPLAIN QUERY PLAN SELECT * FROM monthly_rollups"
                    " WHERE day >= ? AND day <= ? ORDER BY day",
                    ("2026-10-01", "2026-11-01"),
                )
            )
        finally:
            con.close()
        assert "USING INDEX monthly_rollups_day " in plan + " ", plan
        assert "TEMP B-TREE" not in plan, plan
        await seed(
            store,
            [svc("b"), svc("a")],
            checks("b", NOV - timedelta(days=31), 40, timedelta(days=1)),
            checks("a", NOV - timedelta(days=2), 10, timedelta(days=1)),
        )
        rows = await store.monthly_rollups(
            (NOV - timedelta(days=31)).date(), NOV.date(), by_service=False
        )
        assert [r.day for r in rows] == sorted(r.day for r in rows)
        assert sorted((r.service_id, r.day, r.checks) for r in rows) == sorted(
            (r.service_id, r.day, r.checks)
            for r in await store.monthly_rollups((NOV - timedelta(days=31)).date(), NOV.date())
        )


async def test_a_local_month_whose_first_utc_day_was_checked_only_before_it(
    store: Store,
) -> None:
    """Seoul's November starts at Oct 31 15:00 UTC. A service checked at Oct 31 03:00 UTC
    (October in Seoul) and again from Nov 10 on was read as "no data in this period" (the
    first UTC day had checks, none after 15:00, so no first hour was found) while its checks
    were counted: a budget of 0 beside 3 counted checks. Checked on the UTC day before the
    period's start, it is monitored from the start (README "SLA periods")."""
    services = [svc("gap", interval_s=3600.0), svc("late", interval_s=3600.0)]
    early = checks("gap", datetime(2026, 10, 31, 3, tzinfo=UTC), 1, interval_s=3600.0)
    later = datetime(2026, 11, 10, 0, 20, tzinfo=UTC)
    await seed(
        store,
        services,
        early
        + checks("gap", later, 3, interval_s=3600.0)
        + checks("late", later, 3, interval_s=3600.0),
    )
    now = datetime(2026, 12, 15, tzinfo=UTC)
    period = month_period("2026-11", "Asia/Seoul")
    report = await sla_report(store, services, 99.9, period, now)
    gap, late = row(report, "gap"), row(report, "late")
    assert gap["checks"] == 3
    assert gap["monitored_from"] == period.start.isoformat() == "2026-10-31T15:00:00+00:00"
    assert gap["partial_period"] is False and gap["budget_min"] == 43.2  # 0.1 % of 30 days
    # Not checked before: from its first check in the Korean month.
    end = datetime(2026, 11, 30, 15, tzinfo=UTC)
    assert late["monitored_from"] == later.isoformat() and late["partial_period"] is True
    assert late["monitored_s"] == (end - later).total_seconds()
