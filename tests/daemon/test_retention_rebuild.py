"""Retention and rollup rebuilds on both backends (SPEC §3.4, §3.9).

Raw checks are kept ``retention_days`` (PostgreSQL drops whole daily partitions, SQLite
deletes rows), rollups 400 days; ``rebuild_rollups`` recomputes hourly and daily rollups from
the raw checks with exactly the result of the incremental writes. The data sit on whole UTC
days and "now" on a midnight, where both backends must agree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from slamon_daemon.models import Check, ErrorKind, Outcome
from slamon_daemon.rollup import Rollup, rollup_deltas
from slamon_daemon.store import SqlStore
from slamon_daemon.store.base import Store

UP, DEG, DOWN = Outcome.UP, Outcome.DEGRADED, Outcome.DOWN


def at(day: date, h: int = 0, m: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, h, m, s, us, tzinfo=UTC)


def chk(
    sid: str,
    when: datetime,
    outcome: Outcome = UP,
    latency: float = 12.5,
    *,
    kind: ErrorKind | None = None,
    maintenance: bool = False,
    interval: float = 60.0,
    node: str = "local",
) -> Check:
    if outcome is DOWN and kind is None:
        kind = ErrorKind.CONNECTION_ERROR
    return Check(
        service_id=sid,
        started_at=when,
        latency_ms=latency,
        outcome=outcome,
        status_code=None if outcome is DOWN else 200,
        error_kind=kind,
        error=f"{kind.value}!" if kind else None,
        node=node,
        maintenance=maintenance,
        interval_s=interval,
    )


def day_of_checks(sid: str, day: date) -> list[Check]:
    """Four checks on ``day``, from its first to its last microsecond."""
    return [
        chk(sid, at(day, 0)),
        chk(sid, at(day, 6, 30)),
        chk(sid, at(day, 12), DOWN),
        chk(sid, at(day, 23, 59, 59, 999_999), DEG, 900.0),
    ]


async def ensure_partitions(store: Store, days: Iterable[date]) -> None:
    """On PostgreSQL, the daily partitions of ``days`` (maintain makes day-1 .. day+3)."""
    assert isinstance(store, SqlStore)
    if store.backend == "postgres":
        for d in days:
            await store.maintain(today=d + timedelta(days=1))


async def pg_partitions(store: Store) -> set[str]:
    assert isinstance(store, SqlStore)
    async with store.dialect.read() as con:
        rows = await con.fetch(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'checks'"
        )
    return {r[0] for r in rows}


async def execute(store: Store, sql: str) -> None:
    """Run one statement that is the same SQL on both backends."""
    assert isinstance(store, SqlStore)
    async with store.dialect.transaction() as con:
        await con.execute(sql)


# -- retention ------------------------------------------------------------------------------

NOW = datetime(2025, 5, 20, tzinfo=UTC)  # a midnight
RAW_CUTOFF = date(2025, 5, 10)  # NOW - 10 days
ROLLUP_CUTOFF = date(2024, 4, 15)  # NOW - 400 days


async def test_retention_removes_old_checks_and_rollups_keeps_newer(store: Store) -> None:
    removed_days = [date(2024, 4, 1), date(2024, 4, 14)]  # raw and rollups go
    aged_days = [
        date(2024, 4, 15),
        date(2024, 6, 1),
        date(2025, 5, 1),
        date(2025, 5, 8),
        date(2025, 5, 9),
    ]  # raw goes, rollups stay
    kept_days = [date(2025, 5, 10), date(2025, 5, 15), date(2025, 5, 19)]  # everything stays
    # PostgreSQL: partitions for May 2025; the 2024 days land in the default partition.
    await ensure_partitions(store, [date(2025, 5, 8), date(2025, 5, 15)])
    checks = {d: day_of_checks("api", d) for d in removed_days + aged_days + kept_days}
    checks[date(2025, 5, 9)].append(chk("web", at(date(2025, 5, 9), 23, 59, 59, 999_999)))
    checks[date(2025, 5, 10)].append(chk("web", at(date(2025, 5, 10))))  # exactly the cutoff
    everything = [c for cs in checks.values() for c in cs]
    assert await store.write_checks(everything) == len(everything)
    if store.backend == "postgres":
        before = await pg_partitions(store)
        assert {"checks_p20250508", "checks_p20250509", "checks_p20250510"} <= before

    result = await store.apply_retention(NOW, raw_days=10)

    old = [c for d in removed_days + aged_days for c in checks[d]]
    kept = [c for d in kept_days for c in checks[d]]
    assert result.checks == len(old)
    assert await store.count_checks() == len(kept)
    assert await store.checks_between("api", at(date(2000, 1, 1))) == [
        c for c in kept if c.service_id == "api"
    ]
    assert await store.checks_between("web", at(date(2000, 1, 1))) == [
        checks[date(2025, 5, 10)][-1]
    ]

    days_left = {r.day for r in await store.daily_rollups(date(2000, 1, 1))}
    assert days_left == set(aged_days + kept_days)
    assert result.daily_rollups == len(removed_days)
    assert result.hourly_rollups == 4 * len(removed_days)  # hours 0, 6, 12 and 23 of each
    hours = await store.hourly_rollups("api", at(date(2000, 1, 1)), at(date(2030, 1, 1)))
    assert {r.day for r in hours} == set(aged_days + kept_days)
    # Rollups of days whose raw checks are gone are intact.
    aged = {r.day: r for r in await store.daily_rollups(date(2024, 4, 15), service_ids=["api"])}
    assert all((aged[d].checks, aged[d].down, aged[d].degraded) == (4, 1, 1) for d in aged_days)

    if store.backend == "postgres":
        after = await pg_partitions(store)
        dropped = {"checks_p20250508", "checks_p20250509"}
        assert dropped <= set(result.partitions)
        assert not dropped & after
        assert {"checks_p20250510", "checks_p20250515", "checks_p20250519"} <= after
        assert "checks_default" in after
        for name in result.partitions:
            assert name.startswith("checks_p") and name < f"checks_p{RAW_CUTOFF:%Y%m%d}"
    else:
        assert result.partitions == []

    # Again: nothing more to remove.
    again = await store.apply_retention(NOW, raw_days=10)
    assert (again.checks, again.daily_rollups, again.hourly_rollups, again.partitions) == (
        0,
        0,
        0,
        [],
    )


async def test_retention_runs_while_a_writer_keeps_writing(store: Store) -> None:
    now = datetime.now(UTC)
    old_days = [(now - timedelta(days=n)).date() for n in (40, 39, 38)]
    await ensure_partitions(store, old_days)
    old = [
        chk("api", at(d) + timedelta(seconds=29 * i), DOWN if i % 9 == 0 else UP)
        for d in old_days
        for i in range(1500)
    ]
    assert await store.write_checks(old) == len(old)
    new = [chk(f"s{i % 3}", now - timedelta(seconds=3 * i, microseconds=i)) for i in range(2000)]

    async def writer() -> int:
        written = 0
        for b in range(0, len(new), 100):
            written += await store.write_checks(new[b : b + 100])
            await asyncio.sleep(0)
        return written

    result, written = await asyncio.wait_for(
        asyncio.gather(store.apply_retention(now, raw_days=30), writer()), timeout=60
    )
    assert result.checks == len(old)
    assert written == len(new)
    assert await store.count_checks() == len(new)
    for sid in ("s0", "s1", "s2"):
        got = await store.checks_between(sid, now - timedelta(days=1))
        assert got == sorted((c for c in new if c.service_id == sid), key=lambda c: c.started_at)
    daily = await store.daily_rollups(old_days[0])
    assert sum(r.checks for r in daily if r.service_id != "api") == len(new)
    assert sum(r.checks for r in daily if r.service_id == "api") == len(old)  # rollups stay
    if store.backend == "postgres":
        partitions = await pg_partitions(store)
        assert not {f"checks_p{d:%Y%m%d}" for d in old_days} & partitions
        assert f"checks_p{now.date():%Y%m%d}" in partitions


@pytest.mark.parametrize(
    "store",
    [
        "sqlite",
        "postgres",
    ],
    indirect=True,
)
async def test_rebuild_after_retention_keeps_the_oldest_days_rollups(store: Store) -> None:
    d = date(2025, 5, 10)
    checks = [
        chk("api", at(d, 6)),
        chk("api", at(d, 18), DOWN),
        chk("api", at(d + timedelta(days=1), 12)),
    ]
    await store.write_checks(checks)
    before = {r.day: r.to_dict() for r in await store.daily_rollups(d)}
    await store.apply_retention(at(d + timedelta(days=10), 12), raw_days=10)
    await store.rebuild_rollups()
    after = {r.day: r.to_dict() for r in await store.daily_rollups(d)}
    assert after == before
    assert after[d]["checks"] == 2


# -- rebuild ------------------------------------------------------------------------------

D1, D2, D3, D4 = (date(2025, 3, 1) + timedelta(days=i) for i in range(4))


def spread() -> list[Check]:
    """Checks on D1, D2 and D4 (none on D3) of two services: up, degraded, failures of several
    kinds, maintenance checks (up and failed), a second node and fractional intervals."""
    kinds = [
        ErrorKind.TIMEOUT,
        ErrorKind.HTTP_ERROR,
        ErrorKind.CONNECTION_ERROR,
        ErrorKind.ASSERTION_FAILED,
        ErrorKind.TLS_ERROR,
    ]
    out: list[Check] = []
    for day in (D1, D2, D4):
        for sid, step, interval in (("api", 97, 60.0), ("web", 211, 45.5)):
            for i in range(86400 // step):
                when = at(day) + timedelta(seconds=i * step, microseconds=(i * 7919) % 1_000_000)
                r = i % 23
                maintenance = 300 <= i < 330 and sid == "api"
                if r in (4, 5):
                    c = chk(
                        sid,
                        when,
                        DOWN,
                        7000.0,
                        kind=kinds[i % len(kinds)],
                        maintenance=maintenance,
                        interval=interval,
                    )
                elif r == 11:
                    c = chk(
                        sid,
                        when,
                        DEG,
                        1200.0 + i % 300 + 0.125,
                        maintenance=maintenance,
                        interval=interval,
                    )
                else:
                    c = chk(
                        sid,
                        when,
                        UP,
                        3.0 + (i * 37 % 500) / 7,
                        maintenance=maintenance,
                        interval=interval,
                    )
                out.append(c)
        out.append(chk("api", at(day, 12), UP, 99.0, node="us-1"))  # same instant, other node
    return out


def fingerprint(rollups: Iterable[Rollup]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {
        (r.service_id, r.day, r.hour): {
            **r.to_dict(),
            "hist": dict(r.hist),
            "latency_sum_us": r.latency_sum_us,
            "latency_count": r.latency_count,
        }
        for r in rollups
    }


async def snapshot(store: Store) -> dict[str, Any]:
    lo, hi = at(D1 - timedelta(days=1)), at(D4 + timedelta(days=2))
    return {
        "daily": fingerprint(await store.daily_rollups(D1 - timedelta(days=1))),
        "hourly": {
            sid: fingerprint(await store.hourly_rollups(sid, lo, hi)) for sid in ("api", "web")
        },
    }


def expected(checks: list[Check]) -> dict[str, Any]:
    """What the rollups must be: folded in memory from the distinct checks."""
    unique = list({(c.service_id, c.started_at, c.node): c for c in checks}.values())
    hourly = rollup_deltas(unique, hourly=True)
    return {
        "daily": fingerprint(rollup_deltas(unique)),
        "hourly": {
            sid: fingerprint(r for r in hourly if r.service_id == sid) for sid in ("api", "web")
        },
    }


async def write_incrementally(store: Store, checks: list[Check]) -> None:
    await ensure_partitions(store, [D1, D4])  # PostgreSQL: some days in partitions, D3.. too
    for i in range(0, len(checks), 377):
        batch = checks[i : i + 377]
        await store.write_checks(batch)
        if i % 5 == 0:
            assert await store.write_checks(batch) == 0  # the same batch written twice
    await store.write_checks(checks[1000:2500])  # a replay across batch boundaries


async def test_rebuild_gives_exactly_the_incremental_rollups(store: Store) -> None:
    checks = spread()
    await write_incrementally(store, checks)
    incremental = await snapshot(store)
    assert incremental == expected(checks)
    daily = incremental["daily"]
    assert daily[("api", D1, None)]["maintenance"] == 30
    assert daily[("api", D1, None)]["degraded"] > 0 and daily[("api", D1, None)]["down"] > 0
    assert set(daily[("web", D2, None)]["errors"]) == {
        k.value
        for k in (
            ErrorKind.TIMEOUT,
            ErrorKind.HTTP_ERROR,
            ErrorKind.CONNECTION_ERROR,
            ErrorKind.ASSERTION_FAILED,
            ErrorKind.TLS_ERROR,
        )
    }

    seen: list[tuple[int, int]] = []
    n = await store.rebuild_rollups(progress=lambda done, total: seen.append((done, total)))
    assert n == len(checks)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]  # once per day, D3 included
    assert await snapshot(store) == incremental

    # A second rebuild changes nothing.
    assert await store.rebuild_rollups() == len(checks)
    assert await snapshot(store) == incremental


async def test_rebuild_since_leaves_older_rollups_untouched(store: Store) -> None:
    checks = spread()
    await write_incrementally(store, checks)
    good = await snapshot(store)
    # Make D1's stored rollups wrong, as a rebuild from raw checks would never make them.
    await execute(store, f"UPDATE daily_rollups SET checks = checks + 1000 WHERE day = '{D1}'")
    await execute(store, f"UPDATE hourly_rollups SET up = up + 7 WHERE day = '{D1}'")
    tampered = await snapshot(store)
    assert tampered != good

    seen: list[tuple[int, int]] = []
    n = await store.rebuild_rollups(D2, progress=lambda d, t: seen.append((d, t)))
    assert n == sum(1 for c in checks if c.started_at.date() >= D2)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    after = await snapshot(store)
    assert after == tampered  # D1 untouched, D2.. recomputed to what they were
    assert (
        after["daily"][("api", D1, None)]["checks"]
        == good["daily"][("api", D1, None)]["checks"] + 1000
    )

    # A since before the first check starts at the first check; D1 is rebuilt.
    assert await store.rebuild_rollups(date(2024, 1, 1)) == len(checks)
    assert await snapshot(store) == good
    # A since after the last check rebuilds nothing.
    assert await store.rebuild_rollups(D4 + timedelta(days=1)) == 0
    assert await snapshot(store) == good


async def test_rebuild_removes_rollups_of_days_without_raw_checks_in_range(store: Store) -> None:
    await store.write_checks([chk("api", at(D1, 1)), chk("api", at(D3, 1))])
    # A stray rollup row for D2 (say, from a check whose raw row was lost).
    await store.write_checks([chk("api", at(D2, 5))])
    await execute(
        store,
        f"DELETE FROM checks WHERE started_at >= "
        f"{_ts_literal(store, at(D2))} AND started_at < {_ts_literal(store, at(D3))}",
    )
    assert {r.day for r in await store.daily_rollups(D1)} == {D1, D2, D3}
    assert await store.rebuild_rollups() == 2
    assert {r.day for r in await store.daily_rollups(D1)} == {D1, D3}
    assert await store.hourly_rollups("api", at(D2), at(D3)) == []


def _ts_literal(store: Store, when: datetime) -> str:
    if store.backend == "sqlite":
        assert isinstance(store, SqlStore)
        return str(store.dialect.time(when))
    return f"'{when.isoformat()}'"


async def test_rebuild_on_an_empty_store(store: Store) -> None:
    seen: list[tuple[int, int]] = []
    assert await store.rebuild_rollups(progress=lambda d, t: seen.append((d, t))) == 0
    assert await store.rebuild_rollups(D1, progress=lambda d, t: seen.append((d, t))) == 0
    assert seen == []
    assert await store.daily_rollups(date(2000, 1, 1)) == []


async def test_rebuild_progress_is_per_day_and_ends_at_total(store: Store) -> None:
    first = date(2025, 1, 30)
    days = [first, first + timedelta(days=3), first + timedelta(days=9)]
    await store.write_checks(
        [chk("api", at(d, 23, 59)) for d in days] + [chk("api", at(days[-1], 0, 0, 1))]
    )
    seen: list[tuple[int, int]] = []
    assert await store.rebuild_rollups(progress=lambda d, t: seen.append((d, t))) == 4
    assert seen == [(i, 10) for i in range(1, 11)]
    assert seen[-1][0] == seen[-1][1]
