"""Delivery of the outbox: at-least-once, in order per channel, with backoff and pacing.

The outbox is a table in the store (``alert_outbox``); ``OutboxStorage`` is the part of the
store this module needs, so it can be tested against an in-memory twin now and against both
SQL backends by the same contract test (tests/daemon/alerts/outbox_contract.py).

Guarantees
* Every notification is inserted once: its key is unique, a second insert is ignored.
* At least once: an item leaves the outbox only as ``delivered`` (the receiver said 2xx) or
  ``failed`` (a permanent refusal, or still undelivered ``give_up_after`` after it was
  queued; it is kept with its attempts for the delivery log). A worker that dies between
  sending and recording loses its lease and the item is sent again; PagerDuty and
  Opsgenie deduplicate that repeat by the dedup key / alias.
* In order per channel: a channel's items go out oldest first; while its oldest item waits
  for a retry, the rest wait behind it (a channel that is down for ten minutes gets its
  backlog in order when it returns). Other channels are not held up.
* Retries back off exponentially from ``retry_base`` to ``retry_max`` with jitter (half the
  delay fixed, half random), so a thousand notifications do not retry in lockstep. A 429 or
  503 with Retry-After waits exactly that long (and pauses the channel).
* Pacing: each channel sends at most ``rate`` messages a minute (a token bucket with a burst
  of a quarter minute's worth); an item over the limit is postponed without an attempt.
* Leases: items are claimed by one worker for ``lease_s``; two daemons sharing a database
  never send the same item at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..errors import SlamonError
from .channels.base import Channel
from .model import DeliveryResult, Notification

logger = logging.getLogger("slamon.alerts.outbox")

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One pending notification for one channel."""

    id: int
    key: str
    channel_id: str
    payload: Mapping[str, Any]
    created_at: datetime
    attempts: int
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One try at delivering an item (the ``alert_deliveries`` row)."""

    item_id: int
    channel_id: str
    at: datetime
    result: DeliveryResult


class OutboxStorage(Protocol):
    """What delivery needs of the store. Every method is one transaction."""

    async def enqueue(self, notifications: Sequence[Notification]) -> int:
        """Insert each notification as a pending item due at its ``created_at``, unless an
        item with its key exists (in any state). Returns how many were inserted."""
        ...

    async def claim_due(
        self, worker: str, now: datetime, lease_s: float, per_channel: int, limit: int
    ) -> list[OutboxItem]:
        """Claim work: for every channel whose oldest pending item is due
        (``next_attempt_at <= now``) and not leased (by any worker, this one included) until
        after ``now``, lease up to ``per_channel`` of its oldest pending unleased items (no
        gaps, oldest first) to ``worker`` until ``now + lease_s``. At most ``limit`` items in
        all, ordered by channel of the oldest head first, then by insertion order."""
        ...

    async def record_attempt(self, attempt: DeliveryAttempt) -> None:
        """Append the attempt to the delivery log and count it on the item."""
        ...

    async def mark_delivered(self, item_id: int, at: datetime) -> None:
        """The item was delivered: it leaves the pending queue (and its lease ends)."""
        ...

    async def schedule_retry(self, item_id: int, at: datetime, error: str | None) -> None:
        """Make the item due again at ``at`` (end its lease; keep ``error`` as the last one)."""
        ...

    async def mark_failed(self, item_id: int, at: datetime, error: str) -> None:
        """Give the item up: it leaves the pending queue, kept with ``error``."""
        ...

    async def release(self, item_ids: Sequence[int]) -> None:
        """End the lease of claimed items that were not tried (they stay due as they were)."""
        ...

    async def next_due(self) -> datetime | None:
        """The earliest time ``claim_due`` could return something: over the channels, the
        oldest pending item's ``next_attempt_at``, or its lease's end if later (None when
        nothing is pending)."""
        ...


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """Retry, give-up, lease and batching settings (from [alerts])."""

    retry_base_s: float = 5.0
    retry_max_s: float = 600.0
    give_up_after_s: float = 86400.0
    lease_s: float = 300.0
    per_channel: int = 20
    batch: int = 200
    channels_at_once: int = 8
    idle_poll_s: float = 5.0


def backoff_s(failures: int, policy: DeliveryPolicy, rng: Callable[[], float]) -> float:
    """Delay after the ``failures``-th failed attempt: base·2^(n−1) capped, equal jitter."""
    delay = min(policy.retry_max_s, policy.retry_base_s * float(2 ** max(0, failures - 1)))
    return delay / 2 + rng() * delay / 2


@dataclass(slots=True)
class ChannelPacer:
    """A token bucket per channel, plus pauses asked for by Retry-After."""

    per_minute: float
    tokens: float = field(init=False)
    updated: datetime | None = None
    paused_until: datetime | None = None

    def __post_init__(self) -> None:
        self.tokens = self.burst

    @property
    def burst(self) -> float:
        return max(1.0, self.per_minute / 4)

    def reserve(self, now: datetime) -> datetime | None:
        """Take a token and return None, or return when the next one is there."""
        if self.paused_until is not None and now < self.paused_until:
            return self.paused_until
        if self.updated is not None:
            elapsed = max(0.0, (now - self.updated).total_seconds())
            self.tokens = min(self.burst, self.tokens + elapsed * self.per_minute / 60)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return now + timedelta(seconds=(1 - self.tokens) * 60 / self.per_minute)

    def pause(self, until: datetime) -> None:
        if self.paused_until is None or until > self.paused_until:
            self.paused_until = until


class OutboxDeliverer:
    """Takes due items from the outbox and sends them through their channels."""

    def __init__(
        self,
        storage: OutboxStorage,
        channels: Mapping[str, Channel],
        *,
        clock: Clock,
        policy: DeliveryPolicy | None = None,
        rates: Mapping[str, float] | None = None,
        worker: str = "local",
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.storage = storage
        self.channels = dict(channels)
        self.clock = clock
        self.policy = policy or DeliveryPolicy()
        self.rates = dict(rates or {})
        self.worker = worker
        self.rng = rng
        self.pacers: dict[str, ChannelPacer] = {}
        self.wake = asyncio.Event()
        self._waiting_logged_at: float | None = None

    def pacer(self, channel_id: str) -> ChannelPacer:
        p = self.pacers.get(channel_id)
        if p is None:
            p = self.pacers[channel_id] = ChannelPacer(self.rates.get(channel_id, 60.0))
        return p

    async def run_once(self) -> int:
        """Deliver what is due now; returns how many items were tried or settled."""
        p = self.policy
        items = await self.storage.claim_due(
            self.worker, self.clock(), p.lease_s, p.per_channel, p.batch
        )
        by_channel: dict[str, list[OutboxItem]] = {}
        for item in items:
            by_channel.setdefault(item.channel_id, []).append(item)
        gate = asyncio.Semaphore(p.channels_at_once)

        async def drain(channel_id: str, queue: list[OutboxItem]) -> int:
            async with gate:
                return await self._drain(channel_id, queue)

        done = await asyncio.gather(*(drain(c, q) for c, q in by_channel.items()))
        return sum(done)

    async def _drain(self, channel_id: str, queue: list[OutboxItem]) -> int:
        """Send one channel's claimed items in order; stop at the first that must wait."""
        settled = 0
        for n, item in enumerate(queue):
            now = self.clock()
            rest = [i.id for i in queue[n + 1 :]]
            if (now - item.created_at).total_seconds() > self.policy.give_up_after_s:
                await self.storage.mark_failed(
                    item.id, now, f"not delivered within {self.policy.give_up_after_s:g}s; given up"
                )
                settled += 1
                continue
            channel = self.channels.get(channel_id)
            if channel is None:
                later = now + timedelta(seconds=self.policy.retry_max_s)
                await self.storage.schedule_retry(
                    item.id, later, f"channel {channel_id!r} is not configured"
                )
                await self.storage.release(rest)
                return settled
            wait_until = self.pacer(channel_id).reserve(now)
            if wait_until is not None:
                await self.storage.schedule_retry(item.id, wait_until, None)
                await self.storage.release(rest)
                return settled
            result = await channel.send(item.payload)
            after = self.clock()
            await self.storage.record_attempt(DeliveryAttempt(item.id, channel_id, after, result))
            settled += 1
            if result.ok:
                await self.storage.mark_delivered(item.id, after)
                continue
            if result.permanent:
                logger.warning(
                    "alert %s to channel %s refused for good: %s",
                    item.key,
                    channel_id,
                    result.error,
                )
                await self.storage.mark_failed(item.id, after, result.error or "refused")
                continue
            delay = backoff_s(item.attempts + 1, self.policy, self.rng)
            if result.retry_after_s is not None:
                delay = result.retry_after_s
                self.pacer(channel_id).pause(after + timedelta(seconds=delay))
            logger.info(
                "alert to channel %s not delivered (%s); retry in %.1fs",
                channel_id,
                result.error,
                delay,
            )
            await self.storage.schedule_retry(
                item.id, after + timedelta(seconds=delay), result.error
            )
            await self.storage.release(rest)
            return settled
        return settled

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; ``wake`` (set after an enqueue) cuts a wait short."""
        while not stop.is_set():
            # Cleared before looking for work, never after: a wake set while this pass
            # looks (an enqueue meanwhile) ends the wait below at once instead of being lost.
            self.wake.clear()
            try:
                worked = await self.run_once()
                self._waiting_logged_at = None
            except SlamonError as exc:  # the store cannot answer: one line a minute, no trace
                now = time.monotonic()
                if self._waiting_logged_at is None or now - self._waiting_logged_at >= 60:
                    # What is wrong with the database is said by the writer and the store.
                    logger.warning("alert delivery waits for the database (retrying)")
                    logger.debug("alert delivery: %s", exc)
                    self._waiting_logged_at = now
                worked = 0
            except Exception:  # a bug: said with its traceback, then tried again, never dies
                logger.exception("alert delivery failed; retrying")
                worked = 0
            if worked:
                continue
            wait = self.policy.idle_poll_s
            with contextlib.suppress(Exception):
                due = await self.storage.next_due()
                if due is not None:
                    wait = min(wait, max(0.0, (due - self.clock()).total_seconds()))
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
            try:
                await asyncio.wait(
                    waiters, timeout=max(wait, 0.01), return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for w in waiters:
                    w.cancel()
