"""The alert tables (migration 0007) over a Dialect: outbox, delivery log, alert state,
acknowledgements, silences and channels. Used by SqlStore (``AlertStore`` is one of its bases).

The store sits below the alerting package, so this module speaks in rows (the dataclasses
below, JSON-able dicts and datetimes); ``alerts/persist.py`` maps them to the alert models.
Driver errors never reach here: the dialect's ``read()`` and ``transaction()`` translate them.

The outbox (``SqlOutbox``) keeps the contract of ``alerts.outbox.OutboxStorage``:
* an item's ``notification_key`` is unique: a second insert of a key is ignored, in any state;
* ``claim_due`` leases, per channel whose oldest pending item is due and unleased, up to
  ``per_channel`` of its oldest pending unleased items, oldest channel heads first;
* each method is one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .dialects.base import Connection, Dialect, Row


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One notification to insert (alerts.model.Notification as a row)."""

    key: str
    channel_id: str
    alert_id: str | None
    event: str
    action: str
    severity: str
    dedup_key: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredItem:
    """A pending outbox item as claimed."""

    id: int
    key: str
    channel_id: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One delivery attempt (``alert_deliveries``)."""

    item_id: int
    channel_id: str
    at: datetime
    ok: bool
    code: int | None
    latency_ms: float
    error: str | None
    retry_after_s: float | None
    permanent: bool
    answer: str


@dataclass(slots=True)
class AlertRow:
    """One ``alert_state`` row with its acknowledgement (``alert_acks``)."""

    alert_id: str
    rule: str
    subject: str
    service_id: str
    episode: datetime
    status: str
    severity: str
    opened_at: datetime
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    group_at: datetime | None = None
    resolve_pending: bool = False
    after_parent: bool = False
    held_by: str | None = None
    suppressed_by: str | None = None
    sent: dict[str, str] = field(default_factory=dict)
    reminders: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    acked_by: str | None = None
    acked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SilenceRow:
    id: int
    services: list[str]
    rules: list[str]
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """One ``alert_channels`` row: settings as JSON, secrets sealed (alerts/records.py)."""

    id: str
    type: str
    name: str
    source: str  # config | admin
    config: str
    secrets: str
    enabled: bool
    created_by: str
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One attempt of the delivery log, with what it tried to deliver."""

    id: int
    outbox_id: int
    channel_id: str
    at: datetime
    ok: bool
    code: int | None
    latency_ms: float
    error: str | None
    retry_after_s: float | None
    permanent: bool
    answer: str
    event: str
    title: str
    status: str  # the item's: pending | delivered | failed


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """What the outbox says of one channel."""

    pending: int = 0
    failed: int = 0
    delivered: int = 0
    last_error: str | None = None
    last_attempt_ok: bool | None = None
    last_attempt_at: datetime | None = None


_ALERT_COLS = (
    "s.alert_id, s.rule, s.subject, s.service_id, s.episode, s.status, s.severity, s.opened_at,"
    " s.fired_at, s.resolved_at, s.group_at, s.resolve_pending, s.after_parent, s.held_by,"
    " s.suppressed_by, s.sent, s.reminders, s.details, a.acked_by, a.acked_at"
)
_UPSERT_ALERT = (
    "INSERT INTO alert_state (alert_id, rule, subject, service_id, episode, status, severity,"
    " opened_at, fired_at, resolved_at, group_at, resolve_pending, after_parent, held_by,"
    " suppressed_by, sent, reminders, details, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (alert_id) DO UPDATE SET status = excluded.status,"
    " severity = excluded.severity, fired_at = excluded.fired_at,"
    " resolved_at = excluded.resolved_at, group_at = excluded.group_at,"
    " resolve_pending = excluded.resolve_pending, after_parent = excluded.after_parent,"
    " held_by = excluded.held_by, suppressed_by = excluded.suppressed_by, sent = excluded.sent,"
    " reminders = excluded.reminders, details = excluded.details,"
    " updated_at = excluded.updated_at"
)
_INSERT_OUTBOX = (
    "INSERT INTO alert_outbox (notification_key, channel_id, alert_id, event, action, severity,"
    " dedup_key, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (notification_key) DO NOTHING"
)
_SILENCE_COLS = (
    "id, services, rules, reason, created_by, created_at, expires_at, cancelled_at, cancelled_by"
)
_CHANNEL_COLS = (
    "id, type, name, source, config, secrets, enabled, created_by, created_at, updated_at"
)


