"""Nothing lost when the database fails (SPEC §3.9), end to end.

* PostgreSQL is cut off mid-run through a TCP proxy: probing, state and the feed go on, the
  checks are journaled, and once the database is back every check made is stored exactly once.
* A daemon killed with SIGKILL restarts with no duplicates and rollups that agree with the
  raw checks, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from slamon_daemon.config import load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Check
from slamon_daemon.store import open_store
from slamon_daemon.targets import Target, respond
from tests.conftest import throwaway_pg_database

from .proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]


def _config(folder: Path, database_url: str, urls: list[str], interval: str = "200ms") -> Path:
    services = "".join(
        f'\n[[service]]\nid = "svc-{i}"\nurl = "{u}"\ninterval = "{interval}"\ntimeout = "1s"\n'
        for i, u in enumerate(urls)
    )
    path = folder / "slamon.toml"
    path.write_text(
        f'[daemon]\ndatabase_url = "{database_url}"\nsocket = "{folder}/s.sock"\n'
        f'write_flush_interval = "100ms"\n{services}',
        encoding="utf-8",
    )
    return path


async def _call(sock: Path, method: str, params: dict | None = None) -> dict:
    r, w = await asyncio.open_unix_connection(str(sock))
    try:
        await r.readline()
        w.write(json.dumps({"id": 1, "method": method, "params": params or {}}).encode() + b"\n")
        await w.drain()
        return json.loads(await r.readline())
    finally:
        w.close()


async def _wait_for(pred, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if await pred():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_postgres_outage_loses_nothing_and_writes_nothing_twice(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    via_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    folder = Path(tempfile.mkdtemp(prefix="slamon-", dir="/tmp"))
    async with Target(respond(200)) as up, Target(respond(500)) as bad:
        settings, _ = load_settings(_config(folder, via_proxy, [up.url, bad.url]))
        daemon = Daemon(settings)
        made: list[Check] = []
        original = daemon.on_check

        def record(check: Check) -> None:
            made.append(check)
            original(check)

        daemon.on_check = record  # type: ignore[method-assign]
        runner = asyncio.create_task(daemon.run())
        await asyncio.wait_for(daemon.started.wait(), 20)
        await asyncio.sleep(1.0)

        await proxy.cut()
        before_cut = len(made)
        await asyncio.sleep(2.5)
        during = len(made) - before_cut
        # The feed keeps serving from memory while the database is away.
        reply = await _call(folder / "s.sock", "status.get")
        assert {s["id"] for s in reply["result"]["services"]} == {"svc-0", "svc-1"}
        stats = (await _call(folder / "s.sock", "daemon.stats"))["result"]
        assert stats["store_ok"] is False
        assert stats["write_pending"] > 0
        assert during >= 10, "probing must go on while the database is unreachable"

        await proxy.restore()

        async def drained() -> bool:
            s = (await _call(folder / "s.sock", "daemon.stats"))["result"]
            return bool(s["store_ok"] and s["write_pending"] == 0)

        await _wait_for(drained, 30)
        daemon.request_stop()
        await asyncio.wait_for(runner, 30)
    await proxy.cut()

    con = await asyncpg.connect(pg_url)
    try:
        rows = await con.fetch("SELECT service_id, started_at, node FROM checks")
        total = await con.fetchval("SELECT sum(checks) FROM daily_rollups")
    finally:
        await con.close()
    stored = [(r["service_id"], r["started_at"], r["node"]) for r in rows]
    expected = [(c.service_id, c.started_at, c.node) for c in made]
    assert len(stored) == len(set(stored)), "a check was stored twice"
    assert sorted(stored) == sorted(expected), "every check made is stored exactly once"
    assert total == len(made), "the rollups count each check once"
    from slamon_daemon.config import spool_dir_for

    assert not list(spool_dir_for(settings.daemon).glob("*.jsonl")), "journal fully replayed"


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tempfile.mkdtemp(prefix='slamon-db-', dir='/tmp')}/slamon.db"
    else:
        async with throwaway_pg_database() as url:
            yield url


async def test_sigkill_restart_leaves_no_duplicates_or_corrupt_rollups(database_url: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="slamon-", dir="/tmp"))
    url = database_url
    async with Target(respond(200)) as up, Target(respond(503)) as down:
        cfg = _config(folder, url, [up.url, down.url, up.url + "x"], interval="100ms")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}

        async def start() -> asyncio.subprocess.Process:
            p = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "slamon_daemon",
                "--config",
                str(cfg),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                env=env,
            )
            await _wait_for(lambda: _exists(folder / "s.sock"), 20)
            return p

        p = await start()
        await asyncio.sleep(2.0)
        p.send_signal(signal.SIGKILL)
        await p.wait()
        assert (folder / "s.sock").exists(), "a killed daemon leaves its socket behind"

        p = await start()  # cleans the stale socket, replays the journal
        await asyncio.sleep(1.5)
        p.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(p.wait(), 30) == 0
    settings, _ = load_settings(cfg)
    async with open_store(url) as store:
        checks = [
            c for s in ("svc-0", "svc-1", "svc-2") for c in await store.recent_checks(s, 100_000)
        ]
        keys = [(c.service_id, c.started_at, c.node) for c in checks]
        assert len(checks) > 20
        assert len(keys) == len(set(keys))
        rollups = await store.daily_rollups(min(c.started_at for c in checks).date())
        assert sum(r.checks for r in rollups) == len(checks), "rollups agree with raw checks"
        per_service = {r.service_id: r for r in rollups}
        assert per_service["svc-1"].down == sum(1 for c in checks if c.service_id == "svc-1")
    from slamon_daemon.config import spool_dir_for

    assert not list(spool_dir_for(settings.daemon).glob("*.jsonl")), "journal fully replayed"


async def _exists(p: Path) -> bool:
    """The daemon serves on ``p``: a killed daemon's stale socket file refuses connections."""
    if not p.exists():
        return False
    try:
        _r, w = await asyncio.open_unix_connection(str(p))
    except OSError:
        return False
    w.close()
    return True
