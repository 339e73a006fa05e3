"""The journal is the promise (issue 10, point 3), with a real daemon process whose journal
folder is a small tmpfs the test fills or makes read-only.

* full disk, read-only journal: probing goes on, the error is said once with the folder and
  the cause, the checks are stored (directly, while the database answers) and counted in the
  live state, the writer lives on and reports; nothing is lost.
* read-only journal *and* the database cut off: the checks wait in the bounded memory queue
  (daemon.stats says how many) and are all stored once both return; with a queue too small
  for the outage, the checks dropped are counted exactly.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from slamon_daemon.targets import Target, respond

from .fsfaults import SmallFs, small_fs
from .proxy import TcpProxy
from .slamond import Slamond, config_text, wait_for


def _sqlite_counts(db: Path) -> tuple[dict[str, int], int, int]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT service_id, started_at, node FROM checks").fetchall()
        rollups = con.execute("SELECT coalesce(sum(checks), 0) FROM daily_rollups").fetchone()[0]
    finally:
        con.close()
    counts: dict[str, int] = {}
    for sid, _, _ in rows:
        counts[sid] = counts.get(sid, 0) + 1
    return counts, len(rows) - len(set(rows)), rollups


async def _journal_broken(daemon: Slamond) -> bool:
    return not (await daemon.stats())["journal"]["ok"]


async def _journal_ok(daemon: Slamond) -> bool:
    return bool((await daemon.stats())["journal"]["ok"])


async def _last_check_at(daemon: Slamond, sid: str) -> str:
    result = (await daemon.call("status.get"))["result"]
    return next(s["last_check"]["started_at"] for s in result["services"] if s["id"] == sid)


@pytest.mark.parametrize("fault", ["full", "read-only"])
async def test_a_failing_journal_loses_no_check_and_says_so(fault: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="slt-", dir="/tmp"))
    with small_fs("128k") as fs:
        spool = fs.path / "spool"
        db = folder / "slamon.db"
        async with Target(respond(200)) as up, Target(respond(503)) as down:
            cfg = folder / "slamon.toml"
            cfg.write_text(
                config_text(
                    folder,
                    f"sqlite:///{db}",
                    [("up", up.url, "100ms"), ("down", down.url, "100ms")],
                    f'spool_dir = "{spool}"',
                ),
                encoding="utf-8",
            )
            daemon = Slamond(cfg, folder / "slamond.log", socket=folder / "s.sock")
            await daemon.start()
            try:
                await wait_for(lambda: up.requests >= 5, what="probing")
                await _break(fs, fault)
                await wait_for(lambda: _journal_broken(daemon), what="the journal error seen")
                stats = await daemon.stats()
                error = stats["journal"]["error"]
                assert str(spool) in error
                assert ("No space left" in error) if fault == "full" else ("Read-only" in error)
                # Probing and counting go on: the checks reach the database directly.
                seen = await _last_check_at(daemon, "up")
                at = up.requests
                await wait_for(lambda: up.requests >= at + 20, what="probing on")
                assert await _last_check_at(daemon, "up") > seen, "the live state moves on"
                await _wait_written(daemon)
                during = await daemon.stats()
                assert during["journal"]["lost"] == 0
                assert during["store_ok"] is True
                _repair(fs, fault)
                await wait_for(lambda: _journal_ok(daemon), what="the journal writable again")
                written = (await daemon.stats())["records_written"]
                await wait_for(
                    lambda: _written_more(daemon, written), what="the writer alive afterwards"
                )
                assert await daemon.stop() == 0
            finally:
                await daemon.kill()
            answered = {"up": up.requests, "down": down.requests}
    stored, duplicates, rollups = _sqlite_counts(db)
    assert duplicates == 0
    assert stored == answered, (stored, answered)
    assert rollups == sum(stored.values())
    log = daemon.log_text()
    assert "Traceback" not in log and "failed unexpectedly" not in log, log
    assert (
        log.count(f"cannot write to the journal in {spool}")
        + log.count(f"cannot create a journal segment in {spool}")
        == 1
    ), "the error is said once, not per check"
    assert log.count("is writable again") == 1
    print(
        f"\njournal {fault}: answered {answered}, stored {stored}, lost 0,"
        f" log lines {len(log.splitlines())}"
    )


async def _break(fs: SmallFs, fault: str) -> None:
    if fault == "full":
        fs.fill()
    else:
        await fs.read_only()


def _repair(fs: SmallFs, fault: str) -> None:
    if fault == "full":
        fs.free()
    else:
        fs.read_write()


async def _wait_written(daemon: Slamond) -> None:
    async def caught_up() -> bool:
        s = await daemon.stats()
        return bool(s["journal"]["held"] < 10)

    await wait_for(caught_up, what="held records written to the database")


async def _written_more(daemon: Slamond, before: int) -> bool:
    return bool((await daemon.stats())["records_written"] > before + 10)


@pytest.mark.parametrize("held_limit", [100_000, 100], ids=["queue-holds-all", "queue-too-small"])
async def test_journal_and_database_both_away_checks_wait_in_memory(
    pg_url: str, held_limit: int
) -> None:
    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    via_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    folder = Path(tempfile.mkdtemp(prefix="slt-", dir="/tmp"))
    stats_during: dict[str, Any] = {}
    with small_fs("256k") as fs:
        spool = fs.path / "spool"
        async with Target(respond(200)) as up:
            cfg = folder / "slamon.toml"
            cfg.write_text(
                config_text(
                    folder,
                    via_proxy,
                    [(f"svc-{i}", up.url, "100ms") for i in range(4)],
                    f'spool_dir = "{spool}"\nsecret_file = "{folder}/secret"\n'
                    f"journal_memory_limit = {held_limit}",
                ),
                encoding="utf-8",
            )
            daemon = Slamond(cfg, folder / "slamond.log", socket=folder / "s.sock")
            await daemon.start()
            try:
                await wait_for(lambda: up.requests >= 10, what="probing")
                await proxy.cut()
                await fs.read_only()
                at = up.requests
                await wait_for(lambda: up.requests >= at + 150, what="checks during the outage")
                stats_during = await daemon.stats()
                assert stats_during["journal"]["ok"] is False
                assert stats_during["store_ok"] is False
                if held_limit == 100:
                    assert stats_during["journal"]["held"] == 100
                    assert stats_during["journal"]["lost"] > 0
                else:
                    assert stats_during["journal"]["held"] >= 150
                    assert stats_during["journal"]["lost"] == 0
                fs.read_write()
                await proxy.restore()

                async def drained() -> bool:
                    s = await daemon.stats()
                    return bool(s["store_ok"] and s["write_pending"] == 0 and s["journal"]["ok"])

                await wait_for(drained, 60, "everything stored")
                lost = (await daemon.stats())["journal"]["lost"]
                assert await daemon.stop() == 0
            finally:
                await daemon.kill()
                await proxy.cut()
            answered = up.requests
    con = await asyncpg.connect(pg_url)
    try:
        rows = await con.fetch("SELECT service_id, started_at, node FROM checks")
    finally:
        await con.close()
    keys = [tuple(r) for r in rows]
    assert len(keys) == len(set(keys))
    # Every check answered is stored, except those the full queue had to drop, counted.
    assert len(rows) == answered - lost, (len(rows), answered, lost)
    log = daemon.log_text()
    assert "Traceback" not in log, "no traceback per reconnect attempt (asyncpg's pool floor)"
    if held_limit == 100:
        assert lost > 0
        assert "checks dropped so far" in log
    else:
        assert lost == 0
    print(
        f"\njournal read-only + database cut (queue {held_limit}): answered {answered},"
        f" stored {len(rows)}, held at peak {stats_during['journal']['held']}, lost {lost}"
    )
