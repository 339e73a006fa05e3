"""The alert tables (migration 0007) on both backends: they apply, and their keys hold."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon.store.migrate import load_migrations
from tests.conftest import throwaway_pg_database

TABLES = {
    "alert_channels",
    "alert_state",
    "alert_acks",
    "alert_silences",
    "alert_outbox",
    "alert_deliveries",
}


async def test_the_store_applies_0007(store: Any) -> None:
    assert "0007_alerts.sql" in await store.applied_migrations()


def test_both_backends_have_the_same_tables_and_columns() -> None:
    def shape(backend: str) -> dict[str, list[str]]:
        (m,) = [m for m in load_migrations(backend) if m.version == 7]
        out: dict[str, list[str]] = {}
        table = None
        for line in m.sql.splitlines():
            if line.startswith("CREATE TABLE"):
                table = line.split()[2]
                out[table] = []
            elif table and line.startswith("    ") and not line.strip().startswith(("CHECK", "'")):
                out[table].append(line.split()[0])
            elif line.startswith(")"):
                table = None
        return out

    assert shape("sqlite") == shape("postgres")
    assert set(shape("sqlite")) == TABLES


def _sqlite(tmp_path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(tmp_path / "a.db")
    con.execute("PRAGMA foreign_keys = ON")
    for m in load_migrations("sqlite"):
        con.executescript(m.sql)
    return con


def test_sqlite_keys_and_checks(tmp_path: Path) -> None:
    con = _sqlite(tmp_path)
    outbox = (
        "INSERT INTO alert_outbox (notification_key, channel_id, event, action, severity,"
        " dedup_key, payload, created_at, next_attempt_at) VALUES (?, 'chat', 'down', ?, 'critical',"
        " 'd', '{}', 1, 1)"
    )
    con.execute(outbox, ("k1", "trigger"))
    with pytest.raises(sqlite3.IntegrityError):
        con.execute(outbox, ("k1", "trigger"))  # one key, one notification
    assert (
        con.execute(
            "INSERT OR IGNORE INTO alert_outbox (notification_key, channel_id, event,"
            " action, severity, dedup_key, payload, created_at, next_attempt_at)"
            " VALUES ('k1', 'chat', 'down', 'trigger', 'critical', 'd', '{}', 1, 1)"
        ).rowcount
        == 0
    )
    with pytest.raises(sqlite3.IntegrityError):
        con.execute(outbox, ("k2", "shout"))
    con.execute(
        "INSERT INTO alert_deliveries (outbox_id, channel_id, at, ok, code, latency_ms)"
        " VALUES (1, 'chat', 2, 1, 200, 3.5)"
    )
    with pytest.raises(sqlite3.IntegrityError):
        con.execute(
            "INSERT INTO alert_deliveries (outbox_id, channel_id, at, ok, latency_ms)"
            " VALUES (99, 'chat', 2, 0, 1)"
        )
    with pytest.raises(sqlite3.IntegrityError):
        con.execute(
            "INSERT INTO alert_silences (services, rules, reason, created_by, created_at, expires_at)"
            " VALUES ('[]', '[]', '', 'kim', 1, 2)"
        )
    with pytest.raises(sqlite3.IntegrityError):
        con.execute(
            "INSERT INTO alert_channels (id, type, name, created_by, created_at, updated_at)"
            " VALUES ('x', 'carrier-pigeon', 'x', 'kim', 1, 1)"
        )
    plan = " ".join(
        str(r)
        for r in con.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM alert_outbox WHERE status = 'pending'"
            " AND channel_id = 'chat' ORDER BY id"
        )
    )
    assert "alert_outbox_pending" in plan


async def test_postgres_keys_and_checks() -> None:
    import asyncpg

    async with throwaway_pg_database() as url:
        con = await asyncpg.connect(url)
        try:
            for m in load_migrations("postgres"):
                await con.execute(m.sql)
            outbox = (
                "INSERT INTO alert_outbox (notification_key, channel_id, event, action, severity,"
                " dedup_key, payload, created_at, next_attempt_at) VALUES ($1, 'chat', 'down', $2,"
                " 'critical', 'd', '{}', now(), now()) ON CONFLICT (notification_key) DO NOTHING"
            )
            assert await con.execute(outbox, "k1", "trigger") == "INSERT 0 1"
            assert await con.execute(outbox, "k1", "trigger") == "INSERT 0 0"
            with pytest.raises(asyncpg.CheckViolationError):
                await con.execute(outbox, "k2", "shout")
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                await con.execute(
                    "INSERT INTO alert_deliveries (outbox_id, channel_id, at, ok, latency_ms)"
                    " VALUES (99, 'chat', now(), false, 1)"
                )
            await con.execute(
                "INSERT INTO alert_state (alert_id, rule, subject, service_id, episode, status,"
                " severity, opened_at, updated_at) VALUES ('down|a|t', 'down', 'a', 'a', now(),"
                " 'firing', 'critical', now(), now())"
            )
            await con.execute(
                "INSERT INTO alert_acks (alert_id, acked_by, acked_at) VALUES ('down|a|t', 'kim', now())"
            )
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                await con.execute(
                    "INSERT INTO alert_acks (alert_id, acked_by, acked_at) VALUES ('nope', 'kim', now())"
                )
            columns = await con.fetch(
                "SELECT table_name, count(*) AS n FROM information_schema.columns"
                " WHERE table_name LIKE 'alert_%' GROUP BY table_name"
            )
            assert {r["table_name"] for r in columns} == TABLES
        finally:
            await con.close()
