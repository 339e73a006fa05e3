"""PostgreSQL backend (asyncpg pool).

Raw checks live in a table partitioned by day; ``maintain`` creates the partitions ahead of
need and ``apply_retention`` drops whole old ones. Batches of checks are inserted with one
``unnest`` statement whose ``RETURNING`` tells which rows were new, so rollups count each
check exactly once; rollup rows are read ``FOR UPDATE``, merged and written back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]

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

_MIGRATION_LOCK = 0x51A7_0001  # advisory lock id: one migrator at a time
_CHECK_COLS = (
    "service_id, started_at, node, latency_ms, status_code, outcome, error_kind, error,"
    " maintenance, interval_s, cert_expires_at"
)
_INSERT_CHECKS = (
    f"INSERT INTO checks ({_CHECK_COLS})"
    " SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::float8[],"
    " $5::int4[], $6::text[], $7::text[], $8::text[], $9::bool[], $10::float8[],"
    " $11::timestamptz[])"
    " ON CONFLICT DO NOTHING RETURNING service_id, started_at, node"
)
_RCOLS = ", ".join(ROLLUP_COLUMNS)
_PARTITION_RE = re.compile(r"^checks_p(\d{8})$")
# Errors that mean "the database is not reachable now" rather than "this statement is wrong".
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


def _check_from_record(r: Any) -> Check:
    return Check(
        service_id=r["service_id"],
        started_at=r["started_at"].astimezone(UTC),
        node=r["node"],
        latency_ms=r["latency_ms"],
        status_code=r["status_code"],
        outcome=Outcome(r["outcome"]),
        error_kind=ErrorKind(r["error_kind"]) if r["error_kind"] else None,
        error=r["error"],
        maintenance=r["maintenance"],
        interval_s=r["interval_s"],
        cert_expires_at=r["cert_expires_at"].astimezone(UTC) if r["cert_expires_at"] else None,
    )


def _episode_from_record(r: Any) -> OutageEpisode:
    return OutageEpisode(
        service_id=r["service_id"],
        started_at=r["started_at"].astimezone(UTC),
        ended_at=r["ended_at"].astimezone(UTC) if r["ended_at"] else None,
        worst_status=ServiceStatus(r["worst_status"]),
        cause=r["cause"],
        error=r["error"],
        failed_checks=r["failed_checks"],
    )


_WINDOW_COLS = "id, config_key, title, starts_at, ends_at, services, created_by, cancelled_at"


def _window_from_record(r: Any) -> MaintenanceWindow:
    return MaintenanceWindow(
        id=r["id"],
        config_key=r["config_key"],
        title=r["title"],
        starts_at=r["starts_at"].astimezone(UTC),
        ends_at=r["ends_at"].astimezone(UTC),
        services=tuple(json.loads(r["services"])),
        created_by=r["created_by"],
        cancelled_at=r["cancelled_at"].astimezone(UTC) if r["cancelled_at"] else None,
    )


class PostgresStore(Store):
    """The PostgreSQL backend for ``dsn`` (postgresql://user@host:port/db)."""

    backend = "postgres"

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 8) -> None:
        self.dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._min = min_size
        self._max = max_size

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self._min,
                max_size=self._max,
                timeout=10,
                command_timeout=60,
            )
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreUnavailable(f"PostgreSQL refused the connection: {exc}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 5)
            except Exception:  # closing a pool whose server is gone must not raise
                pool.terminate()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailable("the PostgreSQL store is not open")
        return self._pool

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        try:
            async with self.pool.acquire() as con:
                return list(await con.fetch(sql, *args))
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"query failed: {exc}") from exc

    # -- migrations and upkeep --------------------------------------------------------

    async def applied_migrations(self) -> list[str]:
        try:
            async with self.pool.acquire() as con:
                await con.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
                    " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                rows = await con.fetch("SELECT name FROM schema_migrations ORDER BY version")
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        return [r["name"] for r in rows]

    async def migrate(self) -> list[str]:
        await self.applied_migrations()  # creates schema_migrations
        applied: list[str] = []
        async with self.pool.acquire() as con:
            await con.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
            try:
                done = {r["name"] for r in await con.fetch("SELECT name FROM schema_migrations")}
                for m in load_migrations(self.backend):
                    if m.name in done:
                        continue
                    try:
                        async with con.transaction():
                            await con.execute(m.sql)
                            await con.execute(
                                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                                m.version,
                                m.name,
                            )
                    except asyncpg.PostgresError as exc:
                        raise MigrationError(f"migration {m.name} failed: {exc}") from exc
                    logger.info("applied migration %s", m.name)
                    applied.append(m.name)
            finally:
                await con.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
        await self.maintain()
        return applied

    async def maintain(self, today: date | None = None) -> None:
        """Create the daily partitions of ``checks`` from yesterday to three days ahead."""
        today = today or datetime.now(UTC).date()
        try:
            async with self.pool.acquire() as con:
                for offset in range(-1, 4):
                    await self._ensure_partition(con, today + timedelta(days=offset))
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc

    async def _ensure_partition(self, con: Any, day: date) -> None:
        name = f"checks_p{day:%Y%m%d}"
        if await con.fetchval("SELECT to_regclass($1)", name):
            return
        lo = f"{day.isoformat()} 00:00:00+00"
        hi = f"{(day + timedelta(days=1)).isoformat()} 00:00:00+00"
        try:
            async with con.transaction():
                # Rows of that day that landed in the default partition move into the new one.
                await con.execute(
                    "CREATE TEMP TABLE _moving ON COMMIT DROP AS SELECT * FROM"
                    f" checks_default WHERE started_at >= '{lo}' AND started_at < '{hi}'"
                )
                await con.execute(
                    f"DELETE FROM checks_default WHERE started_at >= '{lo}' AND started_at < '{hi}'"
                )
                await con.execute(
                    f"CREATE TABLE {name} PARTITION OF checks FOR VALUES FROM ('{lo}') TO ('{hi}')"
                )
                await con.execute("INSERT INTO checks SELECT * FROM _moving")
        except asyncpg.PostgresError as exc:
            logger.warning("cannot create partition %s: %s", name, exc)

    async def apply_retention(
        self, now: datetime, raw_days: int, rollup_days: int = 400
    ) -> RetentionResult:
        result = RetentionResult()
        cutoff = (now - timedelta(days=raw_days)).date()  # partitions wholly before it go
        day_cutoff = (now - timedelta(days=rollup_days)).date()
        try:
            async with self.pool.acquire() as con:
                names = await con.fetch(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'checks'"
                )
                for r in names:
                    m = _PARTITION_RE.match(r["relname"])
                    if m and date(int(m[1][:4]), int(m[1][4:6]), int(m[1][6:])) < cutoff:
                        n = await con.fetchval(f"SELECT count(*) FROM {r['relname']}")
                        await con.execute(f"DROP TABLE {r['relname']}")
                        result.partitions.append(r["relname"])
                        result.checks += int(n)
                # Rows outside any partition (the default one) are deleted row by row.
                status = await con.execute(
                    "DELETE FROM checks_default WHERE started_at < $1",
                    datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC),
                )
                result.checks += int(status.split()[-1])
                for table in ("hourly_rollups", "daily_rollups", "monthly_rollups"):
                    # A month's row goes only when the whole month is past the cutoff.
                    cut = day_cutoff.replace(day=1) if table == "monthly_rollups" else day_cutoff
                    status = await con.execute(f"DELETE FROM {table} WHERE day < $1", cut)
                    setattr(result, table, int(status.split()[-1]))
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"retention failed: {exc}") from exc
        return result

    # -- services ---------------------------------------------------------------------

    async def sync_services(self, services: Sequence[Service]) -> SyncResult:
        result = SyncResult()
        try:
            async with self.pool.acquire() as con, con.transaction():
                rows = await con.fetch("SELECT id, config, active, source FROM services FOR UPDATE")
                existing = {
                    r["id"]: (json.loads(r["config"]), r["active"], r["source"]) for r in rows
                }
                wanted = {s.id for s in services}
                for s in services:
                    cfg = service_to_json(s)
                    old = existing.get(s.id)
                    if old is None:
                        await con.execute(
                            "INSERT INTO services (id, name, url, config, source, active)"
                            " VALUES ($1, $2, $3, $4::jsonb, 'config', $5)",
                            s.id,
                            s.name,
                            s.url,
                            cfg,
                            s.active,
                        )
                        result.added.append(s.id)
                    elif old[0] != json.loads(cfg) or old[1] != s.active or old[2] != "config":
                        await con.execute(
                            "UPDATE services SET name = $1, url = $2, config = $3::jsonb,"
                            " source = 'config', active = $4, updated_at = now() WHERE id = $5",
                            s.name,
                            s.url,
                            cfg,
                            s.active,
                            s.id,
                        )
                        result.updated.append(s.id)
                for sid, (_cfg, active, source) in existing.items():
                    if source == "config" and active and sid not in wanted:
                        await con.execute(
                            "UPDATE services SET active = false, updated_at = now() WHERE id = $1",
                            sid,
                        )
                        result.deactivated.append(sid)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"cannot sync services: {exc}") from exc
        return result

    async def list_services(self, *, include_inactive: bool = False) -> list[Service]:
        sql = "SELECT config, active FROM services"
        if not include_inactive:
            sql += " WHERE active"
        rows = await self._fetch(sql + " ORDER BY id")
        return [service_from_json(r["config"], active=r["active"]) for r in rows]

    # -- writes -----------------------------------------------------------------------

    async def write_batch(self, records: Sequence[Record]) -> int:
        if not records:
            return 0
        checks, transitions, episodes = split_records(records)
        new: list[Check] = []
        try:
            async with self.pool.acquire() as con, con.transaction():
                if checks:
                    new = await self._insert_checks(con, checks)
                if new:
                    await self._fold(con, new)
                if transitions:
                    await con.executemany(
                        "INSERT INTO status_history (service_id, status, previous, at)"
                        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        [
                            (t.service_id or "", t.status.value, t.previous.value, t.at)
                            for t in transitions
                        ],
                    )
                for e in episodes:
                    await con.execute(
                        "INSERT INTO outage_episodes (service_id, started_at, ended_at,"
                        " worst_status, cause, error, failed_checks) VALUES ($1, $2, $3, $4, $5,"
                        " $6, $7) ON CONFLICT (service_id, started_at) DO UPDATE SET ended_at ="
                        " excluded.ended_at, worst_status = excluded.worst_status, cause ="
                        " excluded.cause, error = excluded.error, failed_checks ="
                        " excluded.failed_checks",
                        e.service_id,
                        e.started_at,
                        e.ended_at,
                        e.worst_status.value,
                        e.cause,
                        e.error,
                        e.failed_checks,
                    )
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"cannot write {len(records)} records: {exc}") from exc
        return len(new)

    async def _insert_checks(self, con: Any, checks: Sequence[Check]) -> list[Check]:
        cols: list[list[Any]] = [[] for _ in range(11)]
        for c in checks:
            for i, v in enumerate(
                (
                    c.service_id,
                    c.started_at,
                    c.node,
                    c.latency_ms,
                    c.status_code,
                    c.outcome.value,
                    c.error_kind.value if c.error_kind else None,
                    c.error,
                    c.maintenance,
                    c.interval_s,
                    c.cert_expires_at,
                )
            ):
                cols[i].append(v)
        rows = await con.fetch(_INSERT_CHECKS, *cols)
        inserted = {(r["service_id"], to_us(r["started_at"]), r["node"]) for r in rows}
        return [c for c in checks if (c.service_id, to_us(c.started_at), c.node) in inserted]

    async def _fold(
        self, con: Any, checks: Sequence[Check], tables: Sequence[str] = ROLLUP_TABLES
    ) -> None:
        """Add checks to the stored rollups (inside the open transaction)."""
        for table in tables:
            hourly = table == "hourly_rollups"
            deltas = rollup_deltas(checks, hourly=hourly, monthly=table == "monthly_rollups")
            keycols = "service_id, day, hour" if hourly else "service_id, day"
            if hourly:
                rows = await con.fetch(
                    f"SELECT {keycols}, {_RCOLS} FROM {table} WHERE ({keycols}) IN (SELECT * FROM"
                    " unnest($1::text[], $2::date[], $3::int4[])) ORDER BY 1, 2, 3 FOR UPDATE",
                    [d.service_id for d in deltas],
                    [d.day for d in deltas],
                    [d.hour for d in deltas],
                )
            else:
                rows = await con.fetch(
                    f"SELECT {keycols}, {_RCOLS} FROM {table} WHERE ({keycols}) IN (SELECT * FROM"
                    " unnest($1::text[], $2::date[])) ORDER BY 1, 2 FOR UPDATE",
                    [d.service_id for d in deltas],
                    [d.day for d in deltas],
                )
            existing: dict[tuple[Any, ...], Rollup] = {}
            for r in rows:
                vals = tuple(r)
                hour = vals[2] if hourly else None
                ro = rollup_from_row(vals[0], vals[1], hour, vals[3:] if hourly else vals[2:])
                existing[(ro.service_id, ro.day, ro.hour)] = ro
            out = merge_into(existing, deltas)
            n = len(ROLLUP_COLUMNS) + (3 if hourly else 2)
            marks = ", ".join(f"${i}" for i in range(1, n + 1))
            sets = ", ".join(f"{c} = excluded.{c}" for c in ROLLUP_COLUMNS)
            await con.executemany(
                f"INSERT INTO {table} ({keycols}, {_RCOLS}) VALUES ({marks})"
                f" ON CONFLICT ({keycols}) DO UPDATE SET {sets}",
                [
                    (r.service_id, r.day, *([r.hour] if hourly else []), *rollup_values(r))
                    for r in out
                ],
            )

    async def rebuild_rollups(
        self, since: date | None = None, progress: Progress | None = None
    ) -> int:
        rows = await self._fetch("SELECT min(started_at) AS lo, max(started_at) AS hi FROM checks")
        if not rows or rows[0]["lo"] is None:
            return 0
        first = rows[0]["lo"].astimezone(UTC).date()
        last = rows[0]["hi"].astimezone(UTC).date()
        start = max(first, since) if since else first
        total_days = (last - start).days + 1
        read = 0
        day = start
        done = 0
        while day <= last:
            lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
            try:
                async with self.pool.acquire() as con, con.transaction():
                    recs = await con.fetch(
                        f"SELECT {_CHECK_COLS} FROM checks WHERE started_at >= $1 AND started_at < $2"
                        " ORDER BY service_id, started_at",
                        lo,
                        lo + timedelta(days=1),
                    )
                    checks = [_check_from_record(r) for r in recs]
                    await con.execute("DELETE FROM daily_rollups WHERE day = $1", day)
                    await con.execute("DELETE FROM hourly_rollups WHERE day = $1", day)
                    if checks:
                        await self._fold(con, checks, ("daily_rollups", "hourly_rollups"))
            except _UNAVAILABLE as exc:
                raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
            except asyncpg.PostgresError as exc:
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
        rows = await self._fetch(
            "SELECT service_id, day FROM daily_rollups WHERE day >= $1 AND day <= $2"
            " AND checks > maintenance AND (up + degraded) * 100.0 < $3 * (checks - maintenance)"
            " AND service_id = ANY($4::text[]) ORDER BY service_id, day",
            first,
            last,
            target,
            list(service_ids),
        )
        return [(r["service_id"], r["day"]) for r in rows]

    async def _replace_month_rows(self, month: date, rows: Sequence[Rollup]) -> None:
        marks = ", ".join(f"${i}" for i in range(1, len(ROLLUP_COLUMNS) + 3))
        try:
            async with self.pool.acquire() as con, con.transaction():
                await con.execute("DELETE FROM monthly_rollups WHERE day = $1", month)
                await con.executemany(
                    f"INSERT INTO monthly_rollups (service_id, day, {_RCOLS}) VALUES ({marks})",
                    [(r.service_id, month, *rollup_values(r)) for r in rows],
                )
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"cannot rebuild monthly rollups: {exc}") from exc

    async def monthly_rollups(
        self, first: date, last: date, service_ids: Sequence[str] | None = None
    ) -> list[Rollup]:
        sql = f"SELECT service_id, day, {_RCOLS} FROM monthly_rollups WHERE day >= $1 AND day <= $2"
        params: list[Any] = [first, last]
        if service_ids is not None:
            params.append(list(service_ids))
            sql += " AND service_id = ANY($3::text[])"
        rows = await self._fetch(sql + " ORDER BY service_id, day", *params)
        return [rollup_from_row(r[0], r[1], None, tuple(r)[2:]) for r in rows]

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
        sql = f"SELECT service_id, day, {cols} FROM daily_rollups WHERE day >= $1"
        params: list[Any] = [since]
        if until is not None:
            params.append(until)
            sql += f" AND day <= ${len(params)}"
        if service_ids is not None:
            params.append(list(service_ids))
            sql += f" AND service_id = ANY(${len(params)}::text[])"
        rows = await self._fetch(sql + " ORDER BY service_id, day", *params)
        return [rollup_from_row(r[0], r[1], None, tuple(r)[2:]) for r in rows]

    async def hourly_rollups(
        self, service_id: str, since: datetime, until: datetime | None = None
    ) -> list[Rollup]:
        rows = await self._fetch(
            f"SELECT service_id, day, hour, {_RCOLS} FROM hourly_rollups WHERE service_id = $1"
            " AND day >= $2 AND day <= $3 ORDER BY day, hour",
            service_id,
            since.astimezone(UTC).date(),
            (until.astimezone(UTC).date() if until else date.max),
        )
        out = []
        for r in rows:
            v = tuple(r)
            ro = rollup_from_row(v[0], v[1], v[2], v[3:])
            if ro.start >= since and (until is None or ro.start < until):
                out.append(ro)
        return out

    async def checks_between(
        self, service_id: str, since: datetime, until: datetime | None = None
    ) -> list[Check]:
        if until is None:
            rows = await self._fetch(
                f"SELECT {_CHECK_COLS} FROM checks WHERE service_id = $1 AND started_at >= $2"
                " ORDER BY started_at",
                service_id,
                since,
            )
        else:
            rows = await self._fetch(
                f"SELECT {_CHECK_COLS} FROM checks WHERE service_id = $1 AND started_at >= $2"
                " AND started_at < $3 ORDER BY started_at",
                service_id,
                since,
                until,
            )
        return [_check_from_record(r) for r in rows]

    async def recent_checks(self, service_id: str, limit: int = 50) -> list[Check]:
        rows = await self._fetch(
            f"SELECT {_CHECK_COLS} FROM checks WHERE service_id = $1"
            " ORDER BY started_at DESC LIMIT $2",
            service_id,
            limit,
        )
        return [_check_from_record(r) for r in rows]

    async def latest_checks(self, per_service: int) -> dict[str, list[Check]]:
        rows = await self._fetch(
            f"SELECT c.* FROM services s CROSS JOIN LATERAL (SELECT {_CHECK_COLS} FROM checks"
            " WHERE service_id = s.id ORDER BY started_at DESC LIMIT $1) c",
            per_service,
        )
        out: dict[str, list[Check]] = {
            s.id: [] for s in await self.list_services(include_inactive=True)
        }
        for r in rows:
            out.setdefault(r["service_id"], []).append(_check_from_record(r))
        return {k: list(reversed(v)) for k, v in out.items()}

    async def count_checks(self, service_id: str | None = None) -> int:
        if service_id is None:
            rows = await self._fetch("SELECT count(*) FROM checks")
        else:
            rows = await self._fetch(
                "SELECT count(*) FROM checks WHERE service_id = $1", service_id
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
            " FROM outage_episodes WHERE true"
        )
        params: list[Any] = []
        if service_id is not None:
            params.append(service_id)
            sql += f" AND service_id = ${len(params)}"
        if since is not None:
            params.append(since)
            sql += f" AND (ended_at IS NULL OR ended_at >= ${len(params)})"
        if open_only:
            sql += " AND ended_at IS NULL"
        params.append(limit)
        sql += f" ORDER BY started_at DESC LIMIT ${len(params)}"
        return [_episode_from_record(r) for r in await self._fetch(sql, *params)]

    async def status_history(
        self, service_id: str | None = None, since: datetime | None = None, limit: int = 200
    ) -> list[Transition]:
        params: list[Any] = [service_id or ""]
        sql = "SELECT service_id, status, previous, at FROM status_history WHERE service_id = $1"
        if since is not None:
            params.append(since)
            sql += f" AND at >= ${len(params)}"
        params.append(limit)
        sql += f" ORDER BY at DESC, id DESC LIMIT ${len(params)}"
        return [
            Transition(
                r["service_id"] or None,
                ServiceStatus(r["previous"]),
                ServiceStatus(r["status"]),
                r["at"].astimezone(UTC),
            )
            for r in await self._fetch(sql, *params)
        ]

    # -- maintenance windows ----------------------------------------------------------

    async def create_maintenance(self, window: MaintenanceWindow) -> MaintenanceWindow:
        rows = await self._fetch(
            "INSERT INTO maintenance_windows (config_key, title, starts_at, ends_at, services,"
            " created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            window.config_key,
            window.title,
            window.starts_at,
            window.ends_at,
            json.dumps(list(window.services)),
            window.created_by,
        )
        window.id = int(rows[0]["id"])
        return window

    async def sync_config_maintenance(self, windows: Sequence[MaintenanceWindow]) -> None:
        try:
            async with self.pool.acquire() as con, con.transaction():
                for w in windows:
                    await con.execute(
                        "INSERT INTO maintenance_windows (config_key, title, starts_at, ends_at,"
                        " services, created_by) VALUES ($1, $2, $3, $4, $5, 'config')"
                        " ON CONFLICT (config_key) DO UPDATE SET title = excluded.title,"
                        " starts_at = excluded.starts_at, ends_at = excluded.ends_at,"
                        " services = excluded.services, cancelled_at = NULL",
                        w.config_key,
                        w.title,
                        w.starts_at,
                        w.ends_at,
                        json.dumps(list(w.services)),
                    )
                await con.execute(
                    "UPDATE maintenance_windows SET cancelled_at = now() WHERE config_key IS NOT"
                    " NULL AND cancelled_at IS NULL AND NOT (config_key = ANY($1::text[]))",
                    [w.config_key for w in windows],
                )
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"cannot sync maintenance windows: {exc}") from exc

    async def list_maintenance(self, *, since: datetime | None = None) -> list[MaintenanceWindow]:
        if since is None:
            rows = await self._fetch(
                f"SELECT {_WINDOW_COLS} FROM maintenance_windows WHERE cancelled_at IS NULL"
                " ORDER BY starts_at, id"
            )
        else:
            rows = await self._fetch(
                f"SELECT {_WINDOW_COLS} FROM maintenance_windows WHERE cancelled_at IS NULL"
                " AND ends_at > $1 ORDER BY starts_at, id",
                since,
            )
        return [_window_from_record(r) for r in rows]

    async def cancel_maintenance(self, window_id: int, at: datetime) -> MaintenanceWindow | None:
        await self._fetch(
            "UPDATE maintenance_windows SET cancelled_at = $1 WHERE id = $2 AND cancelled_at IS NULL",
            at,
            window_id,
        )
        rows = await self._fetch(
            f"SELECT {_WINDOW_COLS} FROM maintenance_windows WHERE id = $1", window_id
        )
        return _window_from_record(rows[0]) if rows else None

    # -- users, tokens, audit ---------------------------------------------------------

    _USER_COLS = (
        "id, username, email, password_hash, role, active, token_version, last_login_at, created_at"
    )

    @staticmethod
    def _user(r: Any) -> User:
        return User(
            id=int(r["id"]),
            username=r["username"],
            email=r["email"],
            password_hash=r["password_hash"],
            role=role_from_name(r["role"]),
            active=r["active"],
            token_version=r["token_version"],
            last_login_at=r["last_login_at"].astimezone(UTC) if r["last_login_at"] else None,
            created_at=r["created_at"].astimezone(UTC),
        )

    async def create_user(self, username: str, email: str, password_hash: str, role: Role) -> User:
        try:
            rows = await self._fetch(
                f"INSERT INTO users (username, email, password_hash, role) VALUES ($1, $2, $3, $4)"
                f" RETURNING {self._USER_COLS}",
                username,
                email,
                password_hash,
                role.name.lower(),
            )
        except StoreError as exc:
            if isinstance(exc.__cause__, asyncpg.UniqueViolationError):
                raise AlreadyExists(f"user {username!r} already exists") from exc
            raise
        return self._user(rows[0])

    async def get_user(self, username: str) -> User | None:
        rows = await self._fetch(
            f"SELECT {self._USER_COLS} FROM users WHERE username = $1", username
        )
        return self._user(rows[0]) if rows else None

    async def list_users(self) -> list[User]:
        return [
            self._user(r)
            for r in await self._fetch(f"SELECT {self._USER_COLS} FROM users ORDER BY username")
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
        params: list[Any] = [username]
        for col, val in (
            ("role", role.name.lower() if role else None),
            ("active", active),
            ("password_hash", password_hash),
            ("email", email),
        ):
            if val is not None:
                params.append(val)
                sets.append(f"{col} = ${len(params)}")
        if revoke_tokens:
            sets.append("token_version = token_version + 1")
        try:
            async with self.pool.acquire() as con, con.transaction():
                if sets:
                    await con.execute(
                        f"UPDATE users SET {', '.join(sets)} WHERE username = $1", *params
                    )
                if revoke_tokens:
                    await con.execute(
                        "UPDATE refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND"
                        " user_id = (SELECT id FROM users WHERE username = $1)",
                        username,
                    )
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"cannot update user: {exc}") from exc
        return await self.get_user(username)

    async def record_login(self, user_id: int, at: datetime) -> None:
        await self._fetch("UPDATE users SET last_login_at = $1 WHERE id = $2", at, user_id)

    async def add_refresh_token(self, token_hash: str, user_id: int, expires_at: datetime) -> None:
        await self._fetch(
            "INSERT INTO refresh_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
            token_hash,
            user_id,
            expires_at,
        )

    async def use_refresh_token(self, token_hash: str, now: datetime) -> int | None:
        rows = await self._fetch(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL"
            " AND expires_at > $2 RETURNING user_id",
            token_hash,
            now,
        )
        return int(rows[0]["user_id"]) if rows else None

    async def revoke_refresh_token(self, token_hash: str, now: datetime) -> None:
        await self._fetch(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
            token_hash,
            now,
        )

    async def add_audit(self, entry: AuditEntry) -> None:
        await self._fetch(
            "INSERT INTO audit_log (at, actor, method, target, changes) VALUES ($1, $2, $3, $4, $5)",
            entry.at,
            entry.actor,
            entry.method,
            entry.target,
            json.dumps(entry.changes, sort_keys=True, default=str),
        )

    async def list_audit(
        self, *, since: datetime | None = None, limit: int = 200
    ) -> list[AuditEntry]:
        rows = await self._fetch(
            "SELECT id, at, actor, method, target, changes FROM audit_log WHERE at >= $1"
            " ORDER BY at DESC, id DESC LIMIT $2",
            since or datetime(1970, 1, 1, tzinfo=UTC),
            limit,
        )
        return [
            AuditEntry(
                id=int(r["id"]),
                at=r["at"].astimezone(UTC),
                actor=r["actor"],
                method=r["method"],
                target=r["target"],
                changes=json.loads(r["changes"]),
            )
            for r in rows
        ]

    async def save_admin_service(self, service: Service) -> None:
        try:
            async with self.pool.acquire() as con, con.transaction():
                src = await con.fetchval(
                    "SELECT source FROM services WHERE id = $1 FOR UPDATE", service.id
                )
                if src == "config":
                    raise AlreadyExists(
                        f"service {service.id!r} is defined in the config file; change it there"
                    )
                await con.execute(
                    "INSERT INTO services (id, name, url, config, source, active) VALUES ($1, $2, $3,"
                    " $4::jsonb, 'admin', $5) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                    " url = excluded.url, config = excluded.config, active = excluded.active,"
                    " updated_at = now()",
                    service.id,
                    service.name,
                    service.url,
                    service_to_json(service),
                    service.active,
                )
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"cannot save service: {exc}") from exc

    async def service_source(self, service_id: str) -> str | None:
        rows = await self._fetch("SELECT source FROM services WHERE id = $1", service_id)
        return str(rows[0]["source"]) if rows else None

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

    async def _incidents_from_rows(self, con: Any, rows: Sequence[Any]) -> list[Incident]:
        out = []
        for r in rows:
            d = {k: r[k] for k in (c.strip() for c in self._INC_COLS.split(","))}
            d["id"] = int(d["id"])
            for k in self._INC_TIMES:
                d[k] = d[k].astimezone(UTC) if d[k] is not None else None
            out.append(Incident(**d))
        if not out:
            return out
        by_id = {i.id: i for i in out}
        ids = list(by_id)
        for r in await con.fetch(
            "SELECT incident_id, service_id FROM incident_services WHERE"
            " incident_id = ANY($1::bigint[]) ORDER BY service_id",
            ids,
        ):
            i = by_id[r["incident_id"]]
            i.services = (*i.services, r["service_id"])
        for r in await con.fetch(
            "SELECT incident_id, id, status, message, customer_visible, author, created_at FROM"
            " incident_updates WHERE incident_id = ANY($1::bigint[]) ORDER BY created_at, id",
            ids,
        ):
            by_id[r["incident_id"]].updates.append(
                IncidentUpdate(
                    id=int(r["id"]),
                    status=r["status"],
                    message=r["message"],
                    customer_visible=r["customer_visible"],
                    author=r["author"],
                    created_at=r["created_at"].astimezone(UTC),
                )
            )
        return out

    async def _inc_query(self, sql: str, *args: Any) -> list[Incident]:
        try:
            async with self.pool.acquire() as con:
                return await self._incidents_from_rows(con, await con.fetch(sql, *args))
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"query failed: {exc}") from exc

    @staticmethod
    async def _reindex(con: Any, incident_id: int) -> None:
        await con.execute(
            "UPDATE incidents i SET search_text = i.title || E'\\n' || i.description || E'\\n' ||"
            " coalesce((SELECT string_agg(message, E'\\n' ORDER BY id) FROM incident_updates"
            " WHERE incident_id = i.id), '') WHERE i.id = $1",
            incident_id,
        )

    async def create_incident(self, inc: Incident) -> Incident:
        now = inc.created_at or datetime.now(UTC)
        try:
            async with self.pool.acquire() as con, con.transaction():
                iid = await con.fetchval(
                    "INSERT INTO incidents (title, description, status, severity, priority, impact,"
                    " root_cause, resolution_notes, started_at, identified_at, monitoring_at,"
                    " resolved_at, first_update_at, created_by, resolved_by, created_at, updated_at,"
                    " version, episode_service, episode_started_at) VALUES ($1, $2, $3, $4, $5, $6,"
                    " $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, 1, $17, $18) RETURNING id",
                    inc.title,
                    inc.description,
                    inc.status,
                    inc.severity,
                    inc.priority,
                    inc.impact,
                    inc.root_cause,
                    inc.resolution_notes,
                    inc.started_at,
                    inc.identified_at,
                    inc.monitoring_at,
                    inc.resolved_at,
                    inc.first_update_at,
                    inc.created_by,
                    inc.resolved_by,
                    now,
                    inc.episode_service,
                    inc.episode_started_at,
                )
                await con.executemany(
                    "INSERT INTO incident_services (incident_id, service_id) VALUES ($1, $2)",
                    [(iid, s) for s in inc.services],
                )
                for u in inc.updates:
                    await con.execute(
                        "INSERT INTO incident_updates (incident_id, status, message, customer_visible,"
                        " author, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                        iid,
                        u.status,
                        u.message,
                        u.customer_visible,
                        u.author,
                        u.created_at,
                    )
                await con.execute(
                    "INSERT INTO incident_revisions (incident_id, version, fields, actor, at)"
                    " VALUES ($1, 1, $2, $3, $4)",
                    iid,
                    json.dumps(["created"]),
                    inc.created_by,
                    now,
                )
                await self._reindex(con, iid)
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyExists(f"an incident already exists for that outage: {exc}") from exc
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"cannot create incident: {exc}") from exc
        got = await self.get_incident(int(iid))
        assert got is not None
        return got

    async def get_incident(self, incident_id: int) -> Incident | None:
        found = await self._inc_query(
            f"SELECT {self._INC_COLS} FROM incidents WHERE id = $1", incident_id
        )
        return found[0] if found else None

    @staticmethod
    async def _apply_incident_changes(
        con: Any, incident_id: int, changes: dict[str, Any], now: datetime
    ) -> None:
        cols = {k: v for k, v in changes.items() if k != "services"}
        sets = [f"{k} = ${i}" for i, k in enumerate(cols, start=3)]
        sets += ["version = version + 1", "updated_at = $2"]
        await con.execute(
            f"UPDATE incidents SET {', '.join(sets)} WHERE id = $1",
            incident_id,
            now,
            *cols.values(),
        )
        if "services" in changes:
            await con.execute("DELETE FROM incident_services WHERE incident_id = $1", incident_id)
            await con.executemany(
                "INSERT INTO incident_services (incident_id, service_id) VALUES ($1, $2)",
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
        try:
            async with self.pool.acquire() as con, con.transaction():
                version = await con.fetchval(
                    "SELECT version FROM incidents WHERE id = $1 FOR UPDATE", incident_id
                )
                if version is None:
                    raise KeyError(incident_id)
                if version != expected_version:
                    rows = await con.fetch(
                        "SELECT fields FROM incident_revisions WHERE incident_id = $1"
                        " AND version > $2",
                        incident_id,
                        expected_version,
                    )
                    conflict = sorted({f for r in rows for f in json.loads(r["fields"])})
                else:
                    await self._apply_incident_changes(con, incident_id, changes, now)
                    await con.execute(
                        "INSERT INTO incident_revisions (incident_id, version, fields, actor, at)"
                        " VALUES ($1, $2, $3, $4, $5)",
                        incident_id,
                        expected_version + 1,
                        json.dumps(fields),
                        actor,
                        now,
                    )
                    await self._reindex(con, incident_id)
                # Read under the row lock: the reply shows exactly the version it speaks of.
                current = (
                    await self._incidents_from_rows(
                        con,
                        await con.fetch(
                            f"SELECT {self._INC_COLS} FROM incidents WHERE id = $1", incident_id
                        ),
                    )
                )[0]
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"cannot save incident: {exc}") from exc
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
        try:
            async with self.pool.acquire() as con, con.transaction():
                row = await con.fetchrow(
                    "SELECT version, first_update_at FROM incidents WHERE id = $1 FOR UPDATE",
                    incident_id,
                )
                if row is None:
                    raise KeyError(incident_id)
                if row["first_update_at"] is None:
                    changes = {**changes, "first_update_at": update.created_at}
                await con.execute(
                    "INSERT INTO incident_updates (incident_id, status, message, customer_visible, author,"
                    " created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    incident_id,
                    update.status,
                    update.message,
                    update.customer_visible,
                    update.author,
                    update.created_at,
                )
                await self._apply_incident_changes(con, incident_id, changes, now)
                fields = ["updates", *(["status"] if "status" in changes else [])]
                await con.execute(
                    "INSERT INTO incident_revisions (incident_id, version, fields, actor, at)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    incident_id,
                    row["version"] + 1,
                    json.dumps(fields),
                    update.author,
                    now,
                )
                await self._reindex(con, incident_id)
                current = (
                    await self._incidents_from_rows(
                        con,
                        await con.fetch(
                            f"SELECT {self._INC_COLS} FROM incidents WHERE id = $1", incident_id
                        ),
                    )
                )[0]
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"cannot add incident update: {exc}") from exc
        return current

    async def list_incidents(
        self,
        *,
        active: bool,
        since: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Incident], int]:
        where = "status <> 'resolved'" if active else "status = 'resolved'"
        since = since or datetime(1970, 1, 1, tzinfo=UTC)
        rows = await self._fetch(
            f"SELECT count(*) AS n FROM incidents WHERE {where} AND started_at >= $1", since
        )
        found = await self._inc_query(
            f"SELECT {self._INC_COLS} FROM incidents WHERE {where} AND started_at >= $1"
            " ORDER BY started_at DESC, id DESC LIMIT $2 OFFSET $3",
            since,
            limit,
            offset,
        )
        return found, int(rows[0]["n"])

    async def search_incidents(self, query: str, limit: int = 50) -> list[Incident]:
        terms = search_terms(query)
        if not terms:
            return []
        tsq = " & ".join(f"{t}:*" for t in terms)
        return await self._inc_query(
            f"SELECT {self._INC_COLS} FROM incidents WHERE search @@ to_tsquery('simple', $1)"
            " ORDER BY started_at DESC LIMIT $2",
            tsq,
            limit,
        )

    async def incident_for_episode(self, service_id: str, started_at: datetime) -> Incident | None:
        found = await self._inc_query(
            f"SELECT {self._INC_COLS} FROM incidents WHERE episode_service = $1 AND episode_started_at = $2",
            service_id,
            started_at,
        )
        return found[0] if found else None

    async def open_incidents_for_service(self, service_id: str) -> list[Incident]:
        cols = ", ".join("i." + c.strip() for c in self._INC_COLS.split(","))
        return await self._inc_query(
            f"SELECT {cols} FROM incidents i JOIN incident_services s ON s.incident_id = i.id"
            " WHERE s.service_id = $1 AND i.status <> 'resolved' ORDER BY i.started_at DESC",
            service_id,
        )

    async def first_activity(
        self, service_ids: Sequence[str], since: datetime, until: datetime
    ) -> dict[str, datetime]:
        if not service_ids:
            return {}
        lo, hi = since.astimezone(UTC), until.astimezone(UTC)
        # The first day from the daily rollups (small), then the first hour of that day.
        rows = await self._fetch(
            "WITH first AS (SELECT service_id, min(day) AS day FROM daily_rollups"
            " WHERE checks > 0 AND day >= $1 AND day <= $2 AND service_id = ANY($3::text[])"
            " GROUP BY service_id)"
            " SELECT f.service_id, f.day, min(h.hour) AS hour FROM first f JOIN hourly_rollups h"
            " ON h.service_id = f.service_id AND h.day = f.day AND h.checks > 0"
            " AND (h.day > $1 OR h.hour >= $4) GROUP BY f.service_id, f.day",
            lo.date(),
            hi.date(),
            list(service_ids),
            lo.hour,
        )
        out: dict[str, datetime] = {}
        for r in rows:
            d = r["day"]
            start = datetime(d.year, d.month, d.day, int(r["hour"]), tzinfo=UTC)
            if start < hi:
                out[r["service_id"]] = max(start, since)
        return out
