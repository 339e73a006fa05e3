"""The Store interface: what the daemon asks of its database (sql.py implements it once).

A store owns its connections (``async with store:`` opens and closes them). Every method
may raise ``StoreUnavailable`` when the database cannot be reached and ``StoreError`` for
other database failures; the daemon keeps running on either.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

from ..models import (
    AuditEntry,
    Check,
    Incident,
    IncidentUpdate,
    MaintenanceWindow,
    OutageEpisode,
    Role,
    Service,
    Transition,
    User,
)
from ..rollup import Rollup, day_counts

Record = Check | Transition | OutageEpisode
"""What the daemon makes durable through the journal (spool.py)."""

LoginFailureRow = tuple[str, str, int, datetime, datetime]
"""(username, client, failures, last failure, locked until) of login_failures."""

Progress = Callable[[int, int], None]
"""progress(done, total) callback of long operations."""

NetRow = tuple[
    str,
    int,
    int,
    int,
    int,
    int,
    float,
    int,
    int,
    float | None,
    float | None,
    str,
    float,
    int,
    float | None,
    float | None,
]
"""A row of ``hourly_net``: (service, checks, up, degraded, down, maintenance, downtime_s,
latency_count, latency_sum_us, latency min, latency max, histogram, maintenance_s, answered
checks taken away, their latency min, their latency max) — as the database summed them, the
histogram its JSON object text whose repeated buckets add up (``counts_from_json``)."""


@dataclass(slots=True)
class SyncResult:
    """What ``sync_services`` changed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RetentionResult:
    """What ``apply_retention`` removed."""

    checks: int = 0
    partitions: list[str] = field(default_factory=list)
    hourly_rollups: int = 0
    daily_rollups: int = 0
    monthly_rollups: int = 0


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

    # -- lifecycle --------------------------------------------------------------------

    @abstractmethod
    async def open(self) -> None:
        """Connect (and create the database file for SQLite).

        Raises:
            StoreUnavailable: the database cannot be reached.
        """

    @abstractmethod
    async def close(self) -> None:
        """Close every connection. Safe to call twice."""

    async def hold_checkpoints(self) -> None:  # noqa: B027 - optional hook, not abstract
        """A start's writes follow: the engine may leave the upkeep of its commits (SQLite's
        WAL checkpoints) to ``release_checkpoints``, called once ready (issue 14 point 3)."""

    async def release_checkpoints(self) -> None:  # noqa: B027 - optional hook, not abstract
        """The upkeep ``hold_checkpoints`` left, done now; commits do their own again."""

    @abstractmethod
    async def migrate(self) -> list[str]:
        """Apply the migrations in schema/<backend>/ that are not applied yet, in order.

        Returns:
            The names of the files applied now (empty when already up to date).
        Raises:
            MigrationError: a file failed; it is rolled back and later ones are not applied.
        """

    @abstractmethod
    async def applied_migrations(self) -> list[str]:
        """Names of the applied migrations, oldest first."""

    async def maintain(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Periodic upkeep (PostgreSQL: partitions ahead of need). Default: nothing."""

    @abstractmethod
    async def apply_retention(
        self, now: datetime, raw_days: int, rollup_days: int = 400
    ) -> RetentionResult:
        """Remove raw checks older than ``raw_days`` and rollups older than ``rollup_days``.

        PostgreSQL drops whole daily partitions; SQLite deletes in small batches, each its
        own short transaction, so writers are never blocked for long.
        """

    # -- services ---------------------------------------------------------------------

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

    # -- checks, rollups, episodes, status history ------------------------------------

    @abstractmethod
    async def write_batch(self, records: Sequence[Record]) -> int:
        """Store journaled records in one transaction; idempotent.

        Checks are inserted (a check already stored, same service/started_at/node, is
        skipped) and the new ones folded into the hourly and daily rollups; transitions are
        added to the status history (skipped if present); episodes are upserted by
        (service_id, started_at), in order, so the last record of an episode wins.

        Returns:
            How many checks were new.
        """

    async def write_batches(self, batches: Sequence[Sequence[Record]]) -> int:
        """``write_batch`` for each of ``batches``, in order, in one transaction: SQLite runs
        it in one hand-off to its thread (each page it changes goes to the WAL once, not once
        per batch), PostgreSQL's statements take all the batches as arrays (one round trip
        each). When it fails nothing of it is written and the error is raised: the caller
        writes them again (idempotent).

        Returns:
            How many checks were new.
        """
        return sum([await self.write_batch(b) for b in batches])

    async def write_checks(self, checks: Sequence[Check]) -> int:
        """``write_batch`` for checks only."""
        return await self.write_batch(checks)

    @abstractmethod
    async def daily_rollups(
        self,
        since: date,
        until: date | None = None,
        service_ids: Sequence[str] | None = None,
        *,
        latency_histogram: bool = True,
        error_counts: bool = True,
    ) -> list[Rollup]:
        """Daily rollups with ``since <= day <= until`` (until: no limit), by service then day.

        ``latency_histogram=False`` leaves ``hist`` empty (much faster when only counts matter),
        ``error_counts=False`` leaves ``errors`` empty (the SLA report does not show them).
        """

    async def daily_counts(
        self,
        since: date,
        until: date,
        *,
        after: str | None = None,
        limit: int = 2000,
        service_ids: Sequence[str] | None = None,
    ) -> list[tuple[str, array[int]]]:
        """What the live state keeps of the past days of the bar (``rollup.day_counts``) of
        the daily rollups with ``since <= day <= until``: per service (by id, at most
        ``limit`` services, those after ``after``; or, with ``service_ids``, those of them
        with a day, in no particular order, ``after`` and ``limit`` unused), its days packed
        in one array of integers (offset from ``since``, up + degraded, checks −
        maintenance, flags; four per day, in no particular order with ``service_ids``).
        A start reads 50,000 services × 89 days page by page, one row a service: 4.45
        million rows took ~25 s of CPU to read and fold one by one. This default reads
        ``daily_rollups``."""
        rows = await self.daily_rollups(
            since, until, service_ids, latency_histogram=False, error_counts=False
        )
        out: dict[str, array[int]] = {}
        for r in rows:
            if service_ids is None and after is not None and r.service_id <= after:
                continue
            good, counted, flags = day_counts(r)
            days = out.setdefault(r.service_id, array("i"))
            days.extend(((r.day - since).days, good, max(counted, 0), flags))
        if service_ids is not None:
            return list(out.items())
        return sorted(out.items())[:limit]

    @abstractmethod
    async def days_below(
        self, service_ids: Sequence[str] | None, first: date, last: date, target: float
    ) -> list[tuple[str, date]]:
        """(service, UTC day) pairs in [first, last] whose uptime is below ``target`` percent
        (days with only maintenance or no checks are never below); of every service when
        ``service_ids`` is None."""

    @abstractmethod
    async def hourly_rollups_of(
        self, service_ids: Sequence[str] | None, since: datetime, until: datetime
    ) -> list[Rollup]:
        """The hourly rollups of several services (None: every service) whose hour starts in
        [since, until), by service, day and hour, in one statement, without their error
        counts (a report in a timezone other than UTC)."""

    @abstractmethod
    async def hourly_net(
        self,
        service_ids: Sequence[str] | None,
        plus: Sequence[tuple[date, int, int]],
        minus: Sequence[tuple[date, int, int]],
    ) -> list[NetRow]:
        """Per service (None: every service of the services table) with hourly rollups in
        the hours ``plus`` or ``minus`` ((UTC day, first hour, end hour) each, not
        overlapping), added up by the database in one statement (``NetRow``): the sum of
        the ``plus`` hours less that of the ``minus`` ones — counts, sums and histogram
        buckets, which may be negative; its latency min and max are those of the ``plus``
        hours —, then the answered checks of the ``minus`` hours, their latency min, their
        latency max. Without error counts; rows, not Rollups (issue 14: the report adds
        each into its total at once). The hours at the ends of a report in a timezone other
        than UTC."""

    @abstractmethod
    async def hourly_extremes(
        self, service_ids: Sequence[str] | None, since: datetime, until: datetime
    ) -> dict[str, tuple[float | None, float | None]]:
        """Per service (None: every service) with rollups in [since, until) (whole UTC hours),
        the smallest ``latency_min_ms`` and the largest ``latency_max_ms`` of its hours
        there: those of the daily rollups of the whole UTC days within, of the hourly ones
        of the others (a day's extremes are those of its hours); no histogram read."""

    @abstractmethod
    async def local_days_failed(
        self,
        service_ids: Sequence[str] | None,
        since: datetime,
        until: datetime,
        cuts: Sequence[tuple[date, int, int, int]],
    ) -> list[tuple[str, date, int, int, int, int, int]]:
        """(service, local day, checks, up, degraded, down, maintenance) of the local days
        with a failed check among the hourly rollups of [since, until) (whole UTC hours),
        each summed over its hours in it; of every service when ``service_ids`` is None.
        The local day of hour h of UTC day d is d + ``after`` days when h >= ``cut``, else
        d + ``before``, by the last of ``cuts`` (first day, cut, before, after) whose first
        day is d or earlier (the first starts at or before ``since``'s day). Counts only,
        read around the days with a failed check (a report's days below target in a
        timezone other than UTC: a local day below a target under 100 % has one, and its
        hours lie in at most two neighbouring UTC days)."""

    @abstractmethod
    async def service_rollups(
        self,
        service_id: str,
        hours_of: date,
        hours_since: date,
        daily_since: date,
        month: date | None,
    ) -> tuple[list[Rollup], list[Rollup], list[Rollup]]:
        """One service's hourly rollups of the day ``hours_of`` and of the days from
        ``hours_since`` on (by day and hour), its daily rollups from ``daily_since`` on (by
        day) and its monthly rollup of ``month`` (none when None or not stored): what
        service.get reads, in one statement."""

    async def bar_counts(
        self, since: date, until: date, service_ids: Sequence[str]
    ) -> list[tuple[str, array[int]]]:
        """``daily_counts(since, until, service_ids=…)`` as a start reads it (the same
        days, in no particular order); a service whose days hold no count may be left out.
        The SQL stores keep a summary of the older days of each service (bar_summaries:
        one row rather than one a day), made here when missing. This default reads
        ``daily_counts``."""
        return await self.daily_counts(since, until, service_ids=service_ids)

    @abstractmethod
    async def monthly_rollups(
        self,
        first: date,
        last: date,
        service_ids: Sequence[str] | None = None,
        *,
        error_counts: bool = True,
        by_service: bool = True,
    ) -> list[Rollup]:
        """Monthly rollups (``day`` = the month's first day) with first <= day <= last;
        ``error_counts`` as for ``daily_rollups``. By service and month, or with
        ``by_service=False`` by month only (each service's months still in order; the SLA
        report groups them itself and PostgreSQL need not sort 1,000 wide rows)."""

    @abstractmethod
    async def hourly_rollups(
        self, service_id: str, since: datetime, until: datetime | None = None
    ) -> list[Rollup]:
        """Hourly rollups of a service whose hour starts in [since, until), oldest first."""

    @abstractmethod
    async def slo_seed(
        self, hours_since: datetime, checks_since: datetime
    ) -> tuple[list[tuple[str, datetime, int, int]], list[tuple[str, datetime, bool]]]:
        """What the SLO ledgers are seeded with after a start, of every service in one read
        each: hourly ``(service, hour start, down, checks − maintenance)`` of the hours
        starting at or after ``hours_since``, and ``(service, started_at, failed)`` of the
        raw checks since ``checks_since`` outside maintenance; by service, oldest first."""

    @abstractmethod
    async def checks_between(
        self, service_id: str, since: datetime, until: datetime | None = None
    ) -> list[Check]:
        """Raw checks of a service with since <= started_at < until, oldest first."""

    @abstractmethod
    async def recent_checks(
        self, service_id: str, limit: int = 50, since: datetime | None = None
    ) -> list[Check]:
        """The service's latest checks, newest first. ``since`` is a hint that changes
        nothing in the result: when at least ``limit`` checks started at or after it, only
        those are read (on PostgreSQL, only the partitions from its day on)."""

    @abstractmethod
    async def latest_checks(self, per_service: int) -> dict[str, list[Check]]:
        """Up to ``per_service`` latest checks of every service, oldest first (warm start)."""

    @abstractmethod
    async def count_checks(self, service_id: str | None = None) -> int:
        """How many raw checks are stored (of one service, or all)."""

    @abstractmethod
    async def rebuild_rollups(
        self, since: date | None = None, progress: Progress | None = None
    ) -> int:
        """Recompute hourly and daily rollups from raw checks, day by day.

        Days from ``since`` (default: the oldest raw check) are replaced; older rollups
        (whose raw checks retention removed) are kept. Returns the checks read.
        """

    @abstractmethod
    async def episodes(
        self,
        service_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        open_only: bool = False,
    ) -> list[OutageEpisode]:
        """Outage episodes, newest first; those still open or ending after ``since``."""

    @abstractmethod
    async def episodes_during(
        self, service_id: str | None, since: datetime, until: datetime
    ) -> list[OutageEpisode]:
        """The outage episodes that overlap [since, until): started before ``until`` and
        still open or ended after ``since`` (of every service when ``service_id`` is None),
        newest first."""

    @abstractmethod
    async def service_episodes(
        self, service_id: str, latest: int, since: datetime, until: datetime
    ) -> list[OutageEpisode]:
        """One service's ``latest`` newest outage episodes and those that overlap
        [since, until) (``episodes_during``), newest first (service.get: the list and this month's SLA)."""

    @abstractmethod
    async def status_history(
        self, service_id: str | None = None, since: datetime | None = None, limit: int = 200
    ) -> list[Transition]:
        """Status transitions, newest first (service_id None: the overall status)."""

    # -- maintenance windows ----------------------------------------------------------

    @abstractmethod
    async def create_maintenance(self, window: MaintenanceWindow) -> MaintenanceWindow:
        """Store a new window; returns it with its id."""

    @abstractmethod
    async def sync_config_maintenance(self, windows: Sequence[MaintenanceWindow]) -> None:
        """Upsert the config file's windows by config_key; cancel config windows now absent."""

    @abstractmethod
    async def list_maintenance(self, *, since: datetime | None = None) -> list[MaintenanceWindow]:
        """Windows not cancelled that end after ``since`` (all when None), by start."""

    @abstractmethod
    async def cancel_maintenance(self, window_id: int, at: datetime) -> MaintenanceWindow | None:
        """Cancel a window (from ``at`` on). Returns it, or None when there is no such window."""

    # -- users, tokens, audit ---------------------------------------------------------

    @abstractmethod
    async def create_user(self, username: str, email: str, password_hash: str, role: Role) -> User:
        """Add a user.

        Raises:
            AlreadyExists: the username is taken.
        """

    @abstractmethod
    async def get_user(self, username: str) -> User | None:
        """The user with this username (active or not), or None."""

    @abstractmethod
    async def list_users(self) -> list[User]:
        """Every user, by username."""

    @abstractmethod
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
        """Change a user; ``revoke_tokens`` bumps token_version and revokes refresh tokens.

        Returns:
            The user after the change, or None when there is no such user.
        """

    @abstractmethod
    async def record_login(self, user_id: int, at: datetime) -> None:
        """Set last_login_at."""

    @abstractmethod
    async def add_refresh_token(self, token_hash: str, user_id: int, expires_at: datetime) -> None:
        """Remember a refresh token (its SHA-256, never the token)."""

    @abstractmethod
    async def use_refresh_token(self, token_hash: str, now: datetime) -> int | None:
        """Revoke a valid refresh token and return its user id (None: unknown, used or expired)."""

    @abstractmethod
    async def revoke_refresh_token(self, token_hash: str, now: datetime) -> None:
        """Revoke one refresh token (logout)."""

    @abstractmethod
    async def add_audit(self, entry: AuditEntry) -> None:
        """Append to the audit log."""

    @abstractmethod
    async def list_audit(
        self, *, since: datetime | None = None, limit: int = 200
    ) -> list[AuditEntry]:
        """Audit entries, newest first."""

    # -- services managed over the feed ------------------------------------------------

    @abstractmethod
    async def save_admin_service(self, service: Service) -> None:
        """Insert or update a service managed over the feed (source 'admin').

        Raises:
            AlreadyExists: a service of the config file has this id.
        """

    @abstractmethod
    async def service_source(self, service_id: str) -> str | None:
        """'config' or 'admin' for a known service (active or not), else None."""

    @abstractmethod
    async def checked_on(self, day: date, service_ids: Sequence[str] | None = None) -> set[str]:
        """The services (None: of every one) with checks on the UTC ``day`` (its daily
        rollups), in one statement (the SLA report: a service checked the day before its
        period is monitored from the period's start, so ``first_activity`` need not look for
        its first check)."""

    @abstractmethod
    async def first_activity(
        self, service_ids: Sequence[str] | None, since: datetime, until: datetime
    ) -> dict[str, datetime]:
        """Per service (None: every stored service), the start of the first hour in
        [since, until) with checks (from the hourly rollups, which outlive raw checks)."""

    # -- incidents --------------------------------------------------------------------

    @abstractmethod
    async def create_incident(self, inc: Incident) -> Incident:
        """Store a new incident (version 1) with its services and updates; returns it with its id.

        Raises:
            AlreadyExists: an incident is already linked to the same outage episode.
        """

    @abstractmethod
    async def get_incident(self, incident_id: int) -> Incident | None:
        """An incident with its services and updates (oldest first), or None."""

    @abstractmethod
    async def save_incident(
        self,
        incident_id: int,
        expected_version: int,
        changes: dict[str, Any],
        fields: list[str],
        actor: str,
        now: datetime,
    ) -> Incident:
        """Apply column ``changes`` if the incident is still at ``expected_version``.

        ``fields`` names what the user changed (recorded with the new version).

        Raises:
            VersionConflict: the incident moved on; nothing was written.
            NotFound: no such incident.
        """

    @abstractmethod
    async def add_incident_update(
        self,
        incident_id: int,
        update: IncidentUpdate,
        changes: dict[str, Any],
        now: datetime,
    ) -> Incident:
        """Append an update (never conflicts) and apply ``changes`` (status and its stamps).

        Raises:
            NotFound: no such incident.
        """

    @abstractmethod
    async def list_incidents(
        self,
        *,
        active: bool,
        since: datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Incident], int]:
        """Active incidents (by start, newest first), or resolved ones that started after
        ``since``; with the total count for paging."""

    @abstractmethod
    async def search_incidents(self, query: str, limit: int = 50) -> list[Incident]:
        """Incidents whose title, description, impact, root cause, resolution notes or
        updates contain every word of ``query`` (as a word prefix), most recent first."""

    @abstractmethod
    async def incident_for_episode(self, service_id: str, started_at: datetime) -> Incident | None:
        """The auto-incident opened for an outage episode, if any."""

    @abstractmethod
    async def open_incidents_for_service(self, service_id: str) -> list[Incident]:
        """Active incidents that list ``service_id`` as affected."""

    # -- login throttling and logged-out tokens (issue 10) -------------------------------

    @abstractmethod
    async def save_login_failures(
        self, username: str, client: str, failures: int, last_at: datetime, locked_until: datetime
    ) -> None:
        """Store the failed-login count of (username, client) (an upsert)."""

    @abstractmethod
    async def clear_login_failures(self, username: str, client: str) -> None:
        """Forget the failed logins of (username, client) (a success)."""

    @abstractmethod
    async def login_failures(self, since: datetime) -> list[LoginFailureRow]:
        """Every (username, client) whose last failure is at or after ``since``."""

    @abstractmethod
    async def revoke_access_token(self, jti: str, expires_at: datetime) -> None:
        """Deny the access token ``jti`` until it expires (auth.logout); idempotent."""

    @abstractmethod
    async def revoked_access_tokens(self, now: datetime) -> dict[str, datetime]:
        """The denied access tokens not yet expired: jti → expiry."""

    @abstractmethod
    async def prune_logins(self, now: datetime, failures_before: datetime) -> None:
        """Drop expired revoked tokens and failures last seen before ``failures_before``."""

    # -- one daemon per database (issue 10) ---------------------------------------------

    def daemon_lock(self, node: str) -> DaemonLock:
        """The lock that lets one daemon at a time run as ``node`` on this database (not yet
        taken: ``acquire`` it). SQLite: a lock file beside the database; PostgreSQL: an
        advisory lock keyed by the node name, held on a connection of its own."""
        raise NotImplementedError

    async def region_uptime(
        self, service_id: str, windows: Mapping[str, datetime]
    ) -> dict[str, dict[str, str]]:
        """Per-region uptime of a cluster's service in each window (name -> its start; issue
        15): each region's own stored checks since then, a failed check counting as down
        whatever the other regions saw, maintenance left out; a window lists the regions
        with a check in it; {} when no check has a region (a single-node daemon)."""
        return {}

    async def verify(self) -> str | None:
        """Cheap check that the database is still the one opened (SQLite: the file was not
        deleted or replaced). Returns what is wrong, or None. Once wrong, the store refuses
        every read and write (StoreUnavailable) until it is opened again."""
        return None

    # -- issue 12: "since" survives restarts -------------------------------------------

    @abstractmethod
    async def latest_transitions(self) -> dict[str | None, Transition]:
        """The newest status transition of every service (key None: the overall status),
        so a restarted daemon says since when a status holds rather than since it started."""


class DaemonLock(ABC):
    """A lock held for a daemon's whole life, so that a second daemon on the same database
    (and, on PostgreSQL, with the same node name) refuses to start (issue 10; issue 15 keys
    its node leases on the same lock)."""

    description: str
    """What is locked, for messages ("the SQLite file /x.db", "node eu-1 on PostgreSQL ...")."""

    @abstractmethod
    async def acquire(self) -> str | None:
        """Take the lock without waiting. Returns None when taken, else who holds it (a
        sentence). Raises StoreUnavailable when the database cannot be reached."""

    @abstractmethod
    async def held(self) -> bool:
        """Whether the lock is still held (PostgreSQL: its connection is alive)."""

    @abstractmethod
    async def release(self) -> None:
        """Let the lock go; safe twice."""
