"""Durable storage: one Store interface (base.py), a SQLite and a PostgreSQL backend."""

from __future__ import annotations

from .base import Store, SyncResult


def open_store(database_url: str) -> Store:
    """The backend for ``database_url`` (not yet opened: use ``async with``)."""
    if database_url.startswith("sqlite:///"):
        from .sqlite import SqliteStore

        return SqliteStore(database_url.removeprefix("sqlite:///"))
    if database_url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(database_url)
    raise ValueError(f"unsupported database_url {database_url!r}")


__all__ = ["Store", "SyncResult", "open_store"]
