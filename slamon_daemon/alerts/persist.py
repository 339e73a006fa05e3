"""The alert models as store rows and back, and the outbox of the store as OutboxStorage.

The store (store/alerts.py) sits below this package and speaks in rows; this module maps
``AlertState``, ``Silence``, ``Notification`` and delivery attempts to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..store.alerts import AlertRow, AttemptRow, OutboxRow, SilenceRow, SqlOutbox
from .model import Notification, Rule, Severity
from .outbox import DeliveryAttempt, OutboxItem
from .state import AlertState, AlertStatus, Silence


def outbox_row(n: Notification) -> OutboxRow:
    return OutboxRow(
        key=n.key,
        channel_id=n.channel_id,
        alert_id=n.alert_id,
        event=n.event.value,
        action=n.action.value,
        severity=n.severity.value,
        dedup_key=n.dedup_key,
        payload=dict(n.fields),
        created_at=n.created_at,
    )


def alert_row(a: AlertState) -> AlertRow:
    return AlertRow(
        alert_id=a.alert_id,
        rule=a.rule.value,
        subject=a.subject,
        service_id=a.service_id,
        episode=a.episode,
        status=a.status.value,
        severity=a.severity.value,
        opened_at=a.opened_at,
        fired_at=a.fired_at,
        resolved_at=a.resolved_at,
        group_at=a.group_at,
        resolve_pending=a.resolve_pending,
        after_parent=a.after_parent,
        held_by=a.held_by,
        suppressed_by=a.suppressed_by,
        sent=dict(a.sent),
        reminders=dict(a.reminders),
        details=dict(a.details),
        acked_by=a.acked_by,
        acked_at=a.acked_at,
    )


def alert_state(r: AlertRow) -> AlertState:
    return AlertState(
        alert_id=r.alert_id,
        rule=Rule(r.rule),
        subject=r.subject,
        service_id=r.service_id,
        episode=r.episode,
        status=AlertStatus(r.status),
        severity=Severity(r.severity),
        opened_at=r.opened_at,
        details=dict(r.details),
        group_at=r.group_at,
        after_parent=r.after_parent,
        held_by=r.held_by,
        suppressed_by=r.suppressed_by,
        fired_at=r.fired_at,
        sent=dict(r.sent),
        reminders={k: int(v) for k, v in r.reminders.items()},
        acked_by=r.acked_by,
        acked_at=r.acked_at,
        resolved_at=r.resolved_at,
        resolve_pending=r.resolve_pending,
    )


def silence(r: SilenceRow) -> Silence:
    return Silence(
        id=r.id,
        services=tuple(r.services),
        rules=tuple(Rule(x) for x in r.rules),
        reason=r.reason,
        created_by=r.created_by,
        created_at=r.created_at,
        expires_at=r.expires_at,
        cancelled_at=r.cancelled_at,
    )


class StoreOutbox:
    """``OutboxStorage`` over the store's outbox tables (both backends)."""

    def __init__(self, outbox: SqlOutbox) -> None:
        self.rows = outbox

    async def enqueue(self, notifications: Sequence[Notification]) -> int:
        return await self.rows.enqueue([outbox_row(n) for n in notifications])

    async def claim_due(
        self, worker: str, now: datetime, lease_s: float, per_channel: int, limit: int
    ) -> list[OutboxItem]:
        items = await self.rows.claim_due(worker, now, lease_s, per_channel, limit)
        return [
            OutboxItem(
                i.id, i.key, i.channel_id, i.payload, i.created_at, i.attempts, i.next_attempt_at
            )
            for i in items
        ]

    async def record_attempt(self, attempt: DeliveryAttempt) -> None:
        r = attempt.result
        await self.rows.record_attempt(
            AttemptRow(
                attempt.item_id,
                attempt.channel_id,
                attempt.at,
                r.ok,
                r.code,
                r.latency_ms,
                r.error,
                r.retry_after_s,
                r.permanent,
                r.answer,
            )
        )

    async def mark_delivered(self, item_id: int, at: datetime) -> None:
        await self.rows.mark_delivered(item_id, at)

    async def schedule_retry(self, item_id: int, at: datetime, error: str | None) -> None:
        await self.rows.schedule_retry(item_id, at, error)

    async def mark_failed(self, item_id: int, at: datetime, error: str) -> None:
        await self.rows.mark_failed(item_id, at, error)

    async def release(self, item_ids: Sequence[int]) -> None:
        await self.rows.release(item_ids)

    async def next_due(self) -> datetime | None:
        return await self.rows.next_due()
