"""Issue 14 point 5: how a report in a timezone other than UTC reads (stop 24).

SQLite reads on several connections, so the statements a report asks for at once run side
by side; PostgreSQL sums each (service, UTC day)'s hours by local day before it groups them
all. Pinned here: the readers a SQLite store hands out, and the local days below target
counted by hand where a local day spans two UTC days (Seoul), has 25 hours (New York's DST
change) or starts at a half hour (Kolkata), on both backends.
"""

from __future__ import annotations

import contextlib
from datetime import date

import pytest

from slamon_daemon import reports
from slamon_daemon.errors import StoreUnavailable
from slamon_daemon.reports import sla_report
from slamon_daemon.sla import month_period
from slamon_daemon.store import SqliteStore
from slamon_daemon.store.base import Store
from slamon_daemon.store.dialects.sqlite import READERS

from .test_sla import AFTER, row, seed, svc
from .test_sla_timezone_speed import at, hourly

D = date


async def test_sqlite_reads_asked_together_get_their_own_connections(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = SqliteStore(str(tmp_path / "r.db"))
    await store.open()
    dialect = store.dialect
    try:
        assert READERS >= 3  # the report's three largest reads at once
        async with contextlib.AsyncExitStack() as stack:
            held = [await stack.enter_async_context(dialect.read()) for _ in range(READERS)]
            assert len({id(c) for c in held}) == READERS
            # One more shares a connection (its thread takes the reads in turn).
            extra = await stack.enter_async_context(dialect.read())
            assert any(extra is c for c in held)
            rows = await extra.fetch("SELECT 1")
            assert [tuple(r) for r in rows] == [(1,)]
        # All idle again: the first reader is taken first (one read at a time stays on it).
        async with dialect.read() as a:
            async with dialect.read() as b:
                assert a is not b
        async with dialect.read() as c:
            assert c is a
    finally:
        await store.close()
    with pytest.raises(StoreUnavailable):
        async with dialect.read():
            pass


async def test_local_days_with_a_failed_check_by_hand(store: Store) -> None:
    services = [svc("a"), svc("b"), svc("k")]
    down_a = {
        at(2026, 10, 31, 14),  # Seoul Oct 31 23:00: before the month
        at(2026, 11, 1, 15),  # Seoul Nov 2 00:00
        at(2026, 11, 19, 15),  # Seoul Nov 20 00:00 (UTC Nov 19) ...
        at(2026, 11, 20, 14),  # ... and 23:00 (UTC Nov 20): one local day, two failures
        at(2026, 11, 30, 14),  # Seoul Nov 30 23:00: the month's last hour
        at(2026, 11, 30, 15),  # Seoul Dec 1 00:00: after it
    }
    # New York: Nov 1 is 25 hours long, [04:00 UTC Nov 1, 05:00 UTC Nov 2).
    down_b = {at(2026, 11, 1, 12), at(2026, 11, 2, 4), at(2026, 11, 2, 5)}
    # Kolkata: the hour starting 18:00 UTC is 23:30 local, in the local day it starts in.
    down_k = {at(2026, 11, 10, 18), at(2026, 11, 10, 19)}
    start, end = at(2026, 10, 30), at(2026, 12, 2)
    await seed(
        store,
        services,
        hourly("a", start, end, down=down_a),
        hourly("b", start, end, down=down_b),
        hourly("k", start, end, down=down_k),
    )

    async def failed(zone: str, sid: str) -> list[tuple[str, date, int, int, int, int, int]]:
        plan = reports.local_plan(month_period("2026-11", zone))
        assert plan is not None
        got = await store.local_days_failed(None, plan.hours_from, plan.hours_to, plan.cuts)
        return sorted(r for r in got if r[0] == sid)

    # (service, local day, checks, up, degraded, down, maintenance)
    assert await failed("Asia/Seoul", "a") == [
        ("a", D(2026, 11, 2), 24, 23, 0, 1, 0),
        ("a", D(2026, 11, 20), 24, 22, 0, 2, 0),
        ("a", D(2026, 11, 30), 24, 23, 0, 1, 0),
    ]
    assert await failed("America/New_York", "b") == [
        ("b", D(2026, 11, 1), 25, 23, 0, 2, 0),
        ("b", D(2026, 11, 2), 24, 23, 0, 1, 0),
    ]
    assert await failed("Asia/Kolkata", "k") == [
        ("k", D(2026, 11, 10), 24, 23, 0, 1, 0),
        ("k", D(2026, 11, 11), 24, 23, 0, 1, 0),
    ]
    for zone, sid, days in (
        ("Asia/Seoul", "a", ["2026-11-02", "2026-11-20", "2026-11-30"]),
        ("America/New_York", "b", ["2026-11-01", "2026-11-02"]),
        ("Asia/Kolkata", "k", ["2026-11-10", "2026-11-11"]),
    ):
        report = await sla_report(store, services, 99.9, month_period("2026-11", zone), AFTER)
        assert row(report, sid)["days_below_target"] == days, zone
