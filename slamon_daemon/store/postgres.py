"""PostgreSQL backend (asyncpg pool).

Raw checks live in a table partitioned by day; ``maintain`` creates the partitions ahead of
need. Batches of checks are inserted with one ``unnest`` statement whose ``RETURNING`` tells
which rows were new, so rollups count each check exactly once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from ..errors import MigrationError, StoreError, StoreUnavailable
from ..models import Check, DailyRollup, ErrorKind, Outcome, Service
from .base import (
    ROLLUP_COLUMNS,
    Store,
    SyncResult,
    rollup_deltas,
    rollup_from_row,
    rollup_values,
    service_from_json,
    service_to_json,
    to_us,
)
from .migrate import load_migrations

logger = logging.getLogger("slamon.store")

_MIGRATION_LOCK = 0x51A7_0001  # advisory lock id: one migrator at a time
_CHECK_COLS = (
    "service_id, started_at, node, latency_ms, status_code, outcome, error_kind, error,"
    " maintenance, interval_s"
)
_INSERT_CHECKS = (
    f"INSERT INTO checks ({_CHECK_COLS})"
    " SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::float8[],"
    " $5::int4[], $6::text[], $7::text[], $8::text[], $9::bool[], $10::float8[])"
    " ON CONFLICT DO NOTHING RETURNING service_id, started_at, node"
)
# Errors that mean "the database is not reachable now" rather than "this statement is wrong".
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


def _rollup_upsert_sql() -> str:
    cols = ", ".join(ROLLUP_COLUMNS)
    marks = ", ".join(f"${i}" for i in range(1, len(ROLLUP_COLUMNS) + 3))
    sets = []
    for c in ROLLUP_COLUMNS:
        if c == "latency_min_ms":
            sets.append(f"{c} = LEAST(daily_rollups.{c}, excluded.{c})")
        elif c == "latency_max_ms":
            sets.append(f"{c} = GREATEST(daily_rollups.{c}, excluded.{c})")
        else:
            sets.append(f"{c} = daily_rollups.{c} + excluded.{c}")
    return (
        f"INSERT INTO daily_rollups (service_id, day, {cols}) VALUES ({marks})"
        f" ON CONFLICT (service_id, day) DO UPDATE SET {', '.join(sets)}"
    )


_ROLLUP_UPSERT = _rollup_upsert_sql()


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
                self.dsn, min_size=self._min, max_size=self._max, timeout=10,
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
                await pool.close()
            except Exception:  # closing a pool whose server is gone must not raise
                pool.terminate()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailable("the PostgreSQL store is not open")
        return self._pool

    # -- migrations and upkeep --------------------------------------------------------

    async def applied_migrations(self) -> list[str]:
        async with self.pool.acquire() as con:
            await con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
                " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = await con.fetch("SELECT name FROM schema_migrations ORDER BY version")
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
                    day = today + timedelta(days=offset)
                    name = f"checks_p{day:%Y%m%d}"
                    exists = await con.fetchval("SELECT to_regclass($1)", name)
                    if exists:
                        continue
                    try:
                        await con.execute(
                            f"CREATE TABLE {name} PARTITION OF checks FOR VALUES FROM"
                            f" ('{day.isoformat()} 00:00:00+00') TO"
                            f" ('{(day + timedelta(days=1)).isoformat()} 00:00:00+00')"
                        )
                    except asyncpg.PostgresError as exc:
                        # Rows for that day already sit in the default partition; they stay there.
                        logger.warning("cannot create partition %s: %s", name, exc)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc

    # -- services ---------------------------------------------------------------------

    async def sync_services(self, services: Sequence[Service]) -> SyncResult:
        result = SyncResult()
        try:
            async with self.pool.acquire() as con, con.transaction():
                rows = await con.fetch(
                    "SELECT id, config, active, source FROM services FOR UPDATE"
                )
                existing = {r["id"]: (json.loads(r["config"]), r["active"], r["source"]) for r in rows}
                wanted = {s.id for s in services}
                for s in services:
                    cfg = service_to_json(s)
                    old = existing.get(s.id)
                    if old is None:
                        await con.execute(
                            "INSERT INTO services (id, name, url, config, source, active)"
                            " VALUES ($1, $2, $3, $4::jsonb, 'config', $5)",
                            s.id, s.name, s.url, cfg, s.active,
                        )
                        result.added.append(s.id)
                    elif old[0] != json.loads(cfg) or old[1] != s.active or old[2] != "config":
                        await con.execute(
                            "UPDATE services SET name = $1, url = $2, config = $3::jsonb,"
                            " source = 'config', active = $4, updated_at = now() WHERE id = $5",
                            s.name, s.url, cfg, s.active, s.id,
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

    # -- checks and rollups -----------------------------------------------------------

    async def write_checks(self, checks: Sequence[Check]) -> int:
        if not checks:
            return 0
        cols: list[list[Any]] = [[] for _ in range(10)]
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
                )
            ):
                cols[i].append(v)
        try:
            async with self.pool.acquire() as con, con.transaction():
                rows = await con.fetch(_INSERT_CHECKS, *cols)
                inserted = {(r["service_id"], to_us(r["started_at"]), r["node"]) for r in rows}
                new = [c for c in checks if (c.service_id, to_us(c.started_at), c.node) in inserted]
                if new:
                    await con.executemany(
                        _ROLLUP_UPSERT,
                        [(r.service_id, r.day, *rollup_values(r)) for r in rollup_deltas(new)],
                    )
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"cannot write {len(checks)} checks: {exc}") from exc
        return len(new)

    async def daily_rollups(
        self, since: date, until: date | None = None, service_ids: Sequence[str] | None = None
    ) -> list[DailyRollup]:
        sql = f"SELECT service_id, day, {', '.join(ROLLUP_COLUMNS)} FROM daily_rollups WHERE day >= $1"
        params: list[Any] = [since]
        if until is not None:
            params.append(until)
            sql += f" AND day <= ${len(params)}"
        if service_ids is not None:
            params.append(list(service_ids))
            sql += f" AND service_id = ANY(${len(params)}::text[])"
        rows = await self._fetch(sql + " ORDER BY service_id, day", *params)
        return [rollup_from_row(r[0], r[1], tuple(r)[2:]) for r in rows]

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
        out: dict[str, list[Check]] = {}
        for r in rows:
            out.setdefault(r["service_id"], []).append(_check_from_record(r))
        return {k: list(reversed(v)) for k, v in out.items()}

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        try:
            async with self.pool.acquire() as con:
                return list(await con.fetch(sql, *args))
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"query failed: {exc}") from exc
