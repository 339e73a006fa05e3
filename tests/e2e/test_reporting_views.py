"""Grafana and BI (issue 13, point 8): the ``report_*`` views of migration 0011 and
``slamon db grant-readonly ROLE``, tested by connecting as that role to a real PostgreSQL:
it reads every view, and is refused on the tables (users, tokens, audit, services, checks)
and on writes. The same views are queried on SQLite."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]
import pytest

from slamon_daemon.auth import hash_password
from slamon_daemon.models import (
    AuditEntry,
    Check,
    ErrorKind,
    Incident,
    IncidentUpdate,
    OutageEpisode,
    Outcome,
    Role,
    Service,
    ServiceStatus,
)
from slamon_daemon.reporting import REPORT_VIEWS
from slamon_daemon.store import open_store

from .slamond import ROOT

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
FORBIDDEN_TABLES = ("users", "refresh_tokens", "audit_log", "services", "checks", "incidents")


def slamon(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from slamon_tui.cli import main; sys.exit(main())",
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


async def _fill(url: str) -> None:
    """A service with checks (one failed), an outage, an incident with updates, a user and an
    audit entry: every view has rows, every forbidden table too."""
    async with open_store(url) as store:
        await store.migrate()
        await store.sync_services(
            [
                Service(
                    id="api", name="API", url="https://secret.example/health?token=x", group="Core"
                )
            ]
        )
        checks = [
            Check("api", T0 + timedelta(minutes=i), 40.0 + i, Outcome.UP, 200) for i in range(3)
        ]
        checks.append(
            Check(
                "api",
                T0 + timedelta(minutes=3),
                1000.0,
                Outcome.DOWN,
                None,
                ErrorKind.TIMEOUT,
                "timed out reaching secret.example",
            )
        )
        episode = OutageEpisode(
            service_id="api",
            started_at=T0 + timedelta(minutes=3),
            ended_at=T0 + timedelta(minutes=5),
            worst_status=ServiceStatus.MAJOR_OUTAGE,
            cause="timeout",
            error="timed out",
            failed_checks=1,
        )
        await store.write_batch([*checks, episode])
        inc = await store.create_incident(
            Incident(
                title="API down",
                status="investigating",
                severity="high",
                priority=1,
                started_at=T0 + timedelta(minutes=3),
                created_by="rita",
                services=("api",),
                created_at=T0 + timedelta(minutes=4),
                updates=[
                    IncidentUpdate("investigating", "Looking.", "rita", T0 + timedelta(minutes=4))
                ],
            )
        )
        assert inc.id is not None
        await store.create_user("rita", "", hash_password("correct-horse-battery-9"), Role.REPORTER)
        await store.add_audit(AuditEntry("rita", "incident.create", "1", {}, T0))


def _as_role(url: str, role: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}{port}"))


def _config(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "slamon.toml"
    cfg.write_text(f'[daemon]\ndatabase_url = "{url}"\nsocket = "{tmp_path}/s.sock"\n')
    return cfg


async def test_grant_readonly_role_reads_the_views_and_nothing_else(
    pg_url: str, tmp_path: Path
) -> None:
    await _fill(pg_url)
    role = f"grafana_{uuid.uuid4().hex[:8]}"
    cfg = _config(tmp_path, pg_url)
    admin = await asyncpg.connect(pg_url)
    try:
        first = slamon(
            "db",
            "grant-readonly",
            role,
            "--password-stdin",
            "--config",
            str(cfg),
            stdin="s3cret-pw\n",
        )
        assert first.returncode == 0, first.stderr
        assert f"role {role} created" in first.stdout
        again = slamon("db", "grant-readonly", role, "--config", str(cfg))
        assert again.returncode == 0, again.stderr
        assert f"role {role} updated" in again.stdout

        ro = await asyncpg.connect(_as_role(pg_url, role, "s3cret-pw"))
        try:
            assert await ro.fetchval("SELECT current_user") == role
            for view in REPORT_VIEWS:
                rows = await ro.fetch(f"SELECT * FROM {view}")
                assert rows, f"{view} is empty"
            daily = await ro.fetchrow("SELECT * FROM report_daily WHERE service_id = 'api'")
            assert daily["checks"] == 4 and daily["down"] == 1
            assert daily["uptime_ratio"] == pytest.approx(0.75)
            svc = await ro.fetchrow("SELECT * FROM report_services")
            assert (svc["service_id"], svc["group_name"], svc["public"]) == ("api", "Core", True)
            assert "url" not in list(svc.keys())
            check_cols = list((await ro.fetchrow("SELECT * FROM report_checks")).keys())
            assert "error" not in check_cols and "latency_s" in check_cols
            outage = await ro.fetchrow("SELECT * FROM report_outages")
            assert outage["duration_s"] == pytest.approx(120.0) and outage["open"] is False
            inc = await ro.fetchrow("SELECT * FROM report_incidents")
            assert (inc["title"], inc["priority"]) == ("API down", "P1")
            # nothing behind the views, nothing else
            everything = ""
            for v in REPORT_VIEWS:
                everything += " ".join(str(dict(r)) for r in await ro.fetch(f"SELECT * FROM {v}"))
            assert "secret.example" not in everything and "token=x" not in everything
            for table in FORBIDDEN_TABLES:
                with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
                    await ro.fetch(f"SELECT * FROM {table} LIMIT 1")
            with pytest.raises(asyncpg.PostgresError):
                await ro.execute("INSERT INTO users (username) VALUES ('eve')")
            with pytest.raises(asyncpg.PostgresError):
                await ro.execute("CREATE TABLE mine (x int)")
            with pytest.raises(asyncpg.PostgresError):
                await ro.execute("DELETE FROM report_incident_updates")
        finally:
            await ro.close()
    finally:
        await admin.execute(f'DROP OWNED BY "{role}"')
        await admin.close()
        root = await asyncpg.connect(pg_url)
        try:
            await root.execute(f'DROP ROLE IF EXISTS "{role}"')
        except asyncpg.PostgresError:
            pass  # still owns grants in another database: harmless, names are unique
        finally:
            await root.close()


def test_grant_readonly_refuses_sqlite_and_bad_names(tmp_path: Path) -> None:
    cfg = _config(tmp_path, f"sqlite:///{tmp_path}/slamon.db")
    r = slamon("db", "grant-readonly", "grafana_ro", "--config", str(cfg))
    assert r.returncode == 2 and "needs PostgreSQL" in r.stderr and "slamon db backup" in r.stderr
    r = slamon("db", "grant-readonly", "Robert'); DROP", "--config", str(cfg))
    assert r.returncode == 2 and "is not a role name" in r.stderr
    r = slamon("db", "grant-readonly", "pg_monitor", "--config", str(cfg))
    assert r.returncode == 2 and "reserved" in r.stderr


async def test_sqlite_has_the_same_views(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/slamon.db"
    await _fill(url)
    con = sqlite3.connect(tmp_path / "slamon.db")
    try:
        for view in REPORT_VIEWS:
            assert con.execute(f"SELECT count(*) FROM {view}").fetchone()[0] > 0, view
        daily = con.execute(
            "SELECT checks, down, uptime_ratio, time FROM report_daily WHERE service_id = 'api'"
        ).fetchone()
        assert daily == (4, 1, 0.75, "2026-11-20T00:00:00.000Z")
        outage = con.execute("SELECT started_at, duration_s, open FROM report_outages").fetchone()
        assert outage == ("2026-11-20T10:03:00.000Z", 120.0, 0)
    finally:
        con.close()
