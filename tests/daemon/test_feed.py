"""The feed server on a real Unix socket: framing, errors, subscriptions, back-pressure (SPEC §3.11)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon.api.context import Caller
from slamon_daemon.api.registry import Method, Registry
from slamon_daemon.errors import NotFound, ServeError
from slamon_daemon.feed import FeedServer
from slamon_daemon.models import Role
from slamon_daemon.protocol import MAX_FRAME_BYTES, ErrorCode, hello

from .support import FeedClient, remove_dir, short_dir, wait_until

HELLO = hello("feed-test", "0.0-test")


# Handlers take (context, caller, params); these toy ones need no context.


async def _echo(ctx: Any, caller: Caller, params: dict[str, Any]) -> Any:
    return {"echo": params}


async def _whoami(ctx: Any, caller: Caller, params: dict[str, Any]) -> Any:
    return {"session": caller.session, "role": caller.role.name.lower()}


async def _admin(ctx: Any, caller: Caller, params: dict[str, Any]) -> Any:
    return {"admin": True}


async def _boom(ctx: Any, caller: Caller, params: dict[str, Any]) -> Any:
    raise RuntimeError("a bug in a handler")


async def _not_found(ctx: Any, caller: Caller, params: dict[str, Any]) -> Any:
    raise NotFound("no such incident 42")


def registry() -> Registry:
    """A toy registry; the feed adds its own methods, subscribe and unsubscribe among them."""
    methods = [
        Method("echo", Role.VIEWER, _echo),
        Method("whoami", Role.ANONYMOUS, _whoami),
        Method("admin.only", Role.ADMIN, _admin),
        Method("boom", Role.VIEWER, _boom),
        Method("find", Role.VIEWER, _not_found),
    ]
    return Registry(None, methods)  # type: ignore[arg-type]


@pytest.fixture
def sock_dir() -> Any:
    d = short_dir()
    yield d
    remove_dir(d)


MakeServer = Callable[..., Awaitable[FeedServer]]


@pytest.fixture
async def make_server(sock_dir: Path) -> AsyncIterator[MakeServer]:
    servers: list[FeedServer] = []

    async def make(path: Path | None = None, *, start: bool = True, **kw: Any) -> FeedServer:
        server = FeedServer(path or sock_dir / "feed.sock", registry(), hello=HELLO, **kw)
        if start:
            await server.start()
            servers.append(server)
        return server

    yield make
    for s in servers:
        await s.stop()


@pytest.fixture
async def server(make_server: MakeServer) -> FeedServer:
    return await make_server()


@pytest.fixture
async def connect(server: FeedServer) -> AsyncIterator[Callable[[], Awaitable[FeedClient]]]:
    clients: list[FeedClient] = []

    async def _connect() -> FeedClient:
        c = await FeedClient.connect(server.socket_path)
        clients.append(c)
        return c

    yield _connect
    for c in clients:
        await c.close()


# -- basics ---------------------------------------------------------------------------------


async def test_hello_comes_first(connect) -> None:  # type: ignore[no-untyped-def]
    c = await connect()
    assert c.hello == {"hello": "slamon", "protocol": 1, "node": "feed-test", "version": "0.0-test"}


async def test_requests_get_replies_with_their_ids(connect) -> None:  # type: ignore[no-untyped-def]
    c = await connect()
    assert await c.call("echo", {"x": 1}) == {"id": 1, "result": {"echo": {"x": 1}}}
    await c.send({"id": "abc", "method": "echo"})
    assert await c.read() == {"id": "abc", "result": {"echo": {}}}
    await c.send({"method": "echo", "params": None})  # no id: still answered, with id null
    assert await c.read() == {"id": None, "result": {"echo": {}}}
    # Pipelined requests are answered in order.
    await c.send_raw(
        b"".join(
            json.dumps({"id": i, "method": "echo", "params": {"i": i}}).encode() + b"\n"
            for i in range(100, 150)
        )
    )
    for i in range(100, 150):
        assert await c.read() == {"id": i, "result": {"echo": {"i": i}}}


async def test_blank_lines_are_ignored(connect) -> None:  # type: ignore[no-untyped-def]
    c = await connect()
    await c.send_raw(b"\n   \n\r\n")
    assert (await c.call("echo"))["result"] == {"echo": {}}


def _echo_works(reply: dict[str, Any]) -> bool:
    return reply.get("result") == {"echo": {"still": "here"}}


BAD_FRAMES = [
    pytest.param(
        b'{"id": 1, "method": "no.such.method"}', ErrorCode.UNKNOWN_METHOD, 1, id="unknown-method"
    ),
    pytest.param(b'{"id": 1, "method": ', ErrorCode.PARSE_ERROR, None, id="invalid-json"),
    pytest.param(b"hello daemon", ErrorCode.PARSE_ERROR, None, id="not-json"),
    pytest.param(b"[1, 2, 3]", ErrorCode.BAD_REQUEST, None, id="array"),
    pytest.param(b'"status.get"', ErrorCode.BAD_REQUEST, None, id="string"),
    pytest.param(b"42", ErrorCode.BAD_REQUEST, None, id="number"),
    pytest.param(
        b'{"id": 2, "method": "echo", "params": [1, 2]}', ErrorCode.BAD_REQUEST, 2, id="params-list"
    ),
    pytest.param(
        b'{"id": 2, "method": "echo", "params": "x"}', ErrorCode.BAD_REQUEST, 2, id="params-string"
    ),
    pytest.param(
        b'{"id": 3, "method": "echo", "verbose": true}', ErrorCode.BAD_REQUEST, 3, id="unknown-key"
    ),
    pytest.param(b'{"id": 4}', ErrorCode.BAD_REQUEST, 4, id="no-method"),
    pytest.param(b'{"id": 4, "method": 7}', ErrorCode.BAD_REQUEST, 4, id="method-not-string"),
    pytest.param(b'{"id": [1], "method": "echo"}', ErrorCode.BAD_REQUEST, None, id="id-list"),
    pytest.param(b'{"id": true, "method": "echo"}', ErrorCode.BAD_REQUEST, None, id="id-bool"),
    pytest.param(
        b'{"id": 5, "method": "echo", "token": 5}', ErrorCode.BAD_REQUEST, 5, id="token-number"
    ),
    pytest.param(
        b'{"id": 6, "method": "ech\xff\xfeo"}', ErrorCode.PARSE_ERROR, None, id="not-utf8"
    ),
    pytest.param(b"\xff\xfe\x00garbage", ErrorCode.PARSE_ERROR, None, id="binary"),
]


@pytest.mark.parametrize(("frame", "code", "rid"), BAD_FRAMES)
async def test_bad_frames_get_error_replies_and_the_feed_goes_on(
    connect,
    frame: bytes,
    code: str,
    rid: Any,  # type: ignore[no-untyped-def]
) -> None:
    c = await connect()
    await c.send_raw(frame + b"\n")
    reply = await c.read()
    assert set(reply) == {"id", "error"}, reply
    assert reply["id"] == rid
    assert reply["error"]["code"] == code
    assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]
    # The same connection is still served, and so is another client.
    assert _echo_works(await c.call("echo", {"still": "here"}))
    other = await connect()
    assert _echo_works(await other.call("echo", {"still": "here"}))


async def test_oversized_frame_is_refused_and_skipped(connect) -> None:  # type: ignore[no-untyped-def]
    c = await connect()
    big = (
        b'{"id": 9, "method": "echo", "params": {"x": "' + b"a" * (MAX_FRAME_BYTES + 10) + b'"}}\n'
    )
    # Sent in pieces, followed at once by a good request on the same connection.
    for i in range(0, len(big), 100_000):
        await c.send_raw(big[i : i + 100_000])
    await c.send({"id": 10, "method": "echo", "params": {"still": "here"}})
    reply = await c.read()
    assert reply["error"]["code"] == ErrorCode.FRAME_TOO_LARGE
    assert reply["id"] is None
    assert str(MAX_FRAME_BYTES) in reply["error"]["message"]
    assert await c.read() == {"id": 10, "result": {"echo": {"still": "here"}}}
    other = await connect()
    assert _echo_works(await other.call("echo", {"still": "here"}))


async def test_frame_of_exactly_the_limit_is_served(connect) -> None:  # type: ignore[no-untyped-def]
    c = await connect()
    head, tail = b'{"id": 11, "method": "echo", "params": {"x": "', b'"}}'
    frame = head + b"b" * (MAX_FRAME_BYTES - len(head) - len(tail)) + tail
    assert len(frame) == MAX_FRAME_BYTES
    await c.send_raw(frame + b"\n")
    reply = await c.read()
    assert reply["id"] == 11 and len(reply["result"]["echo"]["x"]) == MAX_FRAME_BYTES - len(
        head
    ) - len(tail)


async def test_handler_errors_are_replies(connect, server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    c = await connect()
    reply = await c.call("boom")
    assert reply["error"]["code"] == ErrorCode.INTERNAL
    assert "a bug" not in reply["error"]["message"]  # internals are logged, not sent
    reply = await c.call("find")
    assert reply["error"] == {"code": ErrorCode.NOT_FOUND, "message": "no such incident 42"}
    assert _echo_works(await c.call("echo", {"still": "here"}))


# -- roles ----------------------------------------------------------------------------------


async def test_viewer_calling_an_admin_method_is_forbidden(connect) -> None:  # type: ignore[no-untyped-def]
    c = await connect()
    assert (await c.call("whoami"))["result"]["role"] == "viewer"
    reply = await c.call("admin.only")
    assert reply["error"]["code"] == ErrorCode.FORBIDDEN
    assert "admin" in reply["error"]["message"]


async def test_anonymous_sessions_need_a_login(make_server: MakeServer, sock_dir: Path) -> None:
    server = await make_server(sock_dir / "anon.sock", default_role=Role.ANONYMOUS)
    c = await FeedClient.connect(server.socket_path)
    try:
        assert (await c.call("whoami"))["result"]["role"] == "anonymous"
        assert (await c.call("echo"))["error"]["code"] == ErrorCode.UNAUTHORIZED
        assert (await c.call("admin.only"))["error"]["code"] == ErrorCode.UNAUTHORIZED
    finally:
        await c.close()


# -- the socket file ------------------------------------------------------------------------


async def test_socket_file_mode_is_0660(server: FeedServer) -> None:
    st = os.stat(server.socket_path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660


async def test_stale_socket_file_is_replaced(make_server: MakeServer, sock_dir: Path) -> None:
    path = sock_dir / "stale.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))  # a socket file whose server is gone: nobody accepts on it
    dead.close()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    server = await make_server(path)
    c = await FeedClient.connect(server.socket_path)
    try:
        assert c.hello["hello"] == "slamon"
    finally:
        await c.close()


async def test_symlink_at_the_socket_path_is_refused(
    make_server: MakeServer, sock_dir: Path
) -> None:
    target = sock_dir / "precious.txt"
    target.write_text("not yours")
    link = sock_dir / "link.sock"
    link.symlink_to(target)
    with pytest.raises(ServeError, match="symlink"):
        await make_server(link)
    assert link.is_symlink() and target.read_text() == "not yours"


async def test_regular_file_at_the_socket_path_is_refused(
    make_server: MakeServer, sock_dir: Path
) -> None:
    path = sock_dir / "file.sock"
    path.write_text("data")
    with pytest.raises(ServeError, match="not a socket"):
        await make_server(path)
    assert path.read_text() == "data"


async def test_second_server_on_a_live_socket_is_refused(
    make_server: MakeServer, server: FeedServer
) -> None:
    with pytest.raises(ServeError, match="already serving"):
        await make_server(server.socket_path)
    c = await FeedClient.connect(server.socket_path)  # the first one still serves
    try:
        assert _echo_works(await c.call("echo", {"still": "here"}))
    finally:
        await c.close()


async def test_stop_says_goodbye_and_removes_the_socket(
    make_server: MakeServer, sock_dir: Path
) -> None:
    server = await make_server(sock_dir / "bye.sock", start=False)
    await server.start()
    c = await FeedClient.connect(server.socket_path)
    await server.stop()
    frame = await c.read()
    assert frame.get("event") == "goodbye"
    with pytest.raises(EOFError):
        await c.read()
    await c.close()
    assert not server.socket_path.exists()


async def test_disconnected_clients_are_forgotten(connect, server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    a, b = await connect(), await connect()
    await wait_until(lambda: len(server.sessions) == 2, what="two sessions")
    await a.close()
    await wait_until(lambda: len(server.sessions) == 1, what="the closed session to go")
    assert _echo_works(await b.call("echo", {"still": "here"}))


# -- events ---------------------------------------------------------------------------------


async def test_events_go_only_to_subscribed_topics(connect, server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    checks, statuses, both, none = [await connect() for _ in range(4)]
    assert (await checks.call("subscribe", {"topics": ["check"]}))["result"] == {
        "topics": ["check"]
    }
    await statuses.call("subscribe", {"topics": ["status"]})
    await both.call("subscribe", {"topics": ["check", "status"]})
    server.publish("check", {"n": 1})
    server.publish("status", {"n": 2})
    server.publish("incident", {"n": 3})  # nobody subscribed
    server.publish("check", {"n": 4})

    async def events_before_reply(c: FeedClient) -> list[tuple[str, int]]:
        c.events.clear()
        await c.call("echo")  # everything published before it arrives before its reply
        return [(e["event"], e["data"]["n"]) for e in c.events]

    assert await events_before_reply(checks) == [("check", 1), ("check", 4)]
    assert await events_before_reply(statuses) == [("status", 2)]
    assert await events_before_reply(both) == [("check", 1), ("status", 2), ("check", 4)]
    assert await events_before_reply(none) == []


async def test_slow_client_is_told_to_resync_or_dropped_while_others_get_everything(
    make_server: MakeServer,
    sock_dir: Path,
) -> None:
    max_pending = 100
    server = await make_server(
        sock_dir / "slow.sock", max_pending_events=max_pending, max_overflows=3
    )
    loop = asyncio.get_running_loop()
    # The slow client is a bare socket that stops reading after its subscribe reply (an asyncio
    # StreamReader would keep draining the socket into its own buffer behind our back).
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slow.setblocking(False)
    await loop.sock_connect(slow, str(server.socket_path))
    await loop.sock_sendall(
        slow, b'{"id": 1, "method": "subscribe", "params": {"topics": ["check"]}}\n'
    )
    head = b""
    while head.count(b"\n") < 2:  # hello and the reply
        head += await asyncio.wait_for(loop.sock_recv(slow, 65536), 10)
    assert json.loads(head.split(b"\n")[1])["result"] == {"topics": ["check"]}
    fast = await FeedClient.connect(server.socket_path)
    await fast.call("subscribe", {"topics": ["check"]})
    slow_session = min(server.sessions.values(), key=lambda s: s.id)

    n = 4000
    payload = "p" * 2000
    received: list[int] = []

    async def read_fast() -> None:
        while len(received) < n:
            frame = await fast.read()
            assert frame.get("event") == "check", frame  # never a resync for a client that keeps up
            received.append(frame["data"]["seq"])

    reader = asyncio.create_task(read_fast())
    max_slow_queue = 0
    try:
        for seq in range(n):
            server.publish("check", {"seq": seq, "payload": payload})
            if not slow_session.closed:
                max_slow_queue = max(max_slow_queue, len(slow_session.out))
            if seq % 20 == 19:
                # Keep the fast client within reach: publishing waits for it, never for the slow one.
                await wait_until(
                    lambda seq=seq: len(received) >= seq - 40 or reader.done(),
                    what="the fast client to keep up",
                )
        await asyncio.wait_for(reader, timeout=30)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
    assert received == list(range(n))
    # The slow client's queue in the daemon stayed bounded (events, one resync, replies).
    assert max_slow_queue <= max_pending + 2

    # What the slow client gets when it finally reads: some events, then a resync or the end.
    data = head.split(b"\n", 2)[2]
    ended = False
    while True:
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(slow, 1 << 20), 5)
        except TimeoutError:
            break
        if not chunk:
            ended = True
            break
        data += chunk
    slow.close()
    slow_events = [json.loads(line).get("event") for line in data.split(b"\n") if line.strip()]
    assert "resync" in slow_events or ended, (len(slow_events), slow_session)
    assert slow_events.count("check") < n  # it did lose events, and was told so
    assert slow_session.closed or slow_session.pending_events <= max_pending
    await fast.close()


async def test_client_that_falls_behind_gets_resync_and_stays(
    make_server: MakeServer, sock_dir: Path
) -> None:
    server = await make_server(sock_dir / "lag.sock", max_pending_events=50, max_overflows=10_000)
    loop = asyncio.get_running_loop()
    lag = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lag.setblocking(False)
    try:
        await loop.sock_connect(lag, str(server.socket_path))
        await loop.sock_sendall(
            lag, b'{"id": 1, "method": "subscribe", "params": {"topics": ["check"]}}\n'
        )
        buf = b""

        async def frames_until_reply(rid: int) -> list[dict[str, Any]]:
            nonlocal buf
            out: list[dict[str, Any]] = []
            while True:
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    frame = json.loads(line)
                    out.append(frame)
                    if frame.get("id") == rid:
                        return out
                chunk = await asyncio.wait_for(loop.sock_recv(lag, 1 << 20), 10)
                assert chunk, "the feed closed a client that was only behind"
                buf += chunk

        await frames_until_reply(1)
        session = next(iter(server.sessions.values()))
        for seq in range(3000):  # ~6 MB while the client does not read
            server.publish("check", {"seq": seq, "payload": "p" * 2000})
            if seq % 100 == 99:
                await asyncio.sleep(0)
        assert session.overflows >= 1
        assert len(session.out) <= 50 + 2
        # Now it catches up: it is told to resync, and it is still connected and served.
        await loop.sock_sendall(lag, b'{"id": 2, "method": "echo"}\n')
        frames = await frames_until_reply(2)
        assert any(f.get("event") == "resync" for f in frames)
        assert frames[-1] == {"id": 2, "result": {"echo": {}}}
        server.publish("check", {"seq": "after"})
        await loop.sock_sendall(lag, b'{"id": 3, "method": "echo"}\n')
        frames = await frames_until_reply(3)
        assert frames[0] == {"event": "check", "data": {"seq": "after"}}
        assert not session.closed
    finally:
        lag.close()
