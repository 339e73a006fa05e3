"""``slamon db migrate`` and ``slamon db rebuild-rollups`` as a user runs them: the console
script in a subprocess, on a real SQLite file (and PostgreSQL for migrate)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from slamon_daemon.models import Check, ErrorKind, Outcome
from slamon_daemon.store import SqliteStore
from slamon_daemon.store.migrate import load_migrations
from slamon_daemon.targets import free_port


def slamon(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``slamon`` console script (or its entry point) with no SLAMON_* variables."""
    script = Path(sys.executable).parent / "slamon"
    cmd = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "import sys; from slamon_tui.cli import main; sys.exit(main())"]
    )
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SLAMON_")}
    # Bytes, decoded here: text mode would turn the progress bar's "\r" into "\n".
    proc = subprocess.run([*cmd, *args], capture_output=True, timeout=60, env=env, cwd=cwd)
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    )


def config(tmp_path: Path, database_url: str, extra: str = "") -> Path:
    p = tmp_path / "slamon.toml"
    p.write_text(
        f'[daemon]\ndatabase_url = "{database_url}"\nsocket = "{tmp_path}/s.sock"\n{extra}',
        encoding="utf-8",
    )
    return p


def test_migrate_applies_then_is_up_to_date(tmp_path: Path) -> None:
    db = tmp_path / "data" / "slamon.db"
    cfg = config(tmp_path, f"sqlite:///{db}")
    names = [m.name for m in load_migrations("sqlite")]
    first = slamon("db", "migrate", "--config", str(cfg), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"applied {n}" for n in names]
    assert db.is_file()
    second = slamon("db", "migrate", "--config", str(cfg), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "database is up to date"
    # --config before the command works the same.
    third = slamon("--config", str(cfg), "db", "migrate", cwd=tmp_path)
    assert (third.returncode, third.stdout.strip()) == (0, "database is up to date")


def test_migrate_postgres(tmp_path: Path, pg_url: str) -> None:
    cfg = config(tmp_path, pg_url)
    names = [m.name for m in load_migrations("postgres")]
    first = slamon("db", "migrate", "--config", str(cfg), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"applied {n}" for n in names]
    second = slamon("db", "migrate", "--config", str(cfg), cwd=tmp_path)
    assert (second.returncode, second.stdout.strip()) == (0, "database is up to date")


def test_migrate_unreachable_database_exits_1(tmp_path: Path) -> None:
    cfg = config(tmp_path, f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    proc = slamon("db", "migrate", "--config", str(cfg), cwd=tmp_path)
    assert proc.returncode == 1
    # Issue 12: the database acted on is said first, then the one-line problem.
    said, problem = proc.stderr.splitlines()
    assert said.startswith("database: PostgreSQL postgresql://postgres@127.0.0.1:")
    assert problem.startswith("slamon: ") and "PostgreSQL" in problem
    assert "Traceback" not in proc.stderr


async def _seed(db: Path, days: list[date]) -> int:
    checks = []
    for d in days:
        for i in range(30):
            failed = i % 10 == 3
            checks.append(
                Check(
                    service_id="api" if i % 2 else "web",
                    started_at=datetime(d.year, d.month, d.day, tzinfo=UTC)
                    + timedelta(minutes=37 * i),
                    latency_ms=10.0 + i,
                    outcome=Outcome.DOWN if failed else Outcome.UP,
                    error_kind=ErrorKind.TIMEOUT if failed else None,
                    error="slow" if failed else None,
                )
            )
    async with SqliteStore(db) as s:
        await s.migrate()
        assert await s.write_checks(checks) == len(checks)
        # Spoil the rollups: the rebuild must put them back from the raw checks.
        async with s.dialect.transaction() as con:
            await con.execute("UPDATE daily_rollups SET checks = 0, up = 0")
            await con.execute("DELETE FROM hourly_rollups")
    return len(checks)


async def _daily(db: Path) -> dict[tuple[str, date], tuple[int, int, int]]:
    async with SqliteStore(db) as s:
        return {
            (r.service_id, r.day): (r.checks, r.up, r.down)
            for r in await s.daily_rollups(date(2000, 1, 1))
        }


async def test_rebuild_rollups_reports_checks_and_draws_progress(tmp_path: Path) -> None:
    db = tmp_path / "slamon.db"
    days = [date(2025, 2, 1), date(2025, 2, 2), date(2025, 2, 4)]
    n = await _seed(db, days)
    cfg = config(tmp_path, f"sqlite:///{db}")
    proc = slamon("db", "rebuild-rollups", "--config", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"rebuilt rollups from {n} checks"
    # Issue 12: the database first, then a progress bar on stderr, redrawn in place, one
    # step per day, ending full.
    said, progress = proc.stderr.split("\n", 1)
    assert said == f"database: SQLite file {db}"
    frames = progress.rstrip("\n").split("\r")
    frames = [f for f in frames if f]
    assert [f.rsplit(" ", 2)[-2] for f in frames] == ["1/4", "2/4", "3/4", "4/4"]
    assert frames[-1].startswith("[" + "#" * 30 + "]")
    assert frames[0].startswith("[#") and "." in frames[0]
    assert proc.stderr.endswith("\n")
    daily = await _daily(db)
    # Odd i are "api", and the failures (i = 3, 13, 23) are all odd.
    assert daily == {
        (sid, d): (15, 12, 3) if sid == "api" else (15, 15, 0)
        for sid in ("api", "web")
        for d in days
    }


async def test_rebuild_rollups_since(tmp_path: Path) -> None:
    db = tmp_path / "slamon.db"
    days = [date(2025, 2, 1), date(2025, 2, 2), date(2025, 2, 4)]
    await _seed(db, days)
    cfg = config(tmp_path, f"sqlite:///{db}")
    proc = slamon(
        "db", "rebuild-rollups", "--since", "2025-02-02", "--config", str(cfg), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "rebuilt rollups from 60 checks"
    assert proc.stderr.rstrip("\n").endswith("3/3 days")
    daily = await _daily(db)
    assert daily[("api", date(2025, 2, 1))] == (0, 0, 3)  # before --since: left as it was
    assert daily[("api", date(2025, 2, 2))] == (15, 12, 3)
    assert daily[("api", date(2025, 2, 4))] == (15, 12, 3)


def test_rebuild_rollups_empty_database(tmp_path: Path) -> None:
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}")
    proc = slamon("db", "rebuild-rollups", "--config", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "rebuilt rollups from 0 checks"
    assert "days" not in proc.stderr  # no bar for no days


@pytest.mark.parametrize("command", [["db", "migrate"], ["db", "rebuild-rollups"]])
def test_bad_config_exits_2_with_its_lines(tmp_path: Path, command: list[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        '[daemon]\ndatabase_url = "mysql://x"\nretention_dayz = 3\n\n'
        '[[service]]\nid = "api"\nurl = "http://a.example/"\ninterval = "soon"\n',
        encoding="utf-8",
    )
    proc = slamon(*command, "--config", str(cfg), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3, proc.stderr
    assert all(line.startswith(f"{cfg}: ") for line in lines)
    assert any("daemon.database_url" in line and "sqlite:///" in line for line in lines)
    assert any("daemon.retention_dayz: unknown key" in line for line in lines)
    assert any("service[0] (id=api).interval" in line for line in lines)
    assert "Traceback" not in proc.stderr


def test_missing_config_exits_2(tmp_path: Path) -> None:
    proc = slamon("db", "migrate", "--config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(f"{tmp_path / 'nope.toml'}: file not found")


def test_since_not_a_date_exits_2(tmp_path: Path) -> None:
    db = tmp_path / "slamon.db"
    cfg = config(tmp_path, f"sqlite:///{db}")
    proc = slamon(
        "db", "rebuild-rollups", "--since", "notadate", "--config", str(cfg), cwd=tmp_path
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == "slamon: --since 'notadate' is not a date like 2026-11-01"
    assert not db.exists()  # nothing was done to the database
