"""Issue 14 point 2: SQLite writes the batches of one writer call (sql.py ``write_batches``)
in one pass per table, rows in key order, rather than each batch's statements in turn (a busy
daemon's batch is its services in the scheduler's order, scattered over the tables' keys:
each batch walked the whole b-tree again). What it stores is byte for byte what writing each
batch in turn stored: every column of every table, the rollups' JSON texts and float sums
included, also when a service is met in several batches of a call and when a call is
replayed."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon.models import (
    Check,
    ErrorKind,
    OutageEpisode,
    Outcome,
    ServiceStatus,
    Transition,
)
from slamon_daemon.rollup import linked
from slamon_daemon.store import SqliteStore
from slamon_daemon.store.base import Record
from slamon_daemon.store.sql import SqlStore
from tests.conftest import migrated

T0 = datetime(2025, 3, 31, 23, 59, 40, tzinfo=UTC)  # an hour, a midnight and a month's end
TABLES = {
    "checks": "service_id, started_at, node",
    "daily_rollups": "service_id, day",
    "hourly_rollups": "service_id, day, hour",
    "monthly_rollups": "service_id, day",
    "status_history": "service_id, at, status",
    "outage_episodes": "service_id, started_at",
}


def _checks(services: int = 300, rounds: int = 7) -> list[Check]:
    """``services`` checked every 10 s, each round in a shuffled order (the scheduler's
    phases): failures (downtime across the midnight), degraded, maintenance, errors."""
    rng = random.Random(14)
    out: list[Check] = []
    for rnd in range(rounds):
        order = list(range(services))
        rng.shuffle(order)
        for k in order:
            at = T0 + timedelta(seconds=10 * rnd + k % 10, microseconds=k)
            roll = rng.random()
            if roll < 0.15:
                kind = rng.choice([ErrorKind.TIMEOUT, ErrorKind.HTTP_ERROR])
                c = Check(f"svc-{k:03d}", at, 4000.0, Outcome.DOWN, None, kind, "x", interval_s=10)
            else:
                lat = rng.choice([0.3, 2.5, 11.0, 70.0, 900.0]) * (1 + rng.random())
                outcome = Outcome.DEGRADED if roll > 0.9 else Outcome.UP
                c = Check(f"svc-{k:03d}", at, lat, outcome, 200, interval_s=10)
            out.append(replace(c, maintenance=k % 41 == 5 and rnd < 3))
    return linked(out)


def _calls() -> list[list[list[Record]]]:
    """The writer's calls: up to ten batches each, a service met in several batches of a
    call (two rounds a call), transitions and an episode updated across batches, a call
    replayed whole, one straddling stored and new checks, and a call whose services are each
    in one of its batches (a daemon keeping up)."""
    checks = _checks()
    last = checks[-300:]  # the last round: its own call, each service in one batch
    checks = checks[:-300]
    t1 = T0 + timedelta(seconds=5)
    moves: list[Record] = [
        Transition(f"svc-{i:03d}", ServiceStatus.OPERATIONAL, ServiceStatus.UNKNOWN, t1)
        for i in range(0, 300, 7)
    ]
    ep = OutageEpisode(service_id="svc-001", started_at=t1, worst_status=ServiceStatus.DEGRADED)
    closed = replace(ep, ended_at=t1 + timedelta(seconds=30), failed_checks=3)
    batches: list[list[Record]] = []
    for i in range(0, len(checks), 173):  # odd sizes: a service's checks land in two batches
        batches.append(list(checks[i : i + 173]))
    batches[0] += [*moves, ep]
    batches[2] += [moves[0], closed]
    calls = [batches[i : i + 4] for i in range(0, len(batches), 4)]
    calls.insert(2, calls[0])  # replayed whole
    calls.append([list(checks[500:900]), list(checks[1200:1300])])  # stored and new
    calls.append([list(last[i : i + 60]) for i in range(0, 300, 60)])
    return calls


async def _old_write(store: SqlStore, batches: list[list[Record]]) -> int:
    """How write_batches wrote on SQLite before: each batch's plan in turn, one transaction."""
    plans = [store._plan(b) for b in batches if b]

    async def write_all(con: Any) -> int:
        return sum([await store._write(con, p) for p in plans])

    return await store.dialect.atomic(write_all)


async def _dump(store: SqlStore) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: [tuple(r) for r in await store._fetch(f"SELECT * FROM {table} ORDER BY {key}")]
        for table, key in TABLES.items()
    }


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, SqliteStore]]:
    async with (
        migrated(SqliteStore(str(tmp_path / "old.db"))) as old,
        migrated(SqliteStore(str(tmp_path / "new.db"))) as new,
    ):
        yield old, new


async def test_a_call_stores_byte_for_byte_what_its_batches_in_turn_stored(
    two: tuple[SqliteStore, SqliteStore],
) -> None:
    old, new = two
    for batches in _calls():
        assert await new.write_batches(batches) == await _old_write(old, batches)
        assert await _dump(new) == await _dump(old)
    assert len((await _dump(new))["checks"]) == len(_checks())
    # A call did meet a service (and its hour) in several of its batches.
    first = _calls()[0]
    ids = [{r.service_id for r in b if isinstance(r, Check)} for b in first]
    assert len(set().union(*ids)) < sum(map(len, ids))


async def test_a_call_is_one_pass_per_table_in_key_order(tmp_path: Path) -> None:
    """One INSERT series for the call's checks and one for each rollup table (its keys each
    in one batch), every one in key order."""
    checks = _checks(rounds=1)
    batches: list[list[Record]] = [list(checks[i : i + 50]) for i in range(0, len(checks), 50)]
    async with migrated(SqliteStore(str(tmp_path / "t.db"))) as store:
        dialect = store.dialect
        seen: list[tuple[str, list[Any]]] = []
        insert_checks, add_rollups = dialect.insert_checks, dialect.add_rollups

        async def checks_in(con: Any, rows: Any) -> Any:
            seen.append(("checks", list(rows)))
            return await insert_checks(con, rows)

        async def rollups_in(con: Any, table: str, rows: Any) -> None:
            seen.append((table, list(rows)))
            await add_rollups(con, table, rows)

        dialect.insert_checks = checks_in  # type: ignore[method-assign]
        dialect.add_rollups = rollups_in  # type: ignore[method-assign]
        assert await store.write_batches(batches) == len(checks)
    assert [t for t, _ in seen] == ["checks", "daily_rollups", "monthly_rollups", "hourly_rollups"]
    for table, rows in seen:
        keys = [r[:3] if table in ("checks", "hourly_rollups") else r[:2] for r in rows]
        assert len(keys) == len(checks), table
        assert keys == sorted(keys), table
