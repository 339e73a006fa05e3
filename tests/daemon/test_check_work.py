"""What a check leaves behind and what it costs to store (issue 14, points 1-2): a check's
objects are freed by reference counting (no reference cycle for the garbage collector), the
prober keeps its built requests without churning, ``Check`` keeps its value semantics, and a
batch that is partly a replay stores only its new checks (SQLite's quick path).

Real targets on 127.0.0.1 (asyncio servers of slamon_daemon.targets), real SQLite files and a
throw-away PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon import probe
from slamon_daemon.models import Check, ErrorKind, Outcome, Service
from slamon_daemon.probe import Prober
from slamon_daemon.store import PostgresStore, SqliteStore
from slamon_daemon.store.base import Store
from slamon_daemon.targets import Target, respond

# The prober's objects of one check (transport/, httpx's response): none may be left in a
# reference cycle.
_PROBER_TYPES = frozenset(
    ("Exchange", "HttpResponseParser", "Response", "BoundAsyncStream", "ResponseBody")
)


def svc(url: str, sid: str = "svc", **kw: Any) -> Service:
    return Service(id=sid, name=sid, url=url, timeout_s=5.0, **kw)


@contextlib.contextmanager
def cyclic_garbage() -> Iterator[Counter[str]]:
    """The types of the objects that only the collector could free, made inside the block."""
    found: Counter[str] = Counter()
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield found
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        found.update(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()


async def _checks_leave_no_cycle() -> None:
    prober = Prober()
    try:
        async with Target(respond(200, b"final")) as final:
            moved = respond(302, b"", headers={"Location": final.url})
            async with Target(moved) as start:
                direct, redirected = svc(final.url), svc(start.url, "r", follow_redirects=True)
                for s in (direct, redirected):  # warm: clients, TLS-free contexts, requests
                    assert (await prober.check(s)).outcome is Outcome.UP
                with cyclic_garbage() as found:
                    for _ in range(20):
                        for s in (direct, redirected):
                            c = await prober.check(s)
                            assert (c.outcome, c.status_code) == (Outcome.UP, 200), c
                    del c
                assert not {k: n for k, n in found.items() if k in _PROBER_TYPES}, found
    finally:
        await prober.aclose()


async def test_a_check_leaves_no_reference_cycle_on_asyncio() -> None:
    await _checks_leave_no_cycle()


def test_a_check_leaves_no_reference_cycle_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")
    scenario: Callable[[], Coroutine[Any, Any, None]] = _checks_leave_no_cycle
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())


async def test_kept_requests_do_not_churn_and_dead_ones_give_their_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(probe, "REQUEST_CACHE", 3)
    monkeypatch.setattr(probe, "REQUEST_SWEEP_S", 3600.0)
    prober = Prober()
    try:
        async with Target(respond(200)) as t:
            services = [svc(f"{t.url}?n={i}", f"s{i}") for i in range(5)]
            client, _ = prober._client(services[0])
            first = [prober._request_of(client, s)[0] for s in services]
            again = [prober._request_of(client, s)[0] for s in services]
            # More services than the cache holds, checked in turn: the first ones keep
            # theirs (clearing when full made every one of them miss), the others are built.
            assert [a is b for a, b in zip(first, again, strict=True)] == [1, 1, 1, 0, 0]
            for s in services:  # a built request is as good as a kept one
                c = await prober.check(s)
                assert (c.outcome, c.status_code) == (Outcome.UP, 200)
            # s0 is removed (no longer checked): the first sweep due keeps what was used
            # since the cache filled, s0 too; the next one, what was used since: not s0.
            monkeypatch.setattr(probe, "REQUEST_SWEEP_S", 0.0)
            prober._request_of(client, services[3])  # misses: sweeps, all were used
            assert set(prober._requests) == {"s0", "s1", "s2"}
            for s in services[1:3]:
                prober._request_of(client, s)
            s3 = prober._request_of(client, services[3])[0]  # misses, sweeps out s0, is kept
            assert prober._request_of(client, services[3])[0] is s3
            assert set(prober._requests) == {"s1", "s2", "s3"}
            # A changed service gets a new request in its own place.
            changed = dataclasses.replace(services[1], timeout_s=9.0)
            built = prober._request_of(client, changed)[0]
            assert built is prober._request_of(client, changed)[0] and built is not again[1]
            assert built.extensions["timeout"]["read"] == 9.0
    finally:
        await prober.aclose()


T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_check_keeps_its_value_semantics() -> None:
    by_name = Check(service_id="a", started_at=T0, latency_ms=1.5, outcome=Outcome.UP)
    by_position = Check("a", T0, 1.5, Outcome.UP)
    assert by_name == by_position and hash(by_name) == hash(by_position)
    assert (by_name.node, by_name.interval_s, by_name.share, by_name.region) == (
        "local",
        60.0,
        1,
        None,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        by_name.node = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Check(service_id="a", started_at=T0, latency_ms=1.5)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Check("a", T0, 1.5, Outcome.UP, nonsense=1)  # type: ignore[call-arg]
    down = dataclasses.replace(by_name, outcome=Outcome.DOWN, error_kind=ErrorKind.TIMEOUT)
    assert (down.outcome, down.error_kind, down.latency_ms) == (
        Outcome.DOWN,
        ErrorKind.TIMEOUT,
        1.5,
    )
    assert [f.name for f in dataclasses.fields(Check)][:4] == [
        "service_id",
        "started_at",
        "latency_ms",
        "outcome",
    ]
    assert not hasattr(by_name, "__dict__")


def _series(sid: str, start: datetime, n: int) -> list[Check]:
    return [
        Check(sid, start + timedelta(seconds=60 * i), 10.0 + i, Outcome.UP, status_code=200)
        for i in range(n)
    ]


async def _partly_replayed(store: Store) -> None:
    await store.migrate()
    await store.sync_services([Service(id=s, name=s, url="http://127.0.0.1/") for s in "ab"])
    old = _series("a", T0, 300)
    assert await store.write_batch(old) == 300
    # One batch: 200 already stored (in the middle of a 500-row statement) and 400 new.
    new = _series("a", T0 + timedelta(hours=5), 200) + _series("b", T0, 200)
    mixed = old[50:150] + new[:200] + old[150:250] + new[200:]
    assert await store.write_batch(mixed) == 400
    assert await store.write_batch(mixed) == 0  # all of it again: nothing new
    assert await store.count_checks("a") == 500 and await store.count_checks("b") == 200
    daily = {(r.service_id, r.day): r for r in await store.daily_rollups(date(2026, 11, 30))}
    assert daily["a", date(2026, 11, 30)].checks == 500  # each check counted once
    assert daily["b", date(2026, 11, 30)].checks == 200


async def test_a_partly_replayed_batch_stores_only_its_new_checks_sqlite(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db") as store:
        await _partly_replayed(store)


async def test_a_partly_replayed_batch_stores_only_its_new_checks_postgres(pg_url: str) -> None:
    async with PostgresStore(pg_url) as store:
        await _partly_replayed(store)


# -- a single request goes straight to the transport: the same verdicts as through the client


@pytest.mark.parametrize("follow", [False, True])
async def test_a_malformed_redirect_location_is_a_protocol_error(follow: bool) -> None:
    prober = Prober()
    try:
        bad = respond(302, b"", headers={"Location": "http://[::1/"})
        async with Target(bad) as t:
            c = await prober.check(svc(t.url, follow_redirects=follow))
            assert (c.outcome, c.error_kind) == (Outcome.DOWN, ErrorKind.PROTOCOL_ERROR), c
            assert c.error is not None and "location" in c.error.lower()
        good = respond(301, b"", headers={"Location": "/elsewhere"})
        async with Target(good) as t:
            c = await prober.check(svc(t.url))
            assert (c.outcome, c.status_code, c.error_kind) == (
                Outcome.DOWN,
                301,
                ErrorKind.HTTP_ERROR,
            )
    finally:
        await prober.aclose()


async def test_credentials_in_the_url_are_sent_as_basic_auth() -> None:
    seen: list[str] = []

    async def record(req: Any, w: asyncio.StreamWriter) -> None:
        seen.append(req.headers.get("authorization", ""))
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    prober = Prober()
    try:
        async with Target(record) as t:
            url = t.url.replace("http://", "http://probe:s3cret@")
            c = await prober.check(svc(url))
            assert (c.outcome, c.status_code) == (Outcome.UP, 200), c
            c = await prober.check(svc(t.url))
            assert c.outcome is Outcome.UP
    finally:
        await prober.aclose()
    assert seen == ["Basic cHJvYmU6czNjcmV0", ""]
