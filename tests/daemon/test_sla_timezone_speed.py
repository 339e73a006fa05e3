"""Issue 14: an SLA report in a timezone other than UTC reads the daily and monthly rollups
of the UTC days its period covers and only the hourly rollups of its two ends
(reports.local_plan), with the figures the full hourly computation gives.

Hand-computed cases at a local month's boundary (Asia/Seoul, Asia/Kolkata's half hour,
America/New_York's DST change on 2026-11-01, Europe/Berlin's on 2026-10-25), on both
backends; the same reports as the full hourly computation for random data; and the read
plan: how many hourly rollups a local month reads (every hour of it before).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from slamon_daemon import reports
from slamon_daemon.models import Check, ErrorKind, OutageEpisode, Outcome, ServiceStatus
from slamon_daemon.reports import sla_report
from slamon_daemon.sla import last_days_period, month_period, range_period
from slamon_daemon.store import sql
from slamon_daemon.store.base import Store

from .test_sla import AFTER, HOUR, row, seed, svc

D = date


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)


# -- the read plan ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "hours", "days", "plus", "minus"),
    [
        # Seoul (+09:00): Nov = [Oct 31 15:00, Nov 30 15:00) UTC: the UTC month, plus the
        # 9 hours before it, minus its last 9 hours.
        (
            month_period("2026-11", "Asia/Seoul"),
            (at(2026, 10, 31, 15), at(2026, 11, 30, 15)),
            (D(2026, 11, 1), D(2026, 11, 30)),
            ((D(2026, 10, 31), 15, 24),),
            ((D(2026, 11, 30), 15, 24),),
        ),
        # Kolkata (+05:30): [Oct 31 18:30, Nov 30 18:30): the hours starting in it begin at
        # 19:00 and end with 18:00 of Nov 30.
        (
            month_period("2026-11", "Asia/Kolkata"),
            (at(2026, 10, 31, 19), at(2026, 11, 30, 19)),
            (D(2026, 11, 1), D(2026, 11, 30)),
            ((D(2026, 10, 31), 19, 24),),
            ((D(2026, 11, 30), 19, 24),),
        ),
        # New York: Nov 1 00:00 EDT (04:00 UTC) to Dec 1 00:00 EST (05:00 UTC).
        (
            month_period("2026-11", "America/New_York"),
            (at(2026, 11, 1, 4), at(2026, 12, 1, 5)),
            (D(2026, 11, 1), D(2026, 11, 30)),
            ((D(2026, 12, 1), 0, 5),),
            ((D(2026, 11, 1), 0, 4),),
        ),
        # Berlin: Oct 1 00:00 CEST (Sep 30 22:00 UTC) to Nov 1 00:00 CET (Oct 31 23:00 UTC).
        (
            month_period("2026-10", "Europe/Berlin"),
            (at(2026, 9, 30, 22), at(2026, 10, 31, 23)),
            (D(2026, 10, 1), D(2026, 10, 31)),
            ((D(2026, 9, 30), 22, 24),),
            ((D(2026, 10, 31), 23, 24),),
        ),
        # A local day in New York: Nov 10 05:00 to Nov 11 05:00 UTC.
        (
            range_period("2026-11-10", "2026-11-10", "America/New_York"),
            (at(2026, 11, 10, 5), at(2026, 11, 11, 5)),
            (D(2026, 11, 10), D(2026, 11, 10)),
            ((D(2026, 11, 11), 0, 5),),
            ((D(2026, 11, 10), 0, 5),),
        ),
    ],
)
def test_the_read_plan_of_local_periods(
    period: Any,
    hours: tuple[datetime, datetime],
    days: tuple[date, date],
    plus: tuple[Any, ...],
    minus: tuple[Any, ...],
) -> None:
    plan = reports.local_plan(period)
    assert plan is not None
    assert (plan.hours_from, plan.hours_to) == hours
    assert (plan.first, plan.last) == days
    assert (plan.plus, plan.minus) == (plus, minus)
    # At most 12 hours at each end.
    assert all(b - a <= 12 for _, a, b in plan.plus + plan.minus)


def test_a_local_day_that_fills_no_utc_day_is_read_by_the_hour() -> None:
    # Kamchatka (+12:00): Nov 9 12:00 to Nov 10 12:00 UTC.
    assert reports.local_plan(range_period("2026-11-10", "2026-11-10", "Asia/Kamchatka")) is None


# -- hand-computed figures at a local month's boundary ---------------------------------------


def hourly(
    sid: str,
    start: datetime,
    end: datetime,
    *,
    down: set[datetime] = frozenset(),  # type: ignore[assignment]
    latency: dict[datetime, float] | None = None,
) -> list[Check]:
    """A check at the top of every hour in [start, end) (interval 3600 s), 100 ms unless
    ``latency`` says otherwise; those at ``down`` failed."""
    out, t = [], start
    while t < end:
        failed = t in down
        out.append(
            Check(
                service_id=sid,
                started_at=t,
                latency_ms=(latency or {}).get(t, 100.0),
                outcome=Outcome.DOWN if failed else Outcome.UP,
                error_kind=ErrorKind.TIMEOUT if failed else None,
                interval_s=3600.0,
            )
        )
        t += HOUR
    return out


async def test_seoul_month_boundary_by_hand(store: Store) -> None:
    services = [svc("edge", latency_objective_ms=100.0, latency_objective_pct=99.0)]
    # Hourly from Oct 31 00:00 to Dec 1 24:00 UTC; Seoul's November is
    # [Oct 31 15:00, Nov 30 15:00) UTC: 720 checks.
    down = {
        at(2026, 10, 31, 14),  # Nov 1 local 23:00 of Oct 31: not in the month
        at(2026, 10, 31, 15),  # local Nov 1 00:00: in it
        at(2026, 11, 30, 14),  # local Nov 30 23:00: in it
        at(2026, 11, 30, 15),  # local Dec 1 00:00: not in it
    }
    # The smallest and largest latencies of the UTC month are in its last hours, which are
    # local December: the month's own are all 100 ms.
    latency = {at(2026, 11, 30, 16): 1.0, at(2026, 11, 30, 20): 5000.0, at(2026, 10, 31, 3): 2.0}
    await seed(
        store,
        services,
        hourly("edge", at(2026, 10, 31), at(2026, 12, 2), down=down, latency=latency),
        [
            OutageEpisode("edge", t, ServiceStatus.MAJOR_OUTAGE, t + HOUR, "timeout", None, 1)
            for t in sorted(down)
        ],
    )
    r = row(
        await sla_report(store, services, 99.9, month_period("2026-11", "Asia/Seoul"), AFTER),
        "edge",
    )
    assert (r["checks"], r["failed_checks"], r["uptime"]) == (720, 2, "99.72")
    assert r["downtime_s"] == 7200.0 and r["consumed_min"] == 120.0
    assert r["days_below_target"] == ["2026-11-01", "2026-11-30"]
    assert r["episodes"] == 2
    assert r["monitored_from"] == "2026-10-31T15:00:00+00:00"
    # Every answered check of the month took 100 ms: p95 is exactly that (the histogram's
    # bucket clamped to the exact min and max), and all are within the 100 ms objective.
    assert r["p95_ms"] == 100.0
    assert r["latency_objective"]["compliance_pct"] == 100.0
    assert r["latency_objective"]["exact"] is True


async def test_kolkata_half_hour_and_new_york_dst_by_hand(store: Store) -> None:
    services = [svc("half"), svc("dst")]
    await seed(
        store,
        services,
        # Kolkata's November: the hours starting in [Oct 31 18:30, Nov 30 18:30) UTC, i.e.
        # 19:00 of Oct 31 to 18:00 of Nov 30 (720 hours; 18:00 of Oct 31 is before it).
        hourly(
            "half",
            at(2026, 10, 31),
            at(2026, 12, 1),
            down={at(2026, 10, 31, 18), at(2026, 10, 31, 19), at(2026, 11, 30, 18)},
        ),
        # New York's November: [Nov 1 04:00 EDT, Dec 1 05:00 EST) UTC, 721 hours (the
        # clocks go back on Nov 1: its local day has 25 hours).
        hourly(
            "dst",
            at(2026, 10, 31),
            at(2026, 12, 2),
            down={
                at(2026, 11, 1, 3),  # Oct 31 23:00 EDT
                at(2026, 11, 1, 5),  # Nov 1 01:00 EDT
                at(2026, 11, 1, 6),  # Nov 1 01:00 EST (the hour again)
                at(2026, 12, 1, 4),  # Nov 30 23:00 EST
                at(2026, 12, 1, 5),  # Dec 1 00:00 EST
            },
        ),
    )
    half = row(
        await sla_report(store, services, 99.9, month_period("2026-11", "Asia/Kolkata"), AFTER),
        "half",
    )
    assert (half["checks"], half["failed_checks"]) == (720, 2)
    assert half["downtime_s"] == 7200.0
    # 19:00 UTC of Oct 31 is 00:30 of Nov 1 in Kolkata; 18:00 of Nov 30 is 23:30 of Nov 30.
    assert half["days_below_target"] == ["2026-11-01", "2026-11-30"]
    dst = row(
        await sla_report(store, services, 99.9, month_period("2026-11", "America/New_York"), AFTER),
        "dst",
    )
    assert (dst["checks"], dst["failed_checks"]) == (721, 3)
    assert dst["downtime_s"] == 3 * 3600.0
    assert dst["uptime"] == "99.58"  # 718 / 721, truncated
    assert dst["days_below_target"] == ["2026-11-01", "2026-11-30"]


# -- the same reports as the full hourly computation -----------------------------------------


def random_checks(rng: random.Random, sid: str, start: datetime, end: datetime) -> list[Any]:
    """Checks at whole seconds, every 20-90 min, some failed (with episodes), degraded or
    in maintenance, latencies 1 ms to 3 s."""
    out: list[Any] = []
    t = start + timedelta(seconds=rng.randrange(3600))
    while t < end:
        interval = rng.choice([1200, 1800, 3600, 5400])
        x = rng.random()
        failed, maint = x < 0.04, 0.04 <= x < 0.05
        degraded = 0.05 <= x < 0.08
        out.append(
            Check(
                service_id=sid,
                started_at=t,
                latency_ms=round(rng.lognormvariate(4, 1.2), 3) + 1,
                outcome=Outcome.DOWN if failed else Outcome.DEGRADED if degraded else Outcome.UP,
                error_kind=ErrorKind.TIMEOUT if failed else None,
                maintenance=maint,
                interval_s=float(interval),
            )
        )
        if failed:
            out.append(
                OutageEpisode(
                    sid,
                    t,
                    ServiceStatus.MAJOR_OUTAGE,
                    t + timedelta(seconds=interval),
                    "t",
                    None,
                    1,
                )
            )
        t += timedelta(seconds=rng.randrange(1, interval + 1))
    return out


PERIODS: list[Callable[[], Any]] = [
    lambda: month_period("2026-11", "Asia/Seoul"),
    lambda: month_period("2026-11", "Asia/Kolkata"),
    lambda: month_period("2026-11", "America/New_York"),
    lambda: month_period("2026-10", "Europe/Berlin"),
    lambda: month_period("2026-12", "Asia/Seoul"),
    lambda: month_period("2026-10", "Australia/Adelaide"),  # +09:30, DST from Oct 4
    lambda: last_days_period(30, at(2026, 11, 20, 10), "Asia/Seoul"),
    lambda: last_days_period(45, at(2026, 12, 1, 3), "America/New_York"),
    lambda: range_period("2026-11-10", "2026-11-11", "Asia/Kolkata"),
]


@pytest.fixture
def hourly_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool], None]]:
    """Switch the report to the full hourly computation (no read plan) and back."""

    def switch(on: bool) -> None:
        if on:
            monkeypatch.setattr(reports, "local_plan", lambda period: None)
        else:
            monkeypatch.undo()

    yield switch


async def test_the_same_reports_as_every_hour_added_up(
    store: Store, hourly_only: Callable[[bool], None]
) -> None:
    rng = random.Random(14)
    services = [
        svc(
            f"s{i}",
            sla_target=rng.choice([None, 99.0, 99.5, 95.0]),
            latency_objective_ms=rng.choice([None, 50.0, 200.0]),
            latency_objective_pct=95.0,
        )
        for i in range(12)
    ]
    await store.sync_services(services)
    for s in services:
        # Some services start or stop inside a month, one has a gap of a few days.
        start = at(2026, 9, 20) + timedelta(hours=rng.randrange(0, 24 * 50))
        end = min(at(2026, 12, 6), start + timedelta(days=rng.randrange(3, 80)))
        batch = random_checks(rng, s.id, start, end)
        for i in range(0, len(batch), 2000):
            await store.write_batch(batch[i : i + 2000])
    below = partial = 0
    for make in PERIODS:
        period = make()
        for only in (None, "s3"):
            got = await sla_report(store, services, 99.9, period, AFTER, only=only)
            hourly_only(True)
            want = await sla_report(store, services, 99.9, period, AFTER, only=only)
            hourly_only(False)
            assert got == want, (period, only)
            below += sum(len(r["days_below_target"]) for r in got["services"])
            partial += sum(bool(r["partial_period"]) for r in got["services"])
    # Something to compare: local days below target, services added in a period.
    assert below > 20 and partial > 5


# -- what a local month reads ----------------------------------------------------------------


async def test_a_local_month_reads_only_the_hours_at_its_ends(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = [svc("a"), svc("b")]
    down = {at(2026, 11, 12, 7)}
    await seed(
        store,
        services,
        hourly("a", at(2026, 10, 30), at(2026, 12, 2), down=down),
        hourly("b", at(2026, 10, 30), at(2026, 12, 2)),
    )
    read: list[tuple[str, date, int | None]] = []
    real = sql.rollup_from_row

    def counting(service_id: str, day: date, hour: int | None, values: Any) -> Any:
        read.append((service_id, day, hour))
        return real(service_id, day, hour, values)

    monkeypatch.setattr(sql, "rollup_from_row", counting)
    summed: list[tuple[Any, list[Any]]] = []
    real_net = getattr(store, "hourly_net", None)

    async def net(service_ids: Any, plus: Any, minus: Any) -> Any:
        assert real_net is not None
        got = await real_net(service_ids, plus, minus)
        summed.append(((plus, minus), sorted(r[0] for r in got)))
        return got

    monkeypatch.setattr(store, "hourly_net", net, raising=False)
    report = await sla_report(store, services, 99.9, month_period("2026-11", "Asia/Seoul"), AFTER)
    assert row(report, "a")["days_below_target"] == ["2026-11-12"]
    assert row(report, "a")["checks"] == row(report, "b")["checks"] == 720
    # Each service's UTC month (no hourly rollup read one by one: 720 a service before,
    # every hour of the local month), and, added up by the database, a row a service: the
    # 9 hours before the month less its last 9.
    assert [r for r in read if r[2] is not None] == []
    assert sorted(read) == [("a", D(2026, 11, 1), None), ("b", D(2026, 11, 1), None)]
    assert summed == [((((D(2026, 10, 31), 15, 24),), ((D(2026, 11, 30), 15, 24),)), ["a", "b"])]
