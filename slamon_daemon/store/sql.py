"""SqlStore: every query of the Store, written once over a Dialect (SQLite or PostgreSQL).

SQL here uses ``?`` placeholders and reads rows by position; times and days pass through the
dialect's codecs, and whatever the engines do differently (bulk insert, rollup lookup,
full-text search, partitions, migrations) is a dialect method. Driver errors never reach
this module: the dialect's ``read()`` and ``transaction()`` turn them into StoreError.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import operator
import re
import sys
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar, cast

import orjson

from ..errors import AlreadyExists, NotFound
from ..incidents import VersionConflict
from ..models import (
    SYSTEM_AUTHOR,
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
from ..rollup import (
    Rollup,
    counts_from_json,
    counts_json,
    fold_batch,
    linked,
    rollup_deltas,
    single_rows,
    uptime_percent_text,
)
from .alerts import AlertStore
from .base import (
    DaemonLock,
    LoginFailureRow,
    NetRow,
    Progress,
    Record,
    RetentionResult,
    Store,
    SyncResult,
)
from .dialects.base import (
    CHECK_COLUMNS,
    ROLLUP_COLUMNS,
    Connection,
    Dialect,
    Row,
    compact_counts_sql,
)
from .migrate import load_migrations

logger = logging.getLogger("slamon.store")
_T = TypeVar("_T")
_Revision = tuple[list[str], str, datetime]
"""Why an incident got a new version: the fields changed, by whom, when."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RCOLS = ", ".join(ROLLUP_COLUMNS)
_UPSERT_ROLLUP = {
    table: f"INSERT INTO {table} ({keys}, {_RCOLS}) VALUES ({', '.join('?' * n)})"
    f" ON CONFLICT ({keys}) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in ROLLUP_COLUMNS)
    for table, keys, n in (
        ("daily_rollups", "service_id, day", len(ROLLUP_COLUMNS) + 2),
        ("monthly_rollups", "service_id, day", len(ROLLUP_COLUMNS) + 2),
        ("hourly_rollups", "service_id, day, hour", len(ROLLUP_COLUMNS) + 3),
    )
}
BAR_OPEN_DAYS = 2
"""The newest past days of the bar that no summary covers (bar_summaries, migration 0015):
read from daily_rollups at every start. Yesterday's and the day before's rows still change
(compact_counts rewrites them; a late check of before midnight lands there) and would
delete their summaries; older days seldom change."""
_SUMMARY_EPOCH = "2000-01-01"  # a summary's day offsets count from this day
_SUMMARY_FROM = {  # a summary's days from a day (a parameter) on: a dense summary's tail
    "postgres": "substring(s.packed from 16 * (CAST(? AS date) - s.first_day) + 1)",
    "sqlite": "substr(s.packed, 32 * CAST(julianday(?) - julianday(s.first_day) AS INTEGER) + 1)",
}


def _day_entry(postgres: bool, day: str, prefix: str = "", *, dense: bool = False) -> str:
    """A day's packed counts (Store.daily_counts): offset, up + degraded, checks −
    maintenance (at least 0), flags. ``dense``: the day ``day`` of a series, its rollup
    (columns ``prefix``…) maybe missing (zeros), its offset from _SUMMARY_EPOCH; else the
    offset from a parameter (``since``)."""
    c = prefix
    flags = (
        f"CASE WHEN {c}checks > 0 THEN 1 ELSE 0 END + CASE WHEN {c}degraded > 0 THEN 2 ELSE 0 END"
        f" + CASE WHEN {c}down > 0 THEN 4 ELSE 0 END"
    )
    good, counted = f"{c}up + {c}degraded", f"{c}checks - {c}maintenance"
    if dense:
        good, counted = f"coalesce({good}, 0)", f"coalesce({counted}, 0)"
    if postgres:
        base = f"DATE '{_SUMMARY_EPOCH}'" if dense else "CAST(? AS date)"
        # Binary (four bytes a value, big-endian) rather than hex text: half the server's
        # time per page (lpad/to_hex per value were most of it), no decoding. Two values
        # a bigint (int8send): the same bytes as four int4send (each value is from 0 to
        # 2³¹), 25-35 % less of the server's time (10,000 services × 89 days: 0.95-1.0 ->
        # 0.65-0.8 s).
        high = (f"CAST({day} - {base} AS bigint)", f"CAST(greatest({counted}, 0) AS bigint)")
        pairs = zip(high, (good, flags), strict=True)
        return " || ".join(f"int8send(({h} << 32) | ({lo}))" for h, lo in pairs)
    base = f"'{_SUMMARY_EPOCH}'" if dense else "?"
    offset = f"CAST(julianday({day}) - julianday({base}) AS INTEGER)"
    # Two 64-bit numbers, each two of the 32-bit ones: the same 32 hex digits (each value
    # is from 0 to 2³¹) for two conversions rather than four, 15 % of the read's CPU
    # (printf was ~70 % of it: 50,000 services × 89 days, ~3.5 s at a first start).
    return (
        f"printf('%016x%016x', ({offset} << 32) | ({good}), (max({counted}, 0) << 32) | ({flags}))"
    )


def _packed_days(postgres: bool, *, order: bool) -> str:
    """The aggregate of the days of daily_rollups rows in one value (``_day_entry``, the
    offset from a parameter), in day order if ``order``."""
    entry = _day_entry(postgres, "day")
    if postgres:
        return f"string_agg({entry}, ''::bytea{' ORDER BY day' if order else ''})"
    return f"group_concat({entry}, '')"


def _unpacked(value: bytes | str) -> array[int]:
    """Packed days (bytes, or hexadecimal text) as native integers."""
    days = array("i", value if isinstance(value, bytes) else bytes.fromhex(value))
    if sys.byteorder == "little":
        days.byteswap()
    return days


@functools.cache
def _dense_run(n: int) -> tuple[array[int], array[int]]:
    """The offsets 0…n−1, and n empty days packed (offsets 0…n−1, zeros)."""
    empty = array("i", bytes(16 * n))
    empty[0::4] = offsets = array("i", range(n))
    return offsets, empty


_UPSERT_SERVICE = (
    "INSERT INTO services (id, name, url, config, source, active, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
    " url = excluded.url, config = excluded.config, source = excluded.source,"
    " active = excluded.active, updated_at = excluded.updated_at"
)
_UPSERT_SERVICES = (  # PostgreSQL: every row of the arrays in one statement
    "INSERT INTO services (id, name, url, config, source, active, created_at, updated_at)"
    " SELECT u.id, u.name, u.url, u.config::jsonb, 'config', u.active, ?, ?"
    " FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::boolean[])"
    " AS u(id, name, url, config, active)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name, url = excluded.url,"
    " config = excluded.config, source = excluded.source, active = excluded.active,"
    " updated_at = excluded.updated_at RETURNING id, config::text"
)
_INSERT_EPISODE = (
    "INSERT INTO outage_episodes (service_id, started_at, ended_at, worst_status, cause, error,"
    " failed_checks)"
)
_ON_EPISODE_CONFLICT = (
    "ON CONFLICT (service_id, started_at) DO UPDATE"
    " SET ended_at = excluded.ended_at, worst_status = excluded.worst_status,"
    " cause = excluded.cause, error = excluded.error, failed_checks = excluded.failed_checks"
)
# Columns named as the fields of the model they are read into (SqlStore._entity).
_EPISODE_COLS = "service_id, started_at, ended_at, worst_status, cause, error, failed_checks"
_WINDOW_COLS = "id, config_key, title, starts_at, ends_at, services, created_by, cancelled_at"
_USER_COLS = (
    "id, username, email, password_hash, role, active, token_version, last_login_at, created_at"
)
_AUDIT_COLS = "id, at, actor, method, target, changes"
_UPDATE_COLS = "id, status, message, customer_visible, author, created_at"
_INC_FIELDS = (
    "id, title, description, status, severity, priority, impact, root_cause, resolution_notes,"
    " started_at, identified_at, monitoring_at, resolved_at, first_update_at, created_by,"
    " resolved_by, created_at, updated_at, version, episode_service, episode_started_at"
)
_INC_COLS = ", ".join(f"i.{c}" for c in _INC_FIELDS.split(", "))  # over "incidents i"
_TIMES = frozenset(
    "at started_at ended_at starts_at ends_at cancelled_at last_login_at created_at updated_at"
    " identified_at monitoring_at resolved_at first_update_at episode_started_at".split()
)
"""The time columns (the dialect's time codec reads them)."""
_ADD_UPDATE = (
    "INSERT INTO incident_updates (incident_id, status, message, customer_visible, author,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?)"
)
_ADD_REVISION = "INSERT INTO incident_revisions (incident_id, version, fields, actor, at) VALUES (?, ?, ?, ?, ?)"
_ADD_INCIDENT_SERVICE = "INSERT INTO incident_services (incident_id, service_id) VALUES (?, ?)"


@dataclass(frozen=True, slots=True)
class _Plan:
    """A batch's rows, encoded (SqlStore._plan)."""

    checks: list[Check]
    rows: list[tuple[Any, ...]]
    rollups: list[tuple[str, list[Row]]]
    transitions: list[tuple[Any, ...]]
    episodes: list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class _Merged:
    """The plans of one call as one series of statements per table, rows in key order
    (``_merge``)."""

    plans: list[_Plan]
    rows: list[tuple[Any, ...]]
    unique: bool
    """No check met twice in the call (else ``rollups`` would count it twice)."""
    rollups: list[tuple[str, list[Row]]]
    transitions: list[tuple[Any, ...]]
    episodes: list[tuple[Any, ...]]


def _merge(plans: list[_Plan]) -> _Merged:
    """The plans of one write_batches call merged, here on the event loop (SQLite's thread
    then only runs the statements).

    A busy daemon's batch holds its services in the scheduler's order, scattered over the
    tables' keys (service first): each plan's statements walked the whole b-tree again, ten
    times a call, and SQLite's thread spent ~1.6x the CPU of the same rows written in key
    order once (issue 14 point 2: 34 -> 21 µs a check, 12,913 services in the scheduler's
    order; 41 -> 29 µs in the saturated daemon). A rollup key met in several plans (a service
    checked twice in the call) is still added once per plan, in plan order (``_layered``), so
    its texts and float sums are those each plan written in turn gave, byte for byte."""
    # Episodes: an upsert sets every column, so the last record of a key wins, as when each
    # plan was written in turn (and a statement never meets one key twice).
    episodes = list({e[:2]: e for p in plans for e in p.episodes}.values())
    transitions = [t for p in plans for t in p.transitions]
    services = [{c.service_id for c in p.checks} for p in plans]
    if len(set().union(*services)) == sum(map(len, services)):
        # No service in two plans (a daemon keeping up): every key is in one plan, and
        # sorting compares rows only as far as their keys.
        rows = [r for p in plans for r in p.rows]
        rows.sort()
        by_table: dict[str, list[Row]] = {}
        for p in plans:
            for table, table_rows in p.rollups:
                by_table.setdefault(table, []).extend(table_rows)
        rollups = []
        for table in _KEY_WIDTH:
            if table in by_table:
                cast("list[tuple[Any, ...]]", by_table[table]).sort()
                rollups.append((table, by_table[table]))
        return _Merged(plans, rows, True, rollups, transitions, episodes)
    seen: set[tuple[Any, ...]] = set()
    rows = []
    total = 0
    for plan in plans:
        total += len(plan.rows)
        for row in plan.rows:
            key = row[:3]
            if key not in seen:
                seen.add(key)
                rows.append(row)
    rows.sort(key=_check_key)
    return _Merged(
        plans, rows, len(rows) == total, _layered([p.rollups for p in plans]), transitions, episodes
    )


def _check_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A check row's key (service_id, started_at, node)."""
    return row[:3]


_KEY_WIDTH = {"daily_rollups": 2, "monthly_rollups": 2, "hourly_rollups": 3}


def _layered(folded: Sequence[list[tuple[str, list[Row]]]]) -> list[tuple[str, list[Row]]]:
    """The rollup rows of several plans (``_fold_rows``' each, in plan order) as rows to add
    per table, in key order: the n-th row of a key across the plans in the n-th layer, the
    layers in turn (one in a call whose keys are each in one plan)."""
    out: list[tuple[str, list[Row]]] = []
    for table, width in _KEY_WIDTH.items():
        layers: list[tuple[set[tuple[Any, ...]], list[tuple[Any, ...]]]] = []
        for rollups in folded:
            for name, rows in rollups:
                if name != table:
                    continue
                for row in cast("list[tuple[Any, ...]]", rows):
                    key = row[:width]
                    for keys, layer in layers:
                        if key not in keys:
                            keys.add(key)
                            layer.append(row)
                            break
                    else:
                        layers.append(({key}, [row]))
        for _, layer in layers:
            layer.sort()  # unique keys: comparing rows never reaches past them
            out.append((table, cast("list[Row]", layer)))
    return out


