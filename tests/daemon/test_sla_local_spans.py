"""The local days' hour ranges that ``store.local_days_failed`` reads (issue 14: the hours of
the local days with a failed hour only, each a primary-key range)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from slamon_daemon.reports import local_plan
from slamon_daemon.sla import month_period
from slamon_daemon.store.sql import _local_day_spans

SQLITE_EPOCH = -1721424


def test_seoul_month_spans() -> None:
    plan = local_plan(month_period("2026-11", "Asia/Seoul"))
    assert plan is not None
    spans = _local_day_spans(plan.hours_from, plan.hours_to, plan.cuts, SQLITE_EPOCH)
    assert spans is not None and len(spans) == 30
    assert date.fromordinal(spans[0][0] + SQLITE_EPOCH) == date(2026, 11, 1)
    assert spans[0][1:] == (date(2026, 10, 31), 15, date(2026, 11, 1), 15)
    assert spans[-1][1:] == (date(2026, 11, 29), 15, date(2026, 11, 30), 15)


def test_new_york_dst_month_spans() -> None:
    """Nov 1 has 25 hours: 04:00 UTC to 05:00 UTC the next day."""
    plan = local_plan(month_period("2026-11", "America/New_York"))
    assert plan is not None
    spans = _local_day_spans(plan.hours_from, plan.hours_to, plan.cuts, SQLITE_EPOCH)
    assert spans is not None
    assert spans[0][1:] == (date(2026, 11, 1), 4, date(2026, 11, 2), 5)
    assert spans[1][1:] == (date(2026, 11, 2), 5, date(2026, 11, 3), 5)


def test_a_local_day_in_two_runs_falls_back() -> None:
    """A local day whose hours are not one run (its date coming back) gives None: the
    store then reads each failed day's neighbours, as before."""
    lo = datetime(2026, 11, 1, tzinfo=UTC)
    hi = datetime(2026, 11, 3, tzinfo=UTC)
    cuts = ((date(2026, 11, 1), 12, 0, 1), (date(2026, 11, 2), 12, -1, 0))
    assert _local_day_spans(lo, hi, cuts, SQLITE_EPOCH) is None
    assert _local_day_spans(lo, hi, cuts[:1], SQLITE_EPOCH) is not None
