"""SQLite backend (aiosqlite, WAL): the default, one file, no server.

One connection writes and one reads, so WAL readers never wait for the writer. Writes run in
explicit ``BEGIN IMMEDIATE`` transactions. Timestamps are integer microseconds (UTC).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import AlreadyExists, MigrationError, StoreError, StoreUnavailable
from ..incidents import VersionConflict
from ..models import (
    AuditEntry,
    Check,
    ErrorKind,
    Incident,
    IncidentUpdate,
    MaintenanceWindow,
    OutageEpisode,
    Outcome,
    Role,
    Service,
    ServiceStatus,
    Transition,
    User,
    role_from_name,
)
from ..rollup import Rollup, rollup_deltas
from .base import (
    ROLLUP_COLUMNS,
    ROLLUP_TABLES,
    Progress,
    Record,
    RetentionResult,
    Store,
    SyncResult,
    from_us,
    merge_into,
    rollup_from_row,
    rollup_values,
    search_terms,
    service_from_json,
    service_to_json,
    split_records,
    to_us,
)
from .migrate import load_migrations

logger = logging.getLogger("slamon.store")

_CHECK_COLS = (
    "service_id, started_at, node, latency_ms, status_code, outcome, error_kind, error,"
    " maintenance, interval_s, cert_expires_at"
)
_ROWS_PER_INSERT = 500  # 11 columns × 500 rows stays far below SQLite's variable limit
_DELETE_BATCH = 5000  # rows per retention transaction: short, so writers barely wait
_RCOLS = ", ".join(ROLLUP_COLUMNS)


def _check_from_row(r: Sequence[Any]) -> Check:
    return Check(
        service_id=str(r[0]),
        started_at=from_us(int(r[1])),
        node=str(r[2]),
        latency_ms=float(r[3]),
        status_code=r[4],
        outcome=Outcome(r[5]),
        error_kind=ErrorKind(r[6]) if r[6] else None,
        error=r[7],
        maintenance=bool(r[8]),
        interval_s=float(r[9]),
        cert_expires_at=from_us(int(r[10])) if r[10] is not None else None,
    )


def _check_params(c: Check) -> tuple[Any, ...]:
    return (
        c.service_id,
        to_us(c.started_at),
        c.node,
        c.latency_ms,
        c.status_code,
        c.outcome.value,
        c.error_kind.value if c.error_kind else None,
        c.error,
        int(c.maintenance),
        c.interval_s,
        to_us(c.cert_expires_at) if c.cert_expires_at else None,
    )


def _episode_from_row(r: Sequence[Any]) -> OutageEpisode:
    return OutageEpisode(
        service_id=str(r[0]),
        started_at=from_us(int(r[1])),
        ended_at=from_us(int(r[2])) if r[2] is not None else None,
        worst_status=ServiceStatus(r[3]),
        cause=r[4],
        error=r[5],
        failed_checks=int(r[6]),
    )


def _window_from_row(r: Sequence[Any]) -> MaintenanceWindow:
    return MaintenanceWindow(
        id=int(r[0]),
        config_key=r[1],
        title=str(r[2]),
        starts_at=from_us(int(r[3])),
        ends_at=from_us(int(r[4])),
        services=tuple(json.loads(r[5])),
        created_by=str(r[6]),
        cancelled_at=from_us(int(r[7])) if r[7] is not None else None,
    )


_WINDOW_COLS = "id, config_key, title, starts_at, ends_at, services, created_by, cancelled_at"


class SqliteStore(Store):
    """The SQLite backend. ``path`` is a file path (created with its folder if missing)."""

    backend = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._w: aiosqlite.Connection | None = None
        self._r: aiosqlite.Connection | None = None
        # One writer connection is shared by every task: a transaction must not interleave
        # with another task's, so each write transaction holds this lock.
        self._write_lock = asyncio.Lock()

    async def _connect(self) -> aiosqlite.Connection:
        con = await aiosqlite.connect(self.path, isolation_level=None)
        await con.execute("PRAGMA journal_mode=WAL")
        await con.execute(
            "CREATE TEMP TABLE IF NOT EXISTS fold_keys"
            " (service_id TEXT NOT NULL, day TEXT NOT NULL, hour INTEGER NOT NULL)"
        )
        await con.execute("PRAGMA synchronous=NORMAL")
        await con.execute("PRAGMA busy_timeout=10000")
        await con.execute("PRAGMA foreign_keys=ON")
        return con

    async def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._w = await self._connect()
            self._r = await self._connect()
        except (OSError, sqlite3.Error) as exc:
            await self.close()
            raise StoreUnavailable(f"cannot open SQLite database {self.path}: {exc}") from exc

    async def close(self) -> None:
        for con in (self._r, self._w):
            if con is not None:
                try:
                    await con.close()
                except (sqlite3.Error, ValueError):
                    pass
        self._r = self._w = None

    @property
    def w(self) -> aiosqlite.Connection:
        if self._w is None:
            raise StoreUnavailable("the SQLite store is not open")
        return self._w

    @property
    def r(self) -> aiosqlite.Connection:
        if self._r is None:
            raise StoreUnavailable("the SQLite store is not open")
        return self._r

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            async with self.r.execute(sql, params) as cur:
                return list(await cur.fetchall())
        except sqlite3.Error as exc:
            raise StoreError(f"query failed: {exc}") from exc

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[None]:
        """A write transaction (BEGIN IMMEDIATE … COMMIT), rolled back on any exception."""
        async with self._write_lock:
            await self.w.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self._rollback()
                raise
            await self.w.execute("COMMIT")

    async def _rollback(self) -> None:
        if self._w is not None and self._w.in_transaction:
            try:
                await self._w.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    # -- migrations and upkeep --------------------------------------------------------

    async def applied_migrations(self) -> list[str]:
        await self.w.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
        )
        async with self.w.execute("SELECT name FROM schema_migrations ORDER BY version") as cur:
            return [str(r[0]) for r in await cur.fetchall()]

    async def migrate(self) -> list[str]:
        done = set(await self.applied_migrations())
        applied: list[str] = []
        for m in load_migrations(self.backend):
            if m.name in done:
                continue
            # executescript runs the whole file; BEGIN/COMMIT inside makes it all-or-nothing.
            script = (
                "BEGIN IMMEDIATE;\n"
                + m.sql
                + f"\n;INSERT INTO schema_migrations (version, name, applied_at)"
                f" VALUES ({m.version}, '{m.name}', {int(time.time() * 1e6)});\nCOMMIT;"
            )
            try:
                async with self._write_lock:
                    await self.w.executescript(script)
            except sqlite3.Error as exc:
                await self._rollback()
                raise MigrationError(f"migration {m.name} failed: {exc}") from exc
            logger.info("applied migration %s", m.name)
            applied.append(m.name)
        return applied

    async def apply_retention(
        self, now: datetime, raw_days: int, rollup_days: int = 400
    ) -> RetentionResult:
        result = RetentionResult()
        # Cut at a UTC midnight, as PostgreSQL (which drops whole days) does, so both backends
        # keep the same checks and no day is left with only part of its raw checks.
        cut_day = (now - timedelta(days=raw_days)).astimezone(UTC).date()
        raw_cutoff = to_us(datetime(cut_day.year, cut_day.month, cut_day.day, tzinfo=UTC))
        day_cutoff = (now - timedelta(days=rollup_days)).date().isoformat()
        try:
            while True:
                async with self._tx():
                    cur = await self.w.execute(
                        "DELETE FROM checks WHERE (service_id, started_at, node) IN (SELECT"
                        " service_id, started_at, node FROM checks WHERE started_at < ? LIMIT ?)",
                        (raw_cutoff, _DELETE_BATCH),
                    )
                result.checks += cur.rowcount
                if cur.rowcount < _DELETE_BATCH:
                    break
            for table in ("hourly_rollups", "daily_rollups", "monthly_rollups"):
                # A month's row goes only when the whole month is past the cutoff.
                cut = day_cutoff[:8] + "01" if table == "monthly_rollups" else day_cutoff
                async with self._tx():
                    cur = await self.w.execute(f"DELETE FROM {table} WHERE day < ?", (cut,))
                setattr(result, table, cur.rowcount)
        except sqlite3.Error as exc:
            await self._rollback()
            raise StoreError(f"retention failed: {exc}") from exc
        return result

    # -- services ---------------------------------------------------------------------

    async def sync_services(self, services: Sequence[Service]) -> SyncResult:
        result = SyncResult()
        now = int(time.time() * 1e6)
        try:
            async with self._tx():
                async with self.w.execute("SELECT id, config, active, source FROM services") as cur:
                    existing = {
                        str(r[0]): (str(r[1]), bool(r[2]), str(r[3])) for r in await cur.fetchall()
                    }
                wanted = {s.id for s in services}
                for s in services:
                    cfg = service_to_json(s)
                    old = existing.get(s.id)
                    if old is None:
                        await self.w.execute(
                            "INSERT INTO services (id, name, url, config, source, active, created_at,"
                            " updated_at) VALUES (?, ?, ?, ?, 'config', ?, ?, ?)",
                            (s.id, s.name, s.url, cfg, int(s.active), now, now),
                        )
                        result.added.append(s.id)
                    elif old[0] != cfg or old[1] != s.active or old[2] != "config":
                        await self.w.execute(
                            "UPDATE services SET name = ?, url = ?, config = ?, source = 'config',"
                            " active = ?, updated_at = ? WHERE id = ?",
                            (s.name, s.url, cfg, int(s.active), now, s.id),
                        )
                        result.updated.append(s.id)
                for sid, (_cfg, active, source) in existing.items():
                    if source == "config" and active and sid not in wanted:
                        await self.w.execute(
                            "UPDATE services SET active = 0, updated_at = ? WHERE id = ?",
                            (now, sid),
                        )
                        result.deactivated.append(sid)
        except sqlite3.Error as exc:
            await self._rollback()
            raise StoreError(f"cannot sync services: {exc}") from exc
        return result

    async def list_services(self, *, include_inactive: bool = False) -> list[Service]:
        sql = "SELECT config, active FROM services"
        if not include_inactive:
            sql += " WHERE active = 1"
        rows = await self._all(sql + " ORDER BY id")
        return [service_from_json(str(r[0]), active=bool(r[1])) for r in rows]

    # -- writes -----------------------------------------------------------------------

    async def write_batch(self, records: Sequence[Record]) -> int:
        if not records:
            return 0
        checks, transitions, episodes = split_records(records)
        try:
            async with self._tx():
                new = await self._insert_checks(checks)
                if new:
                    await self._fold(new)
                if transitions:
                    await self.w.executemany(
                        "INSERT INTO status_history (service_id, status, previous, at)"
                        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        [
                            (t.service_id or "", t.status.value, t.previous.value, to_us(t.at))
                            for t in transitions
                        ],
                    )
                for e in episodes:
                    await self.w.execute(
                        "INSERT INTO outage_episodes (service_id, started_at, ended_at, worst_status,"
                        " cause, error, failed_checks) VALUES (?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (service_id, started_at) DO UPDATE SET ended_at ="
                        " excluded.ended_at, worst_status = excluded.worst_status, cause ="
                        " excluded.cause, error = excluded.error, failed_checks = excluded.failed_checks",
                        (
                            e.service_id,
                            to_us(e.started_at),
                            to_us(e.ended_at) if e.ended_at else None,
                            e.worst_status.value,
                            e.cause,
                            e.error,
                            e.failed_checks,
                        ),
                    )
        except sqlite3.Error as exc:
            await self._rollback()
            raise StoreError(f"cannot write {len(records)} records: {exc}") from exc
        return len(new)

    async def _insert_checks(self, checks: Sequence[Check]) -> list[Check]:
        new: list[Check] = []
        for i in range(0, len(checks), _ROWS_PER_INSERT):
            chunk = checks[i : i + _ROWS_PER_INSERT]
            params: list[Any] = []
            for c in chunk:
                params += _check_params(c)
            values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
            sql = (
                f"INSERT INTO checks ({_CHECK_COLS}) VALUES {values}"
                " ON CONFLICT DO NOTHING RETURNING service_id, started_at, node"
            )
            async with self.w.execute(sql, params) as cur:
                inserted = {(str(r[0]), int(r[1]), str(r[2])) for r in await cur.fetchall()}
            new += [c for c in chunk if (c.service_id, to_us(c.started_at), c.node) in inserted]
        return new

    async def _fold(self, checks: Sequence[Check], tables: Sequence[str] = ROLLUP_TABLES) -> None:
        """Add checks to the stored rollups (inside the open transaction)."""
        for table in tables:
            hourly = table == "hourly_rollups"
            deltas = rollup_deltas(checks, hourly=hourly, monthly=table == "monthly_rollups")
            keycols = "service_id, day, hour" if hourly else "service_id, day"
            existing: dict[tuple[Any, ...], Rollup] = {}
            # The keys go through a temporary table joined on the rollups' primary key: a
            # row-value IN (VALUES …) list makes SQLite scan the whole rollup table.
            await self.w.execute("DELETE FROM temp.fold_keys")
            await self.w.executemany(
                "INSERT INTO temp.fold_keys (service_id, day, hour) VALUES (?, ?, ?)",
                [(d.service_id, d.day.isoformat(), d.hour if hourly else 0) for d in deltas],
            )
            on = "r.service_id = k.service_id AND r.day = k.day" + (
                " AND r.hour = k.hour" if hourly else ""
            )
            rcols = ", ".join(f"r.{c}" for c in ROLLUP_COLUMNS)
            async with self.w.execute(
                f"SELECT r.service_id, r.day, {'r.hour' if hourly else 'NULL'}, {rcols}"
                f" FROM temp.fold_keys k CROSS JOIN {table} r ON {on}"
            ) as cur:
                for r in await cur.fetchall():
                    hour = int(r[2]) if hourly else None
                    ro = rollup_from_row(str(r[0]), date.fromisoformat(str(r[1])), hour, r[3:])
                    existing[(ro.service_id, ro.day, ro.hour)] = ro
            rows = merge_into(existing, deltas)
            marks = ", ".join("?" for _ in range(len(ROLLUP_COLUMNS) + (3 if hourly else 2)))
            sets = ", ".join(f"{c} = excluded.{c}" for c in ROLLUP_COLUMNS)
            await self.w.executemany(
                f"INSERT INTO {table} ({keycols}, {_RCOLS}) VALUES ({marks})"
                f" ON CONFLICT ({keycols}) DO UPDATE SET {sets}",
                [
                    (
                        r.service_id,
                        r.day.isoformat(),
                        *([r.hour] if hourly else []),
                        *rollup_values(r),
                    )
                    for r in rows
                ],
            )

    async def rebuild_rollups(
        self, since: date | None = None, progress: Progress | None = None
    ) -> int:
        rows = await self._all("SELECT min(started_at), max(started_at) FROM checks")
        if not rows or rows[0][0] is None:
            return 0
        first = from_us(int(rows[0][0])).date()
        last = from_us(int(rows[0][1])).date()
        start = max(first, since) if since else first
        total_days = (last - start).days + 1
        read = 0
        day = start
        done = 0
        while day <= last:
            lo = to_us(datetime(day.year, day.month, day.day, tzinfo=UTC))
            hi = lo + 86_400_000_000
            checks = [
                _check_from_row(r)
                for r in await self._all(
                    f"SELECT {_CHECK_COLS} FROM checks WHERE started_at >= ? AND started_at < ?"
                    " ORDER BY service_id, started_at",
                    (lo, hi),
                )
            ]
            try:
                async with self._tx():
                    await self.w.execute(
                        "DELETE FROM daily_rollups WHERE day = ?", (day.isoformat(),)
                    )
                    await self.w.execute(
                        "DELETE FROM hourly_rollups WHERE day = ?", (day.isoformat(),)
                    )
                    if checks:
                        await self._fold(checks, ("daily_rollups", "hourly_rollups"))
            except sqlite3.Error as exc:
                await self._rollback()
                raise StoreError(f"cannot rebuild rollups of {day}: {exc}") from exc
            read += len(checks)
            done += 1
            if progress:
                progress(done, total_days)
            day += timedelta(days=1)
        await self.months_from_daily(start, last)
        return read

    async def days_below(
        self, service_ids: Sequence[str], first: date, last: date, target: float
    ) -> list[tuple[str, date]]:
        if not service_ids:
            return []
        marks = ", ".join("?" for _ in service_ids)
        rows = await self._all(
            "SELECT service_id, day FROM daily_rollups WHERE day >= ? AND day <= ?"
            " AND checks > maintenance AND (up + degraded) * 100.0 < ? * (checks - maintenance)"
            f" AND service_id IN ({marks}) ORDER BY service_id, day",
            (first.isoformat(), last.isoformat(), target, *service_ids),
        )
        return [(str(r[0]), date.fromisoformat(str(r[1]))) for r in rows]

    async def _replace_month_rows(self, month: date, rows: Sequence[Rollup]) -> None:
        async with self._tx():
            await self.w.execute("DELETE FROM monthly_rollups WHERE day = ?", (month.isoformat(),))
            marks = ", ".join("?" for _ in range(len(ROLLUP_COLUMNS) + 2))
            await self.w.executemany(
                f"INSERT INTO monthly_rollups (service_id, day, {_RCOLS}) VALUES ({marks})",
                [(r.service_id, month.isoformat(), *rollup_values(r)) for r in rows],
            )

    async def monthly_rollups(
        self, first: date, last: date, service_ids: Sequence[str] | None = None
    ) -> list[Rollup]:
        sql = f"SELECT service_id, day, {_RCOLS} FROM monthly_rollups WHERE day >= ? AND day <= ?"
        params: list[Any] = [first.isoformat(), last.isoformat()]
        if service_ids is not None:
            sql += f" AND service_id IN ({', '.join('?' for _ in service_ids)})"
            params += list(service_ids)
        rows = await self._all(sql + " ORDER BY service_id, day", params)
        return [
            rollup_from_row(str(r[0]), date.fromisoformat(str(r[1])), None, r[2:]) for r in rows
        ]

    # -- reads ------------------------------------------------------------------------

    async def daily_rollups(
        self,
        since: date,
        until: date | None = None,
        service_ids: Sequence[str] | None = None,
        *,
        latency_histogram: bool = True,
    ) -> list[Rollup]:
        cols = _RCOLS if latency_histogram else _RCOLS.replace("latency_hist", "'{}'")
        sql = f"SELECT service_id, day, {cols} FROM daily_rollups WHERE day >= ?"
        params: list[Any] = [since.isoformat()]
        if until is not None:
            sql += " AND day <= ?"
            params.append(until.isoformat())
        if service_ids is not None:
            sql += f" AND service_id IN ({', '.join('?' for _ in service_ids)})"
            params += list(service_ids)
        rows = await self._all(sql + " ORDER BY service_id, day", params)
        return [
            rollup_from_row(str(r[0]), date.fromisoformat(str(r[1])), None, r[2:]) for r in rows
        ]

    async def hourly_rollups(
        self, service_id: str, since: datetime, until: datetime | None = None
    ) -> list[Rollup]:
        rows = await self._all(
            f"SELECT service_id, day, hour, {_RCOLS} FROM hourly_rollups WHERE service_id = ?"
            " AND day >= ? AND day <= ? ORDER BY day, hour",
            (
                service_id,
                since.date().isoformat(),
                (until or datetime.max.replace(tzinfo=since.tzinfo)).date().isoformat(),
            ),
        )
        out = []
        for r in rows:
            ro = rollup_from_row(str(r[0]), date.fromisoformat(str(r[1])), int(r[2]), r[3:])
            if ro.start >= since and (until is None or ro.start < until):
                out.append(ro)
        return out

    async def checks_between(
        self, service_id: str, since: datetime, until: datetime | None = None
    ) -> list[Check]:
        sql = f"SELECT {_CHECK_COLS} FROM checks WHERE service_id = ? AND started_at >= ?"
        params: list[Any] = [service_id, to_us(since)]
        if until is not None:
            sql += " AND started_at < ?"
            params.append(to_us(until))
        return [_check_from_row(r) for r in await self._all(sql + " ORDER BY started_at", params)]

    async def recent_checks(self, service_id: str, limit: int = 50) -> list[Check]:
        rows = await self._all(
            f"SELECT {_CHECK_COLS} FROM checks WHERE service_id = ? ORDER BY started_at DESC LIMIT ?",
            (service_id, limit),
        )
        return [_check_from_row(r) for r in rows]

    async def latest_checks(self, per_service: int) -> dict[str, list[Check]]:
        out: dict[str, list[Check]] = {}
        for s in await self.list_services(include_inactive=True):
            out[s.id] = list(reversed(await self.recent_checks(s.id, per_service)))
        return out

    async def count_checks(self, service_id: str | None = None) -> int:
        if service_id is None:
            rows = await self._all("SELECT count(*) FROM checks")
        else:
            rows = await self._all(
                "SELECT count(*) FROM checks WHERE service_id = ?", (service_id,)
            )
        return int(rows[0][0])

    async def episodes(
        self,
        service_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        open_only: bool = False,
    ) -> list[OutageEpisode]:
        sql = (
            "SELECT service_id, started_at, ended_at, worst_status, cause, error, failed_checks"
            " FROM outage_episodes WHERE 1 = 1"
        )
        params: list[Any] = []
        if service_id is not None:
            sql += " AND service_id = ?"
            params.append(service_id)
        if since is not None:
            sql += " AND (ended_at IS NULL OR ended_at >= ?)"
            params.append(to_us(since))
        if open_only:
            sql += " AND ended_at IS NULL"
        sql += " ORDER BY started_at DESC LIMIT ?"
        params.append(limit)
        return [_episode_from_row(r) for r in await self._all(sql, params)]

    async def status_history(
        self, service_id: str | None = None, since: datetime | None = None, limit: int = 200
    ) -> list[Transition]:
        sql = "SELECT service_id, status, previous, at FROM status_history WHERE service_id = ?"
        params: list[Any] = [service_id or ""]
        if since is not None:
            sql += " AND at >= ?"
            params.append(to_us(since))
        sql += " ORDER BY at DESC, id DESC LIMIT ?"
        params.append(limit)
        return [
            Transition(
                str(r[0]) or None, ServiceStatus(r[2]), ServiceStatus(r[1]), from_us(int(r[3]))
            )
            for r in await self._all(sql, params)
        ]

    # -- maintenance windows ----------------------------------------------------------

    async def create_maintenance(self, window: MaintenanceWindow) -> MaintenanceWindow:
        try:
            async with self._tx():
                async with self.w.execute(
                    "INSERT INTO maintenance_windows (config_key, title, starts_at, ends_at, services,"
                    " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        window.config_key,
                        window.title,
                        to_us(window.starts_at),
                        to_us(window.ends_at),
                        json.dumps(list(window.services)),
                        window.created_by,
                        int(time.time() * 1e6),
                    ),
                ) as cur:
                    row = await cur.fetchone()
        except sqlite3.Error as exc:
            await self._rollback()
            raise StoreError(f"cannot create maintenance window: {exc}") from exc
        assert row is not None
        window.id = int(row[0])
        return window

    async def sync_config_maintenance(self, windows: Sequence[MaintenanceWindow]) -> None:
        now = int(time.time() * 1e6)
        try:
            async with self._tx():
                keys = [w.config_key for w in windows]
                for w in windows:
                    await self.w.execute(
                        "INSERT INTO maintenance_windows (config_key, title, starts_at, ends_at,"
                        " services, created_by, created_at) VALUES (?, ?, ?, ?, ?, 'config', ?)"
                        " ON CONFLICT (config_key) DO UPDATE SET title = excluded.title, starts_at ="
                        " excluded.starts_at, ends_at = excluded.ends_at, services = excluded.services,"
                        " cancelled_at = NULL",
                        (
                            w.config_key,
                            w.title,
                            to_us(w.starts_at),
                            to_us(w.ends_at),
                            json.dumps(list(w.services)),
                            now,
                        ),
                    )
                sql = (
                    "UPDATE maintenance_windows SET cancelled_at = ? WHERE config_key IS NOT NULL"
                    " AND cancelled_at IS NULL"
                )
                if keys:
                    sql += f" AND config_key NOT IN ({', '.join('?' for _ in keys)})"
                await self.w.execute(sql, (now, *keys))
        except sqlite3.Error as exc:
            await self._rollback()
            raise StoreError(f"cannot sync maintenance windows: {exc}") from exc

    async def list_maintenance(self, *, since: datetime | None = None) -> list[MaintenanceWindow]:
        sql = f"SELECT {_WINDOW_COLS} FROM maintenance_windows WHERE cancelled_at IS NULL"
        params: list[Any] = []
        if since is not None:
            sql += " AND ends_at > ?"
            params.append(to_us(since))
        return [
            _window_from_row(r) for r in await self._all(sql + " ORDER BY starts_at, id", params)
        ]

    async def cancel_maintenance(self, window_id: int, at: datetime) -> MaintenanceWindow | None:
        try:
            async with self._tx():
                await self.w.execute(
                    "UPDATE maintenance_windows SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL",
                    (to_us(at), window_id),
                )
                async with self.w.execute(
                    f"SELECT {_WINDOW_COLS} FROM maintenance_windows WHERE id = ?", (window_id,)
                ) as cur:
                    row = await cur.fetchone()
        except sqlite3.Error as exc:
            await self._rollback()
            raise StoreError(f"cannot cancel maintenance window: {exc}") from exc
        return _window_from_row(row) if row else None

    # -- users, tokens, audit ---------------------------------------------------------

    _USER_COLS = (
        "id, username, email, password_hash, role, active, token_version, last_login_at, created_at"
    )

    @staticmethod
    def _user(r: Sequence[Any]) -> User:
        return User(
            id=int(r[0]),
            username=str(r[1]),
            email=str(r[2]),
            password_hash=str(r[3]),
            role=role_from_name(str(r[4])),
            active=bool(r[5]),
            token_version=int(r[6]),
            last_login_at=from_us(int(r[7])) if r[7] is not None else None,
            created_at=from_us(int(r[8])),
        )

    async def create_user(self, username: str, email: str, password_hash: str, role: Role) -> User:
        try:
            async with self._tx():
                await self.w.execute(
                    "INSERT INTO users (username, email, password_hash, role, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (username, email, password_hash, role.name.lower(), int(time.time() * 1e6)),
                )
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(f"user {username!r} already exists") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create user: {exc}") from exc
        user = await self.get_user(username)
        assert user is not None
        return user

    async def get_user(self, username: str) -> User | None:
        rows = await self._all(
            f"SELECT {self._USER_COLS} FROM users WHERE username = ?", (username,)
        )
        return self._user(rows[0]) if rows else None

    async def list_users(self) -> list[User]:
        return [
            self._user(r)
            for r in await self._all(f"SELECT {self._USER_COLS} FROM users ORDER BY username")
        ]

    async def update_user(
        self,
        username: str,
        *,
        role: Role | None = None,
        active: bool | None = None,
        password_hash: str | None = None,
        email: str | None = None,
        revoke_tokens: bool = False,
    ) -> User | None:
        sets: list[str] = []
        params: list[Any] = []
        for col, val in (
            ("role", role.name.lower() if role else None),
            ("active", None if active is None else int(active)),
            ("password_hash", password_hash),
            ("email", email),
        ):
            if val is not None:
                sets.append(f"{col} = ?")
                params.append(val)
        if revoke_tokens:
            sets.append("token_version = token_version + 1")
        try:
            async with self._tx():
                if sets:
                    await self.w.execute(
                        f"UPDATE users SET {', '.join(sets)} WHERE username = ?",
                        (*params, username),
                    )
                if revoke_tokens:
                    await self.w.execute(
                        "UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND user_id ="
                        " (SELECT id FROM users WHERE username = ?)",
                        (int(time.time() * 1e6), username),
                    )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot update user: {exc}") from exc
        return await self.get_user(username)

    async def record_login(self, user_id: int, at: datetime) -> None:
        async with self._tx():
            await self.w.execute(
                "UPDATE users SET last_login_at = ? WHERE id = ?", (to_us(at), user_id)
            )

    async def add_refresh_token(self, token_hash: str, user_id: int, expires_at: datetime) -> None:
        async with self._tx():
            await self.w.execute(
                "INSERT INTO refresh_tokens (token_hash, user_id, expires_at) VALUES (?, ?, ?)",
                (token_hash, user_id, to_us(expires_at)),
            )

    async def use_refresh_token(self, token_hash: str, now: datetime) -> int | None:
        async with self._tx():
            async with self.w.execute(
                "UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL"
                " AND expires_at > ? RETURNING user_id",
                (to_us(now), token_hash, to_us(now)),
            ) as cur:
                row = await cur.fetchone()
        return int(row[0]) if row else None

    async def revoke_refresh_token(self, token_hash: str, now: datetime) -> None:
        async with self._tx():
            await self.w.execute(
                "UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
                (to_us(now), token_hash),
            )

    async def add_audit(self, entry: AuditEntry) -> None:
        async with self._tx():
            await self.w.execute(
                "INSERT INTO audit_log (at, actor, method, target, changes) VALUES (?, ?, ?, ?, ?)",
                (
                    to_us(entry.at),
                    entry.actor,
                    entry.method,
                    entry.target,
                    json.dumps(entry.changes, sort_keys=True, default=str),
                ),
            )

    async def list_audit(
        self, *, since: datetime | None = None, limit: int = 200
    ) -> list[AuditEntry]:
        rows = await self._all(
            "SELECT id, at, actor, method, target, changes FROM audit_log WHERE at >= ?"
            " ORDER BY at DESC, id DESC LIMIT ?",
            (to_us(since) if since else 0, limit),
        )
        return [
            AuditEntry(
                id=int(r[0]),
                at=from_us(int(r[1])),
                actor=str(r[2]),
                method=str(r[3]),
                target=r[4],
                changes=json.loads(r[5]),
            )
            for r in rows
        ]

    async def save_admin_service(self, service: Service) -> None:
        now = int(time.time() * 1e6)
        try:
            async with self._tx():
                async with self.w.execute(
                    "SELECT source FROM services WHERE id = ?", (service.id,)
                ) as cur:
                    row = await cur.fetchone()
                if row is not None and row[0] == "config":
                    raise AlreadyExists(
                        f"service {service.id!r} is defined in the config file; change it there"
                    )
                await self.w.execute(
                    "INSERT INTO services (id, name, url, config, source, active, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, 'admin', ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name ="
                    " excluded.name, url = excluded.url, config = excluded.config, active ="
                    " excluded.active, updated_at = excluded.updated_at",
                    (
                        service.id,
                        service.name,
                        service.url,
                        service_to_json(service),
                        int(service.active),
                        now,
                        now,
                    ),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot save service: {exc}") from exc

    async def service_source(self, service_id: str) -> str | None:
        rows = await self._all("SELECT source FROM services WHERE id = ?", (service_id,))
        return str(rows[0][0]) if rows else None

    # -- incidents --------------------------------------------------------------------

    _INC_COLS = (
        "id, title, description, status, severity, priority, impact, root_cause,"
        " resolution_notes, started_at, identified_at, monitoring_at, resolved_at,"
        " first_update_at, created_by, resolved_by, created_at, updated_at, version,"
        " episode_service, episode_started_at"
    )
    _INC_TIMES = (
        "started_at",
        "identified_at",
        "monitoring_at",
        "resolved_at",
        "first_update_at",
        "created_at",
        "updated_at",
        "episode_started_at",
    )

    async def _incidents_from_rows(
        self, rows: Sequence[Any], con: aiosqlite.Connection | None = None
    ) -> list[Incident]:
        con = con or self.r
        names = [c.strip() for c in self._INC_COLS.split(",")]
        out = []
        for r in rows:
            d = dict(zip(names, r, strict=True))
            for k in self._INC_TIMES:
                d[k] = from_us(int(d[k])) if d[k] is not None else None
            out.append(Incident(**d))
        if not out:
            return out
        by_id = {i.id: i for i in out}
        marks = ", ".join("?" for _ in by_id)
        async with con.execute(
            f"SELECT incident_id, service_id FROM incident_services WHERE incident_id IN ({marks})"
            " ORDER BY service_id",
            list(by_id),
        ) as cur:
            for iid, sid in await cur.fetchall():
                by_id[iid].services = (*by_id[iid].services, sid)
        async with con.execute(
            "SELECT incident_id, id, status, message, customer_visible, author, created_at FROM"
            f" incident_updates WHERE incident_id IN ({marks}) ORDER BY created_at, id",
            list(by_id),
        ) as cur:
            for iid, uid, st, msg, vis, author, at in await cur.fetchall():
                by_id[iid].updates.append(
                    IncidentUpdate(
                        id=uid,
                        status=st,
                        message=msg,
                        customer_visible=bool(vis),
                        author=author,
                        created_at=from_us(int(at)),
                    )
                )
        return out

    async def _reindex(self, incident_id: int) -> None:
        """Rewrite the incident's full-text row (inside the open transaction)."""
        async with self.w.execute(
            "SELECT title, description FROM incidents WHERE id = ?", (incident_id,)
        ) as cur:
            row = await cur.fetchone()
        async with self.w.execute(
            "SELECT message FROM incident_updates WHERE incident_id = ? ORDER BY id", (incident_id,)
        ) as cur:
            msgs = [m[0] for m in await cur.fetchall()]
        await self.w.execute("DELETE FROM incident_search WHERE rowid = ?", (incident_id,))
        if row is not None:
            await self.w.execute(
                "INSERT INTO incident_search (rowid, title, body) VALUES (?, ?, ?)",
                (incident_id, row[0], "\n".join([row[1], *msgs])),
            )

    @staticmethod
    def _col(k: str, v: Any) -> Any:
        if isinstance(v, datetime):
            return to_us(v)
        return v

    async def create_incident(self, inc: Incident) -> Incident:
        now = to_us(inc.created_at or datetime.now(UTC))
        try:
            async with self._tx():
                async with self.w.execute(
                    "INSERT INTO incidents (title, description, status, severity, priority, impact,"
                    " root_cause, resolution_notes, started_at, identified_at, monitoring_at,"
                    " resolved_at, first_update_at, created_by, resolved_by, created_at, updated_at,"
                    " version, episode_service, episode_started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
                    " ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) RETURNING id",
                    (
                        inc.title,
                        inc.description,
                        inc.status,
                        inc.severity,
                        inc.priority,
                        inc.impact,
                        inc.root_cause,
                        inc.resolution_notes,
                        to_us(inc.started_at),
                        *(
                            self._col("", getattr(inc, k))
                            for k in (
                                "identified_at",
                                "monitoring_at",
                                "resolved_at",
                                "first_update_at",
                            )
                        ),
                        inc.created_by,
                        inc.resolved_by,
                        now,
                        now,
                        inc.episode_service,
                        self._col("", inc.episode_started_at),
                    ),
                ) as cur:
                    row = await cur.fetchone()
                assert row is not None
                iid = int(row[0])
                await self.w.executemany(
                    "INSERT INTO incident_services (incident_id, service_id) VALUES (?, ?)",
                    [(iid, s) for s in inc.services],
                )
                for u in inc.updates:
                    await self.w.execute(
                        "INSERT INTO incident_updates (incident_id, status, message, customer_visible,"
                        " author, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            iid,
                            u.status,
                            u.message,
                            int(u.customer_visible),
                            u.author,
                            to_us(u.created_at),
                        ),
                    )
                await self.w.execute(
                    "INSERT INTO incident_revisions (incident_id, version, fields, actor, at) VALUES (?, 1, ?, ?, ?)",
                    (iid, json.dumps(["created"]), inc.created_by, now),
                )
                await self._reindex(iid)
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(f"an incident already exists for that outage: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create incident: {exc}") from exc
        got = await self.get_incident(iid)
        assert got is not None
        return got

    async def _incident_in_tx(self, incident_id: int) -> Incident:
        """The incident as the open write transaction sees it."""
        async with self.w.execute(
            f"SELECT {self._INC_COLS} FROM incidents WHERE id = ?", (incident_id,)
        ) as cur:
            rows = await cur.fetchall()
        found = await self._incidents_from_rows(list(rows), self.w)
        return found[0]

    async def get_incident(self, incident_id: int) -> Incident | None:
        rows = await self._all(
            f"SELECT {self._INC_COLS} FROM incidents WHERE id = ?", (incident_id,)
        )
        found = await self._incidents_from_rows(rows)
        return found[0] if found else None

    async def _apply_incident_changes(
        self, incident_id: int, changes: dict[str, Any], now: datetime
    ) -> None:
        cols = {k: v for k, v in changes.items() if k != "services"}
        sets = [f"{k} = ?" for k in cols] + ["version = version + 1", "updated_at = ?"]
        await self.w.execute(
            f"UPDATE incidents SET {', '.join(sets)} WHERE id = ?",
            (*(self._col(k, v) for k, v in cols.items()), to_us(now), incident_id),
        )
        if "services" in changes:
            await self.w.execute(
                "DELETE FROM incident_services WHERE incident_id = ?", (incident_id,)
            )
            await self.w.executemany(
                "INSERT INTO incident_services (incident_id, service_id) VALUES (?, ?)",
                [(incident_id, s) for s in changes["services"]],
            )

    async def save_incident(
        self,
        incident_id: int,
        expected_version: int,
        changes: dict[str, Any],
        fields: list[str],
        actor: str,
        now: datetime,
    ) -> Incident:
        conflict: list[str] | None = None
        async with self._tx():
            async with self.w.execute(
                "SELECT version FROM incidents WHERE id = ?", (incident_id,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise KeyError(incident_id)
            if int(row[0]) != expected_version:
                async with self.w.execute(
                    "SELECT fields FROM incident_revisions WHERE incident_id = ? AND version > ?"
                    " ORDER BY version",
                    (incident_id, expected_version),
                ) as cur:
                    conflict = sorted({f for r in await cur.fetchall() for f in json.loads(r[0])})
            else:
                await self._apply_incident_changes(incident_id, changes, now)
                await self.w.execute(
                    "INSERT INTO incident_revisions (incident_id, version, fields, actor, at) VALUES (?, ?, ?, ?, ?)",
                    (incident_id, expected_version + 1, json.dumps(fields), actor, to_us(now)),
                )
                await self._reindex(incident_id)
            current = await self._incident_in_tx(incident_id)  # as of this transaction
        if conflict is not None:
            raise VersionConflict(current, conflict or ["(unknown)"])
        return current

    async def add_incident_update(
        self,
        incident_id: int,
        update: IncidentUpdate,
        changes: dict[str, Any],
        now: datetime,
    ) -> Incident:
        async with self._tx():
            async with self.w.execute(
                "SELECT version, first_update_at FROM incidents WHERE id = ?", (incident_id,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise KeyError(incident_id)
            if row[1] is None:
                changes = {**changes, "first_update_at": update.created_at}
            await self.w.execute(
                "INSERT INTO incident_updates (incident_id, status, message, customer_visible, author,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    incident_id,
                    update.status,
                    update.message,
                    int(update.customer_visible),
                    update.author,
                    to_us(update.created_at),
                ),
            )
            await self._apply_incident_changes(incident_id, changes, now)
            fields = ["updates", *(["status"] if "status" in changes else [])]
            await self.w.execute(
                "INSERT INTO incident_revisions (incident_id, version, fields, actor, at) VALUES (?, ?, ?, ?, ?)",
                (incident_id, int(row[0]) + 1, json.dumps(fields), update.author, to_us(now)),
            )
            await self._reindex(incident_id)
            current = await self._incident_in_tx(incident_id)
        return current

    async def list_incidents(
        self,
        *,
        active: bool,
        since: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Incident], int]:
        where = "status != 'resolved'" if active else "status = 'resolved'"
        params: list[Any] = []
        if since is not None:
            where += " AND started_at >= ?"
            params.append(to_us(since))
        total = int(
            (await self._all(f"SELECT count(*) FROM incidents WHERE {where}", params))[0][0]
        )
        rows = await self._all(
            f"SELECT {self._INC_COLS} FROM incidents WHERE {where} ORDER BY started_at DESC, id DESC"
            " LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return await self._incidents_from_rows(rows), total

    async def search_incidents(self, query: str, limit: int = 50) -> list[Incident]:
        terms = search_terms(query)
        if not terms:
            return []
        match = " ".join(f'"{t}"*' for t in terms)
        rows = await self._all(
            f"SELECT {', '.join('i.' + c.strip() for c in self._INC_COLS.split(','))} FROM incident_search s"
            " JOIN incidents i ON i.id = s.rowid WHERE incident_search MATCH ?"
            " ORDER BY i.started_at DESC LIMIT ?",
            (match, limit),
        )
        return await self._incidents_from_rows(rows)

    async def incident_for_episode(self, service_id: str, started_at: datetime) -> Incident | None:
        rows = await self._all(
            f"SELECT {self._INC_COLS} FROM incidents WHERE episode_service = ? AND episode_started_at = ?",
            (service_id, to_us(started_at)),
        )
        found = await self._incidents_from_rows(rows)
        return found[0] if found else None

    async def open_incidents_for_service(self, service_id: str) -> list[Incident]:
        rows = await self._all(
            f"SELECT {', '.join('i.' + c.strip() for c in self._INC_COLS.split(','))} FROM incidents i"
            " JOIN incident_services s ON s.incident_id = i.id WHERE s.service_id = ?"
            " AND i.status != 'resolved' ORDER BY i.started_at DESC",
            (service_id,),
        )
        return await self._incidents_from_rows(rows)

    async def first_activity(
        self, service_ids: Sequence[str], since: datetime, until: datetime
    ) -> dict[str, datetime]:
        if not service_ids:
            return {}
        lo, hi = since.astimezone(UTC), until.astimezone(UTC)
        marks = ", ".join("?" for _ in service_ids)
        # The first day from the daily rollups (small), then the first hour of that day.
        rows = await self._all(
            "WITH first AS (SELECT d.service_id, min(d.day) AS day FROM daily_rollups d"
            " WHERE d.checks > 0 AND d.day >= ? AND d.day <= ?"
            f" AND d.service_id IN ({marks}) GROUP BY d.service_id)"
            " SELECT f.service_id, f.day, min(h.hour) FROM first f JOIN hourly_rollups h"
            " ON h.service_id = f.service_id AND h.day = f.day AND h.checks > 0"
            " AND (h.day > ? OR h.hour >= ?) GROUP BY f.service_id, f.day",
            (
                lo.date().isoformat(),
                hi.date().isoformat(),
                *service_ids,
                lo.date().isoformat(),
                lo.hour,
            ),
        )
        out: dict[str, datetime] = {}
        for sid, day, hour in rows:
            if hour is None:
                continue
            d = date.fromisoformat(str(day))
            start = datetime(d.year, d.month, d.day, int(hour), tzinfo=UTC)
            if start < hi:
                out[str(sid)] = max(start, since)
        return out