class _Rows:
    """Time codecs over a dialect (shared by the outbox and the alert store)."""

    dialect: Dialect

    def _t(self, dt: datetime | None) -> Any:
        return None if dt is None else self.dialect.time(dt)

    def _ft(self, value: Any) -> datetime | None:
        return None if value is None else self.dialect.from_time(value)

    def _ftn(self, value: Any) -> datetime:
        return self.dialect.from_time(value)


class SqlOutbox(_Rows):
    """``alert_outbox`` and ``alert_deliveries`` (alerts.outbox.OutboxStorage, as rows)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    async def insert(self, con: Connection, rows: Sequence[OutboxRow]) -> int:
        """Insert within an open transaction; returns how many keys were new."""
        added = 0
        for n in rows:
            added += await con.execute(
                _INSERT_OUTBOX,
                *(n.key, n.channel_id, n.alert_id, n.event, n.action, n.severity, n.dedup_key),
                json.dumps(n.payload, sort_keys=True, default=str),
                self._t(n.created_at),
                self._t(n.created_at),
            )
        return added

    async def enqueue(self, rows: Sequence[OutboxRow]) -> int:
        async with self.dialect.transaction() as con:
            return await self.insert(con, rows)

    async def _heads(self, con: Connection) -> list[Row]:
        """(id, channel_id, next_attempt_at, claimed_until) of each channel's oldest pending."""
        return await con.fetch(
            "SELECT o.id, o.channel_id, o.next_attempt_at, o.claimed_until FROM alert_outbox o"
            " JOIN (SELECT channel_id, MIN(id) AS head FROM alert_outbox WHERE status = 'pending'"
            " GROUP BY channel_id) h ON o.id = h.head ORDER BY o.id"
        )

    async def claim_due(
        self, worker: str, now: datetime, lease_s: float, per_channel: int, limit: int
    ) -> list[StoredItem]:
        until = self._t(now + timedelta(seconds=lease_s))

        # One hand-off on SQLite (Dialect.atomic): polled every few seconds, this transaction
        # held the write lock for three turns of the event loop ahead of the check writer.
        async def claim(con: Connection) -> list[StoredItem]:
            out: list[StoredItem] = []
            for _hid, channel, due, leased in await self._heads(con):
                if len(out) >= limit:
                    break
                if self._ftn(due) > now or (leased is not None and self._ftn(leased) > now):
                    continue
                rows = await con.fetch(
                    "SELECT id, notification_key, channel_id, payload, created_at, attempts,"
                    " next_attempt_at, claimed_until FROM alert_outbox WHERE status = 'pending'"
                    " AND channel_id = ? ORDER BY id LIMIT ?" + self.dialect.for_update,
                    channel,
                    per_channel,
                )
                taken: list[int] = []
                for r in rows:
                    if len(out) >= limit or (r[7] is not None and self._ftn(r[7]) > now):
                        break
                    out.append(
                        StoredItem(
                            int(r[0]),
                            str(r[1]),
                            str(r[2]),
                            json.loads(r[3]),
                            self._ftn(r[4]),
                            int(r[5]),
                            self._ftn(r[6]),
                        )
                    )
                    taken.append(int(r[0]))
                if taken:
                    cond, params = self.dialect.any_of("id", taken)
                    await con.execute(
                        f"UPDATE alert_outbox SET claimed_by = ?, claimed_until = ? WHERE {cond}",
                        worker,
                        until,
                        *params,
                    )
            return out

        return await self.dialect.atomic(claim)

    async def record_attempt(self, a: AttemptRow) -> None:
        async with self.dialect.transaction() as con:
            await con.execute(
                "INSERT INTO alert_deliveries (outbox_id, channel_id, at, ok, code, latency_ms,"
                " error, retry_after_s, permanent, answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                *(a.item_id, a.channel_id, self._t(a.at), a.ok, a.code, float(a.latency_ms)),
                *(a.error, a.retry_after_s, a.permanent, a.answer[:500]),
            )
            await con.execute(
                "UPDATE alert_outbox SET attempts = attempts + 1 WHERE id = ?", a.item_id
            )

    async def mark_delivered(self, item_id: int, at: datetime) -> None:
        async with self.dialect.transaction() as con:
            await con.execute(
                "UPDATE alert_outbox SET status = 'delivered', settled_at = ?, claimed_by = NULL,"
                " claimed_until = NULL WHERE id = ?",
                self._t(at),
                item_id,
            )

    async def schedule_retry(self, item_id: int, at: datetime, error: str | None) -> None:
        async with self.dialect.transaction() as con:
            await con.execute(
                "UPDATE alert_outbox SET next_attempt_at = ?, claimed_by = NULL,"
                " claimed_until = NULL, last_error = COALESCE(?, last_error) WHERE id = ?",
                self._t(at),
                error,
                item_id,
            )

    async def mark_failed(self, item_id: int, at: datetime, error: str) -> None:
        async with self.dialect.transaction() as con:
            await con.execute(
                "UPDATE alert_outbox SET status = 'failed', settled_at = ?, last_error = ?,"
                " claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                self._t(at),
                error,
                item_id,
            )

    async def release(self, item_ids: Sequence[int]) -> None:
        if not item_ids:
            return
        cond, params = self.dialect.any_of("id", list(item_ids))
        async with self.dialect.transaction() as con:
            await con.execute(
                f"UPDATE alert_outbox SET claimed_by = NULL, claimed_until = NULL WHERE {cond}",
                *params,
            )

    async def release_earlier_leases(self, worker_prefix: str, worker: str) -> int:
        """End the leases of pending items held by a worker whose name starts with
        ``worker_prefix`` but is not ``worker``: an earlier process of this node, dead (one
        daemon runs per node), whose items would otherwise wait for its lease to end.
        Returns how many were released."""
        async with self.dialect.transaction() as con:
            rows = await con.fetch(
                "SELECT id, claimed_by FROM alert_outbox WHERE status = 'pending'"
                " AND claimed_by IS NOT NULL AND claimed_by <> ?",
                worker,
            )
            ids = [int(r[0]) for r in rows if str(r[1]).startswith(worker_prefix)]
            if ids:
                cond, params = self.dialect.any_of("id", ids)
                await con.execute(
                    f"UPDATE alert_outbox SET claimed_by = NULL, claimed_until = NULL WHERE {cond}",
                    *params,
                )
        return len(ids)

    async def next_due(self) -> datetime | None:
        async with self.dialect.read() as con:
            heads = await self._heads(con)
        times = []
        for _id, _channel, due, leased in heads:
            t = self._ftn(due)
            if leased is not None:
                t = max(t, self._ftn(leased))
            times.append(t)
        return min(times) if times else None

    # -- reading the log ------------------------------------------------------------------

    async def deliveries(
        self, *, channel_id: str | None = None, limit: int = 100, failures_only: bool = False
    ) -> list[DeliveryRow]:
        """The latest attempts, newest first (``failures_only``: those that did not deliver)."""
        where: list[str] = []
        args: list[Any] = []
        if channel_id is not None:
            where.append("d.channel_id = ?")
            args.append(channel_id)
        if failures_only:
            where.append("d.ok = ?")
            args.append(False)
        sql = (
            "SELECT d.id, d.outbox_id, d.channel_id, d.at, d.ok, d.code, d.latency_ms, d.error,"
            " d.retry_after_s, d.permanent, d.answer, o.event, o.payload, o.status"
            " FROM alert_deliveries d JOIN alert_outbox o ON o.id = d.outbox_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY d.at DESC, d.id DESC LIMIT ?"
        )
        async with self.dialect.read() as con:
            rows = await con.fetch(sql, *args, limit)
        out = []
        for r in rows:
            title = str(json.loads(r[12]).get("title", ""))
            out.append(
                DeliveryRow(
                    *(int(r[0]), int(r[1]), str(r[2]), self._ftn(r[3]), bool(r[4])),
                    *(None if r[5] is None else int(r[5]), float(r[6]), r[7]),
                    *(None if r[8] is None else float(r[8]), bool(r[9]), str(r[10])),
                    *(str(r[11]), title, str(r[13])),
                )
            )
        return out

    async def health(self) -> dict[str, ChannelHealth]:
        """Per channel: items pending / failed / delivered and its last attempt."""
        async with self.dialect.read() as con:
            counts = await con.fetch(
                "SELECT channel_id, status, COUNT(*) FROM alert_outbox GROUP BY channel_id, status"
            )
            last = await con.fetch(
                "SELECT d.channel_id, d.ok, d.at, d.error FROM alert_deliveries d JOIN"
                " (SELECT channel_id, MAX(id) AS last FROM alert_deliveries GROUP BY channel_id) m"
                " ON d.id = m.last"
            )
        by: dict[str, dict[str, Any]] = {}
        for channel, status, n in counts:
            by.setdefault(str(channel), {})[str(status)] = int(n)
        for channel, ok, at, error in last:
            by.setdefault(str(channel), {}).update(
                last_attempt_ok=bool(ok), last_attempt_at=self._ftn(at), last_error=error
            )
        return {
            c: ChannelHealth(
                pending=v.get("pending", 0),
                failed=v.get("failed", 0),
                delivered=v.get("delivered", 0),
                last_error=v.get("last_error"),
                last_attempt_ok=v.get("last_attempt_ok"),
                last_attempt_at=v.get("last_attempt_at"),
            )
            for c, v in by.items()
        }

    async def pending_count(self) -> int:
        async with self.dialect.read() as con:
            row = await con.fetchrow("SELECT COUNT(*) FROM alert_outbox WHERE status = 'pending'")
        return int(row[0]) if row else 0


