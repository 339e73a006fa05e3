"""slamond starts, probes, journals and serves while PostgreSQL is unreachable, says so, and
drains the journal in order once the database returns; a restart during the outage loses
nothing (issue 10, point 2). A real daemon process, PostgreSQL behind a TCP proxy the test
cuts."""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from slamon_daemon.targets import Target, respond

from .proxy import TcpProxy
from .slamond import Slamond, config_text, wait_for


async def test_slamond_starts_and_restarts_without_postgres_and_loses_nothing(
    pg_url: str,
) -> None:
    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    await proxy.cut()  # the database is unreachable before slamond ever starts
    via_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    folder = Path(tempfile.mkdtemp(prefix="slt-", dir="/tmp"))
    async with Target(respond(200)) as up, Target(respond(503)) as down:
        cfg = folder / "slamon.toml"
        cfg.write_text(
            config_text(
                folder,
                via_proxy,
                [("up", up.url, "200ms"), ("down", down.url, "200ms")],
                f'spool_dir = "{folder}/spool"\nsecret_file = "{folder}/secret"',
            ),
            encoding="utf-8",
        )
        daemon = Slamond(cfg, folder / "slamond.log", socket=folder / "s.sock")
        await daemon.start()
        try:
            # It serves and probes, and says the database is away.
            status = (await daemon.call("status.get"))["result"]
            assert {s["id"] for s in status["services"]} == {"up", "down"}
            await wait_for(lambda: up.requests >= 5 and down.requests >= 5, what="probing")
            stats = await daemon.stats()
            assert stats["store_ok"] is False
            assert stats["database"]["state"] == "unreachable"
            assert "unreachable" in (stats["database"]["error"] or "") or stats["database"]["error"]
            status = (await daemon.call("status.get"))["result"]
            by_id = {s["id"]: s for s in status["services"]}
            await wait_for(
                lambda: _status_of(daemon, "down", "major_outage"), what="down confirmed"
            )
            assert by_id["up"]["status"] in ("operational", "unknown")

            # A restart during the outage: what was journaled stays for the next run.
            assert await daemon.stop() == 0
            first_run_log = daemon.log_text()
            assert "database unreachable" in first_run_log
            assert list((folder / "spool").glob("*.jsonl")), "checks journaled on disk"
            daemon = Slamond(cfg, folder / "slamond.log", socket=folder / "s.sock")
            await daemon.start()
            answered_before = up.requests + down.requests
            await wait_for(
                lambda: up.requests + down.requests >= answered_before + 10, what="probing"
            )

            # The database returns: the journal drains, in order, everything exactly once.
            await proxy.restore()

            async def drained() -> bool:
                s = await daemon.stats()
                return bool(
                    s["store_ok"]
                    and s["write_pending"] == 0
                    and s["database"]["state"] == "connected"
                )

            await wait_for(drained, 60, "the journal drained")
            daemon.signal(signal.SIGTERM)
            assert await daemon.stop() == 0
        finally:
            await daemon.kill()
            await proxy.cut()
        answered = {"up": up.requests, "down": down.requests}

    con = await asyncpg.connect(pg_url)
    try:
        rows = await con.fetch("SELECT service_id, started_at, node, outcome FROM checks")
        rollup_total = await con.fetchval("SELECT sum(checks) FROM daily_rollups")
        episodes = await con.fetch("SELECT service_id, ended_at FROM outage_episodes")
    finally:
        await con.close()
    keys = [(r["service_id"], r["started_at"], r["node"]) for r in rows]
    assert len(keys) == len(set(keys)), "a check was stored twice"
    stored = {sid: sum(1 for r in rows if r["service_id"] == sid) for sid in answered}
    # Every check a target answered is stored, once (SIGTERM lets checks in flight finish).
    assert stored == answered, (stored, answered)
    assert rollup_total == len(rows)
    false_downs = sum(1 for r in rows if r["service_id"] == "up" and r["outcome"] == "down")
    assert false_downs == 0
    # One outage, carried across the restart (the first run's journal told the second).
    assert [(e["service_id"], e["ended_at"]) for e in episodes] == [("down", None)]
    log = daemon.log_text()
    assert "Traceback" not in log, log
    assert log.count("database unreachable:") == 2, "said once per run, not per attempt"
    print(
        f"\nno-database start: answered {answered}, stored {stored}, false downs {false_downs},"
        f" log lines {len(log.splitlines())}"
    )


async def _status_of(daemon: Slamond, sid: str, status: str) -> bool:
    result = (await daemon.call("status.get"))["result"]
    return any(s["id"] == sid and s["status"] == status for s in result["services"])
