"""SQLite through aiosqlite (WAL): the default, one file, no server.

One connection writes and a few read (``READERS``), so WAL readers never wait for the writer
and reads asked for together run side by side. Writes run in
explicit ``BEGIN IMMEDIATE`` transactions, one at a time (an asyncio lock: the writer
connection is shared by every task); ``atomic`` runs a whole transaction as one call in
aiosqlite's thread (the check writer's batches), where ``transaction`` hands each statement
there and back. Times are integer microseconds (UTC), days ISO text.

The file is created with mode 0600 (SQLite gives its -wal and -shm files the same mode). A
daemon holds ``<file>.lock`` (flock) for its whole life, so a second daemon on the same file
refuses to start; ``verify`` notices the file deleted or replaced under a running daemon,
after which nothing more is written (into an unlinked file) until the store is reopened.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from ...errors import AlreadyExists, MigrationError, StoreError, StoreUnavailable
from ..base import DaemonLock
from ..filelock import FileLock
from ..migrate import Migration
from .base import CHECK_COLUMNS, ROLLUP_COLUMNS, Connection, Dialect, Row, add_rollup_sql

_ROWS_PER_INSERT = 500  # 15 columns x 500 rows stays below SQLite's variable limit
_PIECES = (256, 128, 64, 32, 16, 8, 4, 2, 1)
"""Row counts of the statements a batch's rest is cut into (``_pieces``). Each statement
text stays in the connection's statement cache (Python's sqlite3 keeps the last 128 prepared,
each with its compiled program and its bound values: ~0.7 MB for 500 rows of an upsert). A
batch's rest written in one statement of its own size was compiled again for nearly every
batch (CPU: own, stop 22) and filled the cache with ~128 of them, ~90 MiB of SQLite's heap at
50,000 services (sqlmem, stop 22). Fixed sizes keep at most 10 statements a table."""
_MAX_VARIABLES = 30_000  # SQLite's limit is 32,766 since 3.32
_DELETE_BATCH = 5000  # rows per retention transaction: short, so writers barely wait
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_T = TypeVar("_T")
_CLOSED = ("no active connection", "Connection closed")  # aiosqlite's ValueError once closed
# Result codes that mean "the file cannot be used now" rather than "this statement is wrong".
_UNAVAILABLE = tuple(
    f"SQLITE_{name}" for name in "BUSY LOCKED IOERR CANTOPEN READONLY FULL NOMEM PROTOCOL".split()
)


def to_us(dt: datetime) -> int:
    """Microseconds since the epoch (how the SQLite schema stores a time)."""
    delta = dt.astimezone(UTC) - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


@contextlib.contextmanager
def _driver_errors() -> Iterator[None]:
    """Turn what sqlite3/aiosqlite raise into the store's errors."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise AlreadyExists(f"already stored: {exc}") from exc
        raise StoreError(f"SQLite refused the change: {exc}") from exc
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorname", "").startswith(_UNAVAILABLE):
            raise StoreUnavailable(f"SQLite database unavailable: {exc}") from exc
        raise StoreError(f"SQLite failed: {exc}") from exc
    except OSError as exc:
        raise StoreUnavailable(f"SQLite database unavailable: {exc}") from exc
    except ValueError as exc:
        if str(exc) not in _CLOSED:
            raise
        raise StoreUnavailable("the SQLite connection is closed") from exc


_SUM_COUNTS = (
    "(SELECT '{{' || group_concat('\"' || key || '\":' || n, ',') || '}}' FROM (SELECT key,"
    " sum(value) AS n FROM (SELECT key, value FROM json_each({old}) UNION ALL SELECT key, value"
    " FROM json_each({new})) GROUP BY key ORDER BY {order}))"
)
"""Two JSON count objects summed per key, in SQLite's json1 (add_rollup_sql)."""


