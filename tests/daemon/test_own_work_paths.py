"""Issue 14 point 2 (slamon's own work per check): the writer's cheaper paths store exactly
what the checks are, on both backends.

* SQLite writes a batch's rows in statements of 500 rows and the rest in statements of 256,
  128 ... 1 rows (each compiled once and kept in sqlite3's statement cache), not one
  statement of whatever size the batch's rest had.
(PostgreSQL's COPY into temporary staging tables was tried and not taken: the daemon's
saving was the server's added cost, and it needs a session per connection: docs/benchmarks.md
stop 22.)

Whatever the batch sizes, replays, failures and periods crossed (an hour, a midnight, a
month's end), the stored checks are the checks and the stored daily, hourly and monthly
rollups are the rollups of all the checks folded at once in Python (rollup_deltas).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from slamon_daemon.models import Check, ErrorKind, Outcome
from slamon_daemon.rollup import Rollup, linked, rollup_deltas
from slamon_daemon.store import SqlStore
from slamon_daemon.store.base import Store
from slamon_daemon.store.dialects import sqlite
from slamon_daemon.store.dialects.base import CHECK_COLUMNS

SERVICES = 1200
KINDS = [ErrorKind.TIMEOUT, ErrorKind.CONNECTION_ERROR, ErrorKind.HTTP_ERROR]
STATEMENT_ROWS = {500, 256, 128, 64, 32, 16, 8, 4, 2, 1}


def _checks() -> list[Check]:
    """1,200 services every 60 s from 2025-03-31 23:58 to 2025-04-01 00:01:59 (a midnight,
    an hour and a month's end), each round in a shuffled order as the scheduler's phases
    give them; failures (some whose downtime crosses midnight), degraded and slow checks, a
    maintenance stretch."""
    rng = random.Random(142)
    start = datetime(2025, 3, 31, 23, 58, tzinfo=UTC)
    out: list[Check] = []
    for rnd in range(4):
        order = list(range(SERVICES))
        rng.shuffle(order)
        for k in order:
            sid = f"svc-{k:04d}"
            at = start + timedelta(seconds=60 * rnd + (k % 59), microseconds=k)
            roll = rng.random()
            if roll < 0.1:
                kind = KINDS[rng.randrange(len(KINDS))]
                out.append(
                    Check(sid, at, 5000.0, Outcome.DOWN, None, kind, "failed", interval_s=60)
                )
            else:
                lat = rng.choice([0.4, 3.0, 12.5, 80.0, 950.0]) * (1 + rng.random())
                out.append(
                    Check(
                        sid,
                        at,
                        lat,
                        Outcome.DEGRADED if roll > 0.92 else Outcome.UP,
                        200,
                        interval_s=60,
                        maintenance=k % 97 == 3 and rnd < 2,
                    )
                )
    return linked(out)


def _batches(checks: list[Check]) -> Iterator[list[Check]]:
    """The checks in batches of every shape a writer makes: one check, a few, a batch's rest
    of odd sizes, a full batch of 500, more than a batch."""
    sizes = [1, 3, 37, 256, 437, 500, 777, 129, 1100, 2, 63, 311]
    i = 0
    while i < len(checks):
        n = sizes[(i // 7) % len(sizes)]
        yield checks[i : i + n]
        i += n


def _key(r: Rollup) -> tuple[str, date, int | None]:
    return (r.service_id, r.day, r.hour)


def _same(got: Rollup, want: Rollup) -> None:
    assert _key(got) == _key(want)
    assert (got.checks, got.up, got.degraded, got.down, got.maintenance) == (
        want.checks,
        want.up,
        want.degraded,
        want.down,
        want.maintenance,
    ), _key(got)
    assert abs(got.downtime_s - want.downtime_s) < 1e-6, _key(got)
    assert abs(got.maintenance_s - want.maintenance_s) < 1e-6, _key(got)
    assert (got.latency_count, got.latency_sum_us) == (want.latency_count, want.latency_sum_us)
    assert (got.latency_min_ms, got.latency_max_ms) == (want.latency_min_ms, want.latency_max_ms)
    assert got.hist == want.hist, _key(got)
    assert got.errors == want.errors, _key(got)


async def _assert_stored_exactly(store: Store, checks: list[Check]) -> None:
    """The checks table holds ``checks`` (every column) and the three rollup tables hold
    what rollup_deltas makes of them."""
    assert isinstance(store, SqlStore)
    rows = await store._fetch(f"SELECT {CHECK_COLUMNS} FROM checks")
    assert sorted(map(tuple, rows)) == sorted(store._check_row(c) for c in checks)
    first, last = date(2025, 3, 31), date(2025, 4, 1)
    want = {_key(r): r for r in rollup_deltas(checks)}
    got = await store.daily_rollups(first, last)
    assert sorted(map(_key, got)) == sorted(want)
    for r in got:
        _same(r, want[_key(r)])
    want = {_key(r): r for r in rollup_deltas(checks, monthly=True)}
    got = await store.monthly_rollups(date(2025, 3, 1), date(2025, 4, 1))
    assert sorted(map(_key, got)) == sorted(want)
    for r in got:
        _same(r, want[_key(r)])
    want = {_key(r): r for r in rollup_deltas(checks, hourly=True)}
    rows = await store._fetch("SELECT DISTINCT service_id FROM hourly_rollups")
    got = [
        r
        for (sid,) in rows
        for r in await store.hourly_rollups(str(sid), datetime(2025, 3, 31, tzinfo=UTC))
    ]
    assert sorted(map(_key, got)) == sorted(want)
    for r in got:
        _same(r, want[_key(r)])


async def test_batches_of_every_size_store_the_checks_and_their_rollups(store: Store) -> None:
    checks = _checks()
    batches = list(_batches(checks))
    # As the writer hands them: up to ten batches a call (SQLite: a transaction each;
    # PostgreSQL: one transaction), and single batches.
    for i in range(0, len(batches), 3):
        group = batches[i : i + 3]
        if i % 2:
            for b in group:
                await store.write_batch(b)
        else:
            await store.write_batches(group)
    await _assert_stored_exactly(store, checks)


async def test_replayed_and_partly_replayed_batches_are_stored_once(store: Store) -> None:
    """A journal segment replayed after a crash: its checks stored already are neither
    stored nor counted twice, also when a batch is part old, part new, and when one batch
    holds the same check twice."""
    checks = _checks()
    half = len(checks) // 2
    for b in _batches(checks[:half]):
        await store.write_batch(b)
    # The whole first half again, in other shapes, then batches straddling old and new.
    await store.write_batches([checks[:500], checks[500:937]])
    await store.write_batch(checks[937:half])
    step = 733
    for i in range(half - 300, len(checks), step):
        part = checks[i : i + step]
        await store.write_batch([*part, *part[:5]])  # five checks twice in one batch
    await _assert_stored_exactly(store, checks)


async def test_a_failed_transaction_leaves_nothing_for_the_next(store: Store) -> None:
    """A write that fails after its rows were sent stores nothing, and the next write stores exactly its own rows."""
    assert isinstance(store, SqlStore)
    checks = _checks()
    rows = [store._check_row(c) for c in checks[:437]]

    async def fails(con: Any) -> int:
        await store.dialect.insert_checks(con, rows)
        await store.dialect.add_rollups(con, "daily_rollups", store._fold_rows(checks[:437])[0][1])
        raise RuntimeError("the write fails after its rows were sent")

    with pytest.raises(RuntimeError):
        await store.dialect.atomic(fails)
    assert await store.count_checks() == 0
    assert await store.daily_rollups(date(2025, 3, 31), date(2025, 4, 1)) == []
    for b in _batches(checks):
        await store.write_batch(b)
    await _assert_stored_exactly(store, checks)


async def test_two_writes_in_one_transaction_add_each_once(store: Store) -> None:
    """Rows handed to the dialect twice in one transaction (two batches' rollups of one
    table) are each added once."""
    assert isinstance(store, SqlStore)
    checks = _checks()
    a, b = checks[:300], checks[300:800]
    async with store.dialect.transaction() as con:
        for part in (a, b):
            stored = await store.dialect.insert_checks(con, [store._check_row(c) for c in part])
            assert len(stored) == len(part)
            for table, rows in store._fold_rows(part):
                await store.dialect.add_rollups(con, table, rows)
    await _assert_stored_exactly(store, checks[:800])


async def test_sqlite_statements_have_few_row_counts(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: every statement of the writer inserts 500 rows or a power of two of them, so
    sqlite3's statement cache serves every batch; a statement sized to each batch's rest was
    compiled again for nearly every batch (compiling a statement of hundreds of rows costs
    about as much as running it)."""
    if store.backend != "sqlite":
        pytest.skip("SQLite's statements")
    sizes: list[int] = []
    rollups_sql, many_sql = sqlite._add_rollups_sql, sqlite._many_sql

    def rollups_spy(table: str, rows: int = 1) -> str:
        sizes.append(rows)
        return rollups_sql(table, rows)

    def many_spy(head: str, width: int, count: int, tail: str) -> str:
        sizes.append(count)
        return many_sql(head, width, count, tail)

    monkeypatch.setattr(sqlite, "_add_rollups_sql", rollups_spy)
    monkeypatch.setattr(sqlite, "_many_sql", many_spy)
    checks = _checks()
    for b in _batches(checks):
        await store.write_batch(b)
    assert sizes and set(sizes) <= STATEMENT_ROWS, sorted(set(sizes) - STATEMENT_ROWS)
    await _assert_stored_exactly(store, checks)


def test_a_lone_checks_rows_are_its_rollups() -> None:
    """single_rows (the writer's fold of a service's only check in a batch) gives the values
    rollup_deltas gives that check's day, hour and month, for every kind of check; the
    checks that put downtime somewhere, and services checked twice, are left to fold_batch."""
    import itertools

    from slamon_daemon.rollup import single_rows
    from slamon_daemon.store.sql import rollup_from_row

    at = datetime(2025, 3, 31, 23, 59, 59, 999_000, tzinfo=UTC)
    checks: list[Check] = []
    for n, (outcome, maint, regional, kind, lat, interval) in enumerate(
        itertools.product(
            (Outcome.UP, Outcome.DEGRADED, Outcome.DOWN),
            (False, True),
            (False, True),
            (None, ErrorKind.TIMEOUT, ErrorKind.HTTP_ERROR),
            (0.01, 12.345, 9_999.5),
            (60, 30.5),
        )
    ):
        checks.append(
            Check(
                f"svc-{n:03d}",
                at + timedelta(seconds=n),
                lat,
                outcome,
                None if outcome is Outcome.DOWN else 200,
                kind,
                None if kind is None else "error",
                maintenance=maint,
                interval_s=interval,
                regional=regional,
            )
        )
    twice = [checks[0], checks[1], checks[0]]  # a service checked twice: not lone
    lone, rest = single_rows(twice)
    assert [r[0] for r in lone] == [checks[1].service_id] and rest == [checks[0], checks[0]]
    lone, rest = single_rows(checks)
    assert rest == [c for c in checks if c.outcome is Outcome.DOWN and not c.maintenance]
    assert len(lone) + len(rest) == len(checks)
    by_id = {c.service_id: c for c in checks}
    for sid, day, hour, values in lone:
        c = by_id[sid]
        for unit, key_day, key_hour in (
            ({}, day, None),
            ({"hourly": True}, day, hour),
            ({"monthly": True}, day.replace(day=1), None),
        ):
            (want,) = rollup_deltas([c], **unit)
            got = rollup_from_row(sid, key_day, key_hour, values)
            _same(got, want)
            assert type(got.maintenance_s) is float and type(got.downtime_s) is float
