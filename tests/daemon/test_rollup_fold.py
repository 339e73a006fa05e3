"""The writer's fold: a batch's partial rollups are added to the stored ones inside the
database (Dialect.add_rollups). Whatever the batches look like, the stored daily, hourly and
monthly rollups equal the rollups of all the checks folded at once in Python."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from slamon_daemon.models import Check, ErrorKind, Outcome
from slamon_daemon.rollup import Rollup, fold_batch, linked, rollup_deltas
from slamon_daemon.store import SqliteStore, SqlStore
from slamon_daemon.store.base import Store
from slamon_daemon.store.dialects import base, postgres, sqlite

KINDS = [ErrorKind.TIMEOUT, ErrorKind.CONNECTION_ERROR, ErrorKind.HTTP_ERROR]


def _checks() -> list[Check]:
    """Three services every 50 s across a month's end and a midnight, with failures (some
    across an hour or the month's end), slow checks and a maintenance stretch."""
    rng = random.Random(14)
    start = datetime(2025, 3, 31, 23, 30, tzinfo=UTC)
    out: list[Check] = []
    for i in range(90):
        for k, sid in enumerate(("api", "web", "db")):
            at = start + timedelta(seconds=50 * i + k)
            roll = rng.random()
            if roll < 0.15:
                kind = KINDS[rng.randrange(len(KINDS))]
                out.append(
                    Check(sid, at, 5000.0, Outcome.DOWN, None, kind, "failed", interval_s=50)
                )
            else:
                outcome = Outcome.DEGRADED if roll > 0.9 else Outcome.UP
                lat = rng.choice([0.4, 3.0, 12.5, 80.0, 950.0]) * (1 + rng.random())
                out.append(
                    Check(
                        sid, at, lat, outcome, 200, interval_s=50, maintenance=sid == "db" and i < 9
                    )
                )
    return linked(out)


def _pairs(text: str) -> list[tuple[str, int]]:
    return json.loads(text, object_pairs_hook=list)  # type: ignore[no-any-return]


def _expected(checks: list[Check], **unit: bool) -> dict[tuple[str, date, int | None], Rollup]:
    return {(r.service_id, r.day, r.hour): r for r in rollup_deltas(checks, **unit)}


def _same(got: Rollup, want: Rollup) -> None:
    assert (got.service_id, got.day, got.hour) == (want.service_id, want.day, want.hour)
    assert (got.checks, got.up, got.degraded, got.down, got.maintenance) == (
        want.checks,
        want.up,
        want.degraded,
        want.down,
        want.maintenance,
    )
    assert abs(got.downtime_s - want.downtime_s) < 1e-6
    assert abs(got.maintenance_s - want.maintenance_s) < 1e-6
    assert (got.latency_count, got.latency_sum_us) == (want.latency_count, want.latency_sum_us)
    assert (got.latency_min_ms, got.latency_max_ms) == (want.latency_min_ms, want.latency_max_ms)
    assert got.hist == want.hist
    assert got.errors == want.errors