class SqlStore(Store, AlertStore):
    """The Store over ``dialect``. Use as ``async with store: ...``."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.backend = dialect.name
        self._compacted: set[tuple[str, date]] = set()  # compact_counts done this run
        # The services last read or synced, by id: (hash of the settings text, Service). A
        # start with 50,000 services read them all back right after writing them (~1 s of
        # JSON decoding); the same text is the same Service.
        self._decoded: dict[str, tuple[int, Service]] = {}

    async def open(self) -> None:
        await self.dialect.open()

    async def close(self) -> None:
        await self.dialect.close()

    def daemon_lock(self, node: str) -> DaemonLock:
        return self.dialect.daemon_lock(node)

    async def hold_checkpoints(self) -> None:
        await self.dialect.hold_checkpoints()

    async def release_checkpoints(self) -> None:
        await self.dialect.release_checkpoints()

    async def verify(self) -> str | None:
        return await self.dialect.verify()

    async def _fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self.dialect.read() as con:
            return await con.fetch(sql, *args)

    def _time(self, dt: datetime | None) -> Any:
        return None if dt is None else self.dialect.time(dt)

    def _from_time(self, value: Any) -> datetime | None:
        return None if value is None else self.dialect.from_time(value)

    def _entity(
        self, model: Callable[..., _T], cols: str, row: Row, **read: Callable[[Any], Any]
    ) -> _T:
        """``model`` from a row of ``cols`` (its field names): times decoded, other columns
        through ``read``'s function of the same name."""
        values = dict(zip(cols.split(", "), row, strict=True))
        for k in _TIMES.intersection(values):
            values[k] = self._from_time(values[k])
        for k, f in read.items():
            values[k] = f(values[k])
        return model(**values)

    # -- migrations and upkeep --------------------------------------------------------------

    async def applied_migrations(self) -> list[str]:
        async with self.dialect.migration_lock() as con:
            rows = await con.fetch("SELECT name FROM schema_migrations ORDER BY version")
        return [str(r[0]) for r in rows]

    async def migrate(self) -> list[str]:
        applied: list[str] = []
        async with self.dialect.migration_lock() as con:
            done = {str(r[0]) for r in await con.fetch("SELECT name FROM schema_migrations")}
            for m in load_migrations(self.backend):
                if m.name not in done:
                    await self.dialect.apply_migration(con, m)
                    logger.info("applied migration %s", m.name)
                    applied.append(m.name)
        # Partitions ahead of the first write; not compact_counts, which the daemon's upkeep
        # runs after the start: rewriting two days of every service's rows took the server
        # ~6.5 s of CPU at a start with 50,000 services (issue 14 point 3), each start anew.
        await self.dialect.maintain(datetime.now(UTC).date())
        return applied

    async def maintain(self, today: date | None = None) -> None:
        today = today or datetime.now(UTC).date()
        await self.dialect.maintain(today)
        await self.compact_counts(today)

    async def compact_counts(self, today: date) -> int:
        """Merge the repeated keys of the count objects (Dialect.add_rollups appends) of the
        periods that ended: the daily and hourly rollups of the last two days, the monthly
        ones of last month; each once per process. Their readers (service.get's 90 days,
        sla.report's months) then parse each bucket once. Returns the rows rewritten."""
        month = today.replace(day=1)
        jobs = [
            *(("daily_rollups", today - timedelta(days=k)) for k in (1, 2)),
            *(("hourly_rollups", today - timedelta(days=k)) for k in (1, 2)),
            ("monthly_rollups", (month - timedelta(days=1)).replace(day=1)),
        ]
        done = 0
        for table, day in jobs:
            if (table, day) in self._compacted:
                continue
            async with self.dialect.transaction() as con:
                done += await con.execute(
                    compact_counts_sql(table, self.dialect.counts_sum), self.dialect.day(day)
                )
            self._compacted.add((table, day))
        return done

    async def apply_retention(
        self, now: datetime, raw_days: int, rollup_days: int = 400
    ) -> RetentionResult:
        # Raw checks go by whole UTC days (PostgreSQL drops daily partitions), so both
        # backends keep the same checks and no day keeps only part of them.
        raw_cut = (now - timedelta(days=raw_days)).astimezone(UTC).date()
        day_cut = (now - timedelta(days=rollup_days)).astimezone(UTC).date()
        checks, partitions = await self.dialect.delete_checks_before(raw_cut)
        result = RetentionResult(checks=checks, partitions=partitions)
        for table in ("hourly_rollups", "daily_rollups", "monthly_rollups"):
            # A month's row goes only when the whole month is past the cutoff.
            cut = day_cut.replace(day=1) if table == "monthly_rollups" else day_cut
            async with self.dialect.transaction() as con:
                n = await con.execute(f"DELETE FROM {table} WHERE day < ?", self.dialect.day(cut))
            setattr(result, table, n)
        return result

    # -- services ---------------------------------------------------------------------------

    async def sync_services(self, services: Sequence[Service]) -> SyncResult:
        result = SyncResult()
        now = self.dialect.time(datetime.now(UTC))
        postgres = self.backend == "postgres"
        configs = [service_to_json(s) for s in services]
        async with self.dialect.transaction() as con:
            rows = await con.fetch(
                "SELECT id, config, active, source FROM services" + self.dialect.for_update
            )
            existing = {str(r[0]): (r[1], bool(r[2]), str(r[3])) for r in rows}
            changed: dict[str, tuple[Any, ...]] = {}
            for s, cfg in zip(services, configs, strict=True):
                old = existing.get(s.id)
                if old is not None and old[1:] == (s.active, "config"):
                    # Settings compare as JSON values on both engines (PostgreSQL reformats
                    # jsonb); the same text, as SQLite keeps it, needs no parsing.
                    if old[0] == cfg or _same_json(old[0], cfg):
                        self._decoded[s.id] = (hash(old[0]), s)
                        continue
                changed[s.id] = (s.id, s.name, s.url, cfg, "config", s.active, now, now)
                (result.added if old is None else result.updated).append(s.id)
                self._decoded[s.id] = (hash(cfg), s)
            if changed and postgres:
                # One statement for them all (a first start: 50,000 rows), and the text the
                # server keeps, so that list_services finds each Service without parsing.
                cols = [list(c) for c in zip(*changed.values(), strict=True)]
                stored = await con.fetch(_UPSERT_SERVICES, now, now, *cols[:4], cols[5])
                by_id = {s.id: s for s in services}
                for sid, text in stored:
                    self._decoded[str(sid)] = (hash(str(text)), by_id[str(sid)])
            elif changed:  # one statement per batch, not a round trip per service
                await con.executemany(_UPSERT_SERVICE, list(changed.values()))
            wanted = {s.id for s in services}
            for sid, (_cfg, active, source) in existing.items():
                if source == "config" and active and sid not in wanted:
                    await con.execute(
                        "UPDATE services SET active = ?, updated_at = ? WHERE id = ?",
                        *(False, now, sid),
                    )
                    result.deactivated.append(sid)
        return result

    async def list_services(self, *, include_inactive: bool = False) -> list[Service]:
        where = "" if include_inactive else " WHERE active = ?"
        rows = await self._fetch(
            f"SELECT id, config, active FROM services{where} ORDER BY id",
            *(() if include_inactive else (True,)),
        )
        out = []
        decoded = self._decoded
        for sid, config, active in rows:
            text = str(config)
            known = decoded.get(sid)
            if known is not None and known[0] == hash(text) and known[1].active == bool(active):
                out.append(known[1])
                continue
            service = service_from_json(text, active=bool(active))
            if known is not None and known[1] == service:
                # Written by sync_services: PostgreSQL gives its jsonb back reformatted, the
                # same settings in other text. Its Service is kept (the settings hold it):
                # not a second object per service (50,000: 100,000 Services).
                service = known[1]
            decoded[str(sid)] = (hash(text), service)
            out.append(service)
        return out

    async def save_admin_service(self, service: Service) -> None:
        now = self.dialect.time(datetime.now(UTC))
        async with self.dialect.transaction() as con:
            row = await con.fetchrow(
                "SELECT source FROM services WHERE id = ?" + self.dialect.for_update, service.id
            )
            if row is not None and row[0] == "config":
                raise AlreadyExists(
                    f"service {service.id!r} is defined in the config file; change it there"
                )
            cfg = service_to_json(service)
            await con.execute(
                _UPSERT_SERVICE,
                service.id,
                service.name,
                service.url,
                cfg,
                "admin",
                service.active,
                now,
                now,
            )

    async def service_source(self, service_id: str) -> str | None:
        rows = await self._fetch("SELECT source FROM services WHERE id = ?", service_id)
        return str(rows[0][0]) if rows else None

    # -- writes -----------------------------------------------------------------------------

    def _check_row(self, c: Check) -> tuple[Any, ...]:
        """``c`` as a row of CHECK_COLUMNS."""
        return (
            c.service_id,
            self.dialect.time(c.started_at),
            c.node,
            c.latency_ms,
            c.status_code,
            c.outcome.value,
            c.error_kind.value if c.error_kind else None,
            c.error,
            c.maintenance,
            c.interval_s,
            None if c.cert_expires_at is None else self.dialect.time(c.cert_expires_at),
            c.region or "",
            c.regional,
            c.share,
        )

    def _check(self, r: Row) -> Check:
        return Check(
            service_id=str(r[0]),
            started_at=self.dialect.from_time(r[1]),
            node=str(r[2]),
            latency_ms=float(r[3]),
            status_code=r[4],
            outcome=Outcome(r[5]),
            error_kind=ErrorKind(r[6]) if r[6] else None,
            error=r[7],
            maintenance=bool(r[8]),
            interval_s=float(r[9]),
            cert_expires_at=self._from_time(r[10]),
            region=r[11] or None,
            regional=bool(r[12]),
            share=int(r[13]),
        )

    async def region_uptime(
        self, service_id: str, windows: Mapping[str, datetime]
    ) -> dict[str, dict[str, str]]:
        if not windows:
            return {}
        names, starts = list(windows), [self.dialect.time(t) for t in windows.values()]
        sums = ", ".join(
            "sum(CASE WHEN started_at >= ? THEN 1 ELSE 0 END), sum(CASE WHEN started_at >= ?"
            " AND outcome <> 'down' AND NOT maintenance THEN 1 ELSE 0 END), sum(CASE WHEN"
            " started_at >= ? AND maintenance THEN 1 ELSE 0 END)"
            for _ in names
        )
        rows = await self._fetch(
            f"SELECT region, {sums} FROM checks WHERE service_id = ? AND started_at >= ?"
            " AND region <> '' GROUP BY region ORDER BY region",
            *[t for t in starts for _ in range(3)],
            service_id,
            min(starts),
        )
        out: dict[str, dict[str, str]] = {name: {} for name in names}
        for r in rows:
            for i, name in enumerate(names):
                checks, up, maintenance = (int(r[1 + 3 * i + k] or 0) for k in range(3))
                if checks:
                    out[name][str(r[0])] = uptime_percent_text(up, 0, checks, maintenance)
        return out if rows else {}

    async def write_batch(self, records: Sequence[Record]) -> int:
        if not records:
            return 0
        plan = self._plan(records)
        return await self.dialect.atomic(lambda con: self._write(con, plan))

    async def write_batches(self, batches: Sequence[Sequence[Record]]) -> int:
        if not self.dialect.hands_off:
            # Every await is a turn of the event loop (busy at 50,000 services): ten
            # batches in one transaction pay the statements' round trips once.
            return await self.write_batch([r for b in batches for r in b])
        # SQLite: a plan (statements of at most 500 rows) per batch, one transaction for all
        # (in one hand-off to its thread): a page of the rollup tables that several batches
        # change is written to the WAL once, at the one COMMIT (bench/write_rate.py --spread
        # --per-call 10: -14 % CPU a check).
        plans = [self._plan(b) for b in batches if b]
        merged = _merge(plans)
        return await self.dialect.atomic(lambda con: self._write_merged(con, merged))

    async def _write_merged(self, con: Connection, merged: _Merged) -> int:
        """The plans of one call (write_batches on SQLite) in one pass per table, rows in key
        order (``_merge``): what ``_write`` of each plan in turn stores, byte for byte."""
        stored = await self.dialect.insert_checks(con, merged.rows) if merged.rows else set()
        rollups, written = merged.rollups, len(merged.rows)
        if not merged.unique or len(stored) < len(merged.rows):
            # A replay (checks stored already, or met twice in the call): each plan's rollups
            # of only its checks stored now (the first plan holding a key stores it).
            owner: dict[tuple[Any, ...], int] = {}
            for i, plan in enumerate(merged.plans):
                for row in plan.rows:
                    owner.setdefault(row[:3], i)
            folded = []
            written = 0
            for i, plan in enumerate(merged.plans):
                new = [
                    c
                    for c, r in zip(plan.checks, plan.rows, strict=True)
                    if owner[r[:3]] == i and r[:3] in stored
                ]
                written += len(new)
                folded.append(
                    plan.rollups if len(new) == len(plan.checks) else self._fold_rows(new)
                )
            rollups = _layered(folded)
        await self._write_rest(con, rollups, merged.transitions, merged.episodes)
        return written

    def _plan(self, records: Sequence[Record]) -> _Plan:
        """The rows of a batch, made here on the event loop: SQLite's thread then only runs
        the statements (Python work there would hold the GIL against the event loop)."""
        checks, transitions, episodes = split_records(records)
        t = self._time
        # The last record of an episode wins (its upsert sets every column): only that one
        # is sent, so a statement never meets one key twice.
        last = {(e.service_id, e.started_at): e for e in episodes}
        return _Plan(
            checks=checks,
            rows=[self._check_row(c) for c in checks],
            rollups=self._fold_rows(checks),
            transitions=[
                (x.service_id or "", x.status.value, x.previous.value, t(x.at)) for x in transitions
            ],
            episodes=[
                (e.service_id, t(e.started_at), t(e.ended_at), e.worst_status.value)
                + (e.cause, e.error, e.failed_checks)
                for e in last.values()
            ],
        )

    async def _write(self, con: Connection, plan: _Plan) -> int:
        """write_batch's transaction (Dialect.atomic: it awaits nothing but ``con``)."""
        new = plan.checks
        rollups = plan.rollups
        if plan.rows:
            stored = await self.dialect.insert_checks(con, plan.rows)
            if len(stored) < len(plan.rows):  # some were stored already (a replay)
                new = [c for c, r in zip(plan.checks, plan.rows, strict=True) if r[:3] in stored]
                rollups = self._fold_rows(new)
        await self._write_rest(con, rollups, plan.transitions, plan.episodes)
        return len(new)

    async def _write_rest(
        self,
        con: Connection,
        rollups: list[tuple[str, list[Row]]],
        transitions: list[tuple[Any, ...]],
        episodes: list[tuple[Any, ...]],
    ) -> None:
        """A write's statements after its checks: rollups, transitions, episodes."""
        for table, rows in rollups:
            await self.dialect.add_rollups(con, table, rows)
        if transitions:
            await self.dialect.insert_many(
                con,
                "INSERT INTO status_history (service_id, status, previous, at)",
                transitions,
                "ON CONFLICT DO NOTHING",
            )
        if episodes:
            await self.dialect.insert_many(con, _INSERT_EPISODE, episodes, _ON_EPISODE_CONFLICT)

    def _fold_rows(self, checks: Sequence[Check]) -> list[tuple[str, list[Row]]]:
        """What checks add to the stored rollups, per table: the batch folded into one partial
        rollup per key, which the database adds to its stored row (Dialect.add_rollups):
        nothing is read back or decoded."""
        lone, rest = single_rows(checks)
        days, hours, months = fold_batch(rest)
        coded: dict[date, Any] = {}  # each day encoded once

        def code(day: date) -> Any:
            d = coded.get(day)
            if d is None:
                d = coded[day] = self.dialect.day(day)
            return d

        daily: list[tuple[Any, ...]] = []
        monthly: list[tuple[Any, ...]] = []
        hourly: list[tuple[Any, ...]] = []
        for sid, day, hour, values in lone:
            d = code(day)
            daily.append((sid, d, *values))
            monthly.append((sid, code(day.replace(day=1)), *values))
            hourly.append((sid, d, hour, *values))
        for rows, deltas in ((daily, days), (monthly, months), (hourly, hours)):
            for r in deltas.values():
                values = (*_plain_values(r), counts_json(r.hist), counts_json(r.errors))
                if r.hour is None:
                    rows.append((r.service_id, code(r.day), *values, r.maintenance_s))
                else:
                    rows.append((r.service_id, code(r.day), r.hour, *values, r.maintenance_s))
            # In key order (concurrent writers lock rows in one order). A table's keys are
            # unique, so comparing rows never reaches past them.
            rows.sort()
        return [
            (table, cast("list[Row]", rows))
            for table, rows in (
                ("daily_rollups", daily),
                ("monthly_rollups", monthly),
                ("hourly_rollups", hourly),
            )
            if rows
        ]

    async def rebuild_rollups(
        self, since: date | None = None, progress: Progress | None = None
    ) -> int:
        rows = await self._fetch("SELECT min(started_at), max(started_at) FROM checks")
        if not rows or rows[0][0] is None:
            return 0
        first = self.dialect.from_time(rows[0][0]).date()
        last = self.dialect.from_time(rows[0][1]).date()
        start = max(first, since) if since else first
        total_days = (last - start).days + 1
        # Downtime runs forward from a check (rollup.py): the day before ``start`` is read
        # (not written) for its checks' downtime into ``start`` and the link to the next
        # check; what a day's checks put into later days is carried to them. A check's
        # interval is taken to be at most a day.
        previous: dict[str, Check] = {}
        carry: dict[tuple[str, date, int | None], Rollup] = {}
        read = 0
        day = start - timedelta(days=1)
        while day <= last or any(k[1] >= start for k in carry):
            checks = linked(await self._checks_of_day(day), previous) if day <= last else []
            deltas = [
                *(d for t in (False, True) for d in rollup_deltas(checks, hourly=t)),
                *carry.values(),
            ]
            carry = {}
            here: list[Rollup] = []
            for d in merge_deltas(deltas):
                if d.day > day:
                    carry[(d.service_id, d.day, d.hour)] = d
                elif d.day == day:
                    here.append(d)
            if day >= start:
                async with self.dialect.transaction() as con:
                    for table in ("daily_rollups", "hourly_rollups"):
                        await con.execute(
                            f"DELETE FROM {table} WHERE day = ?", self.dialect.day(day)
                        )
                    await self._write_rollups(con, here)
                read += len(checks)
                if progress and day <= last:
                    progress((day - start).days + 1, total_days)
            day += timedelta(days=1)
        await self.months_from_daily(start, day)
        return read

    async def _checks_of_day(self, day: date) -> list[Check]:
        lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
        found = await self._fetch(
            f"SELECT {CHECK_COLUMNS} FROM checks WHERE started_at >= ? AND started_at < ?"
            " ORDER BY started_at, service_id",
            *(self.dialect.time(lo), self.dialect.time(lo + timedelta(days=1))),
        )
        return [self._check(r) for r in found]

    async def _write_rollups(self, con: Connection, rollups: Sequence[Rollup]) -> None:
        """Insert daily (hour None) and hourly rollups whose rows were just deleted."""
        day = self.dialect.day
        daily = [r for r in rollups if r.hour is None]
        hourly = [r for r in rollups if r.hour is not None]
        if daily:
            await con.executemany(
                _UPSERT_ROLLUP["daily_rollups"],
                [(r.service_id, day(r.day), *rollup_values(r)) for r in daily],
            )
        if hourly:
            await con.executemany(
                _UPSERT_ROLLUP["hourly_rollups"],
                [(r.service_id, day(r.day), r.hour, *rollup_values(r)) for r in hourly],
            )

    async def months_from_daily(self, first: date, last: date) -> None:
        """Recompute the monthly rollups of the months from ``first`` to ``last`` from the
        daily ones (after a rebuild)."""
        month = first.replace(day=1)
        while month <= last:
            nxt = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
            merged: dict[str, Rollup] = {}
            for r in await self.daily_rollups(month, nxt - timedelta(days=1)):
                merged.setdefault(r.service_id, Rollup(service_id=r.service_id, day=month)).merge(r)
            async with self.dialect.transaction() as con:
                m = self.dialect.day(month)
                await con.execute("DELETE FROM monthly_rollups WHERE day = ?", m)
                await con.executemany(
                    _UPSERT_ROLLUP["monthly_rollups"],
                    [(r.service_id, m, *rollup_values(r)) for r in merged.values()],
                )
            month = nxt

    # -- rollups ----------------------------------------------------------------------------

    async def _rollups(
        self, sql: str, args: list[Any], service_ids: Sequence[str] | None
    ) -> list[Rollup]:
        """Daily or monthly rollups: ``sql`` selects service_id, day, ROLLUP_COLUMNS."""
        cond, params = self._of_services("service_id", service_ids)
        rows = await self._fetch(f"{sql}{cond} ORDER BY service_id, day", *args, *params)
        day = self.dialect.from_day
        return [rollup_from_row(str(r[0]), day(r[1]), None, r[2:]) for r in rows]

    async def daily_rollups(
        self,
        since: date,
        until: date | None = None,
        service_ids: Sequence[str] | None = None,
        *,
        latency_histogram: bool = True,
        error_counts: bool = True,
    ) -> list[Rollup]:
        cols = _rollup_cols(latency_histogram, error_counts)
        sql = f"SELECT service_id, day, {cols} FROM daily_rollups WHERE day >= ?"
        args = [self.dialect.day(since)]
        if until is not None:
            sql += " AND day <= ?"
            args.append(self.dialect.day(until))
        return await self._rollups(sql, args, service_ids)

    def _daily_counts_sql(
        self,
        since: date,
        until: date,
        after: str | None,
        limit: int,
        service_ids: Sequence[str] | None,
    ) -> tuple[str, list[Any]]:
        """daily_counts' statement and its parameters."""
        # The database computes the figures and packs a service's days in one value, four
        # big-endian 32-bit numbers a day: bytes on PostgreSQL (int4send), a text of hex
        # digits on SQLite (bytes.fromhex): a row (and a date to parse) a day took ~2.5 µs
        # of the daemon's CPU, JSON text ~0.6 µs, this ~0.02 µs.
        # ``service_id > ?`` always: with it SQLite walks the primary key, service by
        # service, rather than the day index and a sort of every row.
        d = self.dialect.day
        postgres = self.backend == "postgres"
        # The days of the named services in the primary key's order, unsorted: a day out of
        # order is added by itself (PastDays.add_packed)
        packed = _packed_days(postgres, order=service_ids is None)
        if service_ids is None:
            sql = (
                f"SELECT service_id, {packed} FROM daily_rollups"
                " WHERE day >= ? AND day <= ? AND service_id > ?"
                " GROUP BY service_id ORDER BY service_id LIMIT ?"
            )
            args: list[Any] = [d(since), d(since), d(until), after or "", limit]
        elif postgres:
            # A service at a time through the primary key (2,000 services × 89 days: about
            # half the server's time of a page by keyset, whose rows an aggregate sorted)
            sql = (
                f"SELECT u.id, (SELECT {packed} FROM daily_rollups"
                " WHERE service_id = u.id AND day >= ? AND day <= ?)"
                " FROM unnest(CAST(? AS text[])) AS u(id)"
            )
            args = [d(since), d(since), d(until), list(service_ids)]
        else:
            cond, params = self.dialect.any_of("service_id", service_ids)
            sql = (
                f"SELECT service_id, {packed} FROM daily_rollups"
                f" WHERE day >= ? AND day <= ? AND {cond} GROUP BY service_id"
            )
            args = [d(since), d(since), d(until), *params]
        return sql, args

    async def daily_counts(
        self,
        since: date,
        until: date,
        *,
        after: str | None = None,
        limit: int = 2000,
        service_ids: Sequence[str] | None = None,
    ) -> list[tuple[str, array[int]]]:
        sql, args = self._daily_counts_sql(since, until, after, limit, service_ids)
        rows = await self._fetch(sql, *args)
        out = []
        for sid, packed_days in rows:
            if packed_days is None:
                continue  # a named service without a day
            out.append((str(sid), _unpacked(packed_days)))
        return out

    async def bar_counts(
        self, since: date, until: date, service_ids: Sequence[str]
    ) -> list[tuple[str, array[int]]]:
        # A page of a restart: a look at which summaries are missing or old (none), then
        # one statement (one snapshot) reads each service's summary (bar_summaries,
        # migration 0015) and its days after it: ~one row a service rather than one a day.
        # Missing or old summaries are made (or extended) first, under a lock.
        last = until - timedelta(days=BAR_OPEN_DAYS)
        if last < since or not service_ids:
            return await self.daily_counts(since, until, service_ids=service_ids)
        stale = await self._stale_summaries(since, until, last, service_ids)
        # No summary for a service without a row in the days it would cover (a new
        # database's 50,000 services: writing and reading 50,000 empty ones took 1.5 s of a
        # first start and 0.7 s of every restart): it is looked at again at the next start.
        missing = [sid for sid, usable in stale if not usable]
        made: list[tuple[str, array[int]]] = []
        if missing and self.backend == "sqlite":
            # The days read to make them are the days returned: not read twice. It leaves
            # out the services without such a row itself, from the days it reads anyway
            # (looking them up first took 0.37 s of a first start's SQLite thread, issue 14).
            made = await self._summarize_rows(since, until, last, missing)
        else:
            missing = await self._with_rows(since, last, missing)
            if missing:
                await self._summarize(since, until, last, missing)
        extend = [sid for sid, usable in stale if usable]
        if extend:
            await self._summarize(since, until, last, extend)
        if missing and self.backend == "sqlite":
            done = set(missing)
            rest = [sid for sid in service_ids if sid not in done]
            return made + (await self._summarized_counts(since, until, rest) if rest else [])
        return await self._summarized_counts(since, until, service_ids)

    async def _with_rows(self, since: date, last: date, service_ids: Sequence[str]) -> list[str]:
        """Those of ``service_ids`` with a daily row from ``since`` to ``last`` (an index
        seek each)."""
        if not service_ids:
            return []
        named, uid, ids = self._named(service_ids)
        d = self.dialect.day
        rows = await self._fetch(
            f"SELECT {uid} FROM {named} WHERE EXISTS (SELECT 1 FROM daily_rollups r"
            f" WHERE r.service_id = {uid} AND r.day >= ? AND r.day <= ?)",
            ids,
            d(since),
            d(last),
        )
        return [str(r[0]) for r in rows]

    def _summary_join(self, ids: str) -> str:
        """A LEFT JOIN of each service of ``ids`` (a column) to its usable summary: from
        ``since`` (or before) to a day from the one before ``since`` to ``until`` (its three
        parameters: since, since, until)."""
        if self.backend == "postgres":
            return (
                f" LEFT JOIN bar_summaries s ON s.service_id = {ids}"
                " AND s.first_day <= CAST(? AS date)"
                " AND s.last_day >= CAST(? AS date) - 1 AND s.last_day <= ?"
            )
        return (
            f" LEFT JOIN bar_summaries s ON s.service_id = {ids} AND s.first_day <= ?"
            " AND s.last_day >= date(?, '-1 day') AND s.last_day <= ?"
        )

    def _named(self, service_ids: Sequence[str]) -> tuple[str, str, Any]:
        """The named services as a table ``u`` (FROM clause, id column, parameter)."""
        if self.backend == "postgres":
            return "unnest(CAST(? AS text[])) AS u(id)", "u.id", list(service_ids)
        return "json_each(?) AS u", "u.value", orjson.dumps(list(service_ids)).decode()

    async def _stale_summaries(
        self, since: date, until: date, last: date, service_ids: Sequence[str]
    ) -> list[tuple[str, bool]]:
        """The services whose usable summary is missing (False) or ends before ``last``
        (True)."""
        d = self.dialect.day
        named, uid, ids = self._named(service_ids)
        rows = await self._fetch(
            f"SELECT {uid}, s.service_id FROM {named}{self._summary_join(uid)}"
            " WHERE s.service_id IS NULL OR s.last_day < ?",
            ids,
            *(d(since), d(since), d(until), d(last)),
        )
        return [(str(r[0]), r[1] is not None) for r in rows]

    async def _summarize_rows(
        self, since: date, until: date, last: date, service_ids: Sequence[str]
    ) -> list[tuple[str, array[int]]]:
        """SQLite: make the summaries of ``service_ids`` (``since`` to ``last``) from their
        rows read as daily_counts reads them, the missing days filled here, in one write
        transaction (no row changes meanwhile), none for a service without a row from
        ``since`` to ``last``; returns their days from ``since`` to ``until`` as daily_counts
        gives them. SQLite looked each day of each service up by its key for
        ``_summarize``'s series (24 s of a first start's CPU with 50,000 services × 89 days,
        where the read alone took 13 s). The days returned are not read again
        (``_summarized_counts``: ~0.7 s of the first start's CPU).

        Not read on both connections at once, half of the services each: two threads
        took twice the CPU for the same wall time (SQLite's allocations share a mutex)."""
        n = (last - since).days + 1
        base = (since - date.fromisoformat(_SUMMARY_EPOCH)).days
        read_days = (until - since).days + 1
        offsets, empty = _dense_run(read_days)
        absolute = array("i", range(base, base + read_days))
        d = self.dialect.day
        async with self.dialect.transaction() as con:
            sql, args = self._daily_counts_sql(since, until, None, 0, service_ids)
            # The offsets from _SUMMARY_EPOCH (the summaries' own), not from ``since``: a
            # service with a row every day (most) has its summary's text in the text read
            # (its first ``n`` days), no second array, byte swap and hex encoding of it
            # (~0.13 of the 1.4 CPU-s of 10,000 services' summaries). The days returned get
            # their offsets from ``since`` back.
            args[0] = _SUMMARY_EPOCH
            read: list[tuple[str, array[int]]] = []
            rows = []
            for row_id, packed in await con.fetch(sql, *args):
                if not packed:
                    continue  # a named service without a day
                sid, days = str(row_id), _unpacked(packed)
                m = len(days) // 4
                if days[0::4] == absolute[:m]:  # every day from ``since`` on, in order
                    days[0::4] = offsets[:m]
                else:
                    days[0::4] = array("i", [o - base for o in days[0::4]])
                read.append((sid, days))
                if m >= n and days[0 : 4 * n : 4] == offsets[:n]:
                    text = packed[: 32 * n]
                elif min(days[0::4]) >= n:
                    continue  # its rows are of the days after ``last`` only: no summary
                else:  # a day missing: the days of the rows, zeros for the others
                    dense = array("i", empty[: 4 * n])
                    for k in range(0, len(days), 4):
                        if days[k] < n:
                            o = 4 * days[k]
                            dense[o + 1 : o + 4] = days[k + 1 : k + 4]
                    dense[0::4] = absolute[:n]
                    if sys.byteorder == "little":
                        dense.byteswap()
                    text = dense.tobytes().hex()
                rows.append((sid, d(since), d(last), text))
            await con.executemany(
                "INSERT INTO bar_summaries (service_id, first_day, last_day, packed)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (service_id) DO UPDATE SET"
                " first_day = excluded.first_day, last_day = excluded.last_day,"
                " packed = excluded.packed",
                rows,
            )
        return read

    async def _summarized_counts(
        self, since: date, until: date, service_ids: Sequence[str]
    ) -> list[tuple[str, array[int]]]:
        """bar_counts' read, in one statement (one snapshot): each service's summary from
        ``since`` on and its days after the summary (from ``since`` without one)."""
        d = self.dialect.day
        postgres = self.backend == "postgres"
        named, uid, ids = self._named(service_ids)
        tail = _packed_days(postgres, order=False)
        summary = _SUMMARY_FROM[self.backend]
        if postgres:
            after = "coalesce(s.last_day, CAST(? AS date) - 1)"
        else:
            after = "coalesce(s.last_day, date(?, '-1 day'))"
        rows = await self._fetch(
            f"SELECT {uid}, {summary}, (SELECT {tail} FROM daily_rollups"
            f" WHERE service_id = {uid} AND day > {after} AND day <= ?)"
            f" FROM {named}{self._summary_join(uid)}",
            *(d(since), d(since), d(since), d(until), ids, d(since), d(since), d(until)),
        )
        out: list[tuple[str, array[int]]] = []
        for sid, summary_days, tail_days in rows:
            days = _unpacked(summary_days) if summary_days else None
            if days is not None:
                offsets, empty = _dense_run(len(days) // 4)
                days[0::4] = offsets  # from ``since`` (stored: from _SUMMARY_EPOCH)
                if days == empty:
                    days = None  # not a day counted: as if no row
            if tail_days is not None:
                more = _unpacked(tail_days)
                days = more if days is None else days + more
            if days is not None:
                out.append((str(sid), days))
        return out

    async def _summarize(
        self, since: date, until: date, last: date, service_ids: Sequence[str]
    ) -> None:
        """Make the summaries of ``service_ids`` cover ``since`` to ``last``: a usable one
        (``_summary_join``) keeps its days from ``since`` on and gets the days after it up
        to ``last``, a missing or unusable one is made from ``daily_rollups``. Under a SHARE
        lock of daily_rollups (SQLite: the write lock): no daily row changes while they are
        computed, and a row changed after the commit deletes its summary (migration 0015's
        triggers): a summary never disagrees with the rows."""
        d = self.dialect.day
        postgres = self.backend == "postgres"
        named, uid, ids = self._named(service_ids)
        entry = _day_entry(postgres, "g.d", "r.", dense=True)
        kept = _SUMMARY_FROM[self.backend]
        rows = f"LEFT JOIN daily_rollups r ON r.service_id = {uid} AND r.day = g.d"
        if postgres:  # the days after the summary (or from ``since``) to ``last``
            start = "coalesce(s.last_day + 1, CAST(? AS date))"
            # A service with a row every day (most): its rows in day order through the
            # primary key, one range scan. Else (a day missing) the series of every day
            # and a look-up each, as coalesce evaluates its second value only when the
            # first is NULL. The first start after the upgrade to 0015 made 50,000 × 89
            # days by the series alone: 5.4 s of the server's CPU, by the range ~2 s.
            whole = (
                f"(SELECT CASE WHEN count(*) = CAST(? AS date) - {start} + 1 THEN"
                f" string_agg({_day_entry(True, 'day', dense=True)}, ''::bytea ORDER BY day)"
                f" END FROM daily_rollups WHERE service_id = {uid} AND day >= {start}"
                " AND day <= ?)"
            )
            dense = (
                f"coalesce({whole}, (SELECT string_agg({entry}, ''::bytea ORDER BY g.d) FROM"
                f" (SELECT CAST(t AS date) AS d FROM generate_series(CAST({start} AS"
                " timestamp), CAST(CAST(? AS date) AS timestamp), interval '1 day')"
                f" AS t) AS g {rows}))"
            )
            empty, cte, day = "''::bytea", "", "CAST(? AS date)"
            days_args: tuple[Any, ...] = (
                *(d(last), d(since), d(since), d(last)),  # whole
                *(d(since), d(last)),  # the series
            )
        else:  # in day order, from a series of every day from ``since`` to ``last``
            dense = (
                f"(SELECT group_concat(e, '') FROM (SELECT {entry} AS e FROM days AS g {rows}"
                " WHERE g.d > coalesce(s.last_day, date(?, '-1 day')) ORDER BY g.d))"
            )
            cte = (
                "WITH RECURSIVE days(d) AS (SELECT ? UNION ALL"
                " SELECT date(d, '+1 day') FROM days WHERE d < ?) "
            )
            empty, day = "''", "?"
            days_args = (d(since),)
        sql = (
            f"{cte}INSERT INTO bar_summaries (service_id, first_day, last_day, packed)"
            f" SELECT {uid}, {day}, {day}, coalesce({kept}, {empty}) || coalesce({dense},"
            f" {empty}) FROM {named}{self._summary_join(uid)}"
            " WHERE s.service_id IS NULL OR s.last_day < ?"
            " ON CONFLICT (service_id) DO UPDATE SET first_day = excluded.first_day,"
            " last_day = excluded.last_day, packed = excluded.packed"
        )
        args = [
            *(() if postgres else (d(since), d(last))),  # the series
            *(d(since), d(last), d(since)),
            *days_args,
            ids,
            *(d(since), d(since), d(until)),  # _summary_join
            d(last),
        ]
        async with self.dialect.transaction() as con:
            if postgres:
                await con.execute("LOCK TABLE daily_rollups IN SHARE MODE")
            await con.execute(sql, *args)

    async def monthly_rollups(
        self,
        first: date,
        last: date,
        service_ids: Sequence[str] | None = None,
        *,
        error_counts: bool = True,
        by_service: bool = True,
    ) -> list[Rollup]:
        cols = _rollup_cols(True, error_counts)
        sql = f"SELECT service_id, day, {cols} FROM monthly_rollups WHERE day >= ? AND day <= ?"
        args = [self.dialect.day(first), self.dialect.day(last)]
        if by_service:
            return await self._rollups(sql, args, service_ids)
        # Issue 14: in the month's order only (the month index's order, no sort). Sorting
        # 1,000 rows with their histograms by service doubled PostgreSQL's execution (2.0
        # against 1.0 ms, EXPLAIN ANALYZE; up to 5.8 ms on a loaded machine).
        cond, params = self._of_services("service_id", service_ids)
        rows = await self._fetch(f"{sql}{cond} ORDER BY day", *args, *params)
        day = self.dialect.from_day
        return [rollup_from_row(str(r[0]), day(r[1]), None, r[2:]) for r in rows]

    def _of_services(self, column: str, service_ids: Sequence[str] | None) -> tuple[str, list[Any]]:
        """`` AND column = ANY(...)`` and its parameters; nothing for None (every service).

        A report of every service passes None and drops the rows of others itself: after
        five calls asyncpg's prepared statement runs PostgreSQL's generic plan, where an
        ``= ANY($n)`` of 1,000 ids is a linear search per row (the days below target of a
        month took 480 ms that way, 29 ms planned for the values)."""
        if service_ids is None:
            return "", []
        cond, params = self.dialect.any_of(column, service_ids)
        return f" AND {cond}", params

    async def days_below(
        self, service_ids: Sequence[str] | None, first: date, last: date, target: float
    ) -> list[tuple[str, date]]:
        if service_ids is not None and not service_ids:
            return []
        cond, params = self._of_services("service_id", service_ids)
        # Below a target under 100 % means a failed check (checks = up + degraded + down +
        # maintenance): the days with one have an index of their own (migration 0013).
        failed = " AND down > 0" if target <= 100 else ""
        rows = await self._fetch(
            f"SELECT service_id, day FROM daily_rollups WHERE day >= ? AND day <= ?{failed}"
            " AND checks > maintenance AND (up + degraded) * 100.0"
            f" < CAST(? AS DOUBLE PRECISION) * (checks - maintenance){cond}"
            " ORDER BY service_id, day",
            *(self.dialect.day(first), self.dialect.day(last), target, *params),
        )
        return [(str(r[0]), self.dialect.from_day(r[1])) for r in rows]

    async def hourly_rollups(
        self, service_id: str, since: datetime, until: datetime | None = None
    ) -> list[Rollup]:
        last = until.astimezone(UTC).date() if until else date.max
        rows = await self._fetch(
            f"SELECT service_id, day, hour, {_RCOLS} FROM hourly_rollups WHERE service_id = ?"
            " AND day >= ? AND day <= ? ORDER BY day, hour",
            *(service_id, self.dialect.day(since.astimezone(UTC).date()), self.dialect.day(last)),
        )
        out = []
        for r in rows:
            ro = rollup_from_row(str(r[0]), self.dialect.from_day(r[1]), int(r[2]), r[3:])
            if ro.start >= since and (until is None or ro.start < until):
                out.append(ro)
        return out

    async def hourly_rollups_of(
        self, service_ids: Sequence[str] | None, since: datetime, until: datetime
    ) -> list[Rollup]:
        if service_ids is not None and not service_ids:
            return []
        cond, params = self._of_services("service_id", service_ids)
        rows = await self._fetch(
            f"SELECT service_id, day, hour, {_rollup_cols(True, False)} FROM hourly_rollups"
            f" WHERE day >= ? AND day <= ?{cond} ORDER BY service_id, day, hour",
            *(
                self.dialect.day(since.astimezone(UTC).date()),
                self.dialect.day(until.astimezone(UTC).date()),
                *params,
            ),
        )
        out = []
        read_day = self.dialect.from_day
        for r in rows:
            ro = rollup_from_row(str(r[0]), read_day(r[1]), int(r[2]), r[3:])
            if since <= ro.start < until:
                out.append(ro)
        return out

    async def hourly_net(
        self,
        service_ids: Sequence[str] | None,
        plus: Sequence[tuple[date, int, int]],
        minus: Sequence[tuple[date, int, int]],
    ) -> list[NetRow]:
        if not (plus or minus) or (service_ids is not None and not service_ids):
            return []
        if self.backend != "postgres":
            return _net_rows(await self._fetch(*self._sqlite_net(service_ids, plus, minus)))
        cond, params = self._of_services("service_id", service_ids)

        def part(sign: int) -> str:
            # A histogram's object with its counts negated: {"12":3} -> {"12":-3}.
            hist = "latency_hist" if sign > 0 else "replace(latency_hist, ':', ':-')"
            return (
                f"SELECT service_id, {sign} AS s, checks, up, degraded, down, maintenance,"
                " downtime_s, latency_count, latency_sum_us, latency_min_ms, latency_max_ms,"
                f" {hist} AS hist, maintenance_s FROM {hours}{cond}"
            )

        hours = "hourly_rollups WHERE day = ? AND hour >= ? AND hour < ?"

        # Added up by the database, a row a service: the hours added less those taken
        # away; the histograms' objects joined into one (repeated buckets add up when read,
        # Rollup.hist_from_json); the latency min and max of each side apart.
        rows = await self._fetch(
            "SELECT service_id, sum(s * checks), sum(s * up), sum(s * degraded),"
            " sum(s * down), sum(s * maintenance), sum(s * downtime_s),"
            " sum(s * latency_count), CAST(sum(s * latency_sum_us) AS BIGINT),"
            " min(CASE WHEN s > 0 THEN latency_min_ms END),"
            " max(CASE WHEN s > 0 THEN latency_max_ms END),"
            " '{' || coalesce(string_agg(NULLIF(substr(hist, 2, length(hist) - 2), ''), ','), '')"
            " || '}', sum(s * maintenance_s),"
            " sum(CASE WHEN s < 0 THEN latency_count ELSE 0 END),"
            " min(CASE WHEN s < 0 THEN latency_min_ms END),"
            " max(CASE WHEN s < 0 THEN latency_max_ms END)"
            f" FROM ({' UNION ALL '.join([part(1)] * len(plus) + [part(-1)] * len(minus))})"
            " AS h GROUP BY service_id",
            *(v for day, a, b in (*plus, *minus) for v in (self.dialect.day(day), a, b, *params)),
        )
        return _net_rows(rows)

    def _sqlite_net(
        self,
        service_ids: Sequence[str] | None,
        plus: Sequence[tuple[date, int, int]],
        minus: Sequence[tuple[date, int, int]],
    ) -> tuple[Any, ...]:
        """SQLite's ``hourly_net`` statement and its parameters: the services in the order
        of their index (CROSS JOIN keeps it; the report reads only configured services,
        all in ``services``), for each its ranges of hours (a row each: the sign, the first
        (day, hour) and the one after the last) by the primary key, grouped in that order
        (issue 14: the union of the two sides was grouped by a temporary B-tree, ~20 %
        of the statement)."""
        cond, params = self._of_services("s.id", service_ids)
        ranges = " UNION ALL ".join(
            ["SELECT ? AS x, ? AS d0, ? AS h0, ? AS d1, ? AS h1"]
            + ["SELECT ?, ?, ?, ?, ?"] * (len(plus) + len(minus) - 1)
        )
        # A histogram's object without its braces, its counts negated on the side taken
        # away ({"12":3} -> "12":-3), once a row.
        inner = "substr(latency_hist, 2, length(latency_hist) - 2)"
        hist = f"CASE WHEN r.x > 0 THEN {inner} ELSE replace({inner}, ':', ':-') END"
        sql = (
            "SELECT s.id, sum(r.x * checks), sum(r.x * up), sum(r.x * degraded),"
            " sum(r.x * down), sum(r.x * maintenance), sum(r.x * downtime_s),"
            " sum(r.x * latency_count), CAST(sum(r.x * latency_sum_us) AS BIGINT),"
            " min(CASE WHEN r.x > 0 THEN latency_min_ms END),"
            " max(CASE WHEN r.x > 0 THEN latency_max_ms END),"
            f" '{{' || coalesce(group_concat(NULLIF({hist}, ''), ','), '') || '}}',"
            " sum(r.x * maintenance_s),"
            " sum(CASE WHEN r.x < 0 THEN latency_count ELSE 0 END),"
            " min(CASE WHEN r.x < 0 THEN latency_min_ms END),"
            " max(CASE WHEN r.x < 0 THEN latency_max_ms END)"
            f" FROM services s CROSS JOIN ({ranges}) AS r CROSS JOIN hourly_rollups h"
            " ON h.service_id = s.id AND (h.day, h.hour) >= (r.d0, r.h0)"
            f" AND (h.day, h.hour) < (r.d1, r.h1) WHERE 1 = 1{cond} GROUP BY s.id"
        )
        day = self.dialect.day
        args = [
            v
            for sign, side in ((1, plus), (-1, minus))
            for d, a, b in side
            for v in (sign, day(d), a, day(d), b)
        ]
        return (sql, *args, *params)

    async def hourly_extremes(
        self, service_ids: Sequence[str] | None, since: datetime, until: datetime
    ) -> dict[str, tuple[float | None, float | None]]:
        if service_ids is not None and not service_ids:
            return {}
        lo, hi = since.astimezone(UTC), until.astimezone(UTC)
        cond, params = self._of_services("service_id", service_ids)
        day = self.dialect.day
        # The whole UTC days by their daily rollup, the hours of the others by the primary
        # key: a row a day, not one an hour (issue 14: a local month's ~720 hours a service,
        # on the report's path after the hours at the ends; ~10 ms on PostgreSQL). No
        # histogram, one row a service.
        cols = "service_id, latency_min_ms AS lo, latency_max_ms AS hi"
        parts: list[tuple[str, list[Any]]] = []
        if lo.date() == hi.date():
            parts.append(
                (
                    f"SELECT {cols} FROM hourly_rollups WHERE day = ? AND hour >= ? AND hour < ?",
                    [day(lo.date()), lo.hour, hi.hour],
                )
            )
        else:
            first, last = lo.date(), hi.date() - timedelta(days=1)
            if lo.hour:
                parts.append(
                    (
                        f"SELECT {cols} FROM hourly_rollups WHERE day = ? AND hour >= ?",
                        [day(first), lo.hour],
                    )
                )
                first += timedelta(days=1)
            if first <= last:
                parts.append(
                    (
                        f"SELECT {cols} FROM daily_rollups WHERE day >= ? AND day <= ?",
                        [day(first), day(last)],
                    )
                )
            if hi.hour:
                parts.append(
                    (
                        f"SELECT {cols} FROM hourly_rollups WHERE day = ? AND hour < ?",
                        [day(hi.date()), hi.hour],
                    )
                )
        if not parts:
            return {}
        rows = await self._fetch(
            "SELECT service_id, min(lo), max(hi) FROM"
            f" ({' UNION ALL '.join(sql + cond for sql, _ in parts)}) AS x GROUP BY service_id",
            *(v for _, args in parts for v in (*args, *params)),
        )
        return {str(r[0]): (r[1], r[2]) for r in rows}

    async def local_days_failed(
        self,
        service_ids: Sequence[str] | None,
        since: datetime,
        until: datetime,
        cuts: Sequence[tuple[date, int, int, int]],
    ) -> list[tuple[str, date, int, int, int, int, int]]:
        if service_ids is not None and not service_ids:
            return []
        lo, hi = since.astimezone(UTC), until.astimezone(UTC)
        first, last = lo.date(), (hi - timedelta(hours=1)).date()
        cond, params = self._of_services("d.service_id", service_ids)
        # The local day of an hour, as a day number: the UTC day's number plus the shift of
        # its segment of ``cuts`` (literals: dates and small integers made by the caller).
        shift = "0"
        for day, cut, before, after in cuts:
            part = f"CASE WHEN h.hour >= {int(cut)} THEN {int(after)} ELSE {int(before)} END"
            shift = f"CASE WHEN h.day >= '{day.isoformat()}' THEN {part} ELSE {shift} END"
        if self.backend == "postgres":
            epoch = date(1970, 1, 1).toordinal()
        else:
            epoch = -1721424  # julianday's whole part of a day is its ordinal + 1721424
        spans = _local_day_spans(lo, hi, cuts, epoch)
        if spans is not None:
            return await self._local_days_failed_by_spans(
                service_ids, lo, hi, first, last, shift, spans, epoch
            )
        if self.backend == "postgres":
            near = (
                "SELECT DISTINCT d.service_id AS sid, d.day + k.o AS day FROM daily_rollups d"
                " CROSS JOIN (VALUES (-1), (0), (1)) AS k(o)"
            )
            number = f"(h.day - DATE '1970-01-01') + {shift}"
        else:
            near = (
                "SELECT DISTINCT d.service_id AS sid, date(d.day, k.o) AS day FROM daily_rollups d"
                " CROSS JOIN (SELECT '-1 day' AS o UNION ALL SELECT '+0 day'"
                " UNION ALL SELECT '+1 day') AS k"
            )
            number = f"CAST(julianday(h.day) AS INTEGER) + {shift}"
        # The days with a failed check by their own index (migration 0013), each with its
        # neighbours once; their hours by the primary key, summed by local day in the
        # database (no histogram, a row a local day with a failed check).
        hours = (
            "SELECT h.service_id, h.day, h.hour, h.checks, h.up, h.degraded, h.down,"
            " h.maintenance FROM hourly_rollups h WHERE h.service_id = f.sid AND h.day = f.day"
            " AND h.day >= ? AND h.day <= ? AND (h.day > ? OR h.hour >= ?)"
            " AND (h.day < ? OR h.hour < ?)"
        )
        if self.backend == "postgres":
            # Index seeks a (service, day): PostgreSQL's estimate of the days with a failed
            # check is low, and a hash join read every hourly row of the period (~150 ms
            # for 1,000 services x a month); OFFSET 0 keeps the subquery from being merged
            # into such a join.
            # Each (service, day)'s hours summed by local day in its subquery (at most two
            # rows): the outer grouping sorts ~4,000 rows, not every hour (~25,000; a
            # third of the statement's time).
            sums = ", ".join(
                f"CAST(sum(h.{c}) AS INTEGER) AS {c}"
                for c in ("checks", "up", "degraded", "down", "maintenance")
            )
            hours = hours.replace(
                "SELECT h.service_id, h.day, h.hour, h.checks, h.up, h.degraded, h.down,"
                " h.maintenance FROM",
                f"SELECT f.sid AS service_id, {number} AS n, {sums} FROM",
            )
            join = f"f CROSS JOIN LATERAL ({hours} GROUP BY n OFFSET 0) AS h"
            number = "h.n"
        else:
            # The hours of a (service, day) by the primary key: SQLite took the day index
            # and looked each row up in the table (1.4x the time); a range of (day, hour)
            # only the primary key serves. The days outside [first, last] had no hour kept.
            join = (
                "(SELECT sid, day FROM f WHERE day >= ? AND day <= ?) AS f JOIN hourly_rollups h"
                " ON h.service_id = f.sid AND (h.day, h.hour) >= (f.day, 0)"
                " AND (h.day, h.hour) < (f.day, 24) AND (h.day > ? OR h.hour >= ?)"
                " AND (h.day < ? OR h.hour < ?)"
            )
        rows = await self._fetch(
            f"WITH f AS ({near} WHERE d.day >= ? AND d.day <= ? AND d.down > 0{cond})"
            f" SELECT h.service_id, {number} AS n, sum(h.checks), sum(h.up), sum(h.degraded),"
            f" sum(h.down), sum(h.maintenance) FROM {join}"
            " GROUP BY h.service_id, n HAVING sum(h.down) > 0",
            *(self.dialect.day(first), self.dialect.day(last), *params),
            *(self.dialect.day(first), self.dialect.day(last)),
            *(self.dialect.day(first), lo.hour, self.dialect.day(hi.date()), hi.hour),
        )
        return [
            (str(r[0]), date.fromordinal(int(r[1]) + epoch), *(int(v) for v in r[2:7]))  # type: ignore[misc]
            for r in rows
        ]

    async def _local_days_failed_by_spans(
        self,
        service_ids: Sequence[str] | None,
        lo: datetime,
        hi: datetime,
        first: date,
        last: date,
        shift: str,
        spans: list[tuple[int, date, int, date, int]],
        epoch: int,
    ) -> list[tuple[str, date, int, int, int, int, int]]:
        """``local_days_failed`` in two steps inside one statement (issue 14): the local
        days of the failed hours (the hours with a failed check of the UTC days with one,
        by migration 0013's index and the primary key), then the hours of those local days
        only, each a primary-key range (``spans``: a local day's number, its first hour
        and the hour after its last, within the period). The neighbours of each failed UTC
        day were read whole before: ~3 times the hours."""
        postgres = self.backend == "postgres"
        cond, params = self._of_services("d.service_id", service_ids)
        sums = ", ".join(
            f"CAST(sum(h.{c}) AS INTEGER) AS {c}" if postgres else f"sum(h.{c})"
            for c in ("checks", "up", "degraded", "down", "maintenance")
        )
        if postgres:
            day_of = "DATE '{}'".format
            number = f"(h.day - DATE '1970-01-01') + {shift}"
            failed = (
                f"SELECT DISTINCT d.sid, h.n FROM d CROSS JOIN LATERAL (SELECT {number} AS n"
                " FROM hourly_rollups h WHERE h.service_id = d.sid AND h.day = d.day"
                " AND h.down > 0 AND (h.day > ? OR h.hour >= ?) AND (h.day < ? OR h.hour < ?)"
                " OFFSET 0) AS h"
            )
            body = (
                f"SELECT f.sid, f.n, s.checks, s.up, s.degraded, s.down, s.maintenance"
                f" FROM f JOIN l ON l.n = f.n CROSS JOIN LATERAL (SELECT {sums}"
                " FROM hourly_rollups h WHERE h.service_id = f.sid"
                " AND (h.day, h.hour) >= (l.d0, l.h0) AND (h.day, h.hour) < (l.d1, l.h1)"
                " OFFSET 0) AS s WHERE s.down > 0"
            )
        else:
            day_of = "'{}'".format
            number = f"CAST(julianday(h.day) AS INTEGER) + {shift}"
            failed = (
                f"SELECT DISTINCT d.sid AS sid, {number} AS n FROM d JOIN hourly_rollups h"
                " ON h.service_id = d.sid AND (h.day, h.hour) >= (d.day, 0)"
                " AND (h.day, h.hour) < (d.day, 24) AND (h.day > ? OR h.hour >= ?)"
                " AND (h.day < ? OR h.hour < ?) WHERE h.down > 0"
            )
            body = (
                f"SELECT f.sid, f.n, {sums} FROM f CROSS JOIN l ON l.n = f.n"
                " JOIN hourly_rollups h ON h.service_id = f.sid"
                " AND (h.day, h.hour) >= (l.d0, l.h0) AND (h.day, h.hour) < (l.d1, l.h1)"
                " GROUP BY f.sid, f.n HAVING sum(h.down) > 0"
            )
        # Literals made here: day numbers, dates and hours.
        values = ", ".join(
            f"({int(n)}, {day_of(d0.isoformat())}, {int(h0)}, {day_of(d1.isoformat())}, {int(h1)})"
            for n, d0, h0, d1, h1 in spans
        )
        rows = await self._fetch(
            "WITH d AS (SELECT d.service_id AS sid, d.day AS day FROM daily_rollups d"
            f" WHERE d.day >= ? AND d.day <= ? AND d.down > 0{cond}),"
            f" l(n, d0, h0, d1, h1) AS (VALUES {values}), f AS ({failed}) {body}",
            *(self.dialect.day(first), self.dialect.day(last), *params),
            *(self.dialect.day(first), lo.hour, self.dialect.day(hi.date()), hi.hour),
        )
        return [
            (str(r[0]), date.fromordinal(int(r[1]) + epoch), *(int(v) for v in r[2:7]))  # type: ignore[misc]
            for r in rows
        ]

    async def service_rollups(
        self,
        service_id: str,
        hours_of: date,
        hours_since: date,
        daily_since: date,
        month: date | None,
    ) -> tuple[list[Rollup], list[Rollup], list[Rollup]]:
        day = self.dialect.day
        # One statement for service.get (each round trip is a wake-up of the reader thread or
        # a PostgreSQL connection of the pool): 0 hourly, 1 daily, 2 monthly rows.
        # Each part a range of the primary key (an OR of the two hourly ranges read every
        # hourly row of the service).
        sql = (
            f"SELECT 0, day, hour, {_RCOLS} FROM hourly_rollups WHERE service_id = ?"
            " AND day >= ?"
            f" UNION ALL SELECT 1, day, NULL, {_RCOLS} FROM daily_rollups"
            " WHERE service_id = ? AND day >= ?"
        )
        args: list[Any] = [service_id, day(hours_since), service_id, day(daily_since)]
        if hours_of < hours_since:
            sql += (
                f" UNION ALL SELECT 0, day, hour, {_RCOLS} FROM hourly_rollups"
                " WHERE service_id = ? AND day = ?"
            )
            args += [service_id, day(hours_of)]
        if month is not None:
            sql += (
                f" UNION ALL SELECT 2, day, NULL, {_RCOLS} FROM monthly_rollups"
                " WHERE service_id = ? AND day = ?"
            )
            args += [service_id, day(month)]
        out: tuple[list[Rollup], list[Rollup], list[Rollup]] = ([], [], [])
        read_day = self.dialect.from_day
        for r in await self._fetch(sql + " ORDER BY 1, 2, 3", *args):
            hour = None if r[2] is None else int(r[2])
            out[int(r[0])].append(rollup_from_row(service_id, read_day(r[1]), hour, r[3:]))
        return out

    async def slo_seed(
        self, hours_since: datetime, checks_since: datetime
    ) -> tuple[list[tuple[str, datetime, int, int]], list[tuple[str, datetime, bool]]]:
        lo = hours_since.astimezone(UTC)
        rows = await self._fetch(
            "SELECT service_id, day, hour, down, checks, maintenance FROM hourly_rollups"
            " WHERE day >= ? ORDER BY service_id, day, hour",
            self.dialect.day(lo.date()),
        )
        hours = []
        for r in rows:
            d = self.dialect.from_day(r[1])
            start = datetime(d.year, d.month, d.day, int(r[2] or 0), tzinfo=UTC)
            if start >= lo:
                hours.append((str(r[0]), start, int(r[3]), int(r[4]) - int(r[5])))
        rows = await self._fetch(
            "SELECT service_id, started_at, outcome, maintenance FROM checks"
            " WHERE started_at >= ? ORDER BY service_id, started_at",
            self.dialect.time(checks_since),
        )
        down = Outcome.DOWN.value
        checks = [(str(r[0]), self.dialect.from_time(r[1]), r[2] == down) for r in rows if not r[3]]
        return hours, checks

    async def checked_on(self, day: date, service_ids: Sequence[str] | None = None) -> set[str]:
        if service_ids is not None and not service_ids:
            return set()
        # The day's rows by the index on day: ~1 ms for 1,000 services, where the first
        # check of each (first_activity) took 10-20 ms of index seeks per service.
        cond, params = self._of_services("service_id", service_ids)
        rows = await self._fetch(
            f"SELECT service_id FROM daily_rollups WHERE day = ? AND checks > 0{cond}",
            self.dialect.day(day),
            *params,
        )
        return {str(r[0]) for r in rows}

    async def first_activity(
        self, service_ids: Sequence[str] | None, since: datetime, until: datetime
    ) -> dict[str, datetime]:
        if service_ids is not None and not service_ids:
            return {}
        lo, hi = since.astimezone(UTC), until.astimezone(UTC)
        first_day = self.dialect.day(lo.date())
        before = self.dialect.day((lo - timedelta(microseconds=1)).date())
        cond, params = self._of_services("s.id", service_ids)
        # One statement, index seeks per service: its first day with checks (the daily
        # rollups), the first hour of that day (the hourly ones) and whether it was checked
        # the day before ``since``. (A min() over the daily rows read every row of the
        # period: 45 ms of SQLite's time for 1,000 services x a month.) A period that starts
        # inside a UTC day (a timezone's month) may find that day checked only before its
        # start: then the next day with checks holds the first hour (``later``).
        last_day = self.dialect.day(hi.date())
        rows = await self._fetch(
            "WITH f AS MATERIALIZED (SELECT s.id AS sid, (SELECT d.day FROM daily_rollups d"
            " WHERE d.service_id = s.id AND d.day >= ? AND d.day <= ? AND d.checks > 0"
            " ORDER BY d.day LIMIT 1) AS day, (SELECT d.day FROM daily_rollups d"
            " WHERE d.service_id = s.id AND d.day > ? AND d.day <= ? AND d.checks > 0"
            f" ORDER BY d.day LIMIT 1) AS later FROM services s WHERE 1 = 1{cond})"
            " SELECT f.sid, f.day, (SELECT min(h.hour) FROM hourly_rollups h"
            " WHERE h.service_id = f.sid AND h.day = f.day AND h.checks > 0"
            " AND (h.day > ? OR h.hour >= ?)), f.later,"
            " (SELECT min(h.hour) FROM hourly_rollups h WHERE h.service_id = f.sid"
            " AND h.day = f.later AND h.checks > 0),"
            " CASE WHEN EXISTS (SELECT 1 FROM daily_rollups p WHERE p.service_id = f.sid"
            " AND p.day = ? AND p.checks > 0) THEN 1 ELSE 0 END"
            " FROM f WHERE f.day IS NOT NULL",
            *(first_day, last_day, first_day, last_day, *params),
            *(first_day, lo.hour, before),
        )
        hours: dict[str, datetime] = {}
        prior: set[str] = set()
        for sid, day, hour, later, later_hour, checked_before in rows:
            if hour is None and later is not None:
                day, hour = later, later_hour
            if hour is not None:
                d = self.dialect.from_day(day)
                start = datetime(d.year, d.month, d.day, int(hour), tzinfo=UTC)
                if start < hi:
                    hours[str(sid)] = max(start, since)
                    if checked_before:
                        prior.add(str(sid))
        return await self._first_checks(hours, prior, since)

    async def _first_checks(
        self, hours: dict[str, datetime], prior: set[str], since: datetime
    ) -> dict[str, datetime]:
        """Issue 12: from the hour of the first check to the check itself, unless the
        service was already checked the day before ``since`` (``prior``: then it was
        monitored from ``since`` on). Where retention removed the raw checks, the hour stays."""
        out = {sid: since for sid in hours if sid in prior}
        by_hour: dict[datetime, list[str]] = {}
        for sid, hour in hours.items():
            if sid not in prior:
                by_hour.setdefault(hour, []).append(sid)
        for hour, sids in by_hour.items():
            out.update(dict.fromkeys(sids, hour))
            cond, params = self.dialect.any_of("service_id", sids)
            end = hour.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            for sid, first in await self._fetch(
                f"SELECT service_id, min(started_at) FROM checks WHERE started_at >= ?"
                f" AND started_at < ? AND {cond} GROUP BY service_id",
                self.dialect.time(hour),
                self.dialect.time(end),
                *params,
            ):
                if first is not None:
                    out[str(sid)] = self.dialect.from_time(first)
        return out

    # -- raw checks, episodes, status history -----------------------------------------------

    async def checks_between(
        self, service_id: str, since: datetime, until: datetime | None = None
    ) -> list[Check]:
        sql = f"SELECT {CHECK_COLUMNS} FROM checks WHERE service_id = ? AND started_at >= ?"
        args = [service_id, self.dialect.time(since)]
        if until is not None:
            sql += " AND started_at < ?"
            args.append(self.dialect.time(until))
        return [self._check(r) for r in await self._fetch(sql + " ORDER BY started_at", *args)]

    _RECENT = (
        f"SELECT {CHECK_COLUMNS} FROM checks WHERE service_id = ? ORDER BY started_at DESC LIMIT ?"
    )
    _RECENT_SINCE = (
        f"SELECT {CHECK_COLUMNS} FROM checks WHERE service_id = ? AND started_at >= ?"
        " ORDER BY started_at DESC LIMIT ?"
    )

    async def recent_checks(
        self, service_id: str, limit: int = 50, since: datetime | None = None
    ) -> list[Check]:
        if since is not None:
            # Issue 14: without a bound on started_at PostgreSQL plans and opens every daily
            # partition of checks (96 with 90 days kept: 6-12 ms of planning alone). If at
            # least ``limit`` checks started from ``since`` on, the newest ``limit`` are
            # among them; otherwise the unbounded statement gives them.
            rows = await self._fetch(
                self._RECENT_SINCE, service_id, self.dialect.time(since), limit
            )
            if len(rows) >= limit:
                return [self._check(r) for r in rows]
        return [self._check(r) for r in await self._fetch(self._RECENT, service_id, limit)]

    _C_COLUMNS = ", ".join("c." + c.strip() for c in CHECK_COLUMNS.split(","))
    # Each service's checks from its per_service-th latest start on, in one statement (a
    # round trip per service took 2.5 s of a start with 50,000 services): the subquery is an
    # index seek per service on (service_id, started_at).
    _LATEST = (
        "WITH cut AS MATERIALIZED (SELECT s.id AS sid, (SELECT l.started_at FROM checks l"
        " WHERE l.service_id = s.id ORDER BY l.started_at DESC LIMIT 1 OFFSET ?) AS t"
        " FROM services s) "
        f"SELECT {_C_COLUMNS} FROM cut JOIN checks c"
        " ON c.service_id = cut.sid AND c.started_at >= cut.t WHERE cut.t IS NOT NULL"
        " UNION ALL "
        f"SELECT {_C_COLUMNS} FROM cut JOIN checks c"
        " ON c.service_id = cut.sid WHERE cut.t IS NULL"
    )

    async def latest_checks(self, per_service: int) -> dict[str, list[Check]]:
        out: dict[str, list[Check]] = {}
        async with self.dialect.read() as con:
            sids = [str(sid) for (sid,) in await con.fetch("SELECT id FROM services ORDER BY id")]
            rows = await con.fetch(self._LATEST, per_service - 1)
        by_service: dict[str, list[Row]] = {}
        for r in rows:
            by_service.setdefault(str(r[0]), []).append(r)
        for sid in sids:
            got = sorted(by_service.get(sid, ()), key=lambda r: r[1])
            # Equal start times on several nodes may bring a few more: keep the latest.
            out[sid] = [self._check(r) for r in got[-per_service:]] if per_service > 0 else []
        return out

    async def count_checks(self, service_id: str | None = None) -> int:
        if service_id is None:
            rows = await self._fetch("SELECT count(*) FROM checks")
        else:
            rows = await self._fetch("SELECT count(*) FROM checks WHERE service_id = ?", service_id)
        return int(rows[0][0])

    async def episodes(
        self,
        service_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        open_only: bool = False,
    ) -> list[OutageEpisode]:
        sql = f"SELECT {_EPISODE_COLS} FROM outage_episodes WHERE 1 = 1"
        args: list[Any] = []
        if service_id is not None:
            sql += " AND service_id = ?"
            args.append(service_id)
        if since is not None:
            sql += " AND (ended_at IS NULL OR ended_at >= ?)"
            args.append(self.dialect.time(since))
        if open_only:
            sql += " AND ended_at IS NULL"
        rows = await self._fetch(sql + " ORDER BY started_at DESC LIMIT ?", *args, limit)
        read = {"worst_status": ServiceStatus}
        return [self._entity(OutageEpisode, _EPISODE_COLS, r, **read) for r in rows]

    async def episodes_during(
        self, service_id: str | None, since: datetime, until: datetime
    ) -> list[OutageEpisode]:
        sql = (
            f"SELECT {_EPISODE_COLS} FROM outage_episodes"
            " WHERE started_at < ? AND (ended_at IS NULL OR ended_at > ?)"
        )
        args: list[Any] = [self.dialect.time(until), self.dialect.time(since)]
        if service_id is not None:
            sql += " AND service_id = ?"
            args.append(service_id)
        # Decoded by position (a report reads ~700 episodes for 1,000 services a month).
        return self._episodes_by_position(
            await self._fetch(sql + " ORDER BY started_at DESC", *args)
        )

    async def service_episodes(
        self, service_id: str, latest: int, since: datetime, until: datetime
    ) -> list[OutageEpisode]:
        # One statement: the ``latest`` newest and those that overlap [since, until).
        sql = (
            f"SELECT {_EPISODE_COLS} FROM outage_episodes WHERE service_id = ?"
            " AND started_at < ? AND (ended_at IS NULL OR ended_at > ?) UNION"
            f" SELECT * FROM (SELECT {_EPISODE_COLS} FROM outage_episodes WHERE service_id = ?"
            " ORDER BY started_at DESC LIMIT ?) AS newest ORDER BY 2 DESC"
        )
        args = (service_id, self.dialect.time(until), self.dialect.time(since), service_id, latest)
        return self._episodes_by_position(await self._fetch(sql, *args))

    def _episodes_by_position(self, rows: Sequence[Row]) -> list[OutageEpisode]:
        """Rows of _EPISODE_COLS as episodes, decoded by position (faster than _entity)."""
        t, at = self._from_time, self.dialect.from_time
        return [
            OutageEpisode(str(sid), at(start), ServiceStatus(worst), t(end), cause, error, failed)
            for sid, start, end, worst, cause, error, failed in rows
        ]

    async def status_history(
        self, service_id: str | None = None, since: datetime | None = None, limit: int = 200
    ) -> list[Transition]:
        sql = "SELECT service_id, status, previous, at FROM status_history WHERE service_id = ?"
        args: list[Any] = [service_id or ""]
        if since is not None:
            sql += " AND at >= ?"
            args.append(self.dialect.time(since))
        rows = await self._fetch(sql + " ORDER BY at DESC, id DESC LIMIT ?", *args, limit)
        return [
            Transition(
                str(r[0]) or None,
                ServiceStatus(r[2]),
                ServiceStatus(r[1]),
                self.dialect.from_time(r[3]),
            )
            for r in rows
        ]

    # -- maintenance windows ----------------------------------------------------------------

    def _window(self, r: Row) -> MaintenanceWindow:
        return self._entity(MaintenanceWindow, _WINDOW_COLS, r, services=_json_tuple)

    async def create_maintenance(self, window: MaintenanceWindow) -> MaintenanceWindow:
        t = self.dialect.time
        async with self.dialect.transaction() as con:
            row = await con.fetchrow(
                "INSERT INTO maintenance_windows (config_key, title, starts_at, ends_at, services,"
                " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                *(window.config_key, window.title, t(window.starts_at), t(window.ends_at)),
                *(json.dumps(list(window.services)), window.created_by, t(datetime.now(UTC))),
            )
        assert row is not None
        window.id = int(row[0])
        return window

    async def sync_config_maintenance(self, windows: Sequence[MaintenanceWindow]) -> None:
        t = self.dialect.time
        now = t(datetime.now(UTC))
        async with self.dialect.transaction() as con:
            if windows:
                await con.executemany(
                    "INSERT INTO maintenance_windows (config_key, title, starts_at, ends_at,"
                    " services, created_by, created_at) VALUES (?, ?, ?, ?, ?, 'config', ?)"
                    " ON CONFLICT (config_key) DO UPDATE SET title = excluded.title,"
                    " starts_at = excluded.starts_at, ends_at = excluded.ends_at,"
                    " services = excluded.services, cancelled_at = NULL",
                    [
                        (w.config_key, w.title, t(w.starts_at), t(w.ends_at))
                        + (json.dumps(list(w.services)), now)
                        for w in windows
                    ],
                )
            cond, params = self.dialect.any_of("config_key", [w.config_key for w in windows])
            await con.execute(
                "UPDATE maintenance_windows SET cancelled_at = ? WHERE config_key IS NOT NULL"
                f" AND cancelled_at IS NULL AND NOT ({cond})",
                *(now, *params),
            )

    async def list_maintenance(self, *, since: datetime | None = None) -> list[MaintenanceWindow]:
        sql = f"SELECT {_WINDOW_COLS} FROM maintenance_windows WHERE cancelled_at IS NULL"
        args = [] if since is None else [self.dialect.time(since)]
        if since is not None:
            sql += " AND ends_at > ?"
        return [self._window(r) for r in await self._fetch(sql + " ORDER BY starts_at, id", *args)]

    async def cancel_maintenance(self, window_id: int, at: datetime) -> MaintenanceWindow | None:
        async with self.dialect.transaction() as con:
            await con.execute(
                "UPDATE maintenance_windows SET cancelled_at = ? WHERE id = ?"
                " AND cancelled_at IS NULL",
                *(self.dialect.time(at), window_id),
            )
            row = await con.fetchrow(
                f"SELECT {_WINDOW_COLS} FROM maintenance_windows WHERE id = ?", window_id
            )
        return self._window(row) if row else None

    # -- users, tokens, audit ---------------------------------------------------------------

    def _user(self, r: Row) -> User:
        return self._entity(User, _USER_COLS, r, role=role_from_name, active=bool)

    async def create_user(self, username: str, email: str, password_hash: str, role: Role) -> User:
        try:
            async with self.dialect.transaction() as con:
                row = await con.fetchrow(
                    "INSERT INTO users (username, email, password_hash, role, created_at)"
                    f" VALUES (?, ?, ?, ?, ?) RETURNING {_USER_COLS}",
                    *(username, email, password_hash, role.name.lower()),
                    self.dialect.time(datetime.now(UTC)),
                )
        except AlreadyExists as exc:
            raise AlreadyExists(f"user {username!r} already exists") from exc
        assert row is not None
        return self._user(row)

    async def get_user(self, username: str) -> User | None:
        rows = await self._fetch(f"SELECT {_USER_COLS} FROM users WHERE username = ?", username)
        return self._user(rows[0]) if rows else None

    async def list_users(self) -> list[User]:
        rows = await self._fetch(f"SELECT {_USER_COLS} FROM users ORDER BY username")
        return [self._user(r) for r in rows]

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
        new = {
            "role": role.name.lower() if role else None,
            "active": active,
            "password_hash": password_hash,
            "email": email,
        }
        sets = [f"{k} = ?" for k, v in new.items() if v is not None]
        args = [v for v in new.values() if v is not None]
        if revoke_tokens:
            sets.append("token_version = token_version + 1")
        async with self.dialect.transaction() as con:
            if sets:
                await con.execute(
                    f"UPDATE users SET {', '.join(sets)} WHERE username = ?", *args, username
                )
            if revoke_tokens:
                await con.execute(
                    "UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL"
                    " AND user_id = (SELECT id FROM users WHERE username = ?)",
                    *(self.dialect.time(datetime.now(UTC)), username),
                )
        return await self.get_user(username)

    async def _change(self, sql: str, *args: Any) -> list[Row]:
        """One statement in its own transaction; its rows (RETURNING)."""
        async with self.dialect.transaction() as con:
            return await con.fetch(sql, *args)

    async def record_login(self, user_id: int, at: datetime) -> None:
        await self._change(
            "UPDATE users SET last_login_at = ? WHERE id = ?", self.dialect.time(at), user_id
        )

    async def add_refresh_token(self, token_hash: str, user_id: int, expires_at: datetime) -> None:
        await self._change(
            "INSERT INTO refresh_tokens (token_hash, user_id, expires_at) VALUES (?, ?, ?)",
            *(token_hash, user_id, self.dialect.time(expires_at)),
        )

    async def use_refresh_token(self, token_hash: str, now: datetime) -> int | None:
        t = self.dialect.time(now)
        rows = await self._change(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ?"
            " AND revoked_at IS NULL AND expires_at > ? RETURNING user_id",
            *(t, token_hash, t),
        )
        return int(rows[0][0]) if rows else None

    async def revoke_refresh_token(self, token_hash: str, now: datetime) -> None:
        await self._change(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
            *(self.dialect.time(now), token_hash),
        )

    async def save_login_failures(
        self, username: str, client: str, failures: int, last_at: datetime, locked_until: datetime
    ) -> None:
        t = self.dialect.time
        await self._change(
            "INSERT INTO login_failures (username, client, failures, last_failure_at,"
            " locked_until) VALUES (?, ?, ?, ?, ?) ON CONFLICT (username, client) DO UPDATE"
            " SET failures = excluded.failures, last_failure_at = excluded.last_failure_at,"
            " locked_until = excluded.locked_until",
            *(username, client, failures, t(last_at), t(locked_until)),
        )

    async def clear_login_failures(self, username: str, client: str) -> None:
        await self._change(
            "DELETE FROM login_failures WHERE username = ? AND client = ?", username, client
        )

    async def login_failures(self, since: datetime) -> list[LoginFailureRow]:
        rows = await self._fetch(
            "SELECT username, client, failures, last_failure_at, locked_until"
            " FROM login_failures WHERE last_failure_at >= ?",
            self.dialect.time(since),
        )
        t = self.dialect.from_time
        return [(str(r[0]), str(r[1]), int(r[2]), t(r[3]), t(r[4])) for r in rows]

    async def revoke_access_token(self, jti: str, expires_at: datetime) -> None:
        await self._change(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            jti,
            self.dialect.time(expires_at),
        )

    async def revoked_access_tokens(self, now: datetime) -> dict[str, datetime]:
        rows = await self._fetch(
            "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > ?",
            self.dialect.time(now),
        )
        return {str(r[0]): self.dialect.from_time(r[1]) for r in rows}

    async def prune_logins(self, now: datetime, failures_before: datetime) -> None:
        async with self.dialect.transaction() as con:
            await con.execute("DELETE FROM revoked_tokens WHERE expires_at <= ?", self._time(now))
            await con.execute(
                "DELETE FROM login_failures WHERE last_failure_at < ? AND locked_until <= ?",
                *(self._time(failures_before), self._time(now)),
            )

    async def add_audit(self, entry: AuditEntry) -> None:
        await self._change(
            "INSERT INTO audit_log (at, actor, method, target, changes) VALUES (?, ?, ?, ?, ?)",
            *(self.dialect.time(entry.at), entry.actor, entry.method, entry.target),
            json.dumps(entry.changes, sort_keys=True, default=str),
        )

    async def list_audit(
        self, *, since: datetime | None = None, limit: int = 200
    ) -> list[AuditEntry]:
        rows = await self._fetch(
            f"SELECT {_AUDIT_COLS} FROM audit_log WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?",
            *(self.dialect.time(since or _EPOCH), limit),
        )
        return [self._entity(AuditEntry, _AUDIT_COLS, r, changes=json.loads) for r in rows]

    # -- incidents --------------------------------------------------------------------------

    async def _incidents(self, con: Connection, rows: Sequence[Row]) -> list[Incident]:
        """Incidents from rows of _INC_COLS, with their services and updates."""
        by_id = {int(r[0]): self._entity(Incident, _INC_FIELDS, r) for r in rows}
        if not by_id:
            return []
        cond, params = self.dialect.any_of("incident_id", list(by_id))
        for iid, sid in await con.fetch(
            f"SELECT incident_id, service_id FROM incident_services WHERE {cond}"
            " ORDER BY service_id",
            *params,
        ):
            by_id[int(iid)].services += (sid,)
        for r in await con.fetch(
            f"SELECT incident_id, {_UPDATE_COLS} FROM incident_updates WHERE {cond}"
            " ORDER BY created_at, id",
            *params,
        ):
            update = self._entity(IncidentUpdate, _UPDATE_COLS, r[1:], customer_visible=bool)
            by_id[int(r[0])].updates.append(update)
        return list(by_id.values())

    async def _incident_query(self, sql: str, *args: Any) -> list[Incident]:
        async with self.dialect.read() as con:
            return await self._incidents(con, await con.fetch(sql, *args))

    async def _incident_in(self, con: Connection, incident_id: int) -> Incident:
        """The incident as the open transaction sees it."""
        rows = await con.fetch(f"SELECT {_INC_COLS} FROM incidents i WHERE i.id = ?", incident_id)
        return (await self._incidents(con, rows))[0]

    async def create_incident(self, inc: Incident) -> Incident:
        t, now = self._time, self.dialect.time(inc.created_at or datetime.now(UTC))
        try:
            async with self.dialect.transaction() as con:
                row = await con.fetchrow(
                    f"INSERT INTO incidents ({_INC_FIELDS.removeprefix('id, ')}) VALUES"
                    f" ({', '.join('?' * 17)}, 1, ?, ?) RETURNING id",
                    *(inc.title, inc.description, inc.status, inc.severity, inc.priority),
                    *(inc.impact, inc.root_cause, inc.resolution_notes, t(inc.started_at)),
                    *(t(inc.identified_at), t(inc.monitoring_at), t(inc.resolved_at)),
                    *(t(inc.first_update_at), inc.created_by, inc.resolved_by, now, now),
                    *(inc.episode_service, t(inc.episode_started_at)),
                )
                assert row is not None
                iid = int(row[0])
                if inc.services:
                    await con.executemany(_ADD_INCIDENT_SERVICE, [(iid, s) for s in inc.services])
                for u in inc.updates:
                    await con.execute(
                        _ADD_UPDATE,
                        *(iid, u.status, u.message, u.customer_visible, u.author, t(u.created_at)),
                    )
                await con.execute(
                    _ADD_REVISION, iid, 1, json.dumps(["created"]), inc.created_by, now
                )
                await self.dialect.reindex_incident(con, iid)
        except AlreadyExists as exc:
            raise AlreadyExists(f"an incident already exists for that outage: {exc}") from exc
        got = await self.get_incident(iid)
        assert got is not None
        return got

    async def get_incident(self, incident_id: int) -> Incident | None:
        found = await self._incident_query(
            f"SELECT {_INC_COLS} FROM incidents i WHERE i.id = ?", incident_id
        )
        return found[0] if found else None

    async def _new_version(
        self, con: Connection, iid: int, version: int, changes: dict[str, Any], why: _Revision
    ) -> Incident:
        """Apply column ``changes`` as ``version``, record ``why`` it changed, reindex, and
        return the incident as this transaction sees it."""
        fields, actor, now = why
        cols = {k: v for k, v in changes.items() if k != "services"}
        sets = [f"{k} = ?" for k in cols] + ["version = ?", "updated_at = ?"]
        values = [self._time(v) if isinstance(v, datetime) else v for v in cols.values()]
        t = self.dialect.time(now)
        await con.execute(
            f"UPDATE incidents SET {', '.join(sets)} WHERE id = ?", *values, version, t, iid
        )
        if "services" in changes:
            await con.execute("DELETE FROM incident_services WHERE incident_id = ?", iid)
            await con.executemany(_ADD_INCIDENT_SERVICE, [(iid, s) for s in changes["services"]])
        await con.execute(_ADD_REVISION, iid, version, json.dumps(fields), actor, t)
        await self.dialect.reindex_incident(con, iid)
        return await self._incident_in(con, iid)

    async def save_incident(
        self,
        incident_id: int,
        expected_version: int,
        changes: dict[str, Any],
        fields: list[str],
        actor: str,
        now: datetime,
    ) -> Incident:
        async with self.dialect.transaction() as con:
            row = await con.fetchrow(
                "SELECT version FROM incidents WHERE id = ?" + self.dialect.for_update, incident_id
            )
            if row is None:
                raise NotFound(f"no incident {incident_id}")
            if int(row[0]) == expected_version:
                why = (fields, actor, now)
                return await self._new_version(con, incident_id, expected_version + 1, changes, why)
            rows = await con.fetch(
                "SELECT fields FROM incident_revisions WHERE incident_id = ? AND version > ?",
                *(incident_id, expected_version),
            )
            # Read in the transaction: the refusal shows exactly the version it speaks of.
            current = await self._incident_in(con, incident_id)
        conflict = sorted({f for r in rows for f in json.loads(r[0])})
        raise VersionConflict(current, conflict or ["(unknown)"])

    async def add_incident_update(
        self,
        incident_id: int,
        update: IncidentUpdate,
        changes: dict[str, Any],
        now: datetime,
    ) -> Incident:
        u = update
        async with self.dialect.transaction() as con:
            row = await con.fetchrow(
                "SELECT version, first_update_at FROM incidents WHERE id = ?"
                + self.dialect.for_update,
                incident_id,
            )
            if row is None:
                raise NotFound(f"no incident {incident_id}")
            if row[1] is None and u.author != SYSTEM_AUTHOR:  # the daemon's is no response
                changes = {**changes, "first_update_at": u.created_at}
            await con.execute(
                _ADD_UPDATE,
                *(incident_id, u.status, u.message, u.customer_visible, u.author),
                self.dialect.time(u.created_at),
            )
            why = (["updates", *(["status"] if "status" in changes else [])], u.author, now)
            return await self._new_version(con, incident_id, int(row[0]) + 1, changes, why)

    async def list_incidents(
        self,
        *,
        active: bool,
        since: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Incident], int]:
        where = "i.status <> 'resolved'" if active else "i.status = 'resolved'"
        where += " AND i.started_at >= ?"
        after = self.dialect.time(since or _EPOCH)
        async with self.dialect.read() as con:
            total = await con.fetch(f"SELECT count(*) FROM incidents i WHERE {where}", after)
            rows = await con.fetch(
                f"SELECT {_INC_COLS} FROM incidents i WHERE {where}"
                " ORDER BY i.started_at DESC, i.id DESC LIMIT ? OFFSET ?",
                *(after, limit, offset),
            )
            return await self._incidents(con, rows), int(total[0][0])

    async def search_incidents(self, query: str, limit: int = 50) -> list[Incident]:
        terms = search_terms(query)
        if not terms:
            return []
        clause, param = self.dialect.search_incidents(terms)
        return await self._incident_query(
            f"SELECT {_INC_COLS} {clause} ORDER BY i.started_at DESC LIMIT ?", param, limit
        )

    async def incident_for_episode(self, service_id: str, started_at: datetime) -> Incident | None:
        found = await self._incident_query(
            f"SELECT {_INC_COLS} FROM incidents i WHERE i.episode_service = ?"
            " AND i.episode_started_at = ?",
            *(service_id, self.dialect.time(started_at)),
        )
        return found[0] if found else None

    async def open_incidents_for_service(self, service_id: str) -> list[Incident]:
        return await self._incident_query(
            f"SELECT {_INC_COLS} FROM incidents i JOIN incident_services s"
            " ON s.incident_id = i.id WHERE s.service_id = ? AND i.status <> 'resolved'"
            " ORDER BY i.started_at DESC",
            service_id,
        )

    # -- issue 12: "since" survives restarts ----------------------------------------------

    async def latest_transitions(self) -> dict[str | None, Transition]:
        rows = await self._fetch(
            "SELECT h.service_id, h.status, h.previous, h.at FROM status_history h JOIN"
            " (SELECT service_id, max(at) AS at FROM status_history GROUP BY service_id) m"
            " ON h.service_id = m.service_id AND h.at = m.at ORDER BY h.id"
        )
        out: dict[str | None, Transition] = {}
        for sid, status, previous, at in rows:
            key = str(sid) or None
            out[key] = Transition(
                key, ServiceStatus(previous), ServiceStatus(status), self.dialect.from_time(at)
            )
        return out


