"""A start reads one summary row per service (issue 14 point 3: 50,000 services × 89 days on
PostgreSQL, the server's aggregation of 4.45 million daily rows was the wall): the summaries
of migration 0015 must never disagree with daily_rollups. After each path that changes a
past day's row (a late check folded in, a rebuild, retention, an update or delete by another
writer, a truncate) the bar, its cells and uptimes read through the summaries are those read
from the rows alone, on both backends; a stale or unusable summary is extended or made
again; a database from before 0015 gets them."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import slamon_daemon.daemon as daemon_mod
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Check, Outcome
from slamon_daemon.state import HISTORY_DAYS, BarHistory, LiveState
from slamon_daemon.store.migrate import schema_dir
from slamon_daemon.store.sql import BAR_OPEN_DAYS, _unpacked

from .test_startup_history_pg import IDS, UNKNOWN, _seed, _snapshot

TODAY = datetime.now(UTC).date()
FIRST = TODAY - timedelta(days=HISTORY_DAYS - 1)
LAST = TODAY - timedelta(days=1)


def _days(packed: Any) -> set[tuple[int, ...]]:
    """A service's packed days without the empty ones (a dense summary's days without a row)."""
    out = {tuple(packed[k : k + 4]) for k in range(0, len(packed), 4)}
    return {t for t in out if any(t[1:])}


async def _reference(store: Any, ids: list[str], today: date = TODAY) -> dict[str, Any]:
    first, last = today - timedelta(days=HISTORY_DAYS - 1), today - timedelta(days=1)
    got = await store.daily_counts(first, last, service_ids=ids)
    return {sid: _days(p) for sid, p in got if _days(p)}


async def _summaries(store: Any) -> dict[str, tuple[date, date, Any]]:
    rows = await store._fetch("SELECT service_id, first_day, last_day, packed FROM bar_summaries")
    day = store.dialect.from_day
    return {str(r[0]): (day(r[1]), day(r[2]), _unpacked(r[3])) for r in rows}


async def _assert_summaries_agree(store: Any) -> None:
    """Every stored summary holds exactly its days' rows: one entry a day from its first to
    its last, offsets from 2000-01-01, the figures daily_counts gives (zeros: no row)."""
    epoch = date(2000, 1, 1)
    for sid, (first, last, packed) in (await _summaries(store)).items():
        n = (last - first).days + 1
        assert len(packed) == 4 * n, sid
        assert list(packed[0::4]) == [(first - epoch).days + k for k in range(n)], sid
        rows = await store.daily_counts(first, last, service_ids=[sid])
        want = {(o, g, c, f) for _, p in rows for o, g, c, f in zip(*[iter(p)] * 4, strict=True)}
        stored = {(k, *packed[4 * k + 1 : 4 * k + 4]) for k in range(n)}
        assert {t for t in stored if any(t[1:])} == {t for t in want if any(t[1:])}, sid


async def _start(store: Any, today: date = TODAY) -> BarHistory:
    services = await store.list_services()
    return await Daemon._bar_days(SimpleNamespace(store=store), today, services)  # type: ignore[arg-type]


async def _assert_same_bar(store: Any, today: date = TODAY) -> BarHistory:
    """A start through the summaries gives the past days, cells, uptimes of the rows."""
    ids = [*IDS, "no-days", UNKNOWN[0]]
    first, last = today - timedelta(days=HISTORY_DAYS - 1), today - timedelta(days=1)
    got = {sid: _days(p) for sid, p in await store.bar_counts(first, last, ids)}
    assert got == await _reference(store, ids, today)
    await _assert_summaries_agree(store)
    bars = await _start(store, today=today)
    plain = BarHistory(today)
    plain.add_counts(first, await store.daily_counts(first, last, service_ids=list(IDS)))
    assert set(bars.past) <= set(plain.past)
    services = await store.list_services()
    a, b = LiveState(), LiveState()
    for s, bh in ((a, bars), (b, plain)):
        bh.live = []
        s.set_services(services)
        s.load_history(bh, {})
    for sid in IDS:
        if sid in bars.past:
            assert _snapshot(bars.past[sid]) == _snapshot(plain.past[sid]), sid
        assert a.services[sid].history(today) == b.services[sid].history(today), sid
        assert a.services[sid].history_json(today) == b.services[sid].history_json(today)
        for days in (1, 7, 30, 89):
            w = today - timedelta(days=days)
            assert a.services[sid].counts(w, today) == b.services[sid].counts(w, today), sid
    return bars


@pytest.fixture(autouse=True)
def _small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemon_mod, "BAR_PAGE", 4)


async def test_a_start_makes_the_summaries_and_the_next_reads_them(store: Any) -> None:
    await _seed(store, TODAY)
    assert await _summaries(store) == {}
    await _assert_same_bar(store)  # a start with no summary: made
    made = await _summaries(store)
    # the services named that have days (none for one without: nothing to keep, and a new
    # database's services would each write and read an empty one)
    assert set(made) == {*IDS, UNKNOWN[0]}
    summary_last = LAST - timedelta(days=BAR_OPEN_DAYS)
    assert {(f, last) for f, last, _ in made.values()} == {(FIRST, summary_last)}
    # the next start reads them and writes nothing
    for sid in IDS:
        assert await store._stale_summaries(FIRST, LAST, summary_last, [sid]) == []
    await _assert_same_bar(store)
    assert await _summaries(store) == made


def _late(sid: str, day: date, outcome: Outcome) -> Check:
    return Check(
        service_id=sid,
        started_at=datetime(day.year, day.month, day.day, 23, 59, 30, tzinfo=UTC),
        latency_ms=5.0,
        outcome=outcome,
        status_code=200 if outcome is not Outcome.DOWN else None,
        node="other",
        interval_s=60.0,
    )


async def test_a_late_check_deletes_the_summary_of_its_day(store: Any) -> None:
    """A journal replayed after a crash, another node's checks: folded into a past day's
    row by the writer's own statement."""
    await _seed(store, TODAY)
    await _assert_same_bar(store)
    before = await _summaries(store)
    old = TODAY - timedelta(days=40)
    await store.write_batch([_late(IDS[2], old, Outcome.DOWN), _late(IDS[3], TODAY, Outcome.UP)])
    after = await _summaries(store)
    assert IDS[2] not in after  # its day is covered: deleted
    assert after[IDS[3]] == before[IDS[3]]  # today's row: kept
    assert {k: v for k, v in after.items()} == {k: v for k, v in before.items() if k != IDS[2]}
    await _assert_same_bar(store)
    assert IDS[2] in await _summaries(store)  # made again by the start


