"""What differs between the databases slamon runs on; the store's SQL is written once (sql.py).

A ``Dialect`` owns the connections and transactions, encodes times and days the way its
schema stores them, and does the few things its SQL cannot share: the bulk insert of checks,
the lookup of stored rollups by key, full-text search, raw-check retention (PostgreSQL
partitions) and applying migrations under a lock. It is the one place where driver errors
(sqlite3.Error, asyncpg's, OSError) become ``StoreUnavailable`` / ``StoreError`` /
``AlreadyExists``: every connection is handed out by ``read()`` or ``transaction()``, which
translate what the driver raises inside them.

SqlStore writes SQL with ``?`` placeholders and reads rows by position; a ``Connection``
passes both to its driver (PostgreSQL numbers the placeholders: ``$1, $2 ...``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from typing import Any, TypeVar

from ..base import DaemonLock
from ..migrate import Migration

Row = Sequence[Any]
"""A result row, read by position."""
_T = TypeVar("_T")

CHECK_COLUMNS = (
    "service_id, started_at, node, latency_ms, status_code, outcome, error_kind, error,"
    " maintenance, interval_s, cert_expires_at, region, regional, share"
)
"""The columns of ``checks``, in the order of a check's encoded row (SqlStore.check_row)."""

ROLLUP_COLUMNS: tuple[str, ...] = tuple(
    "checks up degraded down maintenance downtime_s latency_count latency_sum_us latency_min_ms"
    " latency_max_ms latency_hist errors maintenance_s".split()
)
"""The columns of every rollup table after its key (service_id, day[, hour])."""


ADDED_COLUMNS = tuple(
    "checks up degraded down maintenance downtime_s latency_count latency_sum_us"
    " maintenance_s".split()
)
"""The rollup columns that merge by addition."""


COUNTS_COMPACT_AT = 1500
"""A stored JSON count object (latency_hist, errors) longer than this many characters has
its repeated keys merged when the next batch adds to it; a shorter one gets the batch's keys
appended (``{"12":3}`` + ``{"15":1,"12":1}`` = ``{"12":3,"15":1,"12":1}``): string work only,
where merging means parsing JSON. Readers add up repeated keys (rollup.counts_from_json).
Under 2 kB, so a PostgreSQL row stays uncompressed (TOAST)."""


def add_rollup_sql(table: str, alias: str, counts: str) -> str:
    """``INSERT ... ON CONFLICT DO UPDATE`` tail that adds a partial rollup to ``table``'s
    stored row (referred to as ``alias``). ``counts`` is the engine's expression summing two
    JSON count objects key by key, with ``{old}``, ``{new}`` and ``{order}`` (the keys'
    sort) to fill."""
    keys = "service_id, day, hour" if table == "hourly_rollups" else "service_id, day"
    t = alias
    sets = [f"{c} = {t}.{c} + excluded.{c}" for c in ADDED_COLUMNS]
    for c, op in (("latency_min_ms", "<="), ("latency_max_ms", ">=")):
        sets.append(
            f"{c} = CASE WHEN excluded.{c} IS NULL OR {t}.{c} {op} excluded.{c}"
            f" THEN {t}.{c} ELSE excluded.{c} END"
        )
    for c, order in (("latency_hist", "CAST(key AS INTEGER)"), ("errors", "key")):
        merged = counts.format(old=f"{t}.{c}", new=f"excluded.{c}", order=order)
        sets.append(
            f"{c} = CASE WHEN excluded.{c} = '{{}}' THEN {t}.{c} WHEN {t}.{c} = '{{}}'"
            f" THEN excluded.{c} WHEN length({t}.{c}) < {COUNTS_COMPACT_AT} THEN"
            f" substr({t}.{c}, 1, length({t}.{c}) - 1) || ',' || substr(excluded.{c}, 2)"
            f" ELSE {merged} END"
        )
    return f" ON CONFLICT ({keys}) DO UPDATE SET " + ", ".join(sets)


def compact_counts_sql(table: str, counts: str) -> str:
    """An UPDATE merging the repeated keys of ``table``'s JSON count objects on one day
    (its one parameter), with the engine's ``counts`` expression (Dialect.counts_sum)."""
    sets = []
    for c, order in (("latency_hist", "CAST(key AS INTEGER)"), ("errors", "key")):
        merged = counts.format(old=c, new="'{}'", order=order)
        sets.append(f"{c} = CASE WHEN {c} = '{{}}' THEN {c} ELSE {merged} END")
    return f"UPDATE {table} SET {', '.join(sets)} WHERE day = ?"