class AlertStore(_Rows):
    """Alert state, acknowledgements, silences and channels (a base of SqlStore)."""

    dialect: Dialect
    _outbox: SqlOutbox | None = None

    @property
    def outbox(self) -> SqlOutbox:
        box = self._outbox
        if box is None:
            box = SqlOutbox(self.dialect)
            self._outbox = box
        return box

    # -- alert state -------------------------------------------------------------------------

    async def save_alert_changes(
        self, states: Sequence[AlertRow], notifications: Sequence[OutboxRow], at: datetime
    ) -> int:
        """Upsert alert states (and their acknowledgements) and enqueue notifications in one
        transaction: a crash loses both or neither. Returns how many notifications were new."""
        t = self._t
        rows = [
            (
                *(a.alert_id, a.rule, a.subject, a.service_id, t(a.episode), a.status),
                *(a.severity, t(a.opened_at), t(a.fired_at), t(a.resolved_at)),
                *(t(a.group_at), a.resolve_pending, a.after_parent, a.held_by),
                a.suppressed_by,
                json.dumps(a.sent, sort_keys=True),
                json.dumps(a.reminders, sort_keys=True),
                json.dumps(a.details, sort_keys=True, default=str),
                t(at),
            )
            for a in states
        ]
        acks = [
            (a.alert_id, a.acked_by, t(a.acked_at))
            for a in states
            if a.acked_by is not None and a.acked_at is not None
        ]
        async with self.dialect.transaction() as con:
            if rows:
                await con.executemany(_UPSERT_ALERT, rows)  # in order: the last state wins
            if acks:
                await con.executemany(
                    "INSERT INTO alert_acks (alert_id, acked_by, acked_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (alert_id) DO NOTHING",
                    acks,
                )
            return await self.outbox.insert(con, notifications)

    async def acknowledge_alert(self, alert_id: str, by: str, at: datetime) -> bool:
        """Record who acknowledged an open alert (the first one stays). False: no open alert
        has this id in the store."""
        async with self.dialect.transaction() as con:
            n = await con.execute(
                "INSERT INTO alert_acks (alert_id, acked_by, acked_at) SELECT alert_id, ?, ?"
                " FROM alert_state WHERE alert_id = ? AND status <> 'resolved'"
                " ON CONFLICT (alert_id) DO NOTHING",
                by,
                self._t(at),
                alert_id,
            )
            if n:
                return True
            row = await con.fetchrow(
                "SELECT 1 FROM alert_state s JOIN alert_acks a ON a.alert_id = s.alert_id"
                " WHERE s.alert_id = ? AND s.status <> 'resolved'",
                alert_id,
            )
        return row is not None

    def _alert(self, r: Row) -> AlertRow:
        ft = self._ft
        return AlertRow(
            alert_id=str(r[0]),
            rule=str(r[1]),
            subject=str(r[2]),
            service_id=str(r[3]),
            episode=self._ftn(r[4]),
            status=str(r[5]),
            severity=str(r[6]),
            opened_at=self._ftn(r[7]),
            fired_at=ft(r[8]),
            resolved_at=ft(r[9]),
            group_at=ft(r[10]),
            resolve_pending=bool(r[11]),
            after_parent=bool(r[12]),
            held_by=r[13],
            suppressed_by=r[14],
            sent=json.loads(r[15]),
            reminders=json.loads(r[16]),
            details=json.loads(r[17]),
            acked_by=r[18],
            acked_at=ft(r[19]),
        )

    async def open_alerts(self) -> list[AlertRow]:
        """Every alert not resolved, and those whose resolve is still pending."""
        async with self.dialect.read() as con:
            rows = await con.fetch(
                f"SELECT {_ALERT_COLS} FROM alert_state s LEFT JOIN alert_acks a"
                " ON a.alert_id = s.alert_id WHERE s.status <> 'resolved' OR s.resolve_pending = ?"
                " ORDER BY s.opened_at, s.alert_id",
                True,
            )
        return [self._alert(r) for r in rows]

    async def recent_alerts(self, since: datetime, limit: int = 200) -> list[AlertRow]:
        """Alerts opened or resolved since ``since``, or still open; newest first."""
        async with self.dialect.read() as con:
            rows = await con.fetch(
                f"SELECT {_ALERT_COLS} FROM alert_state s LEFT JOIN alert_acks a"
                " ON a.alert_id = s.alert_id WHERE s.status <> 'resolved' OR s.updated_at >= ?"
                " ORDER BY s.opened_at DESC, s.alert_id LIMIT ?",
                self._t(since),
                limit,
            )
        return [self._alert(r) for r in rows]

    # -- silences ----------------------------------------------------------------------------

    def _silence(self, r: Row) -> SilenceRow:
        return SilenceRow(
            int(r[0]),
            list(json.loads(r[1])),
            list(json.loads(r[2])),
            str(r[3]),
            str(r[4]),
            self._ftn(r[5]),
            self._ftn(r[6]),
            self._ft(r[7]),
            r[8],
        )

    async def create_silence(
        self,
        services: Sequence[str],
        rules: Sequence[str],
        reason: str,
        created_by: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> SilenceRow:
        async with self.dialect.transaction() as con:
            row = await con.fetchrow(
                "INSERT INTO alert_silences (services, rules, reason, created_by, created_at,"
                f" expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING {_SILENCE_COLS}",
                json.dumps(list(services)),
                json.dumps(list(rules)),
                reason,
                created_by,
                self._t(created_at),
                self._t(expires_at),
            )
        assert row is not None
        return self._silence(row)

    async def cancel_silence(self, silence_id: int, by: str, at: datetime) -> SilenceRow | None:
        async with self.dialect.transaction() as con:
            await con.execute(
                "UPDATE alert_silences SET cancelled_at = ?, cancelled_by = ? WHERE id = ?"
                " AND cancelled_at IS NULL",
                self._t(at),
                by,
                silence_id,
            )
            row = await con.fetchrow(
                f"SELECT {_SILENCE_COLS} FROM alert_silences WHERE id = ?", silence_id
            )
        return self._silence(row) if row else None

    async def list_silences(self, *, since: datetime | None = None) -> list[SilenceRow]:
        """Silences not cancelled that expire after ``since`` (all when None)."""
        sql = f"SELECT {_SILENCE_COLS} FROM alert_silences"
        args: list[Any] = []
        if since is not None:
            sql += " WHERE cancelled_at IS NULL AND expires_at > ?"
            args.append(self._t(since))
        async with self.dialect.read() as con:
            rows = await con.fetch(sql + " ORDER BY id", *args)
        return [self._silence(r) for r in rows]

    # -- channels ----------------------------------------------------------------------------

    def _channel(self, r: Row) -> ChannelRow:
        return ChannelRow(
            *(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), bool(r[6])),
            *(str(r[7]), self._ft(r[8]), self._ft(r[9])),
        )

    async def list_channel_rows(self) -> list[ChannelRow]:
        async with self.dialect.read() as con:
            rows = await con.fetch(f"SELECT {_CHANNEL_COLS} FROM alert_channels ORDER BY id")
        return [self._channel(r) for r in rows]

    async def save_channel_row(self, c: ChannelRow, at: datetime) -> None:
        """Insert or replace one channel (its creator and creation time are kept)."""
        async with self.dialect.transaction() as con:
            await con.execute(
                f"INSERT INTO alert_channels ({_CHANNEL_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET type = excluded.type, name = excluded.name,"
                " source = excluded.source, config = excluded.config, secrets = excluded.secrets,"
                " enabled = excluded.enabled, updated_at = excluded.updated_at",
                *(c.id, c.type, c.name, c.source, c.config, c.secrets, c.enabled, c.created_by),
                self._t(at),
                self._t(at),
            )

    async def sync_config_channels(self, rows: Sequence[ChannelRow], at: datetime) -> list[str]:
        """The config file's channels: upsert them; drop the ``config`` ones it no longer
        names (their outbox items stay, undeliverable until the channel returns). Returns
        the ids dropped."""
        for c in rows:
            await self.save_channel_row(c, at)
        async with self.dialect.transaction() as con:
            stored = await con.fetch("SELECT id FROM alert_channels WHERE source = 'config'")
            gone = [str(r[0]) for r in stored if str(r[0]) not in {c.id for c in rows}]
            for cid in gone:
                await con.execute("DELETE FROM alert_channels WHERE id = ?", cid)
        return gone

    async def delete_channel_row(self, channel_id: str) -> bool:
        async with self.dialect.transaction() as con:
            return await con.execute("DELETE FROM alert_channels WHERE id = ?", channel_id) > 0