@functools.lru_cache(maxsize=64)
def _add_rollups_sql(table: str, rows: int = 1) -> str:
    n = len(ROLLUP_COLUMNS) + (3 if table == "hourly_rollups" else 2)
    keys = "service_id, day, hour" if table == "hourly_rollups" else "service_id, day"
    values = ", ".join([f"({', '.join('?' * n)})"] * rows)
    return (
        f"INSERT INTO {table} ({keys}, {', '.join(ROLLUP_COLUMNS)})"
        f" VALUES {values}" + add_rollup_sql(table, table, _SUM_COUNTS)
    )


def _pieces(count: int, most: int = _ROWS_PER_INSERT) -> Iterator[tuple[int, int]]:
    """(start, rows) of the statements that insert ``count`` rows, in order: as many of
    ``most`` rows as fit, the rest in powers of two. A statement of many rows is compiled
    once per row count (sqlite3's statement cache keeps it), and compiling one of 500 rows
    costs about as much as running it: a batch's rest of any other size (the writer's
    batches are whatever a flush found) cost that for every batch."""
    start = 0
    while count - start >= most:
        yield start, most
        start += most
    for size in _PIECES:
        if size < most and count - start >= size:
            yield start, size
            start += size


class SqliteConnection(Connection):
    """An aiosqlite connection with ``?`` placeholders (SQLite's own)."""

    def __init__(self, con: aiosqlite.Connection) -> None:
        self.con = con

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return list(await self.con.execute_fetchall(sql, args))

    async def execute(self, sql: str, *args: Any) -> int:
        return (await self.con.execute(sql, args)).rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.con.executemany(sql, rows)


