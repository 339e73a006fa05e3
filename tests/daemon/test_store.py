"""The Store on both backends: every test runs on SQLite and on PostgreSQL (SPEC §3.9)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon.errors import StoreUnavailable
from slamon_daemon.models import (
    Check,
    ErrorKind,
    OutageEpisode,
    Outcome,
    Service,
    ServiceStatus,
    Transition,
)
from slamon_daemon.rollup import Rollup, linked
from slamon_daemon.store import PostgresStore, SqliteStore, SqlStore
from slamon_daemon.store.base import Store
from slamon_daemon.store.migrate import load_migrations
from slamon_daemon.store.sql import service_to_json

UP, DEG, DOWN = Outcome.UP, Outcome.DEGRADED, Outcome.DOWN
D30, D31 = date(2025, 3, 30), date(2025, 3, 31)


def svc(sid: str, **kw: Any) -> Service:
    return Service(id=sid, name=kw.pop("name", sid.title()), url=f"http://127.0.0.1:9/{sid}", **kw)


def chk(
    sid: str,
    at: datetime,
    outcome: Outcome = UP,
    latency: float = 10.0,
    *,
    kind: ErrorKind | None = None,
    status: int | None = 200,
    interval: float = 60.0,
    maintenance: bool = False,
    node: str = "local",
    error: str | None = None,
    cert: datetime | None = None,
) -> Check:
    if outcome is DOWN and kind is None:
        kind = ErrorKind.TIMEOUT
    if kind is not None and error is None:
        error = f"{kind.value} happened"
    return Check(
        service_id=sid,
        started_at=at,
        latency_ms=latency,
        outcome=outcome,
        status_code=status,
        error_kind=kind,
        error=error,
        node=node,
        maintenance=maintenance,
        interval_s=interval,
        cert_expires_at=cert,
    )


def at(day: date, h: int = 0, m: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, h, m, s, us, tzinfo=UTC)


def series(sid: str, start: datetime, n: int, step_s: float = 60.0) -> list[Check]:
    """``n`` checks of mixed outcomes, deterministic."""
    out = []
    for i in range(n):
        when = start + timedelta(seconds=i * step_s, microseconds=(i * 7919) % 1_000_000)
        r = i % 17
        if r == 3:
            out.append(chk(sid, when, DOWN, 5000.0, kind=ErrorKind.TIMEOUT, status=None))
        elif r == 9:
            out.append(chk(sid, when, DOWN, 3.0 + i % 5, kind=ErrorKind.HTTP_ERROR, status=503))
        elif r == 12:
            out.append(chk(sid, when, DEG, 1500.0 + i))
        else:
            out.append(chk(sid, when, UP, 5.0 + (i * 37 % 400) / 8))
    return out


def by_key(rollups: list[Rollup]) -> dict[tuple[str, date, int | None], Rollup]:
    return {(r.service_id, r.day, r.hour): r for r in rollups}


# -- migrations -----------------------------------------------------------------------------


async def test_migrate_is_idempotent_and_recorded(store: Store) -> None:
    names = [m.name for m in load_migrations(store.backend)]
    assert names and names[0].startswith("0001_")
    assert await store.applied_migrations() == names  # recorded in schema_migrations, in order
    assert await store.migrate() == []
    assert await store.migrate() == []
    assert await store.applied_migrations() == names


async def test_fresh_database_applies_every_migration(tmp_path: Path, pg_url: str) -> None:
    for s in (SqliteStore(tmp_path / "fresh.db"), PostgresStore(pg_url)):
        async with s:
            names = [m.name for m in load_migrations(s.backend)]
            assert await s.applied_migrations() == []
            assert await s.migrate() == names
            assert await s.applied_migrations() == names


# -- services -------------------------------------------------------------------------------


async def test_sync_compares_settings_as_json_values_on_both_backends(store: Store) -> None:
    """Settings stored with other spacing or key order are not a change (SQLite once compared
    the text, PostgreSQL the jsonb value); a real change still is."""
    assert isinstance(store, SqlStore)
    await store.sync_services([svc("alpha", sla_target=99.5)])
    settings = json.loads(service_to_json(svc("alpha", sla_target=99.5)))
    reordered = json.dumps(dict(reversed(list(settings.items()))), indent=2)
    async with store.dialect.transaction() as con:
        await con.execute("UPDATE services SET config = ? WHERE id = ?", reordered, "alpha")
    same = await store.sync_services([svc("alpha", sla_target=99.5)])
    assert (same.added, same.updated, same.deactivated) == ([], [], [])
    changed = await store.sync_services([svc("alpha", sla_target=99.9)])
    assert changed.updated == ["alpha"]


async def test_sync_services_add_update_deactivate_reactivate(store: Store) -> None:
    a = svc(
        "alpha",
        interval_s=30.0,
        expect_status=((200, 204), (301, 301)),
        headers=(("X-Token", "t"),),
        degraded_after_s=1.5,
        sla_target=99.5,
    )
    b = svc("beta")
    r = await store.sync_services([a, b])
    assert (sorted(r.added), r.updated, r.deactivated) == (["alpha", "beta"], [], [])
    assert await store.list_services() == [a, b]  # every setting round-trips

    r = await store.sync_services([a, b])
    assert (r.added, r.updated, r.deactivated) == ([], [], [])

    a2 = svc("alpha", interval_s=10.0)
    r = await store.sync_services([a2, b])
    assert (r.added, r.updated, r.deactivated) == ([], ["alpha"], [])
    assert (await store.list_services())[0] == a2

    # beta leaves the config file: deactivated, never deleted, its history kept.
    await store.write_checks([chk("beta", at(D31, 1)), chk("beta", at(D31, 2), DOWN)])
    r = await store.sync_services([a2])
    assert (r.added, r.updated, r.deactivated) == ([], [], ["beta"])
    assert [s.id for s in await store.list_services()] == ["alpha"]
    everything = await store.list_services(include_inactive=True)
    assert [(s.id, s.active) for s in everything] == [("alpha", True), ("beta", False)]
    assert len(await store.recent_checks("beta")) == 2
    assert [(r.service_id, r.checks) for r in await store.daily_rollups(D31)] == [("beta", 2)]
    assert await store.sync_services([a2]) == type(r)()  # nothing more to deactivate

    # Re-adding it reactivates it with its history.
    r = await store.sync_services([a2, b])
    assert (r.added, r.updated, r.deactivated) == ([], ["beta"], [])
    assert [s.id for s in await store.list_services()] == ["alpha", "beta"]
    assert len(await store.recent_checks("beta")) == 2


# -- writing checks -------------------------------------------------------------------------


async def test_write_checks_is_idempotent(store: Store) -> None:
    batch = series("api", at(D31, 1), 40)
    assert await store.write_checks(batch) == 40
    before = await store.daily_rollups(D30)
    assert await store.write_checks(batch) == 0
    assert await store.write_checks(list(reversed(batch[:10]))) == 0
    assert await store.daily_rollups(D30) == before
    assert sum(r.checks for r in before) == 40
    assert await store.count_checks("api") == 40
    # A batch that overlaps: only the new checks count, in the raw table and in the rollups.
    more = series("api", at(D31, 1), 50)
    assert await store.write_checks(more) == 10
    assert await store.count_checks() == 50
    assert sum(r.checks for r in await store.daily_rollups(D30)) == 50
    assert await store.write_checks([]) == 0


async def test_same_instant_on_two_nodes_is_two_checks(store: Store) -> None:
    t = at(D31, 8)
    assert await store.write_checks([chk("api", t, node="eu-1"), chk("api", t, node="us-1")]) == 2
    assert await store.write_checks([chk("api", t, node="eu-1")]) == 0
    assert (await store.daily_rollups(D31))[0].checks == 2


async def test_duplicate_check_within_one_batch_counts_once(store: Store) -> None:
    c = chk("api", at(D31, 9))
    assert await store.write_checks([c, c]) == 1
    assert (await store.daily_rollups(D31))[0].checks == 1


async def test_rollups_by_utc_day_match_hand_computed_numbers(store: Store) -> None:
    checks = [
        chk("api", at(D30, 23, 59, 59, 999999), DOWN, 5000.0, kind=ErrorKind.TIMEOUT, status=None),
        chk("api", at(D31, 0, 0, 0), UP, 10.5),
        chk("api", at(D31, 0, 1), DEG, 900.25),
        chk(
            "api",
            at(D31, 0, 2),
            DOWN,
            1.5,
            kind=ErrorKind.CONNECTION_ERROR,
            status=None,
            interval=30.0,
        ),
        chk(
            "api",
            at(D31, 0, 3),
            DOWN,
            2.5,
            kind=ErrorKind.CONNECTION_ERROR,
            status=None,
            interval=30.0,
        ),
        chk(
            "api",
            at(D31, 0, 4),
            DOWN,
            20.0,
            kind=ErrorKind.HTTP_ERROR,
            status=500,
            maintenance=True,
        ),
        # 07:00 at UTC+02:00 is 05:00 UTC on the 31st.
        chk("api", datetime(2025, 3, 31, 7, 0, tzinfo=timezone(timedelta(hours=2))), UP, 7.75),
        chk("web", at(D31, 12), UP, 100.0),
    ]
    # Linked as the daemon links them (each knows the check before it: rollup.linked), in
    # two batches, so the second is merged into stored rows.
    checks = linked(checks)
    assert await store.write_checks(checks[:3]) == 3
    assert await store.write_checks(checks[3:]) == 5

    rows = by_key(await store.daily_rollups(D30))
    assert set(rows) == {("api", D30, None), ("api", D31, None), ("web", D31, None)}
    d30 = rows[("api", D30, None)]
    assert (d30.checks, d30.up, d30.degraded, d30.down, d30.maintenance) == (1, 0, 0, 1, 0)
    # The timeout at 23:59:59.999999 stands until the next check, at midnight: 1 µs.
    assert d30.downtime_s == pytest.approx(1e-6)
    assert d30.errors == {"timeout": 1}
    assert d30.latency_count == 0 and d30.latency_min_ms is None and d30.latency_max_ms is None

    d31 = rows[("api", D31, None)]
    assert (d31.checks, d31.up, d31.degraded, d31.down, d31.maintenance) == (6, 2, 1, 2, 1)
    # 00:02 and 00:03 each stand for their 30 s interval (the next check is 60 s later);
    # the maintenance failure is not downtime.
    assert d31.downtime_s == pytest.approx(60.0)
    assert d31.errors == {"connection_error": 2}
    # Latency of the answered checks only: 10.5, 900.25, 7.75.
    assert d31.latency_count == 3
    assert d31.latency_sum_us == 918_500
    assert (d31.latency_min_ms, d31.latency_max_ms) == (7.75, 900.25)
    assert d31.uptime_text() == "60.00"  # 3 of 5 counted checks
    assert rows[("web", D31, None)].checks == 1

    hours = by_key(await store.hourly_rollups("api", at(D30), at(D31) + timedelta(days=1)))
    assert {k: r.checks for k, r in hours.items()} == {
        ("api", D30, 23): 1,
        ("api", D31, 0): 5,
        ("api", D31, 5): 1,
    }
    assert hours[("api", D31, 0)].down == 2 and hours[("api", D31, 0)].maintenance == 1


async def test_daily_rollups_filters(store: Store) -> None:
    days = [D30 - timedelta(days=i) for i in range(5)]
    for sid in ("a", "b", "c"):
        await store.write_checks([chk(sid, at(d, 12)) for d in days])
    everything = await store.daily_rollups(days[-1])
    assert [(r.service_id, r.day) for r in everything] == [
        (sid, d) for sid in ("a", "b", "c") for d in sorted(days)
    ]  # by service, then day
    assert {r.day for r in await store.daily_rollups(days[1])} == set(days[:2])
    window = await store.daily_rollups(days[3], until=days[1])
    assert {r.day for r in window} == {days[1], days[2], days[3]}
    assert {r.service_id for r in window} == {"a", "b", "c"}
    only = await store.daily_rollups(days[-1], service_ids=["b", "c", "nope"])
    assert {r.service_id for r in only} == {"b", "c"} and len(only) == 10
    assert await store.daily_rollups(days[-1], service_ids=[]) == []
    assert await store.daily_rollups(D31) == []


async def test_recent_checks_newest_first_with_every_field(store: Store) -> None:
    cert = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    checks = [
        chk("api", at(D31, 1, 0, 0, 1), UP, 12.345678, status=204, node="eu-1", cert=cert),
        chk(
            "api",
            at(D31, 1, 1, 0, 999999),
            DOWN,
            5000.0,
            kind=ErrorKind.TIMEOUT,
            status=None,
            node="eu-1",
            error="no complete answer within 5s",
            interval=30.5,
        ),
        chk(
            "api",
            at(D31, 1, 2, 0, 500000),
            DOWN,
            3.25,
            kind=ErrorKind.HTTP_ERROR,
            status=503,
            node="eu-1",
            maintenance=True,
            error="status 503, expected 200-299",
        ),
        chk("api", at(D31, 1, 3, 0, 123457), DEG, 2500.5, status=200, node="eu-1"),
        chk("other", at(D31, 1, 4), UP),
    ]
    await store.write_checks(checks)
    got = await store.recent_checks("api", limit=10)
    assert got == list(reversed(checks[:4]))  # every field equal, timestamps to the microsecond
    assert got[2].status_code is None and got[2].error_kind is ErrorKind.TIMEOUT
    assert all(c.started_at.utcoffset() == timedelta(0) for c in got)
    assert got[3].cert_expires_at == cert
    assert await store.recent_checks("api", limit=2) == list(reversed(checks[2:4]))
    assert await store.recent_checks("nobody") == []


async def test_recent_checks_since_is_only_a_hint(store: Store) -> None:
    # Issue 14: service.get passes where the live state's 20th latest check started, so
    # PostgreSQL reads only the partitions from there on; the result is the unbounded one
    # wherever the hint falls (more than ``limit`` after it, fewer, none, or in the future).
    await store.sync_services([svc("api"), svc("other")])
    start = at(date(2026, 10, 28), 5)
    checks = series("api", start, 60, step_s=4 * 3600.0) + series("other", start, 60, 3600.0)
    await store.write_checks(checks)
    whole = await store.recent_checks("api", limit=20)
    assert whole == sorted(checks[:60], key=lambda c: c.started_at, reverse=True)[:20]
    twentieth = whole[-1].started_at
    for since in (
        None,
        start - timedelta(days=400),
        start,
        twentieth,  # exactly 20 from there on
        twentieth + timedelta(microseconds=1),  # 19: the whole table is read
        whole[0].started_at,
        whole[0].started_at + timedelta(days=1),  # none
    ):
        assert await store.recent_checks("api", 20, since) == whole, since
    assert await store.recent_checks("nobody", 20, start) == []


async def test_checks_between(store: Store) -> None:
    checks = [chk("api", at(D31, h)) for h in range(6)]
    await store.write_checks(checks)
    assert await store.checks_between("api", at(D31, 2), at(D31, 4)) == checks[2:4]
    assert await store.checks_between("api", at(D31, 4)) == checks[4:]


async def test_latest_checks_oldest_first(store: Store) -> None:
    await store.sync_services([svc("a"), svc("b"), svc("quiet")])
    a = series("a", at(D31, 1), 10)
    b = series("b", at(D31, 2), 3)
    await store.write_checks(a + b)
    latest = await store.latest_checks(5)
    assert latest["a"] == a[-5:]
    assert latest["b"] == b
    assert not latest.get("quiet")


async def test_large_batch_in_one_call(store: Store) -> None:
    checks = series("big", at(D30, 0), 2000) + series("big2", at(D30, 6), 1000, step_s=45.0)
    assert len(checks) == 3000
    assert await store.write_checks(checks) == 3000
    assert await store.count_checks() == 3000
    assert await store.count_checks("big2") == 1000
    rollups = await store.daily_rollups(D30)
    assert sum(r.checks for r in rollups) == 3000
    assert sum(r.down for r in rollups) == sum(1 for c in checks if c.outcome is DOWN)
    recent = await store.recent_checks("big", limit=5000)
    assert len(recent) == 2000
    assert recent == sorted(checks[:2000], key=lambda c: c.started_at, reverse=True)
    assert await store.write_checks(checks) == 0


async def test_rebuild_rollups_gives_the_incremental_result(store: Store) -> None:
    checks = series("api", at(D30, 20), 600) + series("web", at(D30, 22), 200, step_s=90.0)
    for i in range(0, len(checks), 77):  # many small batches, merged incrementally
        await store.write_checks(checks[i : i + 77])
    daily = await store.daily_rollups(D30 - timedelta(days=1))
    hourly = await store.hourly_rollups("api", at(D30), at(D31) + timedelta(days=2))
    seen: list[tuple[int, int]] = []
    assert (
        await store.rebuild_rollups(progress=lambda done, total: seen.append((done, total))) == 800
    )
    assert seen and seen[-1][0] == seen[-1][1] == 2
    assert await store.daily_rollups(D30 - timedelta(days=1)) == daily
    assert await store.hourly_rollups("api", at(D30), at(D31) + timedelta(days=2)) == hourly


async def test_retention_removes_old_raw_checks_and_keeps_rollups(store: Store) -> None:
    now = datetime.now(UTC)
    old = [chk("api", now - timedelta(days=20, minutes=i)) for i in range(5)]
    new = [chk("api", now - timedelta(minutes=i + 1)) for i in range(3)]
    await store.write_checks(old + new)
    result = await store.apply_retention(now, raw_days=10)
    assert result.checks == 5
    assert await store.count_checks("api") == 3
    old_days = {c.started_at.date() for c in old}
    kept = await store.daily_rollups(min(old_days))
    assert sum(r.checks for r in kept if r.day in old_days) == 5  # rollups outlive raw checks


# -- status history and outage episodes ------------------------------------------------------


async def test_transitions_and_episodes_round_trip(store: Store) -> None:
    t1, t2, t3 = at(D31, 1), at(D31, 2), at(D31, 3)
    ep = OutageEpisode(
        service_id="api",
        started_at=t1,
        worst_status=ServiceStatus.DEGRADED,
        cause="timeout",
        error="no answer",
        failed_checks=1,
    )
    tr = [
        Transition("api", ServiceStatus.OPERATIONAL, ServiceStatus.DEGRADED, t1),
        Transition(None, ServiceStatus.OPERATIONAL, ServiceStatus.DEGRADED, t1),
        Transition("api", ServiceStatus.DEGRADED, ServiceStatus.MAJOR_OUTAGE, t2),
    ]
    n = await store.write_batch([chk("api", t1, DOWN), tr[0], tr[1], ep])
    assert n == 1
    assert await store.episodes(open_only=True) == [ep]
    closed = OutageEpisode(
        service_id="api",
        started_at=t1,
        worst_status=ServiceStatus.MAJOR_OUTAGE,
        cause="timeout",
        error="no answer",
        failed_checks=4,
        ended_at=t3,
    )
    await store.write_batch([tr[2], closed, tr[2]])  # replayed records change nothing more
    assert await store.episodes("api") == [closed]
    assert await store.episodes(open_only=True) == []
    assert await store.status_history("api") == [tr[2], tr[0]]
    assert await store.status_history(None) == [tr[1]]


async def test_one_batch_of_many_transitions_and_an_episode_met_three_times(store: Store) -> None:
    # 1,200 services' first transitions (more than one statement's rows), each twice, and one
    # episode opened, worsened and closed inside the same batch: the last record wins.
    t1, t2, t3 = at(D31, 1), at(D31, 2), at(D31, 3)
    first = [
        Transition(f"s{i}", ServiceStatus.OPERATIONAL, ServiceStatus.UNKNOWN, t1)
        for i in range(1200)
    ]
    ep = OutageEpisode(
        service_id="s7", started_at=t1, worst_status=ServiceStatus.DEGRADED, failed_checks=1
    )
    worse = replace(ep, worst_status=ServiceStatus.MAJOR_OUTAGE, failed_checks=3)
    closed = replace(worse, ended_at=t3, failed_checks=5)
    other = replace(ep, service_id="s8", started_at=t2)
    await store.write_batch([*first, ep, *first, worse, other, closed])
    assert await store.episodes("s7") == [closed]
    assert await store.episodes("s8") == [other]
    assert await store.status_history("s0") == [first[0]]
    assert await store.status_history("s1199") == [first[1199]]
    assert [await store.status_history(f"s{i}") for i in range(0, 1200, 97)] == [
        [first[i]] for i in range(0, 1200, 97)
    ]


async def test_write_batches_writes_every_batch_once(store: Store) -> None:
    # The writer's backlog: ten batches at once (one transaction on PostgreSQL, one hand-off
    # to the thread on SQLite), a check met twice across batches counted once.
    t1 = at(D31, 1)
    a, b = series("a", at(D30, 0), 700), series("b", at(D30, 2), 400)
    moves = [
        Transition(f"s{i}", ServiceStatus.OPERATIONAL, ServiceStatus.UNKNOWN, t1) for i in range(3)
    ]
    ep = OutageEpisode(service_id="a", started_at=t1, worst_status=ServiceStatus.DEGRADED)
    closed = replace(ep, ended_at=at(D31, 2), failed_checks=4)
    batches = [[*a[:500], ep, *moves], [*a[500:], *b[:100], moves[0]], [*b, closed], []]
    assert await store.write_batches(batches) == 1100
    assert await store.write_batches(batches) == 0
    assert await store.count_checks() == 1100
    assert sum(r.checks for r in await store.daily_rollups(D30)) == 1100
    assert await store.status_history("s0") == [moves[0]]
    assert await store.episodes("a") == [closed]


@contextlib.contextmanager
def _hand_offs(store: SqliteStore) -> Iterator[list[object]]:
    """The calls made in aiosqlite's thread for the writer connection while inside (each is
    a hand-off to the thread and back to the event loop)."""
    con = store.dialect._w.con  # type: ignore[attr-defined]  # aiosqlite's writer connection
    calls: list[object] = []
    execute = con._execute

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(fn)
        return await execute(fn, *args, **kwargs)

    con._execute = counted
    try:
        yield calls
    finally:
        con._execute = execute


async def test_sqlite_writes_a_batch_in_one_hand_off_to_its_thread(tmp_path: Path) -> None:
    # Each statement awaited through aiosqlite is a hand-off to its thread and back to the
    # event loop; with hundreds of checks in flight every one waited for a turn of the loop
    # and the writer fell behind at 50,000 services. A batch's transaction is one hand-off.
    store = SqliteStore(str(tmp_path / "t.db"))
    await store.open()
    await store.migrate()
    with _hand_offs(store) as calls:
        t1 = at(D31, 1)
        checks = series("a", at(D30, 0), 1200) + series("b", at(D30, 3), 300)
        moves = [
            Transition(f"s{i}", ServiceStatus.OPERATIONAL, ServiceStatus.UNKNOWN, t1)
            for i in range(700)
        ]
        ep = OutageEpisode(service_id="a", started_at=t1, worst_status=ServiceStatus.DEGRADED)
        assert await store.write_batch([*checks, *moves, ep]) == 1500
        assert len(calls) == 1
        assert await store.write_batch([*checks[:10], ep]) == 0  # a replay: nothing new
        assert len(calls) == 2
        more = series("c", at(D30, 1), 900)
        # Several batches (a transaction each) in one hand-off: the writer's backlog.
        assert await store.write_batches([more[:300], checks[:5], more[300:], []]) == 900
        assert len(calls) == 3
    assert await store.count_checks("c") == 900
    assert await store.count_checks() == 2400
    assert sum(r.checks for r in await store.daily_rollups(D30)) == 2400
    assert await store.status_history("s699") == [moves[699]]
    assert await store.episodes("a") == [ep]
    await store.close()


async def test_sqlite_alert_outbox_poll_is_one_hand_off(tmp_path: Path) -> None:
    # Polled every few seconds, claim_due held the write lock for three hand-offs (three turns
    # of a busy event loop) ahead of the check writer.
    store = SqliteStore(str(tmp_path / "t.db"))
    await store.open()
    await store.migrate()
    with _hand_offs(store) as calls:
        assert await store.outbox.claim_due("w", at(D31), 60, 10, 10) == []
        assert len(calls) == 1
    await store.close()


async def test_sqlite_batch_failing_inside_its_thread_is_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(str(tmp_path / "t.db"))
    await store.open()
    await store.migrate()
    broken = sqlite3.OperationalError("disk I/O error")
    broken.sqlite_errorname = "SQLITE_IOERR"  # type: ignore[attr-defined]

    async def fail(*args: Any, **kwargs: Any) -> None:
        raise broken

    monkeypatch.setattr(store.dialect, "insert_many", fail)
    t1 = at(D31, 1)
    move = Transition("a", ServiceStatus.OPERATIONAL, ServiceStatus.UNKNOWN, t1)
    with pytest.raises(StoreUnavailable):
        await store.write_batch([chk("a", t1), move])  # the checks go first, then this fails
    assert await store.count_checks() == 0
    assert await store.daily_rollups(D31) == []
    # Several batches are one transaction: none of them stays; the error is raised.
    with pytest.raises(StoreUnavailable):
        await store.write_batches([[chk("b", t1)], [chk("a", t1), move]])
    assert await store.count_checks() == 0
    monkeypatch.undo()
    assert await store.write_batch([chk("a", t1), move]) == 1  # not left inside a transaction
    assert await store.count_checks() == 1
    await store.close()


# -- errors ---------------------------------------------------------------------------------


async def test_closed_store_is_unavailable(store: Store) -> None:
    await store.close()
    await store.close()  # safe twice
    with pytest.raises(StoreUnavailable):
        await store.list_services()
    with pytest.raises(StoreUnavailable):
        await store.write_checks([chk("api", at(D31))])


async def test_unreachable_postgres_is_unavailable() -> None:
    from slamon_daemon.targets import free_port

    s = PostgresStore(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    with pytest.raises(StoreUnavailable):
        await s.open()


async def test_unopenable_sqlite_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreUnavailable):
        await SqliteStore(tmp_path / "file" / "db.sqlite").open()


# -- both backends, same answers ---------------------------------------------------------


async def _fill(s: Store) -> None:
    await s.sync_services([svc("a"), svc("b", interval_s=30.0), svc("idle")])
    checks = (
        series("a", at(D30, 22, 30), 300)
        + series("b", at(D31, 0), 150, step_s=30.0)
        + [chk("a", at(D31, 3), DOWN, 9.0, kind=ErrorKind.DNS_ERROR, status=None, maintenance=True)]
    )
    for i in range(0, len(checks), 64):
        await s.write_checks(checks[i : i + 64])
    await s.write_checks(checks[:100])  # a replay
    await s.sync_services([svc("a"), svc("idle")])


async def _answers(s: Store) -> dict[str, Any]:
    latest = await s.latest_checks(20)
    return {
        "services": await s.list_services(include_inactive=True),
        "daily": await s.daily_rollups(D30 - timedelta(days=1)),
        "hourly_a": await s.hourly_rollups("a", at(D30), at(D31) + timedelta(days=1)),
        "recent_a": await s.recent_checks("a", 1000),
        "recent_b": await s.recent_checks("b", 1000),
        "between": await s.checks_between("b", at(D31, 0, 10), at(D31, 0, 40)),
        "latest": {k: v for k, v in latest.items() if v},
        "count": await s.count_checks(),
    }


async def test_both_backends_give_identical_results(tmp_path: Path, pg_url: str) -> None:
    async with SqliteStore(tmp_path / "same.db") as lite, PostgresStore(pg_url) as pg:
        await lite.migrate()
        await pg.migrate()
        await _fill(lite)
        await _fill(pg)
        a, b = await _answers(lite), await _answers(pg)
        for key in a:
            assert a[key] == b[key], key
        assert a["count"] == 451


async def test_latest_checks_same_keys_on_both_backends(tmp_path: Path, pg_url: str) -> None:
    async with SqliteStore(tmp_path / "keys.db") as lite, PostgresStore(pg_url) as pg:
        for s in (lite, pg):
            await s.migrate()
            await s.sync_services([svc("a"), svc("idle")])
            await s.write_checks([chk("a", at(D31, 1))])
        assert await lite.latest_checks(5) == await pg.latest_checks(5)