class Connection(ABC):
    """One connection as SqlStore uses it: ``?`` placeholders, rows read by position."""

    @abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """Every row of ``sql``."""

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """The first row of ``sql``, or None."""
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    @abstractmethod
    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; returns how many rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` once per parameter row."""


class Dialect(ABC):
    """One database engine as the store needs it. Not opened until ``open()``."""

    name: str
    """'sqlite' or 'postgres': Store.backend and the folder of its migrations."""
    for_update: str = ""
    """Appended to a SELECT that a transaction will change (row locks where they exist)."""
    counts_sum: str = ""
    """The engine's expression summing two JSON count objects key by key (add_rollup_sql)."""
    hands_off: bool = False
    """Whether ``atomic_each`` runs its transactions in one hand-off to a driver thread."""

    @abstractmethod
    async def open(self) -> None:
        """Connect. Raises StoreUnavailable."""

    @abstractmethod
    async def close(self) -> None:
        """Close every connection; safe twice."""

    @abstractmethod
    def read(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for reads; driver errors inside become StoreError."""

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A write transaction, committed on exit and rolled back on any exception; driver
        errors inside become StoreError (StoreUnavailable, AlreadyExists)."""

    async def atomic(self, body: Callable[[Connection], Awaitable[_T]]) -> _T:
        """``body`` in one write transaction, as ``transaction``; ``body`` awaits nothing but
        its connection. An engine whose driver runs in a thread may run all of it there in
        one hand-off (SQLite): a busy event loop then delays the whole transaction once,
        not each of its statements."""
        async with self.transaction() as con:
            return await body(con)

    async def atomic_each(
        self, bodies: Sequence[Callable[[Connection], Awaitable[_T]]]
    ) -> list[_T]:
        """Each of ``bodies`` in its own write transaction, in order, as ``atomic``; SQLite
        runs them all in one hand-off. When one fails, those before it stay committed."""
        return [await self.atomic(body) for body in bodies]

    async def hold_checkpoints(self) -> None:  # noqa: B027 - most engines need nothing
        """Let the commits that follow leave their log to ``release_checkpoints`` (SQLite's
        WAL checkpoints); nothing for an engine without one."""

    async def release_checkpoints(self) -> None:  # noqa: B027 - most engines need nothing
        """Copy what was held into the database, off the writer's connection, and let
        commits checkpoint again (``hold_checkpoints``)."""

    # -- codecs: how the schema stores what SQL cannot share --------------------------------

    @abstractmethod
    def time(self, dt: datetime) -> Any:
        """A timezone-aware time as its column holds it."""

    @abstractmethod
    def from_time(self, value: Any) -> datetime:
        """Inverse of ``time`` (UTC)."""

    @abstractmethod
    def day(self, d: date) -> Any:
        """A UTC day as its column holds it."""

    @abstractmethod
    def from_day(self, value: Any) -> date:
        """Inverse of ``day``."""

    @abstractmethod
    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """A condition ``column`` is one of ``values`` (false when empty), with its params."""

    # -- statements that differ -----------------------------------------------------------

    @abstractmethod
    async def insert_checks(
        self, con: Connection, rows: Sequence[Sequence[Any]]
    ) -> set[tuple[Any, ...]]:
        """Insert encoded check rows (CHECK_COLUMNS), skipping those already stored.

        Returns:
            (service_id, started_at, node) of the rows inserted now, as encoded.
        """

    @abstractmethod
    async def add_rollups(self, con: Connection, table: str, rows: Sequence[Row]) -> None:
        """Add partial rollups to ``table``'s stored ones, in the database: each row is
        (service_id, day[, hour] for hourly_rollups, ROLLUP_COLUMNS...) and is inserted, or
        added to the stored row of its key (counters summed, min/max kept, the JSON counts
        of ``latency_hist`` and ``errors`` summed per key). No row is read back into Python,
        and concurrent writers (PostgreSQL nodes) add one after the other. ``rows`` are in
        key order and hold each key once."""

    async def insert_many(
        self, con: Connection, head: str, rows: Sequence[Sequence[Any]], tail: str = ""
    ) -> None:
        """``head VALUES (?, ...) tail`` for every row of ``rows`` (all of one width), in
        order. PostgreSQL pipelines ``executemany`` in one round trip; SQLite overrides it."""
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            await con.executemany(f"{head} VALUES ({marks}) {tail}", rows)

    @abstractmethod
    async def reindex_incident(self, con: Connection, incident_id: int) -> None:
        """Rewrite the incident's full-text entry from its title, description and updates."""

    @abstractmethod
    def search_incidents(self, terms: Sequence[str]) -> tuple[str, str]:
        """(FROM ... WHERE clause over incidents ``i`` matching every term as a word
        prefix, its one parameter)."""

    async def maintain(self, today: date) -> None:  # noqa: B027 - most engines need nothing
        """Periodic upkeep (PostgreSQL: the partitions of the coming days)."""

    @abstractmethod
    async def delete_checks_before(self, day: date) -> tuple[int, list[str]]:
        """Remove raw checks started before ``day`` (UTC midnight), in steps that never
        block writers for long. Returns the count and the partitions dropped."""

    @abstractmethod
    def migration_lock(self) -> AbstractAsyncContextManager[Connection]:
        """A connection on which one migrator at a time reads and applies migrations;
        ``schema_migrations`` exists inside."""

    @abstractmethod
    async def apply_migration(self, con: Connection, migration: Migration) -> None:
        """Run one migration file and record it, all or nothing. Raises MigrationError."""

    # -- one daemon per database (issue 10) -------------------------------------------------

    @abstractmethod
    def daemon_lock(self, node: str) -> DaemonLock:
        """The lock one daemon holds for its whole life (store.base.DaemonLock)."""

    async def verify(self) -> str | None:
        """What is wrong with the database the dialect opened (SQLite: file deleted or
        replaced), or None. Once wrong, ``read()`` and ``transaction()`` refuse."""
        return None
