"""The writer's backlog on SQLite (sql.py ``write_batches``): the batches of one call are one
transaction, as on PostgreSQL — each page of the rollup tables goes to the WAL once per call,
not once per batch — so a call that fails stores nothing and its retry stores every check
once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slamon_daemon.errors import StoreError
from slamon_daemon.models import Check, Outcome, Service
from slamon_daemon.store import SqliteStore
from tests.conftest import migrated

T0 = datetime(2026, 11, 30, 23, 58, tzinfo=UTC)  # the batches cross a midnight and a month


def _checks(n: int, services: int) -> list[Check]:
    return [
        Check(
            f"s{i % services}",
            T0 + timedelta(seconds=10 * (i // services)),
            2.0 + i % 7,
            Outcome.DOWN if i % 11 == 3 else Outcome.UP,
            status_code=None if i % 11 == 3 else 200,
            error="refused" if i % 11 == 3 else None,
            interval_s=10.0,
        )
        for i in range(n)
    ]


async def test_a_call_that_fails_in_its_last_batch_stores_none_of_its_batches(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path / "t.db"))
    async with migrated(store):
        await store.sync_services(
            [Service(id=f"s{i}", name=f"S{i}", url="http://127.0.0.1/") for i in range(40)]
        )
        checks = _checks(1300, 40)  # 13 minutes of 40 services
        batches = [checks[:500], checks[500:1000], checks[1000:]]
        # latency_ms is NOT NULL and SQLite stores a NaN as NULL: the last batch fails.
        bad = Check("s0", T0 - timedelta(days=1), float("nan"), Outcome.DOWN, error="x")
        with pytest.raises(StoreError):
            await store.write_batches([*batches[:2], [*batches[2], bad]])
        assert await store.count_checks() == 0
        assert await store.daily_rollups(T0.date()) == []
        # The writer retries the segment: every check stored once, counted once, the rollups
        # those of the same batches written a transaction each (the path before).
        assert await store.write_batches(batches) == 1300
        assert await store.write_batches(batches) == 0
        assert await store.count_checks() == 1300
        apart = SqliteStore(str(tmp_path / "apart.db"))
        async with migrated(apart):
            for b in batches:
                assert await apart.write_batch(b) == len(b)
            for s_ in (store, apart):
                assert sum(r.checks for r in await s_.daily_rollups(T0.date())) == 1300
            first, last = T0 - timedelta(days=1), T0 + timedelta(days=2)
            assert await store.daily_rollups(first.date()) == await apart.daily_rollups(
                first.date()
            )
            assert await store.monthly_rollups(
                first.date(), last.date()
            ) == await apart.monthly_rollups(first.date(), last.date())
            assert await store.hourly_rollups_of(
                None, first, last
            ) == await apart.hourly_rollups_of(None, first, last)
            downs = sum(1 for c in checks if c.outcome is Outcome.DOWN)
            assert sum(r.down for r in await store.daily_rollups(first.date())) == downs
