"""The Store interface that both backends implement, and the helpers they share.

A backend owns its connections (``async with store:`` opens and closes them). Every method
may raise ``StoreUnavailable`` when the database cannot be reached and ``StoreError`` for
other database failures; the daemon keeps running on either.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self

from ..models import Check, DailyRollup, ErrorKind, Service

ERROR_COLUMNS: tuple[str, ...] = tuple(f"e_{k.value}" for k in ErrorKind)
"""daily_rollups columns that count failed checks by error kind."""

ROLLUP_COLUMNS: tuple[str, ...] = (
    "checks",
    "up",
    "degraded",
    "down",
    "maintenance",
    "downtime_s",
    "latency_sum_ms",
    "latency_min_ms",
    "latency_max_ms",
    *ERROR_COLUMNS,
)


@dataclass(slots=True)
class SyncResult:
    """What ``sync_services`` changed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)


class Store(ABC):
    """Durable state of slamon. Use as ``async with store: ...``."""

    backend: str

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    async def open(self) -> None:
        """Connect (and create the database file for SQLite).

        Raises:
            StoreUnavailable: the database cannot be reached.
        """

    @abstractmethod
    async def close(self) -> None:
        """Close every connection. Safe to call twice."""

    @abstractmethod
    async def migrate(self) -> list[str]:
        """Apply the migrations in schema/<backend>/ that are not applied yet, in order.

        Returns:
            The names of the files applied now (empty when already up to date).
        Raises:
            MigrationError: a file failed; it is rolled back and later ones are not applied.
        """

    async def maintain(self) -> None:
        """Periodic upkeep (PostgreSQL: partitions ahead of need). Default: nothing."""

    @abstractmethod
    async def applied_migrations(self) -> list[str]:
        """Names of the applied migrations, oldest first."""

    @abstractmethod
    async def sync_services(self, services: Sequence[Service]) -> SyncResult:
        """Make the services named by the config file match ``services``.

        Upserts each (reactivating it if it was inactive); config-sourced services that are
        not in ``services`` are deactivated, never deleted, so their history stays.

        Returns:
            The ids added, updated (any setting changed) and deactivated.
        """

    @abstractmethod
    async def list_services(self, *, include_inactive: bool = False) -> list[Service]:
        """Services ordered by id; inactive ones only when asked."""

    @abstractmethod
    async def write_checks(self, checks: Sequence[Check]) -> int:
        """Store check results and fold them into the daily rollups, in one transaction.

        Idempotent: a check already stored (same service, started_at, node) is skipped and
        not counted in the rollups again, so a replay after a crash writes nothing twice.

        Returns:
            How many checks were new.
        """

    @abstractmethod
    async def daily_rollups(
        self, since: date, until: date | None = None, service_ids: Sequence[str] | None = None
    ) -> list[DailyRollup]:
        """Daily rollups with ``since <= day <= until`` (until: no limit), by service then day."""

    @abstractmethod
    async def recent_checks(self, service_id: str, limit: int = 50) -> list[Check]:
        """The service's latest checks, newest first."""

    @abstractmethod
    async def latest_checks(self, per_service: int) -> dict[str, list[Check]]:
        """Up to ``per_service`` latest checks of every service, oldest first (warm start)."""


def rollup_deltas(checks: Iterable[Check]) -> list[DailyRollup]:
    """Fold checks into one partial rollup per (service, UTC day)."""
    by_key: dict[tuple[str, date], DailyRollup] = {}
    for c in checks:
        day = c.started_at.astimezone(UTC).date()
        r = by_key.get((c.service_id, day))
        if r is None:
            r = by_key[(c.service_id, day)] = DailyRollup(service_id=c.service_id, day=day)
        r.add(c)
    return list(by_key.values())


def rollup_values(r: DailyRollup) -> tuple[Any, ...]:
    """The ROLLUP_COLUMNS values of ``r``, in order."""
    return (
        r.checks,
        r.up,
        r.degraded,
        r.down,
        r.maintenance,
        r.downtime_s,
        r.latency_sum_ms,
        r.latency_min_ms,
        r.latency_max_ms,
        *(r.errors.get(k.value, 0) for k in ErrorKind),
    )


def rollup_from_row(service_id: str, day: date, values: Sequence[Any]) -> DailyRollup:
    """Inverse of ``rollup_values``."""
    n = len(ROLLUP_COLUMNS) - len(ERROR_COLUMNS)
    errors = {k.value: int(v) for k, v in zip(ErrorKind, values[n:], strict=True) if v}
    return DailyRollup(
        service_id=service_id,
        day=day,
        checks=int(values[0]),
        up=int(values[1]),
        degraded=int(values[2]),
        down=int(values[3]),
        maintenance=int(values[4]),
        downtime_s=float(values[5]),
        latency_sum_ms=float(values[6]),
        latency_min_ms=values[7],
        latency_max_ms=values[8],
        errors=errors,
    )


def service_to_json(s: Service) -> str:
    d = asdict(s)
    d["expect_status"] = [list(r) for r in s.expect_status]
    d["headers"] = [list(h) for h in s.headers]
    return json.dumps(d, sort_keys=True)


def service_from_json(text: str | dict[str, Any], *, active: bool | None = None) -> Service:
    d = json.loads(text) if isinstance(text, str) else dict(text)
    d["expect_status"] = tuple(tuple(r) for r in d.get("expect_status", [[200, 299]]))
    d["headers"] = tuple(tuple(h) for h in d.get("headers", []))
    known = set(Service.__dataclass_fields__)
    d = {k: v for k, v in d.items() if k in known}
    if active is not None:
        d["active"] = active
    return Service(**d)


def to_us(dt: datetime) -> int:
    """Microseconds since the epoch (SQLite's timestamp encoding)."""
    return int(round(dt.timestamp() * 1_000_000))


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)