# -- encodings shared by both engines --------------------------------------------------------


def search_terms(query: str) -> list[str]:
    """The words of a search query (letters and digits of any script)."""
    return re.findall(r"\w+", query)[:16]


def split_records(
    records: Iterable[Record],
) -> tuple[list[Check], list[Transition], list[OutageEpisode]]:
    """Checks (without repeats), transitions and episodes of a batch, each in order."""
    checks: list[Check] = []
    transitions: list[Transition] = []
    episodes: list[OutageEpisode] = []
    seen: set[tuple[str, datetime, str]] = set()
    for r in records:
        if isinstance(r, Check):
            key = (r.service_id, r.started_at, r.node)
            if key not in seen:  # the same check twice in one batch is stored and counted once
                seen.add(key)
                checks.append(r)
        elif isinstance(r, Transition):
            transitions.append(r)
        else:
            episodes.append(r)
    return checks, transitions, episodes


def _rollup_cols(latency_histogram: bool, error_counts: bool) -> str:
    """ROLLUP_COLUMNS to select, '{}' in place of the count objects left out."""
    cols = _RCOLS if latency_histogram else _RCOLS.replace("latency_hist", "'{}'")
    return cols if error_counts else cols.replace("errors", "'{}'")


_plain_values = operator.attrgetter(*ROLLUP_COLUMNS[:10])  # the counters, stored as they are


