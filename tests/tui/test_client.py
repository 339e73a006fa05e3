"""FeedClient against a fake daemon on a real Unix socket."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from textual.message import Message

from slamon_tui.client import (
    DaemonUnreachable,
    FeedCallError,
    FeedClient,
    FeedConnectionLost,
    IncompatibleDaemon,
)
from slamon_tui.feed_session import FeedSession
from slamon_tui.identity import Identity
from slamon_tui.messages import FeedMessage
from slamon_tui.token_cache import TokenCache

from .fake_daemon import FakeDaemon


async def test_connect_reads_hello_and_call_returns_result(daemon: FakeDaemon) -> None:
    async with FeedClient(daemon.path) as client:
        assert client.hello["node"] == "local"
        result = await client.call("status.get", {})
    assert [s["id"] for s in result["services"]] == ["api", "slow", "flaky", "down"]


async def test_error_reply_raises_feed_call_error(daemon: FakeDaemon) -> None:
    async with FeedClient(daemon.path) as client:
        with pytest.raises(FeedCallError) as info:
            await client.call("no.such.method")
    assert info.value.code == "unknown_method"
    assert "no.such.method" in info.value.message


async def test_concurrent_calls_are_matched_by_id(daemon: FakeDaemon) -> None:
    daemon.delays["slow.method"] = 0.2
    daemon.results["slow.method"] = {"which": "slow"}
    daemon.results["fast.method"] = {"which": "fast"}
    async with FeedClient(daemon.path) as client:
        slow = asyncio.create_task(client.call("slow.method"))
        await asyncio.sleep(0.05)
        fast = await client.call("fast.method")
        # The fast reply came back first and was not handed to the slow caller.
        assert fast == {"which": "fast"}
        assert not slow.done()
        assert await slow == {"which": "slow"}


async def test_events_arrive_in_order(daemon: FakeDaemon) -> None:
    async with FeedClient(daemon.path) as client:
        await client.call("subscribe", {"topics": ["check"]})
        for i in range(3):
            await daemon.push("check", {"n": i})
        got = []
        async for frame in client.events():
            got.append(frame["data"]["n"])
            if len(got) == 3:
                break
    assert got == [0, 1, 2]


async def test_events_read_at_once_come_as_one_batch_in_order(daemon: FakeDaemon) -> None:
    async with FeedClient(daemon.path) as client:
        await client.call("subscribe", {"topics": ["check"]})
        for i in range(20):
            await daemon.push("check", {"n": i})
        await client.call("status.get")  # the reply follows the events: all of them were read
        batches = client.event_batches()
        first = await anext(batches)
        await batches.aclose()
    # Read before the reply, so all waiting at once: one list, in the order sent.
    assert [frame["data"]["n"] for frame in first] == list(range(20))


async def test_event_queue_overflow_becomes_one_resync(daemon: FakeDaemon) -> None:
    async with FeedClient(daemon.path, event_queue_size=3) as client:
        await client.call("subscribe", {"topics": ["check"]})
        for i in range(10):
            await daemon.push("check", {"n": i})
        await client.call("status.get")  # the reply follows the events: all of them were read
        first = await anext(client.events())
    assert first["event"] == "resync"
    assert "overflow" in first["data"]["reason"]


async def test_missing_socket_is_unreachable(sock_path: Path) -> None:
    with pytest.raises(DaemonUnreachable) as info:
        await FeedClient(sock_path).connect()
    assert info.value.missing
    assert str(sock_path) in str(info.value)


async def test_stale_socket_file_is_unreachable(sock_path: Path) -> None:
    # Bound but not listening: what a crashed daemon leaves behind answers "refused".
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(sock_path))
    try:
        with pytest.raises(DaemonUnreachable) as info:
            await FeedClient(sock_path).connect()
        assert info.value.missing
        assert "refused" in str(info.value)
    finally:
        leftover.close()


async def test_wrong_protocol_version_is_refused(daemon: FakeDaemon) -> None:
    daemon.hello = {"hello": "slamon", "protocol": 2}
    with pytest.raises(IncompatibleDaemon, match="protocol 2"):
        await FeedClient(daemon.path).connect()


async def test_not_a_slamon_peer_is_refused(daemon: FakeDaemon) -> None:
    daemon.hello = {"hello": "someone-else"}
    with pytest.raises(IncompatibleDaemon):
        await FeedClient(daemon.path).connect()


async def test_connection_loss_fails_pending_calls_and_events(daemon: FakeDaemon) -> None:
    daemon.silent.add("hang")
    client = FeedClient(daemon.path)
    await client.connect()
    pending = asyncio.create_task(client.call("hang"))
    await asyncio.sleep(0.05)
    await daemon.stop()
    with pytest.raises(FeedConnectionLost, match="lost the connection"):
        await asyncio.wait_for(pending, 2)
    with pytest.raises(FeedConnectionLost):
        await asyncio.wait_for(anext(client.events()), 2)
    with pytest.raises(FeedConnectionLost):
        await client.call("status.get")
    assert not client.connected
    await client.close()


async def test_close_ends_events_quietly(daemon: FakeDaemon) -> None:
    client = FeedClient(daemon.path)
    await client.connect()

    async def drain() -> list[dict[str, object]]:
        return [frame async for frame in client.events()]

    reader = asyncio.create_task(drain())
    await asyncio.sleep(0.05)
    await client.close()
    assert await asyncio.wait_for(reader, 2) == []


class _Host:
    """A session host that records what the session sends (no app)."""

    def __init__(self) -> None:
        self.sent: list[list[str]] = []

    def broadcast(self, message: FeedMessage) -> None:
        self.sent.append([type(message).__name__])

    def broadcast_events(self, messages: list[FeedMessage]) -> None:
        self.sent.append([type(m).__name__ for m in messages])

    def post_message(self, message: Message) -> bool:
        return True

    def identity_changed(self, identity: Identity) -> None:
        pass


async def test_a_batch_goes_out_in_order_up_to_a_goodbye(
    daemon: FakeDaemon, tmp_path: Path
) -> None:
    host = _Host()
    session = FeedSession(daemon.path, host, token_cache=TokenCache(tmp_path / "t.json"))
    frames = [
        {"event": "check", "data": {}},
        {"event": "status", "data": {}},
        {"event": "resync", "data": {"reason": "test"}},
        {"event": "incident", "data": {}},
        {"event": "goodbye", "data": {"reason": "stopping"}},
        {"event": "check", "data": {}},
    ]
    async with FeedClient(daemon.path) as client:
        reason = await session._forward(client, frames)
    assert reason == "stopping"
    # The events before the resync, its snapshot, the one after; nothing after the goodbye.
    assert host.sent == [["CheckEvent", "StatusEvent"], ["Snapshot"], ["IncidentEvent"]]
