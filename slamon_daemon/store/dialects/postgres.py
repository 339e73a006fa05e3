"""PostgreSQL through an asyncpg pool.

Raw checks live in a table partitioned by day: ``maintain`` creates the partitions ahead of
need and retention drops whole old ones. A batch of checks is one ``unnest`` insert; the
rollups of a batch are added in the database (one ``unnest`` upsert per table), so concurrent
writers add one after the other.

A daemon holds a session advisory lock keyed by its node name on a connection of its own
(``AdvisoryLock``), so a second daemon with the same node name on the same database refuses
to start; the lock goes with that connection, so it is checked and taken again after an
outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import socket
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from ...errors import AlreadyExists, MigrationError, StoreError, StoreUnavailable
from ..base import DaemonLock
from ..migrate import Migration
from .base import CHECK_COLUMNS, ROLLUP_COLUMNS, Connection, Dialect, Row, add_rollup_sql

logger = logging.getLogger("slamon.store")

_MIGRATION_LOCK = 0x51A7_0001  # advisory lock id: one migrator at a time
NODE_LOCK_CLASS = 0x51A7
"""The first key of every node's advisory lock (the second: the node name's CRC-32), so
pg_locks shows slamon's node locks apart from any other (classid = 0x51A7 = 20903)."""
_PARTITION_RE = re.compile(r"^checks_p(\d{8})$")
_INSERT_CHECKS = (
    f"INSERT INTO checks ({CHECK_COLUMNS}) SELECT * FROM unnest(?::text[], ?::timestamptz[],"
    " ?::text[], ?::float8[], ?::int4[], ?::text[], ?::text[], ?::text[], ?::bool[],"
    " ?::float8[], ?::timestamptz[], ?::text[], ?::bool[], ?::int4[]) ON CONFLICT DO NOTHING RETURNING service_id, started_at, node"
)
_ROLLUP_TYPES = dict(
    zip(
        ROLLUP_COLUMNS,
        "int4 int4 int4 int4 int4 float8 int4 int8 float8 float8 text text float8".split(),
        strict=True,
    )
)
_SUM_COUNTS = (
    "(SELECT '{{' || string_agg('\"' || key || '\":' || n, ',' ORDER BY {order}) || '}}'"
    " FROM (SELECT key, sum(value::int8) AS n FROM (SELECT * FROM json_each_text({old}::json)"
    " UNION ALL SELECT * FROM json_each_text({new}::json)) s GROUP BY key) g)"
)
"""Two JSON count objects (text columns) summed per key (add_rollup_sql)."""


@functools.lru_cache(maxsize=4)
def _add_rollups_sql(table: str) -> str:
    hourly = table == "hourly_rollups"
    keys = ["service_id", "day", *(["hour"] if hourly else [])]
    types = ["text", "date", *(["int4"] if hourly else []), *_ROLLUP_TYPES.values()]
    return (
        f"INSERT INTO {table} AS t ({', '.join(keys)}, {', '.join(ROLLUP_COLUMNS)})"
        f" SELECT * FROM unnest({', '.join(f'?::{t}[]' for t in types)})"
        + add_rollup_sql(table, "t", _SUM_COUNTS)
    )


# Errors that mean "the database is not reachable now" rather than "this statement is wrong".
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


@contextlib.contextmanager
def _driver_errors() -> Iterator[None]:
    """Turn what asyncpg (and the socket under it) raises into the store's errors."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        raise AlreadyExists(f"already stored: {exc}") from exc
    except asyncpg.DataError as exc:  # a value the column cannot take (an InterfaceError)
        raise StoreError(f"PostgreSQL refused a value: {exc}") from exc
    except _UNAVAILABLE as exc:
        raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
    except asyncpg.PostgresError as exc:
        raise StoreError(f"PostgreSQL failed: {exc}") from exc


@functools.lru_cache(maxsize=1024)
def _numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2 ...``."""
    parts = sql.split("?")
    return "".join(p + (f"${i}" if i < len(parts) else "") for i, p in enumerate(parts, 1))


class PgConnection(Connection):
    """An asyncpg connection that takes ``?`` placeholders."""

    def __init__(self, con: Any) -> None:
        self.con = con

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        rows: list[Row] = await self.con.fetch(_numbered(sql), *args)
        return rows

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self.con.execute(_numbered(sql), *args)  # "UPDATE 3", "INSERT 0 1"
        count = status.rpartition(" ")[2]
        return int(count) if count.isdigit() else 0

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.con.executemany(_numbered(sql), rows)


