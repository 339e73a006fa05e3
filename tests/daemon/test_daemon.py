"""A real Daemon against local targets: feed, transitions, storage, warm restart (SPEC §3)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon import daemon as daemon_module
from slamon_daemon.api.status import ServiceFragments, status_json
from slamon_daemon.config import Settings, load_settings
from slamon_daemon.daemon import GC_THRESHOLDS, Daemon
from slamon_daemon.errors import ServeError
from slamon_daemon.models import Check, ErrorKind, Outcome, ServiceStatus
from slamon_daemon.store import open_store
from slamon_daemon.targets import Target, respond

from .support import FeedClient, remove_dir, short_dir, wait_until, write_config


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.upper().startswith("SLAMON_"):
            monkeypatch.delenv(k)


@pytest.fixture
def sock_dir() -> Any:
    d = short_dir()
    yield d
    remove_dir(d)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'slamon.db'}"
    return str(request.getfixturevalue("pg_url"))


def settings_for(path: Path, **kw: Any) -> Settings:
    write_config(path, **kw)
    settings, used = load_settings(path)
    assert used == path
    return settings


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Daemon]:
    """A started daemon, shut down at the end (also when the test fails)."""
    daemon = Daemon(settings)
    try:
        await daemon.start()
        yield daemon
    finally:
        await daemon.shutdown()


def service(sid: str, url: str, **kw: Any) -> dict[str, Any]:
    return {"id": sid, "url": url, "interval": "1s", "timeout": "2s", "confirm_failures": 2, **kw}


def by_id(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in status["services"]}


async def test_daemon_end_to_end(db_url: str, tmp_path: Path, sock_dir: Path) -> None:
    sock = sock_dir / "d.sock"
    cfg = tmp_path / "slamon.toml"
    async with Target(respond(200, b"ok")) as ok, Target(respond(200, b"ok")) as flaky:
        services = [service("ok-svc", ok.url, name="OK Service"), service("flaky-svc", flaky.url)]
        settings = settings_for(
            cfg,
            db_url=db_url,
            socket=sock,
            services=services,
            extra_daemon=f'spool_dir = "{tmp_path / "spool"}"',
        )

        # -- first run: live status over the socket, events, an outage ---------------------
        async with running(settings) as daemon:
            client = await FeedClient.connect(sock)
            try:
                assert client.hello["hello"] == "slamon" and client.hello["node"] == "test-node"
                sub = await client.result("subscribe", {"topics": ["check", "status"]})
                assert sub == {"topics": ["check", "status"]}

                async def both_checked() -> bool:
                    st = by_id(await client.result("status.get"))
                    return all(s["last_check"] is not None for s in st.values())

                await wait_until(both_checked, what="both services checked", step=0.2)
                status = await client.result("status.get")
                today = datetime.now(UTC).date()
                assert status["node"] == "test-node"
                assert status["overall"]["status"] == "operational"
                assert len(status["days"]) == 90 and status["days"][-1] == today.isoformat()
                services_now = by_id(status)
                assert set(services_now) == {"ok-svc", "flaky-svc"}
                ok_row = services_now["ok-svc"]
                assert ok_row["name"] == "OK Service"
                assert ok_row["status"] == "operational"
                assert ok_row["last_check"]["outcome"] == "up"
                assert ok_row["last_check"]["status_code"] == 200
                assert ok_row["last_check"]["node"] == "test-node"
                assert len(ok_row["daily"]) == 90
                assert ok_row["daily"][-1] == "o" and set(ok_row["daily"][:-1]) == {"nd"}
                assert ok_row["uptime"] == {"30": "100.00", "60": "100.00", "90": "100.00"}

                event = await client.next_event(lambda e: e["event"] == "check")
                assert event["data"]["service_id"] in {"ok-svc", "flaky-svc"}
                assert event["data"]["check"]["outcome"] == "up"
                assert event["data"]["daily"] == "o"

                # The flaky target goes away: confirmed after 2 failures, announced as events.
                await flaky.stop()
                major = await client.next_event(
                    lambda e: (
                        e["event"] == "status"
                        and e["data"].get("service_id") == "flaky-svc"
                        and e["data"]["status"] == "major_outage"
                    ),
                    timeout=20,
                )
                assert major["data"]["kind"] == "service"
                assert major["data"]["previous"] == "degraded"
                overall = await client.next_event(
                    lambda e: (
                        e["event"] == "status"
                        and e["data"]["kind"] == "overall"
                        and e["data"]["status"] == "partial_outage"
                    )
                )
                assert overall["data"]["previous"] == "degraded"
                status = await client.result("status.get")
                assert status["overall"]["status"] == "partial_outage"
                flaky_row = by_id(status)["flaky-svc"]
                assert flaky_row["status"] == "major_outage"
                assert flaky_row["last_check"]["error_kind"] == "connection_error"
                assert flaky_row["daily"][-1] in ("po", "mo")
                assert by_id(status)["ok-svc"]["status"] == "operational"
                # A client that shows no bar or sparkline leaves them out (issue 14); the
                # rest of each entry is the same.
                lean = await client.result(
                    "status.get", {"omit": ["daily", "latencies", "outcomes", "last_check"]}
                )
                assert set(by_id(lean)) == {"ok-svc", "flaky-svc"}
                for sid, row in by_id(lean).items():
                    full = by_id(status)[sid]
                    assert set(full) - set(row) == {"daily", "latencies", "outcomes", "last_check"}
                    assert set(row) < set(full) and row["uptime"].keys() == full["uptime"].keys()
                    assert (row["name"], row["url"]) == (full["name"], full["url"])
                bad = await client.call("status.get", {"omit": ["status"]})
                assert (
                    bad["error"]["code"] == "invalid_params" and "omit" in bad["error"]["message"]
                )

                stats = await client.result("daemon.stats")
                assert stats["checks_made"] >= 4 and stats["services"] == 2
            finally:
                await client.close()
        made = daemon.checks_made
        assert not sock.exists()  # removed at shutdown

        # -- everything reached the database ----------------------------------------------
        async with open_store(db_url) as store:
            assert await store.count_checks() == made  # nothing lost, nothing twice
            ok_checks = await store.recent_checks("ok-svc", 1000)
            flaky_checks = await store.recent_checks("flaky-svc", 1000)
            assert ok_checks and all(c.outcome is Outcome.UP for c in ok_checks)
            assert flaky_checks[0].error_kind is ErrorKind.CONNECTION_ERROR
            assert flaky_checks[-1].outcome is Outcome.UP
            rollups = await store.daily_rollups(today - timedelta(days=1))
            assert sum(r.checks for r in rollups) == made
            history = await store.status_history("flaky-svc")
            assert history[0].status is ServiceStatus.MAJOR_OUTAGE
            episodes = await store.episodes("flaky-svc")
            assert len(episodes) == 1 and episodes[0].ended_at is None
            assert episodes[0].worst_status is ServiceStatus.MAJOR_OUTAGE
            assert episodes[0].cause == "connection_error"
            flaky_count = await store.count_checks("flaky-svc")

        # -- restart: the state is warm before any new check --------------------------------
        async with running(settings) as daemon:
            # start() returned; no check has run yet (status.get's result, read without I/O)
            snap = json.loads(status_json(daemon.api, ServiceFragments()).data)
            assert daemon.checks_made == 0
            rows = by_id(snap)
            assert rows["flaky-svc"]["status"] == "major_outage"
            assert rows["flaky-svc"]["last_check"]["error_kind"] == "connection_error"
            assert rows["ok-svc"]["status"] == "operational"
            assert rows["ok-svc"]["daily"][-1] == "o"
            assert rows["ok-svc"]["uptime"]["90"] == "100.00"
            assert rows["flaky-svc"]["daily"][-1] in ("po", "mo")
            assert rows["flaky-svc"]["uptime"]["90"] not in ("—", "100.00")
            assert snap["overall"]["status"] == "partial_outage"
            assert rows["ok-svc"]["latencies"]  # the sparkline is back too

        # -- the service leaves the config file: deactivated, history kept ------------------
        settings = settings_for(
            cfg,
            db_url=db_url,
            socket=sock,
            services=services[:1],
            extra_daemon=f'spool_dir = "{tmp_path / "spool"}"',
        )
        async with running(settings):
            client = await FeedClient.connect(sock)
            try:
                status = await client.result("status.get")
                assert [s["id"] for s in status["services"]] == ["ok-svc"]
                assert status["overall"]["status"] == "operational"
            finally:
                await client.close()
        async with open_store(db_url) as store:
            listed = {s.id: s.active for s in await store.list_services(include_inactive=True)}
            assert listed == {"ok-svc": True, "flaky-svc": False}
            assert await store.count_checks("flaky-svc") == flaky_count


async def test_recovery_is_announced(tmp_path: Path, sock_dir: Path) -> None:
    sock = sock_dir / "r.sock"
    target = await Target(respond(500, b"broken")).start()
    try:
        settings = settings_for(
            tmp_path / "slamon.toml",
            db_url=f"sqlite:///{tmp_path / 'r.db'}",
            socket=sock,
            services=[service("api", target.url)],
        )
        async with running(settings):
            client = await FeedClient.connect(sock)
            try:
                await client.result("subscribe", {"topics": ["status"]})
                await client.next_event(
                    lambda e: (
                        e["data"].get("service_id") == "api"
                        and e["data"]["status"] == "major_outage"
                    ),
                    timeout=20,
                )
                target.behaviour = respond(200, b"fine")
                back = await client.next_event(
                    lambda e: (
                        e["data"].get("service_id") == "api"
                        and e["data"]["status"] == "operational"
                    ),
                    timeout=20,
                )
                assert back["data"]["previous"] == "major_outage"
            finally:
                await client.close()
    finally:
        await target.stop()
    async with open_store(f"sqlite:///{tmp_path / 'r.db'}") as store:
        (episode,) = await store.episodes("api")
        assert episode.ended_at is not None and episode.cause == "http_error"


async def test_the_collector_is_back_on_once_started(tmp_path: Path, sock_dir: Path) -> None:
    # slamond turns the collector off for its start (its allocations with 50,000 services
    # triggered ~1.3 s of collections); the started daemon must not run without one.
    settings = settings_for(
        tmp_path / "slamon.toml",
        db_url=f"sqlite:///{tmp_path / 'g.db'}",
        socket=sock_dir / "g.sock",
        services=[service("api", "http://127.0.0.1:9/")],
    )
    gc.disable()
    try:
        async with running(settings):
            assert gc.isenabled()
    finally:
        gc.enable()


async def test_young_collections_wait_for_the_checks_in_flight(
    tmp_path: Path, sock_dir: Path
) -> None:
    # At CPython's 700 a young collection promoted the objects of every check in flight,
    # which set off a full collection (the whole state) every 1-3 s at 50,000 services
    # (docs/benchmarks.md, h2 stop 20): the started daemon collects its young generation
    # only after GC_THRESHOLDS[0] allocations, and gives the process its thresholds back.
    settings = settings_for(
        tmp_path / "slamon.toml",
        db_url=f"sqlite:///{tmp_path / 'y.db'}",
        socket=sock_dir / "y.sock",
        services=[service("api", "http://127.0.0.1:9/")],
    )
    before = gc.get_threshold()
    gc.set_threshold(701, 11, 12)  # this process's own, whatever ran before
    try:
        async with running(settings):
            assert gc.get_threshold() == GC_THRESHOLDS
            assert GC_THRESHOLDS[0] >= 10_000
        assert gc.get_threshold() == (701, 11, 12)
    finally:
        gc.set_threshold(*before)


async def test_what_the_first_checks_built_is_frozen_after_them(
    tmp_path: Path, sock_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 14 point 3: a full collection must not walk what every service keeps from its
    # first check on (the day's rollup, ...): 50,000 services made it ~1 s each time.
    monkeypatch.setattr(daemon_module, "GC_SETTLE_AFTER_S", 0.5)
    target = await Target(respond(200, b"fine")).start()
    settings = settings_for(
        tmp_path / "slamon.toml",
        db_url=f"sqlite:///{tmp_path / 'f.db'}",
        socket=sock_dir / "f.sock",
        services=[service("api", target.url)],
    )
    try:
        async with running(settings) as daemon:
            (settle,) = [t for t in daemon._tasks if t.get_name() == "gc"]
            await wait_until(settle.done, what="the collector settled")
            st = daemon.state.services["api"]
            assert st.days  # made by the first check
            made = {id(r) for r in st.days.values()}
            assert not made & {id(o) for o in gc.get_objects()}  # frozen: not listed
    finally:
        await target.stop()


async def test_the_bar_keeps_past_days_counts_only(tmp_path: Path, sock_dir: Path) -> None:
    # issue 14 point 3: a past day's latency histogram took ~5 KB a service in memory;
    # only today's is read from the live state (service.get's day detail)
    db = f"sqlite:///{tmp_path / 'h.db'}"
    settings = settings_for(
        tmp_path / "slamon.toml",
        db_url=db,
        socket=sock_dir / "h.sock",
        services=[service("api", "http://127.0.0.1:9/", interval="1h")],
    )
    now = datetime.now(UTC)
    yesterday, today = now - timedelta(days=1), now - timedelta(seconds=1)
    async with open_store(db) as store:
        await store.migrate()
        await store.sync_services(settings.services)
        await store.write_checks(
            [
                Check(
                    "api",
                    at - timedelta(seconds=i),
                    12.5,
                    outcome,
                    200 if i else 500,
                    error_kind=None if i else ErrorKind.HTTP_ERROR,
                )
                for at in (yesterday, today)
                for i, outcome in enumerate([Outcome.DOWN, Outcome.UP])
            ]
        )
    async with running(settings) as daemon:
        st = daemon.state.services["api"]
        # the past day as its counts only (state.PastDays): (up + degraded, checks - maintenance)
        assert yesterday.date() not in st.days and st.past is not None
        assert st.counts(yesterday.date(), yesterday.date()) == (1, 2)
        live = st.day_rollup(today.date())
        assert live is not None and (live.checks, live.up, live.down) == (2, 1, 1)
        assert live.hist and live.errors


async def test_unknown_and_bad_requests_do_not_disturb_the_daemon(
    tmp_path: Path, sock_dir: Path
) -> None:
    sock = sock_dir / "b.sock"
    settings = settings_for(
        tmp_path / "slamon.toml", db_url=f"sqlite:///{tmp_path / 'b.db'}", socket=sock
    )
    async with running(settings):
        client = await FeedClient.connect(sock)
        try:
            await client.send_raw(b"{oops\n")
            assert (await client.read())["error"]["code"] == "parse_error"
            assert (await client.call("no.such"))["error"]["code"] == "unknown_method"
            assert (await client.call("status.get", {"x": 1}))["error"]["code"] == "invalid_params"
            assert (await client.call("subscribe", {"topics": ["nope"]}))["error"][
                "code"
            ] == "invalid_params"
            assert (await client.result("ping"))["pong"] is True
            names = {m["name"] for m in await client.result("methods")}
            assert {"ping", "status.get", "subscribe", "daemon.stats"} <= names
        finally:
            await client.close()


async def test_second_daemon_on_a_live_socket_leaves_it_alone(
    tmp_path: Path, sock_dir: Path
) -> None:
    sock = sock_dir / "one.sock"
    first = settings_for(tmp_path / "a.toml", db_url=f"sqlite:///{tmp_path / 'a.db'}", socket=sock)
    second = settings_for(tmp_path / "b.toml", db_url=f"sqlite:///{tmp_path / 'b.db'}", socket=sock)
    async with running(first):
        with pytest.raises(ServeError, match="already serving"):
            await Daemon(second).run()
        assert sock.exists()
        client = await FeedClient.connect(sock)
        await client.close()


async def test_slamond_runs_and_stops_on_sigterm(tmp_path: Path, sock_dir: Path) -> None:
    sock = sock_dir / "p.sock"
    async with Target(respond(200, b"ok")) as target:
        cfg = write_config(
            tmp_path / "good.toml",
            db_url=f"sqlite:///{tmp_path / 'p.db'}",
            socket=sock,
            services=[service("api", target.url)],
        )
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SLAMON_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "slamon_daemon",
            "--config",
            str(cfg),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=tmp_path,
        )
        try:
            await wait_until(
                lambda: sock.exists() or proc.returncode is not None,
                timeout=20,
                what="the socket to appear",
            )
            assert proc.returncode is None, "slamond exited early"
            assert oct(sock.stat().st_mode & 0o777) == oct(0o660)
            client = await FeedClient.connect(sock)
            try:
                assert client.hello["hello"] == "slamon"

                async def checked() -> bool:
                    row = (await client.result("status.get"))["services"][0]
                    return row["last_check"] is not None

                await wait_until(checked, what="a check", step=0.2)
            finally:
                await client.close()
            proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, err.decode(errors="replace")
        assert not sock.exists()
        assert target.requests >= 1


async def test_a_first_check_found_operational_is_not_logged_at_info(
    tmp_path: Path, sock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 50,000 services logged 50,000 "unknown -> operational" lines in their first minute.
    # A service whose first check fails is news (INFO); one found fine is not (DEBUG), and
    # the overall status still says the system is operational.
    ok = await Target(respond(200, b"fine")).start()
    broken = await Target(respond(500, b"broken")).start()
    try:
        settings = settings_for(
            tmp_path / "slamon.toml",
            db_url=f"sqlite:///{tmp_path / 'l.db'}",
            socket=sock_dir / "l.sock",
            services=[service("ok-svc", ok.url), service("bad-svc", broken.url)],
        )
        caplog.set_level(logging.DEBUG, logger="slamon.daemon")
        async with running(settings):

            def both_logged() -> bool:
                said = {r.getMessage() for r in caplog.records}
                return {
                    "status bad-svc: unknown -> degraded",
                    "status ok-svc: unknown -> operational",
                } <= said

            await wait_until(both_logged, what="both first statuses logged", timeout=20)
    finally:
        await ok.stop()
        await broken.stop()
    levels = {
        r.getMessage(): r.levelno for r in caplog.records if r.getMessage().startswith("status ")
    }
    assert levels["status ok-svc: unknown -> operational"] == logging.DEBUG
    assert levels["status bad-svc: unknown -> degraded"] == logging.INFO
