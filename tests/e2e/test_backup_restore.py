"""``slamon db backup FILE`` and ``slamon db restore FILE`` round trip, on SQLite and on
PostgreSQL (issue 10, point 11), as a user runs them: the console script in a subprocess.

A backup is made while a real daemon runs and writes; the database then changes (a user
added, checks go on); the restore (daemon stopped) brings back exactly what the backup held,
and the daemon starts on it. A restore refuses while a daemon runs; without the PostgreSQL
client tools the message says what to install.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from slamon_daemon.models import Role
from slamon_daemon.store import open_store
from slamon_daemon.targets import Target, respond
from tests.conftest import throwaway_pg_database

from .slamond import ROOT, Slamond, config_text, wait_for


async def slamon(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from slamon_tui.cli import main; sys.exit(main())",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tempfile.mkdtemp(prefix='slt-db-', dir='/tmp')}/slamon.db"
    else:
        async with throwaway_pg_database() as url:
            yield url


async def _contents(url: str) -> tuple[list[str], int, int]:
    async with open_store(url) as store:
        users = sorted(u.username for u in await store.list_users())
        checks = await store.count_checks()
        rollups = sum(r.checks for r in await store.daily_rollups(__import__("datetime").date.min))
    return users, checks, rollups


async def test_backup_while_running_then_restore_round_trip(database_url: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="slt-", dir="/tmp"))
    backup_file = folder / "slamon.backup"
    async with Target(respond(200)) as up:
        cfg = folder / "slamon.toml"
        cfg.write_text(
            config_text(
                folder,
                database_url,
                [("api", up.url, "100ms")],
                f'spool_dir = "{folder}/spool"\nsecret_file = "{folder}/secret"',
            ),
            encoding="utf-8",
        )
        daemon = Slamond(cfg, folder / "slamond.log", socket=folder / "s.sock")
        await daemon.start()
        try:
            async with open_store(database_url) as store:
                from slamon_daemon.auth import hash_password

                await store.create_user("alice", "", hash_password("alice-Pa55word"), Role.ADMIN)
            await wait_for(lambda: up.requests >= 10, what="checks stored")
            await wait_for(lambda: _flushed(daemon), what="the journal flushed")

            # A backup while the daemon runs and writes.
            code, out, err = await slamon("db", "backup", str(backup_file), "--config", str(cfg))
            assert code == 0, err
            assert out.startswith("backed up ")
            assert stat.S_IMODE(backup_file.stat().st_mode) == 0o600

            # A restore refuses while the daemon runs.
            code, out, err = await slamon("db", "restore", str(backup_file), "--config", str(cfg))
            assert code == 1
            assert "refusing to restore" in err and "stop" in err

            # What the backup holds; then the database moves on.
            assert await daemon.stop() == 0
        finally:
            await daemon.kill()
        saved = await _contents(database_url)
        # (the backup was made before the stop; what it holds is checked after the restore)
        async with open_store(database_url) as store:
            from slamon_daemon.auth import hash_password

            await store.create_user("bob", "", hash_password("bob-Pa55word-1"), Role.VIEWER)
        daemon = Slamond(cfg, folder / "slamond2.log", socket=folder / "s.sock")
        await daemon.start()
        at = up.requests
        await wait_for(lambda: up.requests >= at + 10, what="more checks")
        assert await daemon.stop() == 0
        moved_on = await _contents(database_url)
        assert moved_on[0] == ["alice", "bob"] and moved_on[1] > saved[1]

        # The restore brings back the backup's contents, then the daemon starts on it.
        code, out, err = await slamon("db", "restore", str(backup_file), "--config", str(cfg))
        assert code == 0, err
        assert out.startswith(f"restored {backup_file} into ")
        users, checks, rollups = await _contents(database_url)
        assert users == ["alice"]
        assert 10 <= checks <= saved[1] and rollups == checks
        daemon = Slamond(cfg, folder / "slamond3.log", socket=folder / "s.sock")
        await daemon.start()
        assert (await daemon.stats())["database"]["state"] == "connected"
        assert await daemon.stop() == 0

        # A backup never overwrites a file.
        code, out, err = await slamon("db", "backup", str(backup_file), "--config", str(cfg))
        assert code == 1 and "exists" in err
    print(f"\nbackup/restore round trip: {checks} checks and {users} back from {backup_file.name}")


async def _flushed(daemon: Slamond) -> bool:
    s = await daemon.stats()
    return bool(s["write_pending"] == 0 and s["records_written"] > 5)


async def test_postgres_backup_without_the_client_tools_says_what_to_install(
    pg_url: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "slamon.toml"
    cfg.write_text(f'[daemon]\ndatabase_url = "{pg_url}"\n', encoding="utf-8")
    bare = tmp_path / "bin"
    bare.mkdir()  # a PATH with no pg_dump on it
    code, out, err = await slamon(
        "db", "backup", str(tmp_path / "b.dump"), "--config", str(cfg), env={"PATH": str(bare)}
    )
    assert code == 1
    assert "pg_dump not found: install the PostgreSQL client tools" in err
    assert not (tmp_path / "b.dump").exists()
