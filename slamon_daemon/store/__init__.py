"""Durable storage: the Store interface (base.py), written once in SQL (sql.py) over a
SQLite or a PostgreSQL dialect (dialects/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError
from .base import Store, SyncResult
from .cluster import ClusterStore
from .sql import SqlStore


class SqliteStore(SqlStore):
    """The store in the SQLite file ``path`` (created with its folder if missing)."""

    def __init__(self, path: str | Path) -> None:
        from .dialects.sqlite import SqliteDialect

        super().__init__(SqliteDialect(path))


class PostgresStore(SqlStore):
    """The store in the PostgreSQL database ``dsn`` (postgresql://user@host:port/db)."""

    def __init__(self, dsn: str, *, min_size: int = 0, max_size: int = 8) -> None:
        from .dialects.postgres import PostgresDialect

        super().__init__(PostgresDialect(dsn, min_size=min_size, max_size=max_size))


def open_store(database_url: str) -> Store:
    """The store for ``database_url`` (not yet opened: use ``async with``).

    Raises:
        ConfigError: the URL names no backend (config.py refuses such URLs first).
    """
    if database_url.startswith("sqlite:///"):
        return SqliteStore(database_url.removeprefix("sqlite:///"))
    if database_url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(database_url)
    raise ConfigError(
        [f"database_url: expected sqlite:///path or postgresql://..., got {database_url!r}"]
    )


def cluster_parts(store: Store) -> tuple[ClusterStore, Any] | None:
    """The cluster's tables and the LISTEN of a PostgreSQL store (issue 15); None for
    SQLite, which is single-node."""
    if not isinstance(store, SqlStore) or store.backend != "postgres":
        return None
    from .dialects.postgres import PostgresDialect

    assert isinstance(store.dialect, PostgresDialect)
    return ClusterStore(store.dialect), store.dialect.listen


def database_location(database_url: str) -> str:
    """Where ``database_url`` points, said for people (issue 12): "SQLite file /abs/path"
    or "PostgreSQL postgresql://user@host/db" (without a password).

    ``sqlite:///`` URLs follow SQLAlchemy's convention: three slashes and a relative path
    (``sqlite:///data/slamon.db``) are relative to the working directory, four slashes an
    absolute path (``sqlite:////var/lib/slamon/slamon.db``).
    """
    if database_url.startswith("sqlite:///"):
        return f"SQLite file {Path(database_url.removeprefix('sqlite:///')).absolute()}"
    parts = urlsplit(database_url)
    if parts.password is not None:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        database_url = urlunsplit(parts._replace(netloc=netloc))
    return f"PostgreSQL {database_url}"


__all__ = [
    "PostgresStore",
    "SqlStore",
    "SqliteStore",
    "Store",
    "SyncResult",
    "database_location",
    "open_store",
]