async def test_a_check_on_the_open_days_keeps_the_summaries(store: Any) -> None:
    await _seed(store, TODAY)
    await _assert_same_bar(store)
    before = await _summaries(store)
    await store.write_batch([_late(sid, LAST, Outcome.DOWN) for sid in IDS])
    await store.compact_counts(TODAY)  # rewrites the last two days' rows
    assert await _summaries(store) == before
    await _assert_same_bar(store)


async def test_rebuild_retention_and_other_writers(store: Any) -> None:
    await _seed(store, TODAY)
    day = TODAY - timedelta(days=20)
    await store.write_batch([_late(sid, day, Outcome.UP) for sid in IDS[:3]])
    await _assert_same_bar(store)
    # a rebuild from the raw checks rewrites the rows of the days it covers
    await store.rebuild_rollups(day)
    assert set(await _summaries(store)).isdisjoint(IDS[:3])
    await _assert_same_bar(store)
    # retention: the rows before its cutoff go
    now = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC)
    await store.apply_retention(now, 400, rollup_days=30)
    assert set(await _summaries(store)) == set()
    await _assert_same_bar(store)
    # another writer's update (an older slamond, a command) and delete
    d = store.dialect.day
    async with store.dialect.transaction() as con:
        await con.execute(
            "UPDATE daily_rollups SET down = 5, up = up - 5 WHERE service_id = ? AND day = ?",
            IDS[4],
            d(TODAY - timedelta(days=10)),
        )
    async with store.dialect.transaction() as con:
        await con.execute("DELETE FROM daily_rollups WHERE service_id = ?", IDS[5])
    assert set(await _summaries(store)) == {*IDS, UNKNOWN[0]} - {IDS[4], IDS[5]}
    await _assert_same_bar(store)
    # an update moving a row out of the covered days, then back
    covered = TODAY - timedelta(days=30)
    away = TODAY - timedelta(days=300)
    for src, dst in ((covered, away), (away, covered)):
        async with store.dialect.transaction() as con:
            n = await con.execute(
                "UPDATE daily_rollups SET day = ? WHERE service_id = ? AND day = ?",
                *(d(dst), IDS[6], d(src)),
            )
        assert n == 1 and IDS[6] not in await _summaries(store)
        await _assert_same_bar(store)
    postgres = store.backend == "postgres"
    async with store.dialect.transaction() as con:
        await con.execute("TRUNCATE daily_rollups" if postgres else "DELETE FROM daily_rollups")
    # a truncate clears them all; a delete those of the services it deleted rows of
    assert set(await _summaries(store)) == set()
    await _assert_same_bar(store)


