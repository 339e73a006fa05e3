"""A node's beat on a real PostgreSQL (cluster/node.py, issue 15): the node says it is alive
and renews its singletons on its own, however long its placement takes; a node that stops
beating stops believing it leads before another node can take over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from slamon_daemon.cluster.leadership import SINGLETONS
from slamon_daemon.cluster.node import ClusterNode
from slamon_daemon.config import DaemonConfig
from slamon_daemon.models import Service
from slamon_daemon.store import PostgresStore, cluster_parts
from slamon_daemon.store.cluster import ClusterStore, Placement
from tests.conftest import migrated

LEASE_TIMEOUT = 3.0
HEARTBEAT = 0.25
SLOW_BEAT_S = 1.4


class SlowPlacement(ClusterStore):
    """A cluster store whose placement, while ``stuck`` is set, waits for ``free``: a
    database slow to place 10,000 services, or a loaded node."""

    def __init__(self, store: ClusterStore) -> None:
        super().__init__(store.dialect)
        self.stuck = asyncio.Event()
        self.waiting = asyncio.Event()
        self.free = asyncio.Event()

    async def place(self, *args: Any, **kwargs: Any) -> Placement:
        if self.stuck.is_set():
            self.waiting.set()
            await self.free.wait()
        return await super().place(*args, **kwargs)


class SlowBeat(ClusterStore):
    """A cluster store whose every beat takes ``SLOW_BEAT_S`` before it reaches the database: a
    starved loop, a slow database."""

    async def beat(self, *args: Any, **kwargs: Any) -> set[str]:
        await asyncio.sleep(SLOW_BEAT_S)
        return await super().beat(*args, **kwargs)


@pytest.fixture
async def cluster_store(pg_url: str) -> AsyncIterator[ClusterStore]:
    async with migrated(PostgresStore(pg_url)) as s:
        parts = cluster_parts(s)
        assert parts is not None
        yield parts[0]


def _node(
    store: ClusterStore,
    pg_url: str,
    name: str,
    heartbeat: float = HEARTBEAT,
    lease_timeout: float = LEASE_TIMEOUT,
) -> ClusterNode:
    cfg = DaemonConfig(
        database_url=pg_url,
        node=name,
        region="eu",
        heartbeat=heartbeat,
        lease_timeout=lease_timeout,
    )
    services = [Service(id=f"s{i}", name=f"S{i}", url="http://127.0.0.1/") for i in range(3)]
    return ClusterNode(
        store,
        cfg,
        "test",
        services=lambda: services,
        on_placed=lambda mine, taken: None,
        on_view=lambda regions, sick: None,
    )


async def test_a_slow_placement_lets_neither_the_singletons_nor_the_leases_lapse(
    cluster_store: ClusterStore, pg_url: str
) -> None:
    store = SlowPlacement(cluster_store)
    node = _node(store, pg_url, "a")
    await node.join()
    assert node.leadership.held() == list(SINGLETONS)
    task = asyncio.create_task(node.run())
    try:
        store.stuck.set()
        await store.waiting.wait()  # a placement round is stuck from now on
        # Longer than a lease: without a beat meanwhile, the node's belief and its leases in
        # the database would have run out.
        await asyncio.sleep(LEASE_TIMEOUT + 2 * HEARTBEAT)
        assert not store.free.is_set()  # still stuck
        assert node.leadership.held() == list(SINGLETONS)
        assert node.leadership.lapses == 0
        assert await store.singletons() == dict.fromkeys(SINGLETONS, "a")
        _regions, _sick, alive = await store.view(LEASE_TIMEOUT)
        assert alive == ["a"]  # its heartbeat is fresh: its leases hold
        assert node.stats()["singletons"] == list(SINGLETONS)
    finally:
        store.free.set()
        node.stop()
        await task


async def test_a_node_that_stops_beating_stops_leading_before_another_takes_over(
    cluster_store: ClusterStore, pg_url: str
) -> None:
    a, b = _node(cluster_store, pg_url, "a"), _node(cluster_store, pg_url, "b")
    await a.join()
    await b.join()
    assert a.leadership.held() == list(SINGLETONS)
    assert b.leadership.held() == []
    # a goes silent (a stall, a lost database); b beats until it takes the singletons over
    for _ in range(int(4 * LEASE_TIMEOUT / HEARTBEAT)):
        await asyncio.sleep(HEARTBEAT)
        await b.beat()
        if b.leadership.held():
            break
    assert b.leadership.held() == list(SINGLETONS)
    assert a.leadership.held() == []  # a stopped believing before its lease ran out
    assert await cluster_store.singletons() == dict.fromkeys(SINGLETONS, "b")
    await a.beat()  # a's next beat finds them taken
    assert a.leadership.held() == []
    assert a.leadership.lapses == 0
    assert await cluster_store.singletons() == dict.fromkeys(SINGLETONS, "b")


async def test_slow_beats_follow_each_other_a_heartbeat_from_their_start(
    cluster_store: ClusterStore, pg_url: str
) -> None:
    # heartbeat 2 s, lease 6 s: a belief lasts 4 s from a beat's sending. Beats of 1.4 s sent
    # every 2 s renew it 3.4 s after the last was sent; sent 2 s after the last one ended,
    # only 4.8 s after (the belief in the singletons lapsed at every beat).
    store = SlowBeat(cluster_store.dialect)
    node = _node(store, pg_url, "a", heartbeat=2.0, lease_timeout=6.0)
    await node.join()
    assert node.leadership.held() == list(SINGLETONS)
    task = asyncio.create_task(node.run())
    try:
        for _ in range(4):  # about three beats
            await asyncio.sleep(2.0)
            assert node.leadership.held() == list(SINGLETONS)
        assert node.leadership.lapses == 0
    finally:
        node.stop()
        await task
