"""The feed survives anything a client sends, and one client never hurts another (SPEC §3.11).

* Hypothesis throws random frames (bytes, JSON values, request-like objects with random field
  types, lines over the size limit, NULs and invalid UTF-8, many frames per write, frames split
  across writes) at ONE live daemon. After each example the same connection and a fresh one
  still get a correct ``ping`` reply, every reply is the one docs/feed.md promises for that
  line (same order, same id, a documented code), and the daemon is still running.
* A client that never reads while thousands of events flow: another subscriber gets every one
  of them, the stuck one is told to resync and then dropped, and its buffers stay bounded.
* The per-connection request rate limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slamon_daemon.config import load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.feed import Session
from slamon_daemon.protocol import MAX_FRAME_BYTES, ErrorCode

from .support import remove_dir, short_dir, wait_until
from .test_auth import Client, daemon_config, running_daemon

DOCUMENTED_CODES = {v for k, v in vars(ErrorCode).items() if k.isupper()}
REQUEST_KEYS = {"id", "method", "params", "token"}
# What a well-formed request for a known method may get besides a result.
SERVICE_ERRORS = DOCUMENTED_CODES - {
    ErrorCode.PARSE_ERROR,
    ErrorCode.FRAME_TOO_LARGE,
    ErrorCode.BAD_REQUEST,
    ErrorCode.UNKNOWN_METHOD,
    ErrorCode.INTERNAL,
}


@pytest.fixture
def folder() -> Iterator[Path]:
    d = short_dir()
    yield d
    remove_dir(d)


def test_documented_codes_are_the_docs_table() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "feed.md").read_text(encoding="utf-8")
    table = docs.split("## Error codes", 1)[1].split("\n## ", 1)[0]
    documented = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    assert documented == DOCUMENTED_CODES


# -- a daemon in a thread, for blocking clients driven by hypothesis -------------------------


class ThreadedDaemon:
    """A real Daemon running in its own thread and event loop."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.daemon: Daemon | None = None
        self.task: asyncio.Task[None] | None = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._thread, name="fuzzed-daemon", daemon=True)

    def _thread(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported by running()
            self.error = exc
        finally:
            self.ready.set()

    async def _main(self) -> None:
        settings_, _ = load_settings(self.config)
        self.daemon = Daemon(settings_)
        self.task = asyncio.create_task(self.daemon.run())
        waiter = asyncio.create_task(self.daemon.started.wait())
        await asyncio.wait({self.task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        self.ready.set()
        await self.task

    def __enter__(self) -> ThreadedDaemon:
        self.thread.start()
        assert self.ready.wait(30), "daemon did not start"
        assert self.running(), f"daemon stopped: {self.error!r}"
        return self

    def running(self) -> bool:
        return self.task is not None and not self.task.done() and self.thread.is_alive()

    def __exit__(self, *exc: object) -> None:
        if self.daemon is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.daemon.request_stop)
        self.thread.join(30)
        assert not self.thread.is_alive(), "daemon did not stop"
        self.loop.close()


class SyncClient:
    """A blocking newline-JSON client."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")
        self.hello = self.frame()
        assert self.hello.get("hello") == "slamon" and self.hello.get("protocol") == 1

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frame(self) -> dict[str, Any]:
        line = self.file.readline()
        if not line:
            raise EOFError("the daemon closed the connection")
        obj = json.loads(line)  # the daemon only sends valid JSON lines
        assert isinstance(obj, dict), line
        return obj

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
            self.sock.close()


def check_pong(reply: dict[str, Any], rid: str) -> None:
    assert reply.get("id") == rid, reply
    assert set(reply) == {"id", "result"}, reply
    assert reply["result"]["pong"] is True and isinstance(reply["result"]["time"], str), reply


# -- what the daemon must answer to one line -------------------------------------------------


def expected_reply(line: bytes, methods: set[str]) -> tuple[Any, set[str]] | None:
    """(id, allowed outcomes) for a line the daemon reads; None for a blank line (no reply).

    Outcomes are error codes, or "result" for a successful reply.
    """
    if len(line) > MAX_FRAME_BYTES:
        return None, {ErrorCode.FRAME_TOO_LARGE}
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None, {ErrorCode.PARSE_ERROR}
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: refused before the request's shape
        return None, {ErrorCode.PARSE_ERROR}
    if not isinstance(obj, dict):
        return None, {ErrorCode.BAD_REQUEST}
    rid = obj.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, int | str)):
        return None, {ErrorCode.BAD_REQUEST}
    method = obj.get("method")
    params = obj.get("params", {})
    token = obj.get("token")
    if (
        not isinstance(method, str)
        or not method
        or not isinstance(params, dict | None)
        or not isinstance(token, str | None)
        or set(obj) - REQUEST_KEYS
    ):
        return rid, {ErrorCode.BAD_REQUEST}
    if method not in methods:
        return rid, {ErrorCode.UNKNOWN_METHOD}
    return rid, SERVICE_ERRORS | {"result"}


def check_reply(reply: dict[str, Any], expected: tuple[Any, set[str]], line: bytes) -> None:
    rid, outcomes = expected
    where = f"for line {line[:200]!r}: {str(reply)[:400]}"
    assert "id" in reply and reply["id"] == rid, where
    if "result" in reply:
        assert set(reply) == {"id", "result"}, where
        assert "result" in outcomes, where
        return
    assert set(reply) == {"id", "error"}, where
    err = reply["error"]
    assert isinstance(err, dict) and set(err) <= {"code", "message", "fields", "data"}, where
    assert err["code"] in DOCUMENTED_CODES, where
    assert err["code"] in outcomes, where
    assert isinstance(err["message"], str) and err["message"], where
    if "fields" in err:
        assert isinstance(err["fields"], dict), where


# -- strategies -------------------------------------------------------------------------------

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=30)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
PARAM_KEYS = [
    "id",
    "username",
    "password",
    "role",
    "limit",
    "topics",
    "range",
    "days",
    "months",
    "until",
    "day",
    "include_past",
    "title",
    "start",
    "end",
    "services",
    "query",
    "refresh_token",
    "incident_id",
    "mode",
    "page",
    "format",
    "month",
    "url",
    "version",
]
PARAM_VALUES = [
    "24h",
    "1h",
    "2026-11",
    "2026-11-21",
    "api",
    "viewer",
    "admin",
    "check",
    7,
    0,
    -1,
    ["check", "status"],
    ["nope"],
    True,
    "2026-11-22T02:00:00Z",
    "x" * 300,
    "P1",
]
param_value = json_value | st.sampled_from(PARAM_VALUES)
params_strategy = (
    st.dictionaries(st.sampled_from(PARAM_KEYS) | st.text(max_size=8), param_value, max_size=4)
    | json_value
)
forged_token = st.binary(min_size=16, max_size=40).map(
    lambda key: jwt.encode(
        {"sub": "admin", "ver": 0, "exp": 4102444800}, key.hex(), algorithm="HS256"
    )
)
token_strategy = st.text(max_size=40) | json_value | forged_token
id_strategy = st.integers() | st.text(max_size=20) | json_value


def request_lines(method_names: list[str]) -> st.SearchStrategy[bytes]:
    method = st.sampled_from(method_names) | st.text(max_size=20) | json_value
    optional = {
        "id": id_strategy,
        "params": params_strategy,
        "token": token_strategy,
        "extra": json_value,
    }
    shaped = st.fixed_dictionaries(
        {"id": st.integers() | st.text(max_size=10), "method": method},
        optional={k: v for k, v in optional.items() if k != "id"},
    )
    loose = st.fixed_dictionaries({}, optional={**optional, "method": method})
    return (shaped | loose).map(lambda d: json.dumps(d).encode())


def bad_bytes(lines: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """A line with NULs or invalid UTF-8 spliced in."""
    # (Not UTF-8-encoded surrogates such as b"\xed\xa0\x80": a known bug, see
    # test_lone_surrogates_keep_the_connection below.)
    junk = st.sampled_from(
        [
            b"\x00",
            b"\xff",
            b"\xfe\xff",
            b"\xc3\x28",
            b"\x80",
            b"\x00\x00\x00",
            b"\r",
            b"\xef\xbb\xbf",
        ]
    )
    return st.builds(
        lambda ln, j, at: ln[: at % (len(ln) + 1)] + j + ln[at % (len(ln) + 1) :],
        lines,
        junk,
        st.integers(min_value=0),
    )


long_line = st.sampled_from(
    [MAX_FRAME_BYTES - 1, MAX_FRAME_BYTES, MAX_FRAME_BYTES + 1, 2 * MAX_FRAME_BYTES + 7]
).flatmap(lambda n: st.sampled_from([b"x" * n, b'"' + b"a" * (n - 2) + b'"', b" " * n]))


def one_line(method_names: list[str]) -> st.SearchStrategy[bytes]:
    requests = request_lines(method_names)
    return st.one_of(
        requests,
        requests,
        json_value.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=300),
        bad_bytes(requests),
        st.sampled_from(
            [
                b"",
                b" ",
                b"\t\r",
                b"\x0b\x0c",
                b"{",
                b"}",
                b"null",
                b"[]",
                b"{}",
                b'{"method": ""}',
                b'{"id": true, "method": "ping"}',
                b'{"id": 1.5, "method": "ping"}',
                b'{"id": 1, "method": "ping", "x": 1}',
            ]
        ),
    )


def payloads(method_names: list[str]) -> st.SearchStrategy[tuple[bytes, list[int]]]:
    """Many frames in one write, maybe one over-long line, cut at random places."""
    return st.tuples(
        st.lists(one_line(method_names), min_size=1, max_size=20),
        st.none() | long_line,
        st.integers(min_value=0),
        st.lists(st.integers(min_value=0), max_size=4),
    ).map(_assemble)


def _assemble(parts: tuple[list[bytes], bytes | None, int, list[int]]) -> tuple[bytes, list[int]]:
    lines, long, at, cuts = parts
    if long is not None:
        lines = [*lines]
        lines.insert(at % (len(lines) + 1), long)
    data = b"\n".join(lines) + b"\n"
    return data, sorted({c % len(data) for c in cuts})


# -- the fuzz test ---------------------------------------------------------------------------


def test_random_frames_never_break_the_feed(folder: Path) -> None:
    config = daemon_config(folder, extra="request_rate = 100000")
    with ThreadedDaemon(config) as td:
        assert td.daemon is not None
        methods = set(td.daemon.feed.methods)
        sock = folder / "s.sock"
        conn = SyncClient(sock)
        counter = iter(range(10**9))
        seen_codes: set[str] = set()

        @settings(
            max_examples=150,
            deadline=None,
            database=None,
            suppress_health_check=[
                HealthCheck.function_scoped_fixture,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
            ],
        )
        @given(payloads(sorted(methods)))
        def example(payload: tuple[bytes, list[int]]) -> None:
            data, cuts = payload
            n = next(counter)
            expected = [
                e
                for e in (expected_reply(ln, methods) for ln in data.split(b"\n")[:-1])
                if e is not None
            ]
            lines = [ln for ln in data.split(b"\n")[:-1] if expected_reply(ln, methods) is not None]
            start = 0
            for cut in [*cuts, len(data)]:
                if cut > start:
                    conn.send(data[start:cut])
                    start = cut
            pid = f"ping-{n}"
            conn.send(json.dumps({"id": pid, "method": "ping"}).encode() + b"\n")
            replies = []
            while True:
                frame = conn.frame()
                if "event" in frame:
                    continue
                if frame.get("id") == pid:
                    check_pong(frame, pid)
                    break
                replies.append(frame)
            assert len(replies) == len(expected), (len(replies), len(expected), replies[:3])
            for reply, exp, line in zip(replies, expected, lines, strict=True):
                check_reply(reply, exp, line)
                if "error" in reply:
                    seen_codes.add(reply["error"]["code"])

            fresh = SyncClient(sock)
            try:
                fresh.send(b'{"id": "fresh", "method": "ping"}\n')
                check_pong(fresh.frame(), "fresh")
            finally:
                fresh.close()
            assert td.running()

        try:
            example()
        finally:
            conn.close()
        assert td.running()
        assert next(counter) >= 100  # hypothesis really ran the examples
        # The examples really reached the different checks.
        assert {
            ErrorCode.PARSE_ERROR,
            ErrorCode.BAD_REQUEST,
            ErrorCode.UNKNOWN_METHOD,
            ErrorCode.FRAME_TOO_LARGE,
        } <= seen_codes, seen_codes
        assert td.daemon.feed.sessions == {} or all(
            isinstance(s, Session) for s in td.daemon.feed.sessions.values()
        )


# -- frames the JSON parser cannot take ----------------------------------------------------


BAD_JSON = {
    "deep_nesting": b"[" * 100_000 + b"]" * 100_000,
    "huge_integer": b'{"id": 1, "method": "ping", "params": {"n": ' + b"9" * 5000 + b"}}",
    "utf16": json.dumps({"id": 1, "method": "ping"}).encode("utf-16-le"),
}


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("deep_nesting"),
        pytest.param("huge_integer"),
        pytest.param("utf16"),
    ],
)
async def test_lines_json_cannot_take_are_parse_errors(
    folder: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_daemon(daemon_config(folder)):
        c = await Client.connect(folder / "s.sock")
        try:
            await c.send_raw(BAD_JSON[kind] + b"\n")
            reply = await c.read()
            # Whatever it is, the connection and the daemon go on.
            assert (await c.ok("ping"))["pong"] is True
        finally:
            await c.close()
    assert reply["id"] is None, reply
    assert reply["error"]["code"] == ErrorCode.PARSE_ERROR, reply
    assert "feed method failed" not in caplog.text


SURROGATES = {
    # valid UTF-8 and valid JSON: a \u escape of a lone surrogate, echoed back in the reply
    "escaped_in_id": b'{"id": "\\ud800", "method": "ping"}',
    # not UTF-8 (a surrogate encoded as UTF-8): json.loads decodes bytes with 'surrogatepass'
    "encoded_in_id": b'{"id": "\xed\xa0\x80", "method": "ping"}',
    # a lone surrogate reaching the store
    "escaped_in_username": b'{"id": 7, "method": "auth.login", "params": '
    b'{"username": "\\ud800x", "password": "abcdefghijkl"}}',
}


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("escaped_in_id"),
        pytest.param("encoded_in_id"),
        pytest.param("escaped_in_username"),
    ],
)
async def test_lone_surrogates_keep_the_connection(folder: Path, kind: str) -> None:
    async with running_daemon(daemon_config(folder)):
        c = await Client.connect(folder / "s.sock")
        try:
            await c.send_raw(SURROGATES[kind] + b"\n")
            reply = await c.read()
            code = reply.get("error", {}).get("code")
            assert code in DOCUMENTED_CODES - {ErrorCode.INTERNAL}, reply
            if kind == "encoded_in_id":
                assert code == ErrorCode.PARSE_ERROR, reply
            assert (await c.ok("ping"))["pong"] is True
        finally:
            await c.close()


# -- a client that never reads ---------------------------------------------------------------


async def _reader(c: Client, got: list[int], others: list[dict[str, Any]]) -> None:
    while line := await c.reader.readline():
        frame = json.loads(line)
        if frame.get("event") == "check":
            got.append(frame["data"]["seq"])
        else:
            others.append(frame)


async def test_a_client_that_never_reads_does_not_hurt_another(folder: Path) -> None:
    total = 12_000
    pad = "p" * 1000
    async with running_daemon(daemon_config(folder)) as daemon:
        feed = daemon.feed
        limit = feed.max_pending_events
        good = await Client.connect(folder / "s.sock")
        assert (await good.ok("subscribe", {"topics": ["check"]})) == {"topics": ["check"]}
        good_session = next(s for s in feed.sessions.values() if "check" in s.topics)

        # The stuck client: subscribes, then never reads another byte.
        before = set(feed.sessions)
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(stuck, str(folder / "s.sock"))
        await loop.sock_sendall(
            stuck, b'{"id": 1, "method": "subscribe", "params": {"topics": ["check"]}}\n'
        )
        await wait_until(
            lambda: any("check" in feed.sessions[i].topics for i in set(feed.sessions) - before),
            what="the stuck client's subscription",
        )
        (stuck_id,) = set(feed.sessions) - before
        stuck_session = feed.sessions[stuck_id]

        got: list[int] = []
        others: list[dict[str, Any]] = []
        reader = asyncio.create_task(_reader(good, got, others))
        frame_len = 0
        most_queued = most_pending = most_buffered = 0
        try:
            for seq in range(total):
                # Publish as fast as the good client reads (its own buffer never overflows).
                while good_session.pending_events > limit // 4:
                    await asyncio.sleep(0.001)
                data = {"service_id": "svc", "seq": seq, "pad": pad}
                feed.publish("check", data)
                frame_len = frame_len or len(json.dumps({"event": "check", "data": data})) + 1
                if not stuck_session.closed:
                    most_queued = max(most_queued, len(stuck_session.out))
                    most_pending = max(most_pending, stuck_session.pending_events)
                    transport = stuck_session.writer.transport
                    most_buffered = max(most_buffered, transport.get_write_buffer_size())
                if seq % 50 == 0:
                    await asyncio.sleep(0)
            await wait_until(
                lambda: len(got) >= total, timeout=60, what="every event at the good client"
            )
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

        # The good client got every event, in order, and was never told to resync.
        assert got == list(range(total))
        assert [f for f in others if f.get("event") == "resync"] == []
        assert good_session.overflows == 0 and not good_session.closed

        # The stuck one was told to resync, then dropped after too many overflows...
        assert stuck_session.overflows > feed.max_overflows
        assert stuck_session.closed and stuck_id not in feed.sessions
        # ... and what the daemon held for it stayed bounded the whole time.
        assert 0 < most_pending <= limit
        assert most_queued <= limit + 2
        assert most_buffered <= (limit + 2) * frame_len, (most_buffered, frame_len)

        # What the stuck client can still read: events in order, never a broken frame.
        # (Read without blocking this event loop: the daemon runs in it and must flush.)
        received = b""
        try:
            while chunk := await asyncio.wait_for(loop.sock_recv(stuck, 1 << 20), 30):
                received += chunk
        finally:
            stuck.close()
        frames = [json.loads(x) for x in received.split(b"\n") if x]
        seqs = [f["data"]["seq"] for f in frames if f.get("event") == "check"]
        assert seqs == sorted(seqs) and len(seqs) < total
        assert frames[0].get("hello") == "slamon"

        # The daemon still serves everyone.
        assert (await good.ok("ping"))["pong"] is True
        await good.close()


async def test_a_client_that_never_reads_its_replies_is_bounded_too(folder: Path) -> None:
    """Replies are never dropped, so the daemon must stop reading (or drop the client) when
    they pile up; otherwise one client makes the daemon hold any amount of memory."""
    budget = 16 * 1024 * 1024
    async with running_daemon(daemon_config(folder)) as daemon:
        feed = daemon.feed
        loop = asyncio.get_running_loop()
        before = set(feed.sessions)
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.setblocking(False)
        try:
            await loop.sock_connect(stuck, str(folder / "s.sock"))
            await wait_until(lambda: bool(set(feed.sessions) - before), what="the session")
            (sid,) = set(feed.sessions) - before
            s = feed.sessions[sid]
            # A bad request whose reply echoes its ~1 MB id: 64 of them, never reading a reply.
            frame = json.dumps({"id": "x" * 1_000_000, "method": 1}).encode() + b"\n"

            def held() -> int:
                if s.closed:
                    return 0
                return sum(map(len, s.out)) + s.writer.transport.get_write_buffer_size()

            most = 0

            async def flood() -> None:
                for _ in range(64):
                    await loop.sock_sendall(stuck, frame)

            sender = asyncio.create_task(flood())
            deadline = time.monotonic() + 10
            while not sender.done() and time.monotonic() < deadline:
                most = max(most, held())
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)  # let the daemon take in what was sent
            most = max(most, held())
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await sender
        finally:
            stuck.close()
        assert most <= budget, f"the daemon held {most / 2**20:.0f} MiB for one client"


# -- request rate per connection -------------------------------------------------------------


async def test_request_rate_limit_per_connection(folder: Path) -> None:
    rate, burst, sent = 2.0, 8, 40
    async with running_daemon(daemon_config(folder, extra=f"request_rate = {rate}")) as daemon:
        assert daemon.feed.request_burst == rate * 4
        c = await Client.connect(folder / "s.sock")
        other = await Client.connect(folder / "s.sock")
        try:
            t0 = time.monotonic()
            await c.send_raw(
                b"".join(
                    json.dumps({"id": i, "method": "ping"}).encode() + b"\n" for i in range(sent)
                )
            )
            replies = [await c.read() for _ in range(sent)]
            elapsed = time.monotonic() - t0
            assert [r["id"] for r in replies] == list(range(sent))
            ok = [r for r in replies if "result" in r]
            limited = [
                r for r in replies if r.get("error", {}).get("code") == ErrorCode.RATE_LIMITED
            ]
            assert len(ok) + len(limited) == sent
            # The burst is served; beyond it only what the rate refilled meanwhile.
            assert burst <= len(ok) <= burst + 1 + rate * elapsed, (len(ok), elapsed)
            assert replies[:burst] == ok[:burst]
            assert "too many requests" in limited[0]["error"]["message"]

            # Another connection has its own budget.
            assert (await other.ok("ping"))["pong"] is True
            # After a pause the same connection works again.
            await asyncio.sleep(1.5 / rate)
            assert (await c.ok("ping"))["pong"] is True
        finally:
            await c.close()
            await other.close()
