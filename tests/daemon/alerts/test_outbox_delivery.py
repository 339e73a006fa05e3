"""Outbox delivery against real local receivers: order, backoff, Retry-After, pacing, leases."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from slamon_daemon.alerts.channels.pagerduty import PagerDutyChannel
from slamon_daemon.alerts.channels.slack import SlackChannel
from slamon_daemon.alerts.model import Notification
from slamon_daemon.alerts.outbox import ChannelPacer, DeliveryPolicy, OutboxDeliverer, backoff_s

from .conftest import make_fields
from .memory_outbox import MemoryOutbox
from .receivers import Receiver, answer
from .test_outbox_contract import note

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> datetime:
        self.now = T0 + timedelta(seconds=seconds)
        return self.now


def full(key: str, channel: str = "chat", at: datetime = T0, **fields: Any) -> Notification:
    """A notification whose payload is complete (so a real channel can send it)."""
    return replace(note(key, channel, at), fields=make_fields(key=key, **fields))


def notes(n: int, channel: str = "chat", at: datetime = T0) -> list[Notification]:
    return [full(f"k{i}", channel, at, title=f"m{i}") for i in range(n)]


def titles(receiver: Receiver) -> list[str]:
    return [json.loads(r.body)["text"].split(" ", 1)[1] for r in receiver.requests]


def deliverer(
    store: MemoryOutbox, channels: dict[str, Any], clock: Clock, **kw: Any
) -> OutboxDeliverer:
    return OutboxDeliverer(store, channels, clock=clock, rng=lambda: 1.0, **kw)


async def test_delivers_in_order(receiver: Receiver, client: httpx.AsyncClient) -> None:
    store, clock = MemoryOutbox(), Clock()
    await store.enqueue(notes(5))
    d = deliverer(store, {"chat": SlackChannel("chat", client, url=receiver.url("/s/a/b"))}, clock)
    assert await d.run_once() == 5
    assert titles(receiver) == ["m0", "m1", "m2", "m3", "m4"]
    assert {store.status_of(f"k{i}") for i in range(5)} == {"delivered"}
    assert [a.result.code for a in store.attempts] == [200] * 5


async def test_a_channel_down_for_ten_minutes_gets_its_backlog_in_order(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    store, clock = MemoryOutbox(), Clock()
    receiver.default = answer(500, "down")
    d = deliverer(store, {"chat": SlackChannel("chat", client, url=receiver.url("/s/a/b"))}, clock)
    await store.enqueue(notes(3))
    retries = []
    for t in range(0, 600, 1):
        clock.at(t)
        if await d.run_once():
            retries.append(t)
        if t == 200:
            await store.enqueue(notes(6)[3:])  # more alerts while it is down
    # Only the head is tried while the channel fails: 5, 10, 20, 40, 80, 160, 320 s apart
    # (rng=1.0 makes the jitter its maximum, i.e. the full delay).
    assert retries == [0, 5, 15, 35, 75, 155, 315]
    assert {json.loads(r.body)["text"] for r in receiver.requests} == {"🔴 m0"}
    receiver.default = answer(200, "ok")
    clock.at(600)
    assert await d.run_once() == 0  # not due yet: the next try is at 315 + 600 (capped)
    clock.at(915)
    assert await d.run_once() == 6
    assert titles(receiver)[-6:] == ["m0", "m1", "m2", "m3", "m4", "m5"]
    assert store.rows[1].item.attempts == 8


async def test_429_retry_after_is_honoured_exactly(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    store, clock = MemoryOutbox(), Clock()
    receiver.queue(answer(429, "slow down", {"Retry-After": "7"}))
    d = deliverer(store, {"chat": SlackChannel("chat", client, url=receiver.url("/s/a/b"))}, clock)
    await store.enqueue(notes(2))
    assert await d.run_once() == 1
    assert store.rows[1].item.next_attempt_at == T0 + timedelta(seconds=7)
    assert store.rows[1].last_error == "HTTP 429: slow down"
    clock.at(6.9)
    assert await d.run_once() == 0
    clock.at(7)
    assert await d.run_once() == 2
    assert titles(receiver) == ["m0", "m0", "m1"]


async def test_permanent_refusal_is_recorded_and_the_queue_moves_on(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    store, clock = MemoryOutbox(), Clock()
    receiver.queue(answer(404, "no_service"))
    d = deliverer(store, {"chat": SlackChannel("chat", client, url=receiver.url("/s/a/b"))}, clock)
    await store.enqueue(notes(2))
    assert await d.run_once() == 2
    assert store.status_of("k0") == "failed" and store.rows[1].last_error == "HTTP 404: no_service"
    assert store.status_of("k1") == "delivered"


async def test_given_up_after_the_limit(receiver: Receiver, client: httpx.AsyncClient) -> None:
    store, clock = MemoryOutbox(), Clock()
    d = deliverer(
        store,
        {"chat": SlackChannel("chat", client, url=receiver.url("/s/a/b"))},
        clock,
        policy=DeliveryPolicy(give_up_after_s=3600),
    )
    await store.enqueue(notes(1))
    clock.at(3601)
    assert await d.run_once() == 1
    assert store.status_of("k0") == "failed" and receiver.requests == []
    assert "given up" in (store.rows[1].last_error or "")


async def test_pacing_postpones_without_an_attempt(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    store, clock = MemoryOutbox(), Clock()
    d = deliverer(
        store,
        {"chat": SlackChannel("chat", client, url=receiver.url("/s/a/b"))},
        clock,
        rates={"chat": 4},
    )
    await store.enqueue(notes(3))
    assert await d.run_once() == 1  # burst: 4/4 = 1 message, then one every 15 s
    assert store.rows[2].item.next_attempt_at == T0 + timedelta(seconds=15)
    assert store.rows[2].item.attempts == 0 and len(store.attempts) == 1
    clock.at(15)
    assert await d.run_once() == 1
    clock.at(30)
    assert await d.run_once() == 1
    assert titles(receiver) == ["m0", "m1", "m2"]


def test_pacer_and_backoff_figures() -> None:
    p = ChannelPacer(per_minute=60)  # burst of 15, then one a second
    assert all(p.reserve(T0) is None for _ in range(15))
    assert p.reserve(T0) == T0 + timedelta(seconds=1)
    assert p.reserve(T0 + timedelta(seconds=1)) is None
    p.pause(T0 + timedelta(seconds=30))
    assert p.reserve(T0 + timedelta(seconds=2)) == T0 + timedelta(seconds=30)
    policy = DeliveryPolicy(retry_base_s=5, retry_max_s=600)
    assert [backoff_s(n, policy, lambda: 1.0) for n in (1, 2, 3, 8, 20)] == [5, 10, 20, 600, 600]
    assert backoff_s(3, policy, lambda: 0.0) == 10  # equal jitter: never under half


async def test_unknown_channel_waits_for_it(client: httpx.AsyncClient) -> None:
    store, clock = MemoryOutbox(), Clock()
    await store.enqueue(notes(1, channel="gone"))
    d = deliverer(store, {}, clock)
    assert await d.run_once() == 0
    assert store.status_of("k0") == "pending"
    assert "not configured" in (store.rows[1].last_error or "")


async def test_a_dead_workers_lease_runs_out_and_the_send_is_repeated_with_the_same_dedup_key(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    """Crash between send and record: at least once, and PagerDuty dedups the repeat."""
    store, clock = MemoryOutbox(), Clock()
    await store.enqueue([full("pd-1", "pd", dedup_key="down|api|t0")])
    pd = PagerDutyChannel("pd", client, routing_key="rk", base_url=receiver.base_url)
    (item,) = await store.claim_due("dead-worker", T0, 300, 10, 10)
    await pd.send(item.payload)  # it sent, then died before recording
    d = deliverer(store, {"pd": pd}, clock, worker="new")
    clock.at(299)
    assert await d.run_once() == 0  # still leased by the dead worker
    clock.at(300)
    assert await d.run_once() == 1
    keys = [json.loads(r.body)["dedup_key"] for r in receiver.requests]
    assert keys == ["down|api|t0", "down|api|t0"]
    assert store.status_of("pd-1") == "delivered"


async def test_two_workers_never_send_an_item_twice(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    store, clock = MemoryOutbox(), Clock()
    await store.enqueue(notes(20))
    ch = SlackChannel("chat", client, url=receiver.url("/s/a/b"))
    fast = {"chat": 6000.0}
    policy = DeliveryPolicy(per_channel=5)
    a = deliverer(store, {"chat": ch}, clock, worker="a", rates=fast, policy=policy)
    b = deliverer(store, {"chat": ch}, clock, worker="b", rates=fast, policy=policy)
    for _ in range(4):
        await asyncio.gather(a.run_once(), b.run_once(), a.run_once(), b.run_once())
    assert sorted(titles(receiver)) == sorted(f"m{i}" for i in range(20))
    assert titles(receiver) == [f"m{i}" for i in range(20)]  # and still in order


async def test_run_loop_wakes_on_enqueue_and_stops(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    store = MemoryOutbox()
    d = OutboxDeliverer(
        store,
        {"chat": SlackChannel("chat", client, url=receiver.url("/s/a/b"))},
        clock=lambda: datetime.now(UTC),
        policy=DeliveryPolicy(idle_poll_s=30),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(d.run(stop))
    await asyncio.sleep(0.05)
    await store.enqueue(notes(2, at=datetime.now(UTC)))
    d.wake.set()
    for _ in range(200):
        if len(receiver.requests) == 2:
            break
        await asyncio.sleep(0.02)
    assert titles(receiver) == ["m0", "m1"]
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_a_wake_while_the_loop_looks_for_work_is_not_lost(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    """An enqueue (and its wake) that lands while the loop is between finding nothing and
    waiting must be delivered now, not after the idle poll (here an hour)."""
    store = MemoryOutbox()
    d = OutboxDeliverer(
        store,
        {"chat": SlackChannel("chat", client, url=receiver.url("/s/a/b"))},
        clock=lambda: datetime.now(UTC),
        policy=DeliveryPolicy(idle_poll_s=3600),
    )
    plain_next_due = store.next_due
    enqueued = False

    async def next_due_with_an_enqueue_meanwhile() -> datetime | None:
        nonlocal enqueued
        due = await plain_next_due()
        if not enqueued:  # the alerting service writes and wakes the deliverer right now
            enqueued = True
            await store.enqueue(notes(1, at=datetime.now(UTC)))
            d.wake.set()
        return due

    store.next_due = next_due_with_an_enqueue_meanwhile  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(d.run(stop))
    try:
        for _ in range(500):
            if receiver.requests:
                break
            await asyncio.sleep(0.02)
        assert titles(receiver) == ["m0"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
