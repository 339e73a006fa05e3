"""The read plan of a local month at +13:00 or more (issue 14): Pacific/Chatham (+13:45 in
November) and Pacific/Auckland (+13:00) read their UTC month's row and the hours at both ends,
not 30 daily rows (the fewer hours at each end took the UTC day before the month as the
first, ~0.5 s a report for 1,000 services); the figures are those of every hour added up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from slamon_daemon import reports
from slamon_daemon.models import Check, Outcome
from slamon_daemon.reports import local_plan, sla_report
from slamon_daemon.sla import month_period, split_months
from slamon_daemon.store.base import Store

from .test_sla import AFTER, row, seed, svc

D = date


def rows_a_service(plan: reports.LocalPlan) -> tuple[int, int]:
    """(hours at the ends, daily and monthly rows) a service."""
    months, loose = split_months(plan.first, plan.last)
    hours = sum(b - a for _, a, b in (*plan.plus, *plan.minus))
    return hours, len(months) + sum((y - x).days + 1 for x, y in loose)


@pytest.mark.parametrize("zone", ["Pacific/Chatham", "Pacific/Auckland"])
def test_a_month_at_plus_13_reads_its_utc_month(zone: str) -> None:
    """Nov 1 00:00 +13:45 is Oct 31 10:15 UTC: the hours from 11:00 count (Auckland,
    +13:00: from 11:00 too); Dec 1 00:00 is Nov 30 10:15 (11:00) UTC. November's row plus
    Oct 31's last 13 hours less Nov 30's: 26 hours and a row a service (30 daily rows and
    22 hours before)."""
    plan = local_plan(month_period("2026-11", zone))
    assert plan is not None
    assert (plan.first, plan.last, plan.plus, plan.minus) == (
        D(2026, 11, 1),
        D(2026, 11, 30),
        ((D(2026, 10, 31), 11, 24),),
        ((D(2026, 11, 30), 11, 24),),
    )
    assert rows_a_service(plan) == (26, 1)


@pytest.mark.parametrize(
    ("zone", "month"),
    [
        ("Asia/Seoul", "2026-11"),
        ("America/New_York", "2026-11"),
        ("Asia/Kolkata", "2026-11"),
        ("Europe/London", "2026-10"),
    ],
)
def test_the_fewer_hours_way_where_it_reads_no_more(zone: str, month: str) -> None:
    """Elsewhere the plan is as before: at most 12 hours at each end, a UTC month's row."""
    plan = local_plan(month_period(month, zone))
    assert plan is not None
    assert all(b - a <= 12 for _, a, b in (*plan.plus, *plan.minus))
    assert rows_a_service(plan)[1] == 1


def hourly(sid: str, start: datetime, end: datetime, down: set[datetime]) -> list[Check]:
    out, t = [], start
    while t < end:
        failed = t in down
        out.append(
            Check(
                service_id=sid,
                started_at=t,
                latency_ms=50.0 + (t.hour * 7 + t.day * 13) % 300,
                outcome=Outcome.DOWN if failed else Outcome.UP,
                interval_s=3600.0,
            )
        )
        t += timedelta(hours=1)
    return out


def at(m: int, d: int, h: int = 0) -> datetime:
    return datetime(2026, m, d, h, tzinfo=UTC)


@pytest.mark.parametrize("zone", ["Pacific/Chatham", "Pacific/Auckland"])
async def test_the_same_figures_as_every_hour(
    store: Store, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    # Failures at the month's ends: in the hours added (Oct 31 11:00, 23:00 UTC: Nov 1
    # local), in those of Oct 31 taken away (10:00: October local) and of Nov 30 taken
    # away (12:00: December local), and in the middle.
    down = {at(10, 31, 10), at(10, 31, 11), at(10, 31, 23), at(11, 15, 5), at(11, 30, 12)}
    services = [svc("a"), svc("b", latency_objective_ms=200.0, latency_objective_pct=90.0)]
    await seed(
        store,
        services,
        hourly("a", at(10, 29), at(12, 3), down),
        hourly("b", at(10, 31, 12), at(12, 3), set()),
    )
    period = month_period("2026-11", zone)
    planned = await sla_report(store, services, 99.9, period, AFTER)
    monkeypatch.setattr(reports, "local_plan", lambda period: None)
    assert planned == await sla_report(store, services, 99.9, period, AFTER)
    assert row(planned, "a")["failed_checks"] == 3
    assert row(planned, "a")["days_below_target"]
