"""Issue 12: an SLA period starts at the service's first check (README "SLA periods"), not at
the top of its hour; a service already checked the day before counts from the period start.
Both backends, the same expected values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slamon_daemon.models import OutageEpisode, ServiceStatus
from slamon_daemon.reports import sla_report
from slamon_daemon.sla import month_period
from slamon_daemon.store.base import Store

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
