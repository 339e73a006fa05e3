"""``store.hourly_extremes``: the exact latency min and max of a report in a local zone whose
extreme may lie in an hour taken away (reports._totals). Issue 14: the whole UTC days are
read from their daily rollups and only the hours at the ends from the hourly ones (a row a
day, not ~720 hours a service a month); the figures are those of the hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from slamon_daemon import reports
from slamon_daemon.models import Check, Outcome
from slamon_daemon.reports import sla_report
from slamon_daemon.sla import month_period
from slamon_daemon.store.base import Store

from .test_sla import AFTER, row, seed, svc


def at(m: int, d: int, h: int = 0) -> datetime:
    return datetime(2026, m, d, h, tzinfo=UTC)


# Hand-placed extremes around Asia/Seoul's November, [Oct 31 15:00, Nov 30 15:00) UTC; every
# other check takes 100 ms.
LATENCY = {
    at(10, 31, 14): 1.0,  # the hour before the month: not counted
    at(10, 31, 16): 3.0,  # in the first UTC day's hours counted
    at(11, 10, 3): 5.0,
    at(11, 20, 22): 900.0,
    at(11, 30, 14): 1000.0,  # the last hour counted
    at(11, 30, 15): 2000.0,  # the first hour after it
}


def hourly_checks(sid: str, start: datetime, end: datetime) -> list[Check]:
    out, t = [], start
    while t < end:
        out.append(
            Check(
                service_id=sid,
                started_at=t,
                latency_ms=LATENCY.get(t, 100.0),
                outcome=Outcome.UP,
                interval_s=3600.0,
            )
        )
        t += timedelta(hours=1)
    return out


def brute(lo: datetime, hi: datetime) -> tuple[float, float]:
    values = [c.latency_ms for c in hourly_checks("a", lo, hi)]
    return min(values), max(values)


@pytest.fixture
async def seeded(store: Store) -> Store:
    await seed(store, [svc("a"), svc("b")], hourly_checks("a", at(10, 29), at(12, 2)))
    return store


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        (at(10, 31, 15), at(11, 30, 15)),  # Seoul's November: partial days at both ends
        (at(10, 31, 15), at(10, 31, 20)),  # within one UTC day
        (at(11, 1), at(12, 1)),  # whole days only
        (at(11, 1), at(11, 30, 15)),  # from a midnight
        (at(10, 31, 16), at(11, 1)),  # to a midnight
        (at(10, 31, 23), at(11, 1, 1)),  # across one midnight, no whole day
        (at(11, 30, 14), at(11, 30, 16)),
    ],
)
async def test_extremes_of_the_hours(seeded: Store, lo: datetime, hi: datetime) -> None:
    got = await seeded.hourly_extremes(["a"], lo, hi)
    assert got == {"a": brute(lo, hi)}
    assert await seeded.hourly_extremes(None, lo, hi) == got  # every service: "b" has none


async def test_whole_days_are_read_from_their_daily_rollup(seeded: Store) -> None:
    """A day's extremes are those of its hours; the whole days' come from the daily rows (a
    daily row made to differ shows which is read)."""
    async with seeded.dialect.transaction() as con:  # type: ignore[attr-defined]
        await con.execute(
            "UPDATE daily_rollups SET latency_min_ms = ?, latency_max_ms = ?"
            " WHERE service_id = ? AND day = ?",
            4.0,
            950.0,
            "a",
            seeded.dialect.day(at(11, 10).date()),  # type: ignore[attr-defined]
        )
    assert await seeded.hourly_extremes(["a"], at(10, 31, 15), at(11, 30, 15)) == {
        "a": (3.0, 1000.0)
    }
    assert await seeded.hourly_extremes(["a"], at(11, 1), at(11, 20)) == {"a": (4.0, 950.0)}
    # The hours of a day that is not whole are read themselves.
    assert await seeded.hourly_extremes(["a"], at(11, 10, 1), at(11, 10, 5)) == {"a": (5.0, 100.0)}


async def test_seoul_month_as_every_hour_added_up(
    seeded: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report whose extremes lie in the hours taken away (Nov 30 15:00-24:00) and in
    those added (Oct 31 15:00-24:00): the same as every hour of the month added up."""
    services = [svc("a", latency_objective_ms=950.0, latency_objective_pct=99.0), svc("b")]
    period = month_period("2026-11", "Asia/Seoul")
    planned = await sla_report(seeded, services, 99.9, period, AFTER)
    monkeypatch.setattr(reports, "local_plan", lambda period: None)
    assert planned == await sla_report(seeded, services, 99.9, period, AFTER)
    assert row(planned, "a")["checks"] == 720