class _InThread(Connection):
    """The writer's sqlite3 connection inside aiosqlite's own thread (SqliteDialect.atomic):
    its coroutines never suspend, so a body awaiting only them runs to its end in one call."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return list(self.con.execute(sql, args).fetchall())

    async def execute(self, sql: str, *args: Any) -> int:
        return self.con.execute(sql, args).rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.con.executemany(sql, rows)


def _run_to_end(body: Awaitable[_T]) -> _T:
    """The result of an awaitable that never suspends (a body over ``_InThread``)."""
    steps = body.__await__()
    try:
        next(steps)
    except StopIteration as done:
        result: _T = done.value
        return result
    if isinstance(steps, Generator):
        steps.close()
    raise RuntimeError("a body run in SQLite's thread awaited something else than SQLite")


def _in_transaction(raw: sqlite3.Connection, body: Callable[[Connection], Awaitable[_T]]) -> _T:
    """``body`` over ``raw`` (in aiosqlite's thread) in one transaction."""
    raw.execute("BEGIN IMMEDIATE")
    try:
        result = _run_to_end(body(_InThread(raw)))
        raw.execute("COMMIT")
    except BaseException:
        if raw.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                raw.execute("ROLLBACK")
        raise
    return result


WAL_CHECKPOINT_PAGES = 10_000
"""The writer's automatic checkpoint, in WAL pages (SQLite's default: 1,000, ~4 MB). A
writer's commit of ~400 checks of 50,000 services (a flush every 0.5 s) dirties about a page
per check in each of its four tables, so at the default nearly every commit was followed by
a checkpoint copying them all to the file, the rows rewritten at each flush (the rollups of
the hour, the day, the month) every time; at 10,000 (~40 MB of WAL) once per several commits
(issue 14 point 2: SQLite's thread 58 -> 45 µs a check, 50,000 services every 60 s written
as the writer flushes them)."""

READERS = 3
"""Reading connections: a local SLA report's three largest statements (issue 14) run at
once. Each holds its own page cache (SQLite's default, at most ~2 MB) and a thread."""


class SqliteDialect(Dialect):
    """SQLite in the file ``path`` (created with its folder if missing)."""

    name = "sqlite"
    hands_off = True
    counts_sum = _SUM_COUNTS

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._w: SqliteConnection | None = None
        self._r: SqliteConnection | None = None
        # The readers after the first (READERS in all) and how many reads each has under
        # way: reads asked for at once (a report's statements) run side by side, each in
        # its connection's thread (sqlite3 lets go of the GIL while SQLite steps).
        self._more: list[SqliteConnection] = []
        self._reading: dict[int, int] = {}
        self._write_lock = asyncio.Lock()
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file opened
        self.lost: str | None = None

    async def _connect(self) -> SqliteConnection:
        con = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
            await con.execute(f"PRAGMA {pragma}")
        await con.execute("PRAGMA foreign_keys=ON")
        return SqliteConnection(con)

    async def open(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Created here, 0600, before SQLite creates it with the umask's mode: it holds
            # password hashes, token digests, the audit log and all history.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            self._w = await self._connect()
            await self._w.con.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
            self._r = await self._connect()
            self._more = [await self._connect() for _ in range(READERS - 1)]
            st = os.stat(self.path)
            self._identity, self.lost = (st.st_dev, st.st_ino), None
        except (OSError, sqlite3.Error) as exc:
            await self.close()
            raise StoreUnavailable(f"cannot open SQLite database {self.path}: {exc}") from exc

    async def close(self) -> None:
        for con in (*self._more, self._r, self._w):
            if con is not None:
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await con.con.close()
        self._r = self._w = None
        self._more = []

    def _open(self, con: SqliteConnection | None) -> SqliteConnection:
        if self.lost is not None:
            raise StoreUnavailable(self.lost)
        if con is None:
            raise StoreUnavailable("the SQLite store is not open")
        return con

    def _file_changed(self) -> str | None:
        """Whether the file at the path is still the one opened (one stat: cheap enough to
        ask before every write, so that none goes into an unlinked file)."""
        if self.lost is not None or self._identity is None:
            return self.lost
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            what = "was deleted"
        except OSError as exc:
            return f"cannot check the SQLite database file {self.path}: {exc}"
        else:
            if (st.st_dev, st.st_ino) == self._identity:
                return None
            what = "was replaced by another file"
        self.lost = (
            f"the SQLite database file {self.path} {what} while the daemon ran; nothing more"
            " is written to it (checks wait in the journal): restart slamond"
        )
        return self.lost

    async def verify(self) -> str | None:
        problem = self._file_changed()
        if problem is not None and self._w is not None:
            # Closed now: the old file's -wal and -shm must not meet a new file at the path.
            async with self._write_lock:
                await self.close()
        return problem

    def daemon_lock(self, node: str) -> DaemonLock:
        return FileLock(Path(f"{self.path}.lock"), f"the SQLite database {self.path}")

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        with _driver_errors():
            con = self._open(self._r)
            if self._more:
                # The reader with the fewest reads under way (the first when all are idle).
                con = min((con, *self._more), key=lambda c: self._reading.get(id(c), 0))
            key = id(con)
            self._reading[key] = self._reading.get(key, 0) + 1
            try:
                yield con
            finally:
                self._reading[key] -= 1

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._write_lock:
            with _driver_errors():
                self._file_changed()
                con = self._open(self._w)
                try:
                    await con.execute("BEGIN IMMEDIATE")
                    yield con
                    await con.execute("COMMIT")
                except BaseException:
                    # Also when cancelled while BEGIN was on its way: aiosqlite's thread runs
                    # it anyway, and the connection would stay inside that transaction (every
                    # later BEGIN failing) unless a ROLLBACK follows it in the queue.
                    await self._rollback(con, always=True)
                    raise

    async def atomic(self, body: Callable[[Connection], Awaitable[_T]]) -> _T:
        return (await self.atomic_each([body]))[0]

    async def atomic_each(
        self, bodies: Sequence[Callable[[Connection], Awaitable[_T]]]
    ) -> list[_T]:
        # The transactions are one call in aiosqlite's thread: each statement awaited
        # through aiosqlite is a hand-off back to the event loop, and with hundreds of checks
        # in flight every hand-off waited for a turn of a busy loop (~14 per batch of 500
        # checks): at 50,000 services the writer fell behind and its backlog grew for good.
        def run(raw: sqlite3.Connection) -> list[_T]:
            return [_in_transaction(raw, body) for body in bodies]

        async with self._write_lock:
            with _driver_errors():
                self._file_changed()
                con = self._open(self._w).con
                # aiosqlite runs ``run`` in its thread, in turn with the other calls it queues
                # (a cancelled caller does not stop it: each transaction ends either way).
                in_thread: Callable[..., Awaitable[list[_T]]] = con._execute
                return await in_thread(run, con._conn)

    async def hold_checkpoints(self) -> None:
        # A first start after the upgrade to 0015 writes ~200 MB of bar summaries (50,000
        # services × 87 days, a page each): each page's commit copied its WAL frames into
        # the file, 0.5-0.8 s of the start's writer thread, the start's longest chain
        # (issue 14 point 3). Held, the copy is made once after ready, on a reader.
        async with self._write_lock:
            with _driver_errors():
                await self._open(self._w).execute("PRAGMA wal_autocheckpoint = 0")

    async def release_checkpoints(self) -> None:
        try:
            async with self.read() as con:
                # PASSIVE copies the frames without stopping the writer; TRUNCATE then waits
                # for its transaction to end, copies what it added and empties the WAL file
                # (else it kept the size it grew to, ~200 MB, until the daemon stops).
                await con.fetch("PRAGMA wal_checkpoint(PASSIVE)")
                await con.fetch("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            async with self._write_lock:
                with _driver_errors():
                    await self._open(self._w).execute(
                        f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}"
                    )

    @staticmethod
    async def _rollback(con: SqliteConnection, *, always: bool = False) -> None:
        if always or con.con.in_transaction:
            with contextlib.suppress(sqlite3.Error, ValueError):
                await con.execute("ROLLBACK")

    # -- codecs ---------------------------------------------------------------------------

    def time(self, dt: datetime) -> int:
        return to_us(dt)

    def from_time(self, value: Any) -> datetime:
        return _EPOCH + timedelta(microseconds=int(value))

    def day(self, d: date) -> str:
        return d.isoformat()

    def from_day(self, value: Any) -> date:
        return date.fromisoformat(str(value))

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        if not values:
            return "0 = 1", []
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    # -- statements that differ -----------------------------------------------------------

    async def insert_checks(
        self, con: Connection, rows: Sequence[Sequence[Any]]
    ) -> set[tuple[Any, ...]]:
        # Many rows per statement: one round trip to the aiosqlite thread per 500 checks.
        # A plain INSERT first: a batch is new checks but after a replay, and SQLite's
        # default conflict resolution (ABORT) undoes only the failing statement, the
        # transaction goes on. Only then are the keys already stored read, and the rest
        # inserted past them (rather than the new keys returned: every row a statement
        # returns is one SQLite step, and each step takes the GIL back — behind an event loop
        # that never sleeps each take waited up to the 5 ms switch interval, and the writer
        # fell behind for good).
        inserted: set[tuple[Any, ...]] = set()
        for i, n in _pieces(len(rows)):
            chunk = rows[i : i + n]
            keys = [(row[0], row[1], row[2]) for row in chunk]
            values = list(chain.from_iterable(chunk))
            head = f"INSERT INTO checks ({CHECK_COLUMNS})"
            try:
                await con.execute(_many_sql(head, len(chunk[0]), len(chunk), ""), *values)
            except sqlite3.IntegrityError:
                stored = await con.fetch(
                    _stored_keys_sql(len(chunk)), *(v for key in keys for v in key)
                )
                await con.execute(
                    _many_sql(head, len(chunk[0]), len(chunk), "ON CONFLICT DO NOTHING"),
                    *values,
                )
                inserted.update(set(keys) - {tuple(r) for r in stored})
            else:
                inserted.update(keys)
        return inserted

    async def add_rollups(self, con: Connection, table: str, rows: Sequence[Row]) -> None:
        # Many rows per statement, as insert_checks: executemany steps SQLite once per row,
        # and each step gives the GIL back and waits to take it again; with the event loop
        # busy probing, every wait lasts up to the switch interval (5 ms) and the writer
        # fell to ~200 rows/s in a busy daemon.
        for i, n in _pieces(len(rows)):
            await con.execute(_add_rollups_sql(table, n), *chain.from_iterable(rows[i : i + n]))

    async def insert_many(
        self, con: Connection, head: str, rows: Sequence[Sequence[Any]], tail: str = ""
    ) -> None:
        # Many rows per statement, for the reason add_rollups gives (transitions and
        # episodes: 50,000 services write a transition each in their first minute). Rows of
        # one statement are applied in order, as executemany's.
        if not rows:
            return
        per = max(1, min(_ROWS_PER_INSERT, _MAX_VARIABLES // len(rows[0])))
        for i, n in _pieces(len(rows), per):
            await con.execute(
                _many_sql(head, len(rows[i]), n, tail), *chain.from_iterable(rows[i : i + n])
            )

    async def reindex_incident(self, con: Connection, incident_id: int) -> None:
        row = await con.fetchrow(
            # issue 12: impact, root cause and resolution notes are searched too
            "SELECT title, description, impact, root_cause, resolution_notes FROM incidents"
            " WHERE id = ?",
            incident_id,
        )
        msgs = await con.fetch(
            "SELECT message FROM incident_updates WHERE incident_id = ? ORDER BY id", incident_id
        )
        await con.execute("DELETE FROM incident_search WHERE rowid = ?", incident_id)
        if row is not None:
            await con.execute(
                "INSERT INTO incident_search (rowid, title, body) VALUES (?, ?, ?)",
                incident_id,
                row[0],
                "\n".join([row[1], row[2], row[3], row[4], *(m[0] for m in msgs)]),
            )

    def search_incidents(self, terms: Sequence[str]) -> tuple[str, str]:
        return (
            "FROM incident_search s JOIN incidents i ON i.id = s.rowid"
            " WHERE incident_search MATCH ?",
            " ".join(f'"{t}"*' for t in terms),
        )

    async def delete_checks_before(self, day: date) -> tuple[int, list[str]]:
        cutoff = to_us(datetime(day.year, day.month, day.day, tzinfo=UTC))
        removed = 0
        while True:  # small transactions, so the writer waits little
            async with self.transaction() as con:
                n = await con.execute(
                    "DELETE FROM checks WHERE (service_id, started_at, node) IN (SELECT"
                    " service_id, started_at, node FROM checks WHERE started_at < ? LIMIT ?)",
                    cutoff,
                    _DELETE_BATCH,
                )
            removed += n
            if n < _DELETE_BATCH:
                return removed, []

    @contextlib.asynccontextmanager
    async def migration_lock(self) -> AsyncIterator[Connection]:
        # In-process: the write lock. Across processes each file runs under BEGIN IMMEDIATE.
        async with self._write_lock:
            with _driver_errors():
                con = self._open(self._w)
                await con.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                    " name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
                )
                yield con

    async def apply_migration(self, con: Connection, migration: Migration) -> None:
        assert isinstance(con, SqliteConnection)
        # executescript runs the whole file; BEGIN/COMMIT inside makes it all-or-nothing.
        script = (
            f"BEGIN IMMEDIATE;\n{migration.sql}\n;INSERT INTO schema_migrations"
            f" (version, name, applied_at) VALUES ({migration.version}, '{migration.name}',"
            f" {int(time.time() * 1e6)});\nCOMMIT;"
        )
        try:
            await con.con.executescript(script)
        except sqlite3.Error as exc:
            await self._rollback(con)
            raise MigrationError(f"migration {migration.name} failed: {exc}") from exc


@functools.lru_cache(maxsize=256)
def _many_sql(head: str, width: int, count: int, tail: str) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return f"{head} VALUES {', '.join([row] * count)} {tail}"


@functools.lru_cache(maxsize=64)
def _stored_keys_sql(count: int) -> str:
    """The keys among ``count`` (service_id, started_at, node) triples that checks holds."""
    values = ", ".join(["(?, ?, ?)"] * count)
    return (
        f"SELECT c.service_id, c.started_at, c.node FROM (VALUES {values}) AS v"
        " JOIN checks c ON c.service_id = v.column1 AND c.started_at = v.column2"
        " AND c.node = v.column3"
    )
