"""Fixtures of the alert tests: receivers, an HTTP client, notification fields."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from slamon_daemon.alerts.channels.http import alert_http_client
from slamon_daemon.alerts.fields import SAMPLE_FIELDS

from .receivers import Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as r:
        yield r


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with alert_http_client() as c:
        yield c


def make_fields(**overrides: Any) -> dict[str, Any]:
    """The sample notification fields with some replaced."""
    fields = dict(SAMPLE_FIELDS)
    fields.update(overrides)
    return fields


def resolve_fields(**overrides: Any) -> dict[str, Any]:
    """A recovery of the sample outage (same dedup_key)."""
    values: dict[str, Any] = {
        "event": "recovery",
        "action": "resolve",
        "title": "core-db recovered after 5 minutes",
        "text": "core-db is up again (down 02:00:00 – 02:05:00 UTC, 5 minutes).",
        "key": "down|core-db|2026-11-22T02:00:00+00:00|resolve|ops",
    }
    values.update(overrides)
    return make_fields(**values)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def outbox_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """Every OutboxStorage implementation the contract is checked against: the in-memory
    twin, and the real store's outbox on SQLite and on a throw-away PostgreSQL database."""
    from slamon_daemon.alerts.persist import StoreOutbox

    from .memory_outbox import MemoryOutbox

    if request.param == "memory":
        yield MemoryOutbox()
    elif request.param == "sqlite":
        from slamon_daemon.store import SqliteStore

        s = SqliteStore(str(tmp_path / "t.db"))
        await s.open()
        try:
            await s.migrate()
            yield StoreOutbox(s.outbox)
        finally:
            await s.close()
    else:
        from slamon_daemon.store import PostgresStore
        from tests.conftest import throwaway_pg_database

        async with throwaway_pg_database() as url:
            p = PostgresStore(url)
            await p.open()
            try:
                await p.migrate()
                yield StoreOutbox(p.outbox)
            finally:
                await p.close()