def rollup_values(r: Rollup) -> tuple[Any, ...]:
    """The ROLLUP_COLUMNS values of ``r``, in order."""
    return (*_plain_values(r), r.hist_json(), r.errors_json(), r.maintenance_s)


def _local_day_spans(
    lo: datetime, hi: datetime, cuts: Sequence[tuple[date, int, int, int]], epoch: int
) -> list[tuple[int, date, int, date, int]] | None:
    """The local days of the whole UTC hours [lo, hi) by ``cuts`` (as
    ``local_days_failed``'s SQL numbers them: the UTC day's ordinal less ``epoch`` plus its
    segment's shift), each with its first hour and the hour after its last as (day, hour)
    (the hour 24 of a day: up to its end); None when a local day's hours are not one
    run (then the neighbours of each failed day are read, as before)."""
    spans: list[tuple[int, date, int, date, int]] = []
    seen: set[int] = set()
    # A UTC day at a time, in at most two pieces: its hours before its segment's cut and
    # from it (issue 14: an hour at a time, each searching the spans, took ~1 ms a month).
    d, end = lo.date(), (hi - timedelta(hours=1)).date()
    while d <= end:
        a = lo.hour if d == lo.date() else 0
        b = hi.hour if d == hi.date() else 24
        cut, before, after = 24, 0, 0
        for day, c, x, y in cuts:
            if d >= day:
                cut, before, after = c, x, y
        for h0, h1, shift in ((a, min(b, cut), before), (max(a, cut), b, after)):
            if h0 >= h1:
                continue
            n = d.toordinal() - epoch + shift
            if spans and spans[-1][0] == n:
                spans[-1] = (n, spans[-1][1], spans[-1][2], d, h1)
            elif n in seen:
                return None
            else:
                spans.append((n, d, h0, d, h1))
                seen.add(n)
        d += timedelta(days=1)
    return spans


