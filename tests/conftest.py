"""Fixtures shared by the whole suite: a store on each backend, throw-away PostgreSQL databases.

PostgreSQL tests run against ``$SLAMON_TEST_DATABASE_URL`` or, without it, the server on
127.0.0.1:5432 (user postgres, database test). Each test gets its own database, created with a
unique name and dropped afterwards, so tests never see each other's rows. When no server
answers, those tests are skipped with the reason, unless ``SLAMON_REQUIRE_POSTGRES=1`` (CI),
which turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def admin_pg_url() -> str:
    """The URL of the database used to create and drop the throw-away ones."""
    return os.environ.get("SLAMON_TEST_DATABASE_URL") or DEFAULT_PG_URL


def _redacted(url: str) -> str:
    """``url`` without its password, for messages (secrets are never printed)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _postgres_unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it when PostgreSQL is required (``SLAMON_REQUIRE_POSTGRES=1``)."""
    if os.environ.get("SLAMON_REQUIRE_POSTGRES") == "1":
        pytest.fail(
            f"SLAMON_REQUIRE_POSTGRES=1 but PostgreSQL is not usable: {reason}", pytrace=False
        )
    pytest.skip(
        f"PostgreSQL not available ({reason}); start one on 127.0.0.1:5432 or set"
        " SLAMON_TEST_DATABASE_URL"
    )


@contextlib.asynccontextmanager
async def throwaway_pg_database() -> AsyncIterator[str]:
    """Create a database with a unique name, yield its URL, then drop it (even if in use)."""
    import asyncpg  # a core dependency; imported here so collecting other tests never needs it

    admin = admin_pg_url()
    problem: str | None = None
    try:
        con = await asyncpg.connect(admin, timeout=5)
    except Exception as exc:
        problem = f"cannot connect to {_redacted(admin)}: {exc!r}"
    if problem is not None:  # outside the except block: no chained traceback in the report
        _postgres_unavailable(problem)
    name = f"slamon_test_{uuid.uuid4().hex}"
    try:
        await con.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        await con.close()
        problem = f"cannot create a database on {_redacted(admin)}: {exc!r}"
    if problem is not None:
        _postgres_unavailable(problem)
    try:
        yield _with_database(admin, name)
    finally:
        try:
            await con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await con.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """URL of a fresh, empty PostgreSQL database that is dropped after the test."""
    async with throwaway_pg_database() as url:
        yield url


@contextlib.asynccontextmanager
async def migrated(s: Any) -> AsyncIterator[Any]:
    """The store ``s`` opened and migrated while inside, closed after."""
    await s.open()
    try:
        await s.migrate()
        yield s
    finally:
        await s.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """An open, migrated Store: a SQLite file in tmp_path, or a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        from slamon_daemon.store import SqliteStore

        async with migrated(SqliteStore(str(tmp_path / "t.db"))) as s:
            yield s
    else:
        from slamon_daemon.store import PostgresStore

        async with throwaway_pg_database() as url, migrated(PostgresStore(url)) as s:
            yield s
