"""Monthly rollups: maintained with every write, equal to the merge of the month's daily
rollups, and rebuilt from them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from slamon_daemon.models import Check, ErrorKind, Outcome
from slamon_daemon.rollup import Rollup
from slamon_daemon.store.base import Store


def _checks() -> list[Check]:
    out = []
    t = datetime(2026, 10, 30, 20, tzinfo=UTC)
    for i in range(200):  # 30 Oct 20:00 → 8 Nov, every hour: crosses the month boundary
        failed = i % 17 == 0
        out.append(
            Check(
                "api",
                t + timedelta(hours=i),
                10.0 + i % 50,
                Outcome.DOWN if failed else Outcome.UP,
                error_kind=ErrorKind.TIMEOUT if failed else None,
                maintenance=i % 41 == 0,
                interval_s=3600.0,
            )
        )
    return out


def _merged(dailies: list[Rollup], month: date) -> dict:
    total = Rollup(service_id="api", day=month)
    for r in dailies:
        if r.day.replace(day=1) == month:
            total.merge(r)
    return {
        **total.to_dict(),
        "hist": total.hist,
        "sum": total.latency_sum_us,
        "maint_s": total.maintenance_s,
    }


def _row(r: Rollup) -> dict:
    return {**r.to_dict(), "hist": r.hist, "sum": r.latency_sum_us, "maint_s": r.maintenance_s}


async def test_monthly_rows_equal_the_merged_daily_rows_and_survive_a_rebuild(store: Store) -> None:
    checks = _checks()
    await store.write_checks(checks[:120])
    await store.write_checks(checks[100:])  # overlapping batch: idempotent
    dailies = await store.daily_rollups(date(2026, 10, 1))
    months = await store.monthly_rollups(date(2026, 10, 1), date(2026, 11, 1))
    assert [m.day for m in months] == [date(2026, 10, 1), date(2026, 11, 1)]
    assert sum(m.checks for m in months) == len(checks)
    for m in months:
        assert _row(m) == _merged(dailies, m.day)
    before = [_row(m) for m in months]
    await store.rebuild_rollups()
    after = [_row(m) for m in await store.monthly_rollups(date(2026, 10, 1), date(2026, 11, 1))]
    assert after == before