class PostgresDialect(Dialect):
    """PostgreSQL at ``dsn`` (postgresql://user@host:port/db)."""

    name = "postgres"
    counts_sum = _SUM_COUNTS
    for_update = " FOR UPDATE"

    def __init__(self, dsn: str, *, min_size: int = 0, max_size: int = 8) -> None:
        # No floor of connections by default: asyncpg keeps a floor by reconnecting in the
        # background and logs a traceback for every failed attempt during an outage; with
        # none, a connection is made when one is needed and its failure is ours to report.
        self.dsn = dsn
        self._pool: Any = None
        self._sizes = (min_size, max_size)
        self._to_reset: set[int] = set()  # server pids of pooled connections with a session lock

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self._sizes[0],
                max_size=self._sizes[1],
                timeout=10,
                command_timeout=60,
                reset=self._reset,
            )
            async with self._pool.acquire() as con:  # reachable now? (kept in the pool)
                await con.fetchval("SELECT 1")
        except (*_UNAVAILABLE, asyncpg.PostgresError) as exc:
            await self.close()
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 5)
            except Exception:  # closing a pool whose server is gone must not raise
                pool.terminate()

    async def _reset(self, con: Any) -> None:
        """On release (asyncpg has rolled back an open transaction already): asyncpg's reset
        query (advisory unlock all, CLOSE ALL, UNLISTEN *, RESET ALL) only for a connection
        that held the migration lock. The pooled connections set nothing else that outlives
        a transaction (no SET, LISTEN or cursor: those have connections of their own), and
        the query was one more round trip after every statement (issue 14)."""
        pid = con.get_server_pid()
        if pid in self._to_reset:
            self._to_reset.discard(pid)
            await con.execute(con.get_reset_query())

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        if self._pool is None:
            raise StoreUnavailable("the PostgreSQL store is not open")
        with _driver_errors():
            async with self._pool.acquire() as con:
                yield con

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        async with self._connection() as con:
            yield PgConnection(con)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._connection() as con, con.transaction():
            yield PgConnection(con)

    # -- codecs: asyncpg takes and gives datetime and date (timestamptz in UTC) -------------

    def time(self, dt: datetime) -> datetime:
        return dt

    def from_time(self, value: Any) -> datetime:
        return value.astimezone(UTC)  # type: ignore[no-any-return]

    def day(self, d: date) -> date:
        return d

    def from_day(self, value: Any) -> date:
        return value  # type: ignore[no-any-return]

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    # -- statements that differ -----------------------------------------------------------

    async def insert_checks(
        self, con: Connection, rows: Sequence[Sequence[Any]]
    ) -> set[tuple[Any, ...]]:
        # One statement for the batch: columns as arrays; RETURNING names the new rows.
        got = await con.fetch(_INSERT_CHECKS, *(list(col) for col in zip(*rows, strict=True)))
        return {tuple(r) for r in got}

    async def add_rollups(self, con: Connection, table: str, rows: Sequence[Row]) -> None:
        # One statement per table and batch: columns as arrays.
        await con.execute(_add_rollups_sql(table), *(list(col) for col in zip(*rows, strict=True)))

    async def reindex_incident(self, con: Connection, incident_id: int) -> None:
        await con.execute(
            # issue 12: impact, root cause and resolution notes are searched too
            "UPDATE incidents i SET search_text = i.title || E'\\n' || i.description || E'\\n'"
            " || i.impact || E'\\n' || i.root_cause || E'\\n' || i.resolution_notes || E'\\n' ||"
            " coalesce((SELECT string_agg(message, E'\\n' ORDER BY id) FROM incident_updates"
            " WHERE incident_id = i.id), '') WHERE i.id = ?",
            incident_id,
        )

    def search_incidents(self, terms: Sequence[str]) -> tuple[str, str]:
        tsquery = " & ".join(f"{t}:*" for t in terms)
        return "FROM incidents i WHERE i.search @@ to_tsquery('simple', ?)", tsquery

    # -- partitions and retention ---------------------------------------------------------

    async def maintain(self, today: date) -> None:
        """Create the daily partitions of ``checks`` from yesterday to three days ahead."""
        async with self._connection() as con:
            for offset in range(-1, 4):
                await self._ensure_partition(con, today + timedelta(days=offset))

    @staticmethod
    async def _ensure_partition(con: Any, day: date) -> None:
        name = f"checks_p{day:%Y%m%d}"
        if await con.fetchval("SELECT to_regclass($1)", name):
            return
        lo = f"{day.isoformat()} 00:00:00+00"
        hi = f"{(day + timedelta(days=1)).isoformat()} 00:00:00+00"
        where = f"started_at >= '{lo}' AND started_at < '{hi}'"
        try:
            async with con.transaction():
                # Rows of that day that landed in the default partition move into the new one.
                await con.execute(
                    f"CREATE TEMP TABLE _moving ON COMMIT DROP AS SELECT * FROM checks_default"
                    f" WHERE {where}"
                )
                await con.execute(f"DELETE FROM checks_default WHERE {where}")
                await con.execute(
                    f"CREATE TABLE {name} PARTITION OF checks FOR VALUES FROM ('{lo}') TO ('{hi}')"
                )
                await con.execute("INSERT INTO checks SELECT * FROM _moving")
        except asyncpg.PostgresError as exc:
            logger.warning("cannot create partition %s: %s", name, exc)

    async def delete_checks_before(self, day: date) -> tuple[int, list[str]]:
        removed, dropped = 0, []
        async with self.read() as con:
            for (name,) in await con.fetch(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'checks'"
            ):
                m = _PARTITION_RE.match(name)
                if m and date(int(m[1][:4]), int(m[1][4:6]), int(m[1][6:])) < day:
                    rows = await con.fetch(f"SELECT count(*) FROM {name}")
                    await con.execute(f"DROP TABLE {name}")
                    dropped.append(name)
                    removed += int(rows[0][0])
            # Rows outside any partition (the default one) are deleted row by row.
            removed += await con.execute(
                "DELETE FROM checks_default WHERE started_at < ?",
                datetime(day.year, day.month, day.day, tzinfo=UTC),
            )
        return removed, dropped

    def daemon_lock(self, node: str) -> DaemonLock:
        return AdvisoryLock(self.dsn, node)

    async def listen(self, channel: str, on_payload: Callable[[str], None]) -> Listener:
        """LISTEN on ``channel`` on a connection of its own (issue 15: events across nodes).

        Raises:
            StoreUnavailable: the database cannot be reached.
        """
        listener = Listener(self.dsn, channel, on_payload)
        await listener.start()
        return listener

    # -- migrations -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def migration_lock(self) -> AsyncIterator[Connection]:
        async with self._connection() as con:
            self._to_reset.add(con.get_server_pid())  # released: unlock all, whatever happens
            await con.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
            try:
                await con.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
                    " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                yield PgConnection(con)
            finally:
                with contextlib.suppress(*_UNAVAILABLE, asyncpg.PostgresError):
                    await con.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)

    async def apply_migration(self, con: Connection, migration: Migration) -> None:
        assert isinstance(con, PgConnection)
        try:
            async with con.con.transaction():
                await con.con.execute(migration.sql)
                await con.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    migration.version,
                    migration.name,
                )
        except asyncpg.PostgresError as exc:
            raise MigrationError(f"migration {migration.name} failed: {exc}") from exc


