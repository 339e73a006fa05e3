"""Issue 12: ``sqlite:///`` URLs follow SQLAlchemy's convention (three slashes relative to
the working directory, four absolute), and slamond, ``slamon user`` and ``slamon db`` say
which database file they use before they touch it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from slamon_daemon.store import database_location
from tests.daemon.support import remove_dir, short_dir

from .test_cli_db import config, slamon


def test_location_of_relative_absolute_and_postgres_urls(tmp_path: Path) -> None:
    os.chdir(tmp_path)
    assert database_location("sqlite:///data/s.db") == f"SQLite file {tmp_path}/data/s.db"
    assert database_location("sqlite:////var/lib/slamon/s.db") == (
        "SQLite file /var/lib/slamon/s.db"
    )
    assert database_location("postgresql://bob:hunter2@db:5432/slamon") == (
        "PostgreSQL postgresql://bob:***@db:5432/slamon"
    )


def test_db_and_user_commands_print_the_resolved_file(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    cfg = config(tmp_path, "sqlite:///var/lib/slamon/slamon.db")  # three slashes: relative
    migrated = slamon("db", "migrate", "--config", str(cfg), cwd=work)
    assert migrated.returncode == 0, migrated.stderr
    where = work / "var" / "lib" / "slamon" / "slamon.db"
    assert f"database: SQLite file {where}" in migrated.stderr
    assert where.is_file()
    listed = slamon("user", "list", "--config", str(cfg), cwd=work)
    assert listed.returncode == 0, listed.stderr
    assert f"database: SQLite file {where}" in listed.stderr
    absolute = config(tmp_path, f"sqlite:///{tmp_path}/abs.db")  # four slashes: absolute
    run = slamon("db", "migrate", "--config", str(absolute), cwd=work)
    assert f"database: SQLite file {tmp_path}/abs.db" in run.stderr
    assert (tmp_path / "abs.db").is_file()


def test_slamond_logs_the_database_it_opens() -> None:
    folder = short_dir()
    try:
        cfg = folder / "slamon.toml"
        cfg.write_text(
            f'[daemon]\ndatabase_url = "sqlite:///rel.db"\nsocket = "{folder}/s.sock"\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SLAMON_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "slamon_daemon", "--config", str(cfg)],
            cwd=folder,
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            seen = ""
            assert proc.stderr is not None
            while time.monotonic() < deadline:
                line = proc.stderr.readline()
                seen += line
                if "database: " in line or not line:
                    break
            assert f"database: SQLite file {folder}/rel.db" in seen, seen
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    finally:
        remove_dir(folder)
