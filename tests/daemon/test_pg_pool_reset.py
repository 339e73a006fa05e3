"""Issue 14: PostgreSQL's pool does not run asyncpg's reset query after every statement (a
round trip more per read), only after the connection that held the migration lock, whose
session locks must not outlive it (real PostgreSQL)."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]

from slamon_daemon.store import PostgresStore
from slamon_daemon.store.dialects.postgres import PgConnection
from tests.conftest import migrated


async def _pid(con: object) -> int:
    assert isinstance(con, PgConnection)
    return int(con.con.get_server_pid())


async def test_a_read_is_not_followed_by_the_reset_query(pg_url: str) -> None:
    async with migrated(PostgresStore(pg_url)) as store:
        d = store.dialect
        async with d.read() as con:
            pid = await _pid(con)
            await con.execute("SET application_name = 'left as it was'")
        async with d.read() as con:  # the pool hands out its last idle connection first
            assert await _pid(con) == pid
            assert (await con.fetch("SHOW application_name"))[0][0] == "left as it was"
        async with d.transaction() as con:  # a transaction is still rolled back or ended
            assert await _pid(con) == pid
            assert [tuple(r) for r in await con.fetch("SELECT 1")] == [(1,)]


async def test_the_migration_locks_connection_is_reset(pg_url: str) -> None:
    async with migrated(PostgresStore(pg_url)) as store:
        d = store.dialect
        async with d.migration_lock() as con:
            pid = await _pid(con)
            await con.execute("SELECT pg_advisory_lock(4242)")  # a lock left behind
            await con.execute("SET application_name = 'migrating'")
        other = await asyncpg.connect(pg_url)
        try:
            held = await other.fetch(
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND pid = $1", pid
            )
        finally:
            await other.close()
        assert held == []
        async with d.read() as con:
            assert await _pid(con) == pid
            assert (await con.fetch("SHOW application_name"))[0][0] != "migrating"
