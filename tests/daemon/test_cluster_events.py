"""Events across nodes on a real PostgreSQL (cluster/notify.py, issue 15): each node reads
the other nodes' events, never its own back, live and when catching up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from slamon_daemon.cluster.notify import EventRelay
from slamon_daemon.store import PostgresStore, cluster_parts
from slamon_daemon.store.cluster import ClusterStore, Event
from tests.conftest import migrated


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[PostgresStore]:
    async with migrated(PostgresStore(pg_url)) as s:
        yield s


async def _until(cond: object, what: str) -> None:
    for _ in range(200):
        if callable(cond) and cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def test_a_node_reads_the_others_events_not_its_own(pg_store: PostgresStore) -> None:
    parts = cluster_parts(pg_store)
    assert parts is not None
    store, listen = parts
    got: dict[str, list[Event]] = {"a": [], "b": []}
    relays = {n: EventRelay(store, listen, n, got[n].append) for n in ("a", "b")}
    for r in relays.values():
        await r.start()
    tasks = [asyncio.create_task(r.run()) for r in relays.values()]
    try:
        await asyncio.sleep(0.3)  # both listen
        relays["a"].publish("incident", {"action": "created", "id": 1})
        relays["b"].publish("maintenance", {"action": "changed"})
        await _until(lambda: got["a"] and got["b"], "each node told of the other's event")
        await asyncio.sleep(0.3)  # a node's own event would come meanwhile
        assert [(e.node, e.payload["topic"]) for e in got["b"]] == [("a", "incident")]
        assert [(e.node, e.payload["topic"]) for e in got["a"]] == [("b", "maintenance")]
        assert relays["a"].received == relays["b"].received == 1
        stats = relays["b"].stats()  # one event handed on, no checks sent
        assert stats["send_lag_s"] == {}
        assert set(stats["receive_lag_s"]) == {"p50", "p99", "max"}
        assert 0 <= stats["receive_lag_s"]["p50"] == stats["receive_lag_s"]["max"]
        # the store leaves out the reader's own rows, live and catching up
        first = got["b"][0].id
        assert [e.node for e in await store.events([first, got["a"][0].id], "a")] == ["b"]
        assert [e.node for e in await store.events_after(first - 1, "b")] == ["a"]
        assert relays["a"].last_id == relays["b"].last_id == max(first, got["a"][0].id)
    finally:
        for r in relays.values():
            r.stop()
        await asyncio.gather(*tasks)


async def test_catching_up_hands_on_only_the_others_events(pg_store: PostgresStore) -> None:
    parts = cluster_parts(pg_store)
    assert parts is not None
    store, listen = parts
    assert isinstance(store, ClusterStore)
    got: list[Event] = []
    relay = EventRelay(store, listen, "a", got.append)
    await relay.start()
    await store.publish_now("a", "event", {"topic": "incident", "data": {"id": 1}})
    sent = await store.publish_now("b", "checks", [])
    await store.publish_now("a", "event", {"topic": "incident", "data": {"id": 2}})
    task = asyncio.create_task(relay.run())  # it starts by catching up from start()
    try:
        await _until(lambda: got, "b's event caught up")
        await asyncio.sleep(0.2)
        assert [(e.id, e.node, e.kind) for e in got] == [(sent, "b", "checks")]
    finally:
        relay.stop()
        await task