@pytest.fixture(params=["appended", "compacted"])
def compact_at(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The stored count objects: only appended to (the default threshold is never reached
    here), or merged key by key at almost every batch (a tiny threshold)."""
    size = base.COUNTS_COMPACT_AT if request.param == "appended" else 30
    monkeypatch.setattr(base, "COUNTS_COMPACT_AT", size)
    sqlite._add_rollups_sql.cache_clear()
    postgres._add_rollups_sql.cache_clear()
    yield size
    sqlite._add_rollups_sql.cache_clear()
    postgres._add_rollups_sql.cache_clear()


async def test_batches_of_any_shape_add_up_to_the_whole_fold(store: Store, compact_at: int) -> None:
    checks = _checks()
    # One check per batch (one key per partial rollup), a whole round of the three services,
    # and long batches (many keys per partial rollup), in turn.
    i, sizes = 0, [1, 1, 3, 40, 2, 7]
    while i < len(checks):
        n = sizes[i % len(sizes)]
        await store.write_checks(checks[i : i + n])
        i += n
    first, last = date(2025, 3, 31), date(2025, 4, 1)
    daily = _expected(checks)
    got = await store.daily_rollups(first, last)
    assert sorted((r.service_id, r.day) for r in got) == sorted((k[0], k[1]) for k in daily)
    for r in got:
        _same(r, daily[(r.service_id, r.day, None)])
    monthly = _expected(checks, monthly=True)
    got = await store.monthly_rollups(date(2025, 3, 1), date(2025, 4, 1))
    assert len(got) == len(monthly) == 6
    for r in got:
        _same(r, monthly[(r.service_id, r.day, None)])
    hourly = _expected(checks, hourly=True)
    for sid in ("api", "web", "db"):
        got = await store.hourly_rollups(sid, datetime(2025, 3, 31, tzinfo=UTC))
        assert sorted((r.day, r.hour) for r in got) == sorted(
            (k[1], k[2]) for k in hourly if k[0] == sid
        )
        for r in got:
            _same(r, hourly[(sid, r.day, r.hour)])
    # Both ways of adding ran: appended objects repeat keys, compacted ones (nearly) never.
    assert isinstance(store, SqlStore)
    texts = [str(r[0]) for r in await store._fetch("SELECT latency_hist FROM daily_rollups")]
    repeats = sum(len(pairs) - len(dict(pairs)) for pairs in map(_pairs, texts))
    assert (repeats >= 20) if compact_at > 100 else (repeats <= 2)
    assert sum(r.errors.get("timeout", 0) for r in await store.daily_rollups(first, last)) == sum(
        1 for c in checks if c.error_kind is ErrorKind.TIMEOUT and not c.maintenance
    )


def test_fold_batch_is_rollup_deltas_for_the_three_periods() -> None:
    checks = _checks()
    days, hours, months = fold_batch(checks)
    for got, unit in ((days, {}), (hours, {"hourly": True}), (months, {"monthly": True})):
        want = _expected(checks, **unit)
        assert got.keys() == want.keys()
        for key, r in got.items():
            _same(r, want[key])


async def test_a_write_cancelled_while_it_begins_leaves_no_transaction_open(
    tmp_path: Path,
) -> None:
    """A task cancelled while its BEGIN was on its way to SQLite's thread (the daemon
    cancels its upkeep task at shutdown) used to leave the connection inside a transaction:
    every later write failed with "cannot start a transaction within a transaction"."""
    store = SqliteStore(str(tmp_path / "t.db"))
    await store.open()
    try:
        await store.migrate()
        for _ in range(20):  # the cancellation lands at BEGIN, or just after it
            task = asyncio.create_task(store.write_checks(_checks()[:3]))
            await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert await store.write_checks(_checks()) > 0
    finally:
        await store.close()


async def test_upkeep_merges_the_repeated_keys_of_finished_periods(store: Store) -> None:
    """maintain() compacts the appended count objects of yesterday (daily, hourly) and of
    last month (monthly): each key once, the same counts; today's are left as they are."""
    assert isinstance(store, SqlStore)
    checks = _checks()  # 2025-03-31 23:30 .. 2025-04-01 00:45
    for c in checks:  # one check per batch: every batch appends its keys
        await store.write_checks([c])
    before = await store.daily_rollups(date(2025, 3, 31), date(2025, 4, 1))
    months_before = await store.monthly_rollups(date(2025, 3, 1), date(2025, 4, 1))

    async def raw(table: str) -> dict[str, list[tuple[str, int]]]:
        rows = await store._fetch(f"SELECT day, service_id, latency_hist FROM {table}")
        return {f"{r[0]} {r[1]}": _pairs(str(r[2])) for r in rows}

    def repeats(pairs: list[tuple[str, int]]) -> int:
        return len(pairs) - len(dict(pairs))

    assert sum(map(repeats, (await raw("daily_rollups")).values())) > 20
    # "Today" is 2025-04-01: March 31 and March are finished, April 1 is not.
    assert await store.compact_counts(date(2025, 4, 1)) > 0
    daily = await raw("daily_rollups")
    day = store.dialect.day
    for key, pairs in daily.items():
        finished = key.startswith(str(day(date(2025, 3, 31))))
        assert (repeats(pairs) == 0) if finished else True
    assert any(repeats(p) > 0 for k, p in daily.items() if "2025-04-01" in k)
    for key, pairs in (await raw("monthly_rollups")).items():
        if "2025-03-01" in key:
            assert repeats(pairs) == 0
    hourly = await raw("hourly_rollups")
    assert all(repeats(p) == 0 for k, p in hourly.items() if "2025-03-31" in k)
    # The same figures, and a second run has nothing left to do.
    assert await store.daily_rollups(date(2025, 3, 31), date(2025, 4, 1)) == before
    assert await store.monthly_rollups(date(2025, 3, 1), date(2025, 4, 1)) == months_before
    assert await store.compact_counts(date(2025, 4, 1)) == 0


def test_fold_batch_counts_quorum_figures_as_rollup_deltas_does() -> None:
    """Issue 15 beside issue 14: a regional failure (fewer regions than the quorum saw it)
    is up, and a failure seen by several regions stands for its share of the downtime —
    the writer's inlined fold must agree with Rollup.add/rollup_deltas on both."""
    import dataclasses

    plain = _checks()
    marked = []
    for i, c in enumerate(plain):
        if c.failed and i % 3 == 0:
            c = dataclasses.replace(c, regional=True)
        elif c.failed and i % 3 == 1:
            c = dataclasses.replace(c, share=2)
        marked.append(c)
    checks = linked(marked)
    assert any(c.regional for c in checks) and any(c.share == 2 for c in checks)
    days, hours, months = fold_batch(checks)
    for got, unit in ((days, {}), (hours, {"hourly": True}), (months, {"monthly": True})):
        want = _expected(checks, **unit)
        assert got.keys() == want.keys()
        for key, r in got.items():
            _same(r, want[key])
    # and the regional failures really are counted up, not down
    all_days = _expected(checks)
    assert sum(r.down for r in all_days.values()) == sum(
        1 for c in checks if c.failed and not c.maintenance and not c.regional
    )
