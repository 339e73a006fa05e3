"""Issue 14 point 2: SQLite's writer checkpoints its WAL every WAL_CHECKPOINT_PAGES pages
(SQLite's default of 1,000 made a checkpoint follow nearly every commit of a busy writer,
copying the rollups' rows rewritten at each flush again and again); its readers keep the
default (they do not write)."""

from __future__ import annotations

from pathlib import Path

from slamon_daemon.store import SqliteStore
from slamon_daemon.store.dialects.sqlite import WAL_CHECKPOINT_PAGES
from tests.conftest import migrated


async def test_the_writer_checkpoints_every_wal_checkpoint_pages(tmp_path: Path) -> None:
    async with migrated(SqliteStore(str(tmp_path / "t.db"))) as store:
        writer = store.dialect._w  # type: ignore[attr-defined]
        reader = store.dialect._r  # type: ignore[attr-defined]
        assert await writer.fetch("PRAGMA wal_autocheckpoint") == [(WAL_CHECKPOINT_PAGES,)]
        assert WAL_CHECKPOINT_PAGES > 1000
        assert await reader.fetch("PRAGMA wal_autocheckpoint") == [(1000,)]
