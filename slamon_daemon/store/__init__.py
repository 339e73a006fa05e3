"""Durable storage: the Store interface (base.py), written once in SQL (sql.py) over a
SQLite or a PostgreSQL dialect (dialects/)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .base import Store, SyncResult
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


__all__ = ["PostgresStore", "SqlStore", "SqliteStore", "Store", "SyncResult", "open_store"]