def _net_rows(rows: Sequence[Row]) -> list[NetRow]:
    """``hourly_net``'s rows as tuples of their values: the sums are those of integer columns
    (integers; the microseconds cast to BIGINT) and of REAL/DOUBLE ones (floats)."""
    return [cast("NetRow", (str(r[0]), *r[1:16])) for r in rows]


def rollup_from_row(service_id: str, day: date, hour: int | None, values: Sequence[Any]) -> Rollup:
    """Inverse of ``rollup_values``."""
    return Rollup(
        service_id=service_id,
        day=day,
        hour=hour,
        checks=values[0],
        up=values[1],
        degraded=values[2],
        down=values[3],
        maintenance=values[4],
        downtime_s=values[5],
        latency_count=values[6],
        latency_sum_us=values[7],
        latency_min_ms=values[8],
        latency_max_ms=values[9],
        hist=Rollup.hist_from_json(values[10]),
        errors=counts_from_json(values[11]),
        maintenance_s=values[12],
    )


def merge_deltas(deltas: Iterable[Rollup]) -> list[Rollup]:
    """Partial rollups of the same key added into one."""
    out: dict[tuple[str, date, int | None], Rollup] = {}
    for d in deltas:
        cur = out.get((d.service_id, d.day, d.hour))
        if cur is None:
            out[(d.service_id, d.day, d.hour)] = d
        else:
            cur.merge(d)
    return list(out.values())