class Listener:
    """A LISTEN connection: ``on_payload`` gets each notification's payload; ``alive`` pings
    the connection (a dead one is closed: start another)."""

    def __init__(self, dsn: str, channel: str, on_payload: Callable[[str], None]) -> None:
        self.dsn = dsn
        self.channel = channel
        self.on_payload = on_payload
        self._con: Any = None

    async def start(self) -> None:
        with _driver_errors():
            self._con = await asyncpg.connect(
                self.dsn, timeout=10, server_settings={"application_name": "slamond listen"}
            )
            await self._con.add_listener(self.channel, self._received)

    def _received(self, _con: Any, _pid: int, _channel: str, payload: str) -> None:
        self.on_payload(payload)

    async def alive(self) -> bool:
        if self._con is None or self._con.is_closed():
            return False
        try:
            await asyncio.wait_for(self._con.fetchval("SELECT 1"), 5)
        except (*_UNAVAILABLE, asyncpg.PostgresError):
            await self.close()
            return False
        return True

    async def close(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            try:
                await asyncio.wait_for(con.close(), 2)
            except Exception:  # a connection whose server is gone
                con.terminate()


def node_lock_key(node: str) -> tuple[int, int]:
    """The two int4 keys of ``node``'s advisory lock."""
    crc = zlib.crc32(node.encode())
    return NODE_LOCK_CLASS, crc - 2**32 if crc >= 2**31 else crc


class AdvisoryLock(DaemonLock):
    """A session advisory lock keyed by the node name, on a connection of its own.

    The connection names the daemon (``application_name``), so a refusal can say who holds
    the lock. The lock lives as long as the connection: ``held`` pings it.
    """

    def __init__(self, dsn: str, node: str) -> None:
        self.dsn = dsn
        self.node = node
        self.key = node_lock_key(node)
        self.description = f"node {node!r} on this PostgreSQL database"
        self._con: Any = None

    async def acquire(self) -> str | None:
        if self._con is not None and await self.held():
            return None
        label = f"slamond {self.node} {socket.gethostname()} pid {os.getpid()}"[:63]
        with _driver_errors():
            con = await asyncpg.connect(
                self.dsn, timeout=10, server_settings={"application_name": label}
            )
            try:
                if await con.fetchval("SELECT pg_try_advisory_lock($1, $2)", *self.key):
                    self._con, con = con, None
                    return None
                holder = await con.fetchval(
                    "SELECT a.application_name || coalesce(' from ' || host(a.client_addr), '')"
                    " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.classid::text::bigint = $1"
                    " AND l.objid::text::bigint = $2 AND l.objsubid = 2 AND l.granted"
                    " AND l.database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())",
                    self.key[0],
                    self.key[1] & 0xFFFFFFFF,
                )
            finally:
                if con is not None:
                    await con.close()
        who = f"{holder!s}" if holder else "another session"
        return (
            f"{who} holds the lock of {self.description}: another daemon runs with node name"
            f" {self.node!r}; give each daemon its own [daemon] node"
        )

    async def held(self) -> bool:
        if self._con is None or self._con.is_closed():
            return False
        try:
            await asyncio.wait_for(self._con.fetchval("SELECT 1"), 5)
        except (*_UNAVAILABLE, asyncpg.PostgresError):
            await self._drop()
            return False
        return True

    async def _drop(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            con.terminate()

    async def release(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            try:
                await asyncio.wait_for(con.close(), 5)
            except Exception:  # closing a connection whose server is gone must not raise
                con.terminate()
