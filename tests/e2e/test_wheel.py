"""The built wheel runs on its own: installed into a fresh venv outside the checkout, ``slamond``
applies the migrations the wheel carries and stores checks, on SQLite and on PostgreSQL.

One wheel is built per test module (``pip wheel``, offline from the configured indexes). The
venv gets the wheel and nothing of the checkout: its dependencies come from this venv's
site-packages through a ``.pth`` line, which adds that folder to ``sys.path`` without running
the ``.pth`` files in it (the editable install of slamon stays out). The test checks where
``slamon_daemon`` is imported from before it trusts anything else.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from slamon_daemon.targets import Target, respond
from tests.conftest import throwaway_pg_database
from tests.daemon.support import remove_dir, short_dir, toml_str, wait_until

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS = {
    b: sorted(p.name for p in (REPO / "schema" / b).glob("*.sql")) for b in ("sqlite", "postgres")
}


def run(*cmd: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SLAMON_SCHEMA_DIR")}
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=150
    )
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def venv() -> Iterator[Path]:
    """A venv outside the checkout with the freshly built wheel installed; yields its folder."""
    with tempfile.TemporaryDirectory(prefix="slamon-wheel-") as tmp:
        root = Path(tmp)
        # Built from a copy: setuptools' build/ folder keeps files of earlier builds (a module
        # removed since would ship again), and the checkout stays as it was.
        src = root / "src"
        junk = (".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache")
        shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(*junk))
        run(
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            root / "dist",
            src,
            cwd=root,
        )
        (wheel,) = (root / "dist").glob("slamon-*.whl")
        env = root / "venv"
        run(
            getattr(sys, "_base_executable", sys.executable),
            "-m",
            "venv",
            "--without-pip",
            env,
            cwd=root,
        )
        run(
            sys.executable,
            "-m",
            "pip",
            "--python",
            env / "bin" / "python",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            wheel,
            cwd=root,
        )
        site = run(
            env / "bin" / "python",
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            cwd=root,
        ).strip()
        Path(site, "_slamon_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        where = run(
            env / "bin" / "python",
            "-c",
            "import slamon_daemon; print(slamon_daemon.__file__)",
            cwd=root,
        )
        assert Path(where.strip()).is_relative_to(site), where  # the wheel, not the checkout
        assert not Path(where.strip()).is_relative_to(REPO), where
        yield env


async def count_rows(db_url: str, table: str) -> int:
    if db_url.startswith("sqlite:///"):
        con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        try:
            return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        except sqlite3.OperationalError:  # not created yet
            return 0
        finally:
            con.close()
    import asyncpg

    con = await asyncpg.connect(db_url)
    try:
        return int(await con.fetchval(f"SELECT count(*) FROM {table}"))
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await con.close()


async def applied(db_url: str) -> list[str]:
    if db_url.startswith("sqlite:///"):
        con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        try:
            return [
                r[0] for r in con.execute("SELECT name FROM schema_migrations ORDER BY version")
            ]
        finally:
            con.close()
    import asyncpg

    con = await asyncpg.connect(db_url)
    try:
        return [
            r[0] for r in await con.fetch("SELECT name FROM schema_migrations ORDER BY version")
        ]
    finally:
        await con.close()


async def run_slamond(venv: Path, db_url: str, backend: str) -> None:
    """Start the wheel's slamond outside the checkout, wait for stored checks, stop it."""
    folder = short_dir()
    try:
        await _run_slamond(venv, db_url, backend, folder)
    finally:
        remove_dir(folder)


async def _run_slamond(venv: Path, db_url: str, backend: str, folder: Path) -> None:
    async with Target(respond(200)) as target:
        cfg = folder / "slamon.toml"
        cfg.write_text(
            "[daemon]\n"
            f"database_url = {toml_str(db_url)}\n"
            f"socket = {toml_str(str(folder / 's.sock'))}\n"
            f"spool_dir = {toml_str(str(folder / 'spool'))}\n"
            f"secret_file = {toml_str(str(folder / 'jwt.secret'))}\n"
            'write_flush_interval = "100ms"\n\n'
            "[[service]]\n"
            f'id = "api"\nurl = {toml_str(target.url)}\ninterval = "1s"\ntimeout = "2s"\n'
        )
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SLAMON_SCHEMA_DIR")}
        proc = await asyncio.create_subprocess_exec(
            str(venv / "bin" / "slamond"),
            "--config",
            str(cfg),
            cwd=folder,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:

            async def stored() -> bool:
                assert proc.returncode is None, (
                    (await proc.stdout.read()).decode() if proc.stdout else ""
                )
                return await count_rows(db_url, "checks") >= 3

            await wait_until(
                stored, timeout=60, step=0.2, what="checks stored by the wheel's slamond"
            )
            assert await applied(db_url) == MIGRATIONS[backend]
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            out = (await asyncio.wait_for(proc.communicate(), 30))[0].decode()
        assert proc.returncode == 0, out
        assert target.requests >= 3


async def test_the_wheel_runs_on_sqlite(venv: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="slamon-wheel-db-") as tmp:
        await run_slamond(venv, f"sqlite:///{tmp}/slamon.db", "sqlite")


async def test_the_wheel_runs_on_postgres(venv: Path) -> None:
    async with throwaway_pg_database() as url:
        await run_slamond(venv, url, "postgres")
