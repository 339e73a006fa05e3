"""The OutboxStorage contract, black-box (Protocol methods only), for every implementation.

Parametrized over the ``outbox_store`` fixture (conftest.py): the in-memory twin and the real
store's outbox on SQLite and PostgreSQL, so the same tests hold the real store to what
delivery relies on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from slamon_daemon.alerts.model import Action, DeliveryResult, Event, Notification, Severity
from slamon_daemon.alerts.outbox import DeliveryAttempt

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def note(key: str, channel: str = "chat", at: datetime = T0) -> Notification:
    return Notification(
        key=key,
        channel_id=channel,
        alert_id=None,
        event=Event.DOWN,
        action=Action.TRIGGER,
        severity=Severity.CRITICAL,
        dedup_key=key,
        fields={"title": key, "n": 1, "nested": {"ids": ["a", "b"]}},
        created_at=at,
    )


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_enqueue_ignores_a_key_it_has(outbox_store: Any) -> None:
    assert await outbox_store.enqueue([note("a"), note("b")]) == 2
    assert await outbox_store.enqueue([note("a"), note("c")]) == 1
    items = await outbox_store.claim_due("w", s(0), 60, 10, 10)
    assert [i.key for i in items] == ["a", "b", "c"]
    assert items[0].payload == {"title": "a", "n": 1, "nested": {"ids": ["a", "b"]}}
    assert items[0].created_at == T0 and items[0].attempts == 0 and items[0].next_attempt_at == T0


async def test_delivered_and_failed_keys_are_never_enqueued_again(outbox_store: Any) -> None:
    await outbox_store.enqueue([note("a"), note("b")])
    a, b = await outbox_store.claim_due("w", s(0), 60, 10, 10)
    await outbox_store.mark_delivered(a.id, s(1))
    await outbox_store.mark_failed(b.id, s(1), "404")
    assert await outbox_store.enqueue([note("a"), note("b")]) == 0
    assert await outbox_store.claim_due("w", s(2), 60, 10, 10) == []
    assert await outbox_store.next_due() is None


async def test_nothing_before_it_is_due(outbox_store: Any) -> None:
    await outbox_store.enqueue([note("later", at=s(100))])
    assert await outbox_store.claim_due("w", s(99), 60, 10, 10) == []
    assert await outbox_store.next_due() == s(100)
    assert [i.key for i in await outbox_store.claim_due("w", s(100), 60, 10, 10)] == ["later"]


async def test_order_per_channel_and_head_of_line(outbox_store: Any) -> None:
    await outbox_store.enqueue([note("c1"), note("p1", "pager"), note("c2"), note("p2", "pager")])
    items = await outbox_store.claim_due("w", s(0), 60, 10, 10)
    assert [(i.channel_id, i.key) for i in items] == [
        ("chat", "c1"),
        ("chat", "c2"),
        ("pager", "p1"),
        ("pager", "p2"),
    ]
    c1 = items[0]
    await outbox_store.schedule_retry(c1.id, s(50), "HTTP 500")
    await outbox_store.release([i.id for i in items[1:]])
    # chat's head waits until 50 s: c2 waits behind it; pager is not held up.
    assert [i.key for i in await outbox_store.claim_due("w", s(10), 60, 10, 10)] == ["p1", "p2"]
    assert await outbox_store.claim_due("w2", s(49), 60, 10, 10) == []
    again = await outbox_store.claim_due("w2", s(50), 60, 10, 10)
    assert [i.key for i in again] == ["c1", "c2"]
    assert again[0].next_attempt_at == s(50)


async def test_per_channel_and_total_limits(outbox_store: Any) -> None:
    await outbox_store.enqueue(
        [note(f"c{i}") for i in range(5)] + [note(f"p{i}", "pager") for i in range(5)]
    )
    assert [i.key for i in await outbox_store.claim_due("w", s(0), 60, 2, 3)] == ["c0", "c1", "p0"]


async def test_leases_keep_other_workers_out_until_they_end(outbox_store: Any) -> None:
    await outbox_store.enqueue([note("a"), note("b")])
    mine = await outbox_store.claim_due("w1", s(0), 60, 10, 10)
    assert len(mine) == 2
    assert await outbox_store.claim_due("w2", s(30), 60, 10, 10) == []
    assert await outbox_store.claim_due("w1", s(30), 60, 10, 10) == []  # in flight: not twice
    assert await outbox_store.next_due() == s(60)
    theirs = await outbox_store.claim_due("w2", s(61), 60, 10, 10)  # w1 died: lease over
    assert [i.key for i in theirs] == ["a", "b"]


async def test_release_makes_items_claimable_at_once(outbox_store: Any) -> None:
    await outbox_store.enqueue([note("a"), note("b")])
    items = await outbox_store.claim_due("w1", s(0), 60, 10, 10)
    await outbox_store.release([i.id for i in items])
    assert len(await outbox_store.claim_due("w2", s(1), 60, 10, 10)) == 2


async def test_attempts_are_counted(outbox_store: Any) -> None:
    await outbox_store.enqueue([note("a")])
    (a,) = await outbox_store.claim_due("w", s(0), 60, 10, 10)
    result = DeliveryResult(False, 503, 12.5, error="HTTP 503", retry_after_s=30)
    await outbox_store.record_attempt(DeliveryAttempt(a.id, "chat", s(1), result))
    await outbox_store.schedule_retry(a.id, s(31), "HTTP 503")
    (again,) = await outbox_store.claim_due("w", s(31), 60, 10, 10)
    assert again.id == a.id and again.attempts == 1
    await outbox_store.record_attempt(
        DeliveryAttempt(a.id, "chat", s(32), DeliveryResult(True, 200, 3.0))
    )
    await outbox_store.mark_delivered(a.id, s(32))
    assert await outbox_store.claim_due("w", s(100), 60, 10, 10) == []


async def test_a_postponed_head_keeps_its_attempts(outbox_store: Any) -> None:
    await outbox_store.enqueue([note("a")])
    (a,) = await outbox_store.claim_due("w", s(0), 60, 10, 10)
    await outbox_store.schedule_retry(a.id, s(5), None)  # paced, not tried
    (again,) = await outbox_store.claim_due("w", s(5), 60, 10, 10)
    assert again.attempts == 0