def _json_tuple(text: str) -> tuple[Any, ...]:
    return tuple(json.loads(text))


_SERVICE_FIELDS = tuple(sorted(f.name for f in fields(Service)))
_SERVICE_VALUES = operator.attrgetter(*_SERVICE_FIELDS)
_JSON = json.JSONEncoder()  # json.dumps makes an encoder per call when given options


def service_to_json(s: Service) -> str:
    """Every setting of ``s`` as JSON, keys sorted (the services.config column). Its fields
    are plain values and tuples (JSON arrays): read directly, not deep-copied by ``asdict``
    (startup with 50,000 services: one call per service)."""
    return _JSON.encode(dict(zip(_SERVICE_FIELDS, _SERVICE_VALUES(s), strict=True)))


def _same_json(a: str, b: str) -> bool:
    """Whether two JSON texts hold the same value: orjson's parser (a restart on PostgreSQL
    compares 50,000 stored settings: json.loads took ~1 s of the start's CPU), json's for a
    text with a long run of digits (orjson reads an integer over 64 bits as a float: two
    such would compare equal) or that orjson refuses."""
    # (a regular expression's search took 20 µs a text, more than json.loads)
    if _LONG_DIGITS not in (a + b).encode().translate(_DIGITS_AS_ZERO):
        with contextlib.suppress(orjson.JSONDecodeError):
            return bool(orjson.loads(a) == orjson.loads(b))
    return bool(json.loads(a) == json.loads(b))


_DIGITS_AS_ZERO = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_LONG_DIGITS = b"0" * 16


def service_from_json(text: str, *, active: bool | None = None) -> Service:
    """Inverse of ``service_to_json``; settings unknown to this version are ignored."""
    d = json.loads(text)
    d["expect_status"] = tuple(tuple(r) for r in d.get("expect_status", [[200, 299]]))
    d["headers"] = tuple(tuple(h) for h in d.get("headers", []))
    d["tags"] = tuple(d.get("tags", ()))
    d["regions"] = tuple(d.get("regions", ()))
    d = {k: v for k, v in d.items() if k in Service.__dataclass_fields__}
    if active is not None:
        d["active"] = active
    return Service(**d)
