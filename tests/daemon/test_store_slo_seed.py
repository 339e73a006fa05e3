"""``slo_seed``: the SLO ledgers' seed of every service in two reads, the same rows the
per-service reads (``hourly_rollups``, ``checks_between``) give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slamon_daemon.models import Check, Outcome
from slamon_daemon.store.base import Store

NOW = datetime(2026, 11, 22, 14, 37, 12, tzinfo=UTC)


async def test_slo_seed_is_the_per_service_reads_in_one(store: Store) -> None:
    checks = []
    for sid, step_min, every in (("api", 7, 5), ("web", 13, 3), ("db", 45, 2)):
        for i in range(4 * 24 * 60 // step_min):  # four days back, past the 3-day window
            at = NOW - timedelta(minutes=i * step_min, seconds=i % 50)
            outcome = Outcome.DOWN if i % every == 0 else Outcome.UP
            checks.append(Check(sid, at, 5.0, outcome, maintenance=i % 11 == 0))
    await store.write_checks(checks)
    hours_since = (NOW - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    recent_since = NOW - timedelta(hours=6)
    hours, recent = await store.slo_seed(hours_since, recent_since)
    want_hours, want_recent = [], []
    for sid in ("api", "db", "web"):
        want_hours += [
            (sid, r.start, r.down, r.checks - r.maintenance)
            for r in await store.hourly_rollups(sid, hours_since)
        ]
        want_recent += [
            (sid, c.started_at, c.failed)
            for c in await store.checks_between(sid, recent_since)
            if not c.maintenance
        ]
    assert hours == want_hours
    assert recent == want_recent
    assert any(bad for _, _, bad, _ in hours) and any(failed for _, _, failed in recent)
    assert min(start for _, start, _, _ in hours) == hours_since
