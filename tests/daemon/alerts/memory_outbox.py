"""An in-memory OutboxStorage for the delivery tests (the SQL stores are held to the same
contract by outbox_contract.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from slamon_daemon.alerts.model import Notification
from slamon_daemon.alerts.outbox import DeliveryAttempt, OutboxItem


@dataclass
class Row:
    item: OutboxItem
    status: str = "pending"  # pending | delivered | failed
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    last_error: str | None = None
    settled_at: datetime | None = None


@dataclass
class MemoryOutbox:
    rows: dict[int, Row] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    _next_id: int = 1

    async def enqueue(self, notifications: Sequence[Notification]) -> int:
        added = 0
        for n in notifications:
            if n.key in self.keys:
                continue
            self.keys.add(n.key)
            item = OutboxItem(
                self._next_id, n.key, n.channel_id, dict(n.fields), n.created_at, 0, n.created_at
            )
            self.rows[self._next_id] = Row(item)
            self._next_id += 1
            added += 1
        return added

    def _pending(self, channel: str | None = None) -> list[Row]:
        return sorted(
            (
                r
                for r in self.rows.values()
                if r.status == "pending" and (channel is None or r.item.channel_id == channel)
            ),
            key=lambda r: r.item.id,
        )

    def _leased(self, row: Row, now: datetime) -> bool:
        return row.claimed_until is not None and row.claimed_until > now

    async def claim_due(
        self, worker: str, now: datetime, lease_s: float, per_channel: int, limit: int
    ) -> list[OutboxItem]:
        heads: dict[str, Row] = {}
        for r in self._pending():
            heads.setdefault(r.item.channel_id, r)
        out: list[OutboxItem] = []
        for channel, head in sorted(heads.items(), key=lambda kv: kv[1].item.id):
            if head.item.next_attempt_at > now or self._leased(head, now):
                continue
            for r in self._pending(channel)[:per_channel]:
                if len(out) >= limit or self._leased(r, now):
                    break
                r.claimed_by, r.claimed_until = worker, now + timedelta(seconds=lease_s)
                out.append(r.item)
        return out

    async def record_attempt(self, attempt: DeliveryAttempt) -> None:
        self.attempts.append(attempt)
        r = self.rows[attempt.item_id]
        r.item = replace(r.item, attempts=r.item.attempts + 1)

    async def mark_delivered(self, item_id: int, at: datetime) -> None:
        r = self.rows[item_id]
        r.status, r.settled_at, r.claimed_by, r.claimed_until = "delivered", at, None, None

    async def schedule_retry(self, item_id: int, at: datetime, error: str | None) -> None:
        r = self.rows[item_id]
        r.item = replace(r.item, next_attempt_at=at)
        r.claimed_by, r.claimed_until = None, None
        if error is not None:
            r.last_error = error

    async def mark_failed(self, item_id: int, at: datetime, error: str) -> None:
        r = self.rows[item_id]
        r.status, r.settled_at, r.last_error, r.claimed_by, r.claimed_until = (
            "failed",
            at,
            error,
            None,
            None,
        )

    async def release(self, item_ids: Sequence[int]) -> None:
        for i in item_ids:
            r = self.rows[i]
            r.claimed_by, r.claimed_until = None, None

    async def next_due(self) -> datetime | None:
        heads: dict[str, Row] = {}
        for r in self._pending():
            heads.setdefault(r.item.channel_id, r)
        times = [
            max(h.item.next_attempt_at, h.claimed_until or h.item.next_attempt_at)
            for h in heads.values()
        ]
        return min(times) if times else None

    # -- for assertions only (a SQL store offers these through its own list methods) -----

    def status_of(self, key: str) -> str:
        return next(r.status for r in self.rows.values() if r.item.key == key)