async def test_an_old_summary_is_extended_and_an_unusable_one_made_again(store: Any) -> None:
    await _seed(store, TODAY)
    earlier = TODAY - timedelta(days=5)
    await _assert_same_bar(store, earlier)  # summaries made five days ago
    assert {v[1] for v in (await _summaries(store)).values()} == {
        earlier - timedelta(days=1 + BAR_OPEN_DAYS)
    }
    await _assert_same_bar(store)  # today: extended by five days, the oldest dropped
    assert {(v[0], v[1]) for v in (await _summaries(store)).values()} == {
        (FIRST, LAST - timedelta(days=BAR_OPEN_DAYS))
    }
    # the clock went back: summaries ending after the bar's last day are not used but made
    # again; so are those older than the bar
    await _assert_same_bar(store, TODAY - timedelta(days=2))
    await _assert_same_bar(store, TODAY + timedelta(days=200))
    await _assert_same_bar(store)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_database_from_before_the_summaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """Migrations up to 0014 with a history (a downgrade leaves the same), then 0015."""
    from slamon_daemon.store import PostgresStore, SqliteStore
    from tests.conftest import throwaway_pg_database

    old_schema = tmp_path / "schema"
    for kind in ("sqlite", "postgres"):
        (old_schema / kind).mkdir(parents=True)
        for f in (Path(str(schema_dir())) / kind).glob("*.sql"):
            if not f.name.startswith("0015_"):
                shutil.copy(f, old_schema / kind / f.name)

    async def run(s: Any) -> None:
        monkeypatch.setenv("SLAMON_SCHEMA_DIR", str(old_schema))
        await s.open()
        try:
            assert "0014_monthly_rollups_by_month.sql" in await s.migrate()
            await _seed(s, TODAY)
            monkeypatch.delenv("SLAMON_SCHEMA_DIR")
            assert await s.migrate() == ["0015_bar_summaries.sql"]
            await _assert_same_bar(s)
            assert set(IDS) <= set(await _summaries(s))
        finally:
            await s.close()

    if backend == "sqlite":
        await run(SqliteStore(str(tmp_path / "old.db")))
    else:
        async with throwaway_pg_database() as url:
            await run(PostgresStore(url))


async def test_sqlite_first_start_summaries_are_those_of_the_sql(store: Any) -> None:
    """SQLite's first start makes the summaries from the days it reads (``_summarize_rows``:
    the text read kept for a service with every day, the days filled otherwise): the stored
    text is byte for byte the one ``_summarize`` (SQL alone) stores, and the days returned
    are daily_counts' own (gaps, a day without a row, a service without a day, one with
    rows on the open days only). It makes none for a service without a row in the days a
    summary covers (issue 14: it tells them from the days it reads, not by looking them up
    first), as ``bar_counts`` before it (``_with_rows``)."""
    if store.backend != "sqlite":
        pytest.skip("SQLite's path")
    await _seed(store, TODAY)
    await _open_days_only(store, "open-only")
    ids = [*IDS, "no-days", "open-only", UNKNOWN[0]]
    last = LAST - timedelta(days=BAR_OPEN_DAYS)
    query = "SELECT service_id, first_day, last_day, packed FROM bar_summaries ORDER BY 1"
    made = await store._summarize_rows(FIRST, LAST, last, ids)
    from_rows = await store._fetch(query)
    async with store.dialect.transaction() as con:
        await con.execute("DELETE FROM bar_summaries")
    with_rows = await store._with_rows(FIRST, last, ids)
    assert set(with_rows) == {*IDS, UNKNOWN[0]}
    await store._summarize(FIRST, LAST, last, with_rows)
    assert from_rows == await store._fetch(query)
    assert len(from_rows) == len(with_rows)
    want = await store.daily_counts(FIRST, LAST, service_ids=ids)
    assert dict(made) == dict(want) and len(made) == len(want)
    assert "open-only" in dict(made)


async def _open_days_only(store: Any, sid: str) -> None:
    """A service with a row on each of the days a summary leaves out (the last two) only."""
    days = [LAST - timedelta(days=k) for k in range(BAR_OPEN_DAYS)]
    async with store.dialect.transaction() as con:
        await con.executemany(
            "INSERT INTO daily_rollups (service_id, day, checks, up, degraded, down,"
            " maintenance) VALUES (?, ?, 10, 9, 0, 1, 0)",
            [(sid, store.dialect.day(day)) for day in days],
        )


async def test_a_service_with_rows_on_the_open_days_only_gets_no_summary(store: Any) -> None:
    """A start's page with a service whose rows are all on the days after the summaries'
    (and one without any row): no summary for either, the first's days returned as
    daily_counts reads them, and the next start still finds none to read (issue 14)."""
    await _seed(store, TODAY)
    await _open_days_only(store, "open-only")
    ids = [*IDS, "open-only", "no-days"]
    got = dict(await store.bar_counts(FIRST, LAST, ids))
    assert set(await _summaries(store)) == set(IDS)
    want = dict(await store.daily_counts(FIRST, LAST, service_ids=["open-only"]))
    assert got["open-only"] == want["open-only"] and "no-days" not in got
    await _assert_same_bar(store)
    assert "open-only" not in await _summaries(store)
    assert dict(await store.bar_counts(FIRST, LAST, ids))["open-only"] == want["open-only"]
