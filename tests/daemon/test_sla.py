"""SLA figures (SPEC §3.5; slamon_daemon/sla.py) on data written through the store.

Every figure below is computed by hand from the checks written; the data tests run on both
backends (the ``store`` fixture) with the same expected values.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon.models import Check, ErrorKind, OutageEpisode, Outcome, Service, ServiceStatus
from slamon_daemon.reports import sla_report
from slamon_daemon.sla import (
    Period,
    last_days_period,
    month_period,
    period_from_params,
    range_period,
)
from slamon_daemon.store.base import Store

AFTER = datetime(2026, 12, 15, tzinfo=UTC)  # "now" for periods that are over
HOUR = timedelta(hours=1)


def svc(sid: str, **kw: Any) -> Service:
    return Service(id=sid, name=sid.title(), url=f"http://127.0.0.1:9/{sid}", **kw)


def checks(
    sid: str,
    start: datetime,
    n: int,
    step: timedelta = HOUR,
    *,
    interval_s: float = 3600.0,
    down: Iterable[int] = (),
    maintenance: Iterable[int] = (),
    degraded: Iterable[int] = (),
    latency: Any = 100.0,
) -> list[Check]:
    """``n`` checks every ``step`` from ``start``; indices in ``down`` failed, etc."""
    down, maintenance, degraded = set(down), set(maintenance), set(degraded)
    out = []
    for i in range(n):
        failed = i in down
        out.append(
            Check(
                service_id=sid,
                started_at=start + i * step,
                latency_ms=latency(i) if callable(latency) else latency,
                outcome=Outcome.DOWN
                if failed
                else Outcome.DEGRADED
                if i in degraded
                else Outcome.UP,
                error_kind=ErrorKind.TIMEOUT if failed else None,
                maintenance=i in maintenance,
                interval_s=interval_s,
            )
        )
    return out


async def seed(
    store: Store, services: list[Service], *batches: list[Check] | list[OutageEpisode]
) -> None:
    await store.sync_services(services)
    for b in batches:
        await store.write_batch(b)


def row(report: dict[str, Any], sid: str) -> dict[str, Any]:
    [r] = [r for r in report["services"] if r["id"] == sid]
    return r


FEB = datetime(2026, 2, 1, tzinfo=UTC)
OCT = datetime(2026, 10, 1, tzinfo=UTC)


# -- budgets over months of different lengths -----------------------------------------------


async def test_february_and_october_budgets(store: Store) -> None:
    services = [svc("strict"), svc("lax", sla_target=99.0), svc("octo")]
    await seed(
        store,
        services,
        checks("strict", FEB, 28 * 24, down=(100, 101)),
        checks("lax", FEB, 28 * 24, down=(100, 101)),
        checks("octo", OCT, 31 * 24),
    )
    feb = await sla_report(store, services, 99.9, month_period("2026-02"), AFTER)
    assert feb["period"] == {
        "label": "2026-02",
        "start": "2026-02-01T00:00:00+00:00",
        "end": "2026-03-01T00:00:00+00:00",
        "timezone": "UTC",
        "days": 28,
        "complete": True,
    }
    strict = row(feb, "strict")
    # 670 of 672 hourly checks up; two failed checks stand for 2 × 3600 s of downtime.
    assert (strict["checks"], strict["failed_checks"], strict["uptime"]) == (672, 2, "99.70")
    assert strict["target"] == 99.9 and strict["met"] is False
    assert strict["period_s"] == strict["monitored_s"] == 28 * 86400
    assert strict["budget_min"] == 40.32  # (1 − 0.999) × 28 × 1440
    assert strict["consumed_min"] == 120.0
    assert strict["remaining_min"] == -79.68
    assert strict["budget_used_pct"] == 297.62
    assert strict["days_below_target"] == ["2026-02-05"]  # hours 100 and 101 are Feb 5 04:00–05:59
    assert (
        strict["monitored_from"] == "2026-02-01T00:00:00+00:00"
        and strict["partial_period"] is False
    )
    lax = row(feb, "lax")
    assert lax["target"] == 99.0 and lax["met"] is True
    assert lax["budget_min"] == 403.2 and lax["remaining_min"] == 283.2
    assert lax["days_below_target"] == ["2026-02-05"]  # 22/24 = 91.7 % < 99 %
    assert feb["breached"] == ["strict"]
    # octo has no data in February.
    assert row(feb, "octo")["uptime"] == "—"

    octo = row(await sla_report(store, services, 99.9, month_period("2026-10"), AFTER), "octo")
    assert octo["budget_min"] == 44.64  # (1 − 0.999) × 31 × 1440
    assert (octo["uptime"], octo["met"], octo["consumed_min"], octo["remaining_min"]) == (
        "100.00",
        True,
        0.0,
        44.64,
    )
    assert octo["period_s"] == 31 * 86400 and octo["days_below_target"] == []


async def test_a_month_in_progress_counts_up_to_now(store: Store) -> None:
    services = [svc("live")]
    nov = datetime(2026, 11, 1, tzinfo=UTC)
    await seed(store, services, checks("live", nov, 10 * 24))
    now = nov + timedelta(days=10)
    r = await sla_report(store, services, 99.9, month_period("2026-11"), now)
    assert r["period"]["complete"] is False and r["period"]["days"] == 30
    live = row(r, "live")
    assert live["monitored_s"] == 10 * 86400 and live["period_s"] == 30 * 86400
    assert live["budget_min"] == 14.4 and live["partial_period"] is False


async def test_a_service_added_mid_month_is_judged_on_the_part_monitored(store: Store) -> None:
    services = [svc("newbie"), svc("veteran")]
    first = datetime(2026, 10, 10, 14, 25, tzinfo=UTC)
    n = 21 * 24 + 10  # hourly, at :25, up to Oct 31 23:25
    await seed(
        store, services, checks("newbie", first, n, down=(0,)), checks("veteran", OCT, 31 * 24)
    )
    r = await sla_report(store, services, 99.9, month_period("2026-10"), AFTER)
    newbie = row(r, "newbie")
    # Issue 12: from its first check, not the top of that hour.
    assert newbie["monitored_from"] == "2026-10-10T14:25:00+00:00"
    assert newbie["partial_period"] is True
    assert newbie["monitored_s"] == 21 * 86400 + 10 * 3600 - 25 * 60
    assert newbie["budget_min"] == 30.815  # (1 − 0.999) × 1,848,900 s / 60
    assert newbie["checks"] == 514 and newbie["uptime"] == "99.80"  # 513/514, truncated
    assert newbie["consumed_min"] == 60.0 and newbie["remaining_min"] == -29.185
    assert newbie["days_below_target"] == ["2026-10-10"]
    veteran = row(r, "veteran")
    assert (
        veteran["partial_period"] is False
        and veteran["monitored_from"] == "2026-10-01T00:00:00+00:00"
    )


async def test_maintenance_inside_an_outage_is_excluded(store: Store) -> None:
    services = [svc("db", interval_s=3600.0)]
    # Hours 100–104 fail; 102 and 103 fall in a maintenance window; hour 200 is only slow.
    await seed(
        store,
        services,
        checks("db", FEB, 28 * 24, down=range(100, 105), maintenance=(102, 103), degraded=(200,)),
    )
    r = row(await sla_report(store, services, 99.9, month_period("2026-02"), AFTER), "db")
    assert (r["checks"], r["maintenance_checks"], r["failed_checks"]) == (672, 2, 3)
    assert r["uptime"] == "99.55"  # (666 up + 1 degraded) / (672 − 2)
    assert r["downtime_s"] == 3 * 3600.0  # only failures outside maintenance
    assert r["consumed_min"] == 180.0
    assert r["maintenance_s"] == 7200.0
    assert r["budget_min"] == 40.2  # (1 − 0.999) × (28 d − 2 h) in minutes
    assert r["remaining_min"] == -139.8
    assert r["met"] is False and r["days_below_target"] == ["2026-02-05"]


async def test_a_period_with_no_data(store: Store) -> None:
    services = [svc("ghost", latency_objective_ms=500.0, latency_objective_pct=99.0), svc("other")]
    await seed(store, services, checks("other", OCT, 24))
    r = await sla_report(store, services, 99.9, month_period("2026-02"), AFTER)
    ghost = row(r, "ghost")
    assert (ghost["uptime"], ghost["uptime_ratio"], ghost["met"]) == ("—", None, None)
    assert (ghost["checks"], ghost["monitored_from"], ghost["partial_period"]) == (0, None, False)
    assert (
        ghost["monitored_s"],
        ghost["budget_min"],
        ghost["consumed_min"],
        ghost["remaining_min"],
    ) == (0.0, 0.0, 0.0, 0.0)
    assert ghost["budget_used_pct"] is None and ghost["p95_ms"] is None
    assert (ghost["episodes"], ghost["mttr_s"], ghost["mtbf_s"], ghost["days_below_target"]) == (
        0,
        None,
        None,
        [],
    )
    assert ghost["latency_objective"] == {
        "threshold_ms": 500.0,
        "target_pct": 99.0,
        "compliance_pct": None,
        "compliance_max_pct": None,
        "exact": None,
        "met": None,
    }
    assert r["breached"] == []
    # A month with only maintenance checks has no uptime either.
    await seed(store, services, checks("ghost", FEB, 5, maintenance=range(5)))
    only_maint = row(
        await sla_report(store, services, 99.9, month_period("2026-02"), AFTER), "ghost"
    )
    assert (only_maint["uptime"], only_maint["met"], only_maint["maintenance_checks"]) == (
        "—",
        None,
        5,
    )


# -- days, episodes, latency ----------------------------------------------------------------


async def test_an_outage_across_midnight_and_the_month_end_is_split_by_day(store: Store) -> None:
    services = [svc("edge", interval_s=300.0)]
    start = datetime(2026, 10, 31, tzinfo=UTC)
    # Every 5 minutes for two days; failing from Oct 31 23:30 to Nov 1 00:25 (12 checks).
    down = range(23 * 12 + 6, 24 * 12 + 6)
    episode = OutageEpisode(
        "edge",
        start + timedelta(hours=23, minutes=30),
        ServiceStatus.MAJOR_OUTAGE,
        ended_at=start + timedelta(hours=24, minutes=30),
        cause="timeout",
        failed_checks=12,
    )
    await seed(
        store,
        services,
        checks("edge", start, 2 * 288, timedelta(minutes=5), interval_s=300.0, down=down),
        [episode],
    )
    octo = row(await sla_report(store, services, 99.9, month_period("2026-10"), AFTER), "edge")
    nov = row(await sla_report(store, services, 99.9, month_period("2026-11"), AFTER), "edge")
    for r, day in ((octo, "2026-10-31"), (nov, "2026-11-01")):
        assert r["checks"] == 288 and r["failed_checks"] == 6, day
        assert r["downtime_s"] == 1800.0 and r["consumed_min"] == 30.0, day
        assert r["uptime"] == "97.91" and r["days_below_target"] == [day]
    # The episode belongs to the month it started in (months add up); November shows it apart.
    assert (octo["episodes"], octo["episodes_from_before"], octo["mttr_s"]) == (1, 0, 3600.0)
    assert (nov["episodes"], nov["mttr_s"], nov["mtbf_s"]) == (0, None, None)
    assert nov["episodes_from_before"] == 1


async def test_an_outage_from_before_the_period_is_shown_apart(store: Store) -> None:
    """A service down since the month before, still down (the demo's Legacy Reports): the
    month's report counts no episode of its own (MTTR and MTBF stay theirs) but says that one
    from before lasts into it; an episode that ended exactly at the period's start does not."""
    services = [svc("old", interval_s=300.0), svc("edge", interval_s=300.0)]
    start = datetime(2026, 10, 31, tzinfo=UTC)
    nov = start + timedelta(days=1)
    await seed(
        store,
        services,
        checks("old", start, 2 * 288, timedelta(minutes=5), interval_s=300.0, down=range(200, 576))
        + checks("edge", start, 2 * 288, timedelta(minutes=5), interval_s=300.0),
        [
            OutageEpisode("old", start + timedelta(hours=5), ServiceStatus.MAJOR_OUTAGE),
            OutageEpisode(
                "old",
                start + timedelta(hours=1),
                ServiceStatus.MAJOR_OUTAGE,
                ended_at=start + timedelta(hours=2),
            ),
            # Ended at Nov 1 00:00 exactly: it does not last into November.
            OutageEpisode(
                "edge", start + timedelta(hours=23), ServiceStatus.MAJOR_OUTAGE, ended_at=nov
            ),
        ],
    )
    report = await sla_report(store, services, 99.9, month_period("2026-11"), AFTER)
    old, edge = row(report, "old"), row(report, "edge")
    assert (old["episodes"], old["episodes_from_before"], old["mttr_s"], old["mtbf_s"]) == (
        0,
        1,
        None,
        None,
    )
    assert old["uptime"] == "0.00" and old["met"] is False
    assert (edge["episodes"], edge["episodes_from_before"]) == (0, 0)
    octo = row(await sla_report(store, services, 99.9, month_period("2026-10"), AFTER), "old")
    assert (octo["episodes"], octo["episodes_from_before"], octo["mttr_s"]) == (2, 0, 3600.0)


async def test_a_timezone_month_takes_local_days(store: Store) -> None:
    services = [svc("edge", interval_s=300.0)]
    start = datetime(2026, 10, 31, tzinfo=UTC)
    down = range(23 * 12 + 6, 24 * 12 + 6)  # Oct 31 23:30Z–Nov 1 00:25Z = Nov 1 08:30–09:25 KST
    episode = OutageEpisode(
        "edge",
        start + timedelta(hours=23, minutes=30),
        ServiceStatus.MAJOR_OUTAGE,
        ended_at=start + timedelta(hours=24, minutes=30),
    )
    await seed(
        store,
        services,
        checks("edge", start, 2 * 288, timedelta(minutes=5), interval_s=300.0, down=down),
        [episode],
    )
    octo = await sla_report(store, services, 99.9, month_period("2026-10", "Asia/Seoul"), AFTER)
    assert octo["period"]["start"] == "2026-09-30T15:00:00+00:00"
    assert octo["period"]["end"] == "2026-10-31T15:00:00+00:00"
    assert octo["period"]["timezone"] == "Asia/Seoul" and octo["period"]["days"] == 31
    o = row(octo, "edge")
    # Oct 31 00:00Z–14:55Z: 180 checks, all up; the outage is in the Korean November.
    assert (o["checks"], o["failed_checks"], o["days_below_target"], o["episodes"]) == (
        180,
        0,
        [],
        0,
    )
    assert o["monitored_from"] == "2026-10-31T00:00:00+00:00" and o["partial_period"] is True
    n = row(
        await sla_report(store, services, 99.9, month_period("2026-11", "Asia/Seoul"), AFTER),
        "edge",
    )
    assert (n["checks"], n["failed_checks"], n["downtime_s"]) == (396, 12, 3600.0)
    assert n["days_below_target"] == ["2026-11-01"]  # one local day holds the whole outage
    assert (n["episodes"], n["mttr_s"]) == (1, 3600.0)


async def test_a_timezone_month_keeps_each_services_hours_apart(store: Store) -> None:
    # The hours of every service are read in one statement: each row counts its own.
    # Seoul's November 1 is Oct 31 15:00Z - Nov 1 15:00Z.
    start = datetime(2026, 10, 31, 15, tzinfo=UTC)
    services = [svc("a", interval_s=3600.0), svc("b", interval_s=3600.0, sla_target=95.0)]
    await seed(
        store,
        services,
        checks("a", start, 48, down=(3,)),  # Nov 1 and 2 (KST), 1 of 24 failed on the 1st
        checks("b", start + timedelta(days=1), 24, down=(0, 1)),  # Nov 2 only, 2 of 24
    )
    r = await sla_report(store, services, 99.9, month_period("2026-11", "Asia/Seoul"), AFTER)
    a, b = row(r, "a"), row(r, "b")
    assert (a["checks"], a["failed_checks"], a["downtime_s"]) == (48, 1, 3600.0)
    assert a["days_below_target"] == ["2026-11-01"] and a["target"] == 99.9
    assert (b["checks"], b["failed_checks"], b["downtime_s"]) == (24, 2, 7200.0)
    assert b["days_below_target"] == ["2026-11-02"]  # 22/24 = 91.7 % < 95 %
    assert b["monitored_from"] == (start + timedelta(days=1)).isoformat()


async def test_mttr_and_mtbf_from_episodes(store: Store) -> None:
    services = [svc("flaky")]
    d = FEB
    eps = [
        # Started in January, ended in February: not February's.
        OutageEpisode(
            "flaky",
            d - timedelta(hours=2),
            ServiceStatus.MAJOR_OUTAGE,
            ended_at=d + timedelta(hours=1),
        ),
        OutageEpisode(
            "flaky",
            d + timedelta(days=3),
            ServiceStatus.MAJOR_OUTAGE,
            ended_at=d + timedelta(days=3, minutes=10),
        ),
        OutageEpisode(
            "flaky",
            d + timedelta(days=9),
            ServiceStatus.PARTIAL_OUTAGE,
            ended_at=d + timedelta(days=9, minutes=20),
        ),
        OutageEpisode(
            "flaky", d + timedelta(days=27, hours=23), ServiceStatus.MAJOR_OUTAGE
        ),  # still open
        OutageEpisode(
            "flaky",
            datetime(2026, 3, 2, tzinfo=UTC),
            ServiceStatus.MAJOR_OUTAGE,
            ended_at=datetime(2026, 3, 2, 1, tzinfo=UTC),
        ),  # March's
        OutageEpisode(
            "other",
            d + timedelta(days=5),
            ServiceStatus.MAJOR_OUTAGE,
            ended_at=d + timedelta(days=5, hours=5),
        ),  # another service's
    ]
    await seed(store, services, checks("flaky", FEB, 28 * 24, down=(72, 216, 671)), eps)
    r = row(await sla_report(store, services, 99.9, month_period("2026-02"), AFTER), "flaky")
    assert r["episodes"] == 3
    assert r["mttr_s"] == 900.0  # (600 + 1200) / 2 ended ones
    assert r["downtime_s"] == 3 * 3600.0
    assert r["mtbf_s"] == (28 * 86400 - 3 * 3600) / 3  # (counted − downtime) / episodes


async def test_p95_latency_within_one_percent(store: Store) -> None:
    services = [svc("lat")]
    # Answered checks of 1..100 ms (nearest-rank p95 = 95 ms); failed ones (10 s) do not count.
    answered = checks("lat", OCT, 100, timedelta(minutes=1), latency=lambda i: float(i + 1))
    failed = checks(
        "lat", OCT + timedelta(hours=3), 5, timedelta(minutes=1), down=range(5), latency=10_000.0
    )
    await seed(store, services, answered, failed)
    r = row(await sla_report(store, services, 99.9, month_period("2026-10"), AFTER), "lat")
    assert abs(r["p95_ms"] - 95.0) <= 0.95
    assert r["checks"] == 105 and r["failed_checks"] == 5


async def test_latency_objective_compliance_from_the_histogram(store: Store) -> None:
    objective = {"latency_objective_ms": 1000.0, "latency_objective_pct": 95.0}
    services = [svc("fast", **objective), svc("slow", **objective), svc("plain")]
    await seed(
        store,
        services,
        # 96 of 100 answered at or under 1000 ms; failed checks are not answers.
        checks(
            "fast", OCT, 100, timedelta(minutes=1), latency=lambda i: 1500.0 if i < 4 else 500.0
        ),
        checks(
            "fast",
            OCT + timedelta(days=1),
            10,
            timedelta(minutes=1),
            down=range(10),
            latency=5000.0,
        ),
        # 90 of 100.
        checks(
            "slow",
            OCT,
            100,
            timedelta(minutes=1),
            latency=lambda i: 2000.0 if i % 10 == 0 else 950.0,
        ),
        checks("plain", OCT, 10, timedelta(minutes=1)),
    )
    r = await sla_report(store, services, 99.9, month_period("2026-10"), AFTER)
    assert row(r, "fast")["latency_objective"] == {
        "threshold_ms": 1000.0,
        "target_pct": 95.0,
        "compliance_pct": 96.0,
        "compliance_max_pct": 96.0,
        "exact": True,
        "met": True,
    }
    assert row(r, "slow")["latency_objective"] == {
        "threshold_ms": 1000.0,
        "target_pct": 95.0,
        "compliance_pct": 90.0,
        "compliance_max_pct": 90.0,
        "exact": True,
        "met": False,
    }
    assert row(r, "plain")["latency_objective"] is None
    # The latency objective has its own verdict, apart from uptime ("fast" failed 10 of 110).
    assert row(r, "slow")["met"] is True and row(r, "fast")["met"] is False
    assert r["breached"] == ["fast"]


async def test_only_one_service(store: Store) -> None:
    services = [svc("a"), svc("b")]
    await seed(store, services, checks("a", OCT, 24), checks("b", OCT, 24, down=(3,)))
    r = await sla_report(store, services, 99.9, month_period("2026-10"), AFTER, only="b")
    assert [x["id"] for x in r["services"]] == ["b"] and r["breached"] == ["b"]


# -- periods --------------------------------------------------------------------------------


def test_month_periods() -> None:
    feb = month_period("2026-02")
    assert (feb.start, feb.end, feb.label, feb.timezone) == (
        FEB,
        datetime(2026, 3, 1, tzinfo=UTC),
        "2026-02",
        "UTC",
    )
    assert (
        len(feb.days) == 28
        and feb.days[0] == date(2026, 2, 1)
        and feb.days[-1] == date(2026, 2, 28)
    )
    assert len(month_period("2028-02").days) == 29  # leap year
    dec = month_period("2026-12")
    assert dec.end == datetime(2027, 1, 1, tzinfo=UTC) and len(dec.days) == 31


def test_a_timezone_month_starts_at_local_midnight() -> None:
    p = month_period("2026-10", "Asia/Seoul")
    assert p.start == datetime(2026, 9, 30, 15, tzinfo=UTC)
    assert p.start.isoformat() == "2026-09-30T15:00:00+00:00"
    assert p.end == datetime(2026, 10, 31, 15, tzinfo=UTC)
    assert p.days[0] == date(2026, 10, 1) and p.days[-1] == date(2026, 10, 31) and len(p.days) == 31
    # A month with a daylight-saving change is an hour short, still 31 days.
    ny = month_period("2026-03", "America/New_York")
    assert ny.start == datetime(2026, 3, 1, 5, tzinfo=UTC) and ny.end == datetime(
        2026, 4, 1, 4, tzinfo=UTC
    )
    assert len(ny.days) == 31 and (ny.end - ny.start) == timedelta(days=31) - HOUR


@pytest.mark.parametrize(
    "bad", ["2026-13", "2026-00", "2026/10", "october", "", "2026-10-05", "26"]
)
def test_a_bad_month_is_refused_with_the_form_expected(bad: str) -> None:
    with pytest.raises(ValueError, match="month must look like 2026-10") as exc:
        month_period(bad)
    assert repr(bad) in str(exc.value)


def test_last_days_periods() -> None:
    now = datetime(2026, 11, 21, 23, 42, tzinfo=UTC)
    p = last_days_period(7, now)
    assert (p.start, p.end, p.label) == (
        datetime(2026, 11, 15, tzinfo=UTC),
        datetime(2026, 11, 22, tzinfo=UTC),
        "last 7 days",
    )
    one = last_days_period(1, now)
    assert one.days == [date(2026, 11, 21)]
    # In Seoul it is already the 22nd.
    seoul = last_days_period(7, now, "Asia/Seoul")
    assert seoul.start == datetime(2026, 11, 15, 15, tzinfo=UTC) and seoul.end == datetime(
        2026, 11, 22, 15, tzinfo=UTC
    )
    assert seoul.days[-1] == date(2026, 11, 22)
    for bad in (0, -1, 3651):
        with pytest.raises(ValueError, match=r"days must be 1\.\.3650"):
            last_days_period(bad, now)


def test_range_periods() -> None:
    p = range_period("2026-10-05", "2026-10-05")
    assert (p.start, p.end, p.label) == (
        datetime(2026, 10, 5, tzinfo=UTC),
        datetime(2026, 10, 6, tzinfo=UTC),
        "2026-10-05 to 2026-10-05",
    )
    assert len(range_period("2026-10-01", "2026-10-31").days) == 31
    with pytest.raises(ValueError, match="to must not be before from"):
        range_period("2026-10-05", "2026-10-04")
    with pytest.raises(ValueError, match="from/to must be days like 2026-10-01"):
        range_period("2026-10-5x", "2026-10-06")
    with pytest.raises(ValueError, match="from/to must be days like 2026-10-01"):
        range_period("2026-10-01", "tomorrow")


def test_period_from_params_choices_and_refusals() -> None:
    now = datetime(2026, 11, 21, 23, 42, tzinfo=UTC)

    def p(**kw: Any) -> Period:
        args: dict[str, Any] = {
            "month": None,
            "days": None,
            "first": None,
            "last": None,
            "now": now,
            "tz": "UTC",
        }
        args.update(kw)
        return period_from_params(**args)

    assert p().label == "2026-11"  # this month by default
    assert p(tz="Asia/Seoul").label == "2026-11"
    assert p(now=datetime(2026, 11, 30, 16, tzinfo=UTC), tz="Asia/Seoul").label == "2026-12"
    assert p(month="2026-02").end == datetime(2026, 3, 1, tzinfo=UTC)
    assert p(days=30).label == "last 30 days"
    assert p(first="2026-10-01", last="2026-10-10").label == "2026-10-01 to 2026-10-10"
    one_of = "give one of: a month, a number of days, or from and to"
    for kw in (
        {"month": "2026-10", "days": 7},
        {"month": "2026-10", "first": "2026-10-01", "last": "2026-10-02"},
        {"days": 7, "first": "2026-10-01", "last": "2026-10-02"},
    ):
        with pytest.raises(ValueError, match=one_of):
            p(**kw)
    for kw in ({"first": "2026-10-01"}, {"last": "2026-10-01"}):
        with pytest.raises(ValueError, match="from and to go together"):
            p(**kw)
    with pytest.raises(ValueError, match="month must look like 2026-10, got '2026-13'"):
        p(month="2026-13")
    with pytest.raises(ValueError, match="to must not be before from"):
        p(first="2026-10-02", last="2026-10-01")


async def test_no_services_at_all(store: Store) -> None:
    r = await sla_report(store, [], 99.9, month_period("2026-10"), AFTER)
    assert r["services"] == [] and r["breached"] == []
    seoul = await sla_report(store, [], 99.9, month_period("2026-10", "Asia/Seoul"), AFTER)
    assert seoul["services"] == []


async def test_maintenance_time_uses_the_intervals_the_checks_were_made_at(store: Store) -> None:
    # Checked hourly all February, with two hours of maintenance; the interval is 60 s now.
    services = [svc("moved", interval_s=60.0)]
    await seed(
        store, services, checks("moved", FEB, 28 * 24, maintenance=(102, 103), interval_s=3600.0)
    )
    r = row(await sla_report(store, services, 99.9, month_period("2026-02"), AFTER), "moved")
    assert r["maintenance_s"] == 7200.0
    assert r["budget_min"] == 40.2


async def test_both_backends_give_the_same_report_for_every_kind_of_period(tmp_path: Path) -> None:
    """Odd minutes, a service added mid-month, maintenance, episodes across a period start, and
    periods in UTC, in whole- and half-hour offsets and across a DST change: the same figures."""
    from slamon_daemon.store import PostgresStore, SqliteStore
    from tests.conftest import throwaway_pg_database

    rnd = random.Random(7)
    services = [
        svc(f"s{i}", interval_s=1200.0, latency_objective_ms=200.0, latency_objective_pct=90.0)
        for i in range(3)
    ]
    rows: list[Any] = []
    t = datetime(2026, 9, 29, 17, 7, tzinfo=UTC)
    while t < datetime(2026, 11, 3, tzinfo=UTC):
        for s in services:
            if s.id == "s2" and t < datetime(2026, 10, 12, 9, 41, tzinfo=UTC):
                continue
            x = rnd.random()
            out = Outcome.DOWN if x < 0.02 else Outcome.DEGRADED if x < 0.05 else Outcome.UP
            rows.append(
                Check(
                    s.id,
                    t,
                    rnd.uniform(10, 400),
                    out,
                    error_kind=ErrorKind.TIMEOUT if out is Outcome.DOWN else None,
                    maintenance=rnd.random() < 0.01,
                    interval_s=1200.0,
                )
            )
        t += timedelta(minutes=20, seconds=rnd.randint(0, 59))
    rows += [
        OutageEpisode(
            "s0",
            datetime(2026, 10, 5, 3, tzinfo=UTC),
            ServiceStatus.MAJOR_OUTAGE,
            ended_at=datetime(2026, 10, 5, 4, 13, tzinfo=UTC),
        ),
        OutageEpisode(
            "s1",
            datetime(2026, 9, 30, 18, 45, tzinfo=UTC),
            ServiceStatus.PARTIAL_OUTAGE,
            ended_at=datetime(2026, 9, 30, 19, 0, tzinfo=UTC),
        ),
    ]
    now = datetime(2026, 11, 21, tzinfo=UTC)
    periods = [
        month_period("2026-10"),
        month_period("2026-10", "Asia/Seoul"),
        month_period("2026-10", "Asia/Kolkata"),
        month_period("2026-11", "America/New_York"),
        range_period("2026-10-03", "2026-10-20", "Asia/Kolkata"),
        last_days_period(30, datetime(2026, 11, 1, 12, tzinfo=UTC)),
    ]

    async def reports(s: Store) -> list[dict[str, Any]]:
        async with s:
            await s.migrate()
            await seed(s, services, rows)
            return [await sla_report(s, services, 99.9, p, now) for p in periods]

    lite = await reports(SqliteStore(str(tmp_path / "x.db")))
    async with throwaway_pg_database() as url:
        pg = await reports(PostgresStore(url))
    for p, a, b in zip(periods, lite, pg, strict=True):
        assert a["services"] == b["services"], (p.label, p.timezone)
        assert a["period"] == b["period"] and a["breached"] == b["breached"]
    # The data is not trivial: some failures, a partial service, episodes in the Korean month.
    seoul = {r["id"]: r for r in lite[1]["services"]}
    assert seoul["s2"]["partial_period"] is True and seoul["s1"]["episodes"] == 1
    assert all(r["failed_checks"] > 0 and r["maintenance_checks"] > 0 for r in seoul.values())


async def test_latency_objective_near_the_threshold_is_exact_or_bounded(store: Store) -> None:
    """Issue 10: latencies up to 2 % under the threshold share its histogram bucket
    ((983.7, 1003.4] ms for 1000 ms) and were counted as over it. Where the exact min and max
    settle it the figure is exact; otherwise it is given as two bounds around the truth."""
    objective = {"latency_objective_ms": 1000.0, "latency_objective_pct": 95.0}
    services = [svc("all-990", **objective), svc("mixed", **objective)]
    await seed(
        store,
        services,
        # Every answer at 990 ms: all under 1000 ms (the histogram alone said 0 %).
        checks("all-990", OCT, 50, timedelta(minutes=1), latency=990.0),
        # 95 at 500 ms, 3 at 995 ms (under, in the bucket holding 1000), 2 at 1004 ms (over,
        # the next bucket): truly 98 %; known: at least 95 %, at most 98 %.
        checks(
            "mixed",
            OCT,
            100,
            timedelta(minutes=1),
            latency=lambda i: 995.0 if i < 3 else 1004.0 if i < 5 else 500.0,
        ),
    )
    r = await sla_report(store, services, 99.9, month_period("2026-10"), AFTER)
    assert row(r, "all-990")["latency_objective"] == {
        "threshold_ms": 1000.0,
        "target_pct": 95.0,
        "compliance_pct": 100.0,
        "compliance_max_pct": 100.0,
        "exact": True,
        "met": True,
    }
    mixed = row(r, "mixed")["latency_objective"]
    assert (mixed["compliance_pct"], mixed["compliance_max_pct"], mixed["exact"]) == (
        95.0,
        98.0,
        False,
    )
    assert mixed["met"] is True  # judged on the lower bound: 95 % ≥ 95 %


@pytest.mark.parametrize("month", [month_period("2026-10"), month_period("2026-10", "Asia/Seoul")])
async def test_a_service_not_reported_leaves_the_others_as_they_were(
    store: Store, month: Period
) -> None:
    # The whole report reads every stored service's rows and keeps those it shows; a
    # service it does not show (paused, removed) has data of its own in the same days.
    services = [svc("a"), svc("b", sla_target=99.0)]
    gone = svc("gone")
    await seed(
        store,
        [*services, gone],
        checks("a", OCT - HOUR, 24 * 5, down=(30, 31)),  # Sept 30 23:00 on; Oct 2: 22/24
        checks("b", OCT + timedelta(days=2, hours=10), 48, down=(1,)),  # 47/48, target 99 %
        checks("gone", OCT + timedelta(hours=5), 24 * 4, down=range(0, 96, 2)),
        [
            OutageEpisode("gone", OCT + timedelta(hours=5), ServiceStatus.MAJOR_OUTAGE, None),
            OutageEpisode(
                "a",
                OCT + timedelta(hours=29),
                ServiceStatus.MAJOR_OUTAGE,
                OCT + timedelta(hours=31),
            ),
        ],
    )
    whole = await sla_report(store, services, 99.9, month, AFTER)
    assert [r["id"] for r in whole["services"]] == ["a", "b"]
    for s in services:  # each one alone names its id in every statement
        alone = await sla_report(store, [*services, gone], 99.9, month, AFTER, s.id)
        assert row(alone, s.id) == row(whole, s.id)
    a, b = row(whole, "a"), row(whole, "b")
    if month.timezone == "UTC":  # by hand
        assert (a["checks"], a["failed_checks"], a["episodes"]) == (24 * 5 - 1, 2, 1)
        assert a["days_below_target"] == ["2026-10-02"]  # 22/24
        assert a["monitored_from"] == OCT.isoformat()  # checked on Sept 30
        # b: Oct 3 10:00-23:00, 13 of 14 up (92.9 % < 99 %); 47/48 = 97.9 % in the month
        assert (b["checks"], b["failed_checks"], b["days_below_target"]) == (48, 1, ["2026-10-03"])
        assert b["monitored_from"] == (OCT + timedelta(days=2, hours=10)).isoformat()
        assert whole["breached"] == ["a", "b"]
