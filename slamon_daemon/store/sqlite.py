"""SQLite backend (aiosqlite, WAL): the default, one file, no server.

One connection writes and one reads, so WAL readers never wait for the writer. Writes run in
explicit ``BEGIN IMMEDIATE`` transactions.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import aiosqlite

from ..errors import MigrationError, StoreError, StoreUnavailable
from ..models import Check, DailyRollup, ErrorKind, Outcome, Service
from .base import (
    ROLLUP_COLUMNS,
    Store,
    SyncResult,
    from_us,
    rollup_deltas,
    rollup_from_row,
    rollup_values,
    service_from_json,
    service_to_json,
    to_us,
)
from .migrate import load_migrations

logger = logging.getLogger("slamon.store")

_CHECK_COLS = (
    "service_id, started_at, node, latency_ms, status_code, outcome, error_kind, error,"
    " maintenance, interval_s"
)
_ROWS_PER_INSERT = 500  # 10 columns × 500 rows stays far below SQLite's variable limit


def _rollup_upsert_sql() -> str:
    cols = ", ".join(ROLLUP_COLUMNS)
    marks = ", ".join("?" for _ in range(len(ROLLUP_COLUMNS) + 2))
    sets = []
    for c in ROLLUP_COLUMNS:
        if c == "latency_min_ms":
            sets.append(f"{c} = min(coalesce({c}, excluded.{c}), coalesce(excluded.{c}, {c}))")
        elif c == "latency_max_ms":
            sets.append(f"{c} = max(coalesce({c}, excluded.{c}), coalesce(excluded.{c}, {c}))")
        else:
            sets.append(f"{c} = {c} + excluded.{c}")
    return (
        f"INSERT INTO daily_rollups (service_id, day, {cols}) VALUES ({marks})"
        f" ON CONFLICT (service_id, day) DO UPDATE SET {', '.join(sets)}"
    )


_ROLLUP_UPSERT = _rollup_upsert_sql()


def _check_from_row(r: Sequence[object]) -> Check:
    return Check(
        service_id=str(r[0]),
        started_at=from_us(int(r[1])),  # type: ignore[call-overload]
        node=str(r[2]),
        latency_ms=float(r[3]),  # type: ignore[arg-type]
        status_code=r[4],  # type: ignore[arg-type]
        outcome=Outcome(r[5]),
        error_kind=ErrorKind(r[6]) if r[6] else None,
        error=r[7],  # type: ignore[arg-type]
        maintenance=bool(r[8]),
        interval_s=float(r[9]),  # type: ignore[arg-type]
    )


class SqliteStore(Store):
    """The SQLite backend. ``path`` is a file path (created with its folder if missing)."""

    backend = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._w: aiosqlite.Connection | None = None
        self._r: aiosqlite.Connection | None = None

    async def _connect(self) -> aiosqlite.Connection:
        con = await aiosqlite.connect(self.path, isolation_level=None)
        await con.execute("PRAGMA journal_mode=WAL")
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

    # -- migrations -------------------------------------------------------------------

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
                await self.w.executescript(script)
            except sqlite3.Error as exc:
                try:
                    await self.w.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise MigrationError(f"migration {m.name} failed: {exc}") from exc
            logger.info("applied migration %s", m.name)
            applied.append(m.name)
        return applied

    # -- services ---------------------------------------------------------------------

    async def sync_services(self, services: Sequence[Service]) -> SyncResult:
        result = SyncResult()
        now = int(time.time() * 1e6)
        try:
            await self.w.execute("BEGIN IMMEDIATE")
            async with self.w.execute("SELECT id, config, active, source FROM services") as cur:
                existing = {str(r[0]): (str(r[1]), bool(r[2]), str(r[3])) for r in await cur.fetchall()}
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
                        "UPDATE services SET active = 0, updated_at = ? WHERE id = ?", (now, sid)
                    )
                    result.deactivated.append(sid)
            await self.w.execute("COMMIT")
        except sqlite3.Error as exc:
            await self._rollback()
            raise StoreError(f"cannot sync services: {exc}") from exc
        return result

    async def list_services(self, *, include_inactive: bool = False) -> list[Service]:
        sql = "SELECT config, active FROM services"
        if not include_inactive:
            sql += " WHERE active = 1"
        async with self.r.execute(sql + " ORDER BY id") as cur:
            return [service_from_json(str(r[0]), active=bool(r[1])) for r in await cur.fetchall()]

    # -- checks and rollups -----------------------------------------------------------

    async def write_checks(self, checks: Sequence[Check]) -> int:
        if not checks:
            return 0
        try:
            await self.w.execute("BEGIN IMMEDIATE")
            new: list[Check] = []
            for i in range(0, len(checks), _ROWS_PER_INSERT):
                chunk = checks[i : i + _ROWS_PER_INSERT]
                params: list[object] = []
                for c in chunk:
                    params += (
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
                    )
                values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
                sql = (
                    f"INSERT INTO checks ({_CHECK_COLS}) VALUES {values}"
                    " ON CONFLICT DO NOTHING RETURNING service_id, started_at, node"
                )
                async with self.w.execute(sql, params) as cur:
                    inserted = {(str(r[0]), int(r[1]), str(r[2])) for r in await cur.fetchall()}
                new += [c for c in chunk if (c.service_id, to_us(c.started_at), c.node) in inserted]
            if new:
                await self.w.executemany(
                    _ROLLUP_UPSERT,
                    [(r.service_id, r.day.isoformat(), *rollup_values(r)) for r in rollup_deltas(new)],
                )
            await self.w.execute("COMMIT")
        except sqlite3.Error as exc:
            await self._rollback()
            raise StoreError(f"cannot write {len(checks)} checks: {exc}") from exc
        return len(new)

    async def daily_rollups(
        self, since: date, until: date | None = None, service_ids: Sequence[str] | None = None
    ) -> list[DailyRollup]:
        sql = f"SELECT service_id, day, {', '.join(ROLLUP_COLUMNS)} FROM daily_rollups WHERE day >= ?"
        params: list[object] = [since.isoformat()]
        if until is not None:
            sql += " AND day <= ?"
            params.append(until.isoformat())
        if service_ids is not None:
            sql += f" AND service_id IN ({', '.join('?' for _ in service_ids)})"
            params += list(service_ids)
        sql += " ORDER BY service_id, day"
        async with self.r.execute(sql, params) as cur:
            rows = await cur.fetchall()
        return [rollup_from_row(str(r[0]), date.fromisoformat(str(r[1])), r[2:]) for r in rows]

    async def recent_checks(self, service_id: str, limit: int = 50) -> list[Check]:
        async with self.r.execute(
            f"SELECT {_CHECK_COLS} FROM checks WHERE service_id = ? ORDER BY started_at DESC LIMIT ?",
            (service_id, limit),
        ) as cur:
            return [_check_from_row(r) for r in await cur.fetchall()]

    async def latest_checks(self, per_service: int) -> dict[str, list[Check]]:
        out: dict[str, list[Check]] = {}
        for s in await self.list_services(include_inactive=True):
            out[s.id] = list(reversed(await self.recent_checks(s.id, per_service)))
        return out

    async def _rollback(self) -> None:
        if self._w is not None and self._w.in_transaction:
            try:
                await self._w.execute("ROLLBACK")
            except sqlite3.Error:
                pass
