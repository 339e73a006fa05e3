"""A start leaves SQLite's WAL checkpoints to after ready (issue 14 point 3): the first start
after the upgrade to 0015 writes every bar summary (~200 MB with 50,000 services), and each
page's commit copied its log into the file on the writer's connection, the start's longest
chain. Held, the commits leave the log in the WAL; once ready it is copied on a reader and
emptied, and the writer's commits checkpoint again. What is read meanwhile is unchanged."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon.daemon import Daemon
from slamon_daemon.store import open_store
from slamon_daemon.store.dialects.sqlite import WAL_CHECKPOINT_PAGES

from . import test_bar_upgrade_start as upgrade
from . import test_daemon
from .test_bar_summaries import FIRST, LAST, _days, _seed, _summaries
from .test_startup_history_pg import IDS

db_url = test_daemon.db_url  # a fixture: a URL for each backend
sock_dir = test_daemon.sock_dir  # a fixture: a folder short enough for a socket
_clean_env = test_daemon._clean_env  # autouse: no SLAMON_* variable of the caller's


async def _autocheckpoint(store: Any) -> int:
    """The writer's connection's ``wal_autocheckpoint``."""
    rows = await store.dialect._w.fetch("PRAGMA wal_autocheckpoint")
    return int(rows[0][0])


def _wal(store: Any) -> Path:
    return Path(f"{store.dialect.path}-wal")


async def test_held_commits_leave_the_log_until_released(store: Any) -> None:
    if store.backend != "sqlite":
        await store.hold_checkpoints()  # nothing to hold: the calls do nothing
        await store.release_checkpoints()
        return
    await _seed(store, upgrade.TODAY)
    await store.release_checkpoints()  # the seed's own log copied: an empty WAL
    assert _wal(store).stat().st_size == 0 and await _autocheckpoint(store) == WAL_CHECKPOINT_PAGES
    await store.hold_checkpoints()
    assert await _autocheckpoint(store) == 0
    ids = list(IDS)
    made = await store.bar_counts(FIRST, LAST, ids)  # the summaries written, not copied
    summaries = await _summaries(store)
    assert set(summaries) == set(IDS) and _wal(store).stat().st_size > 0
    await store.release_checkpoints()
    assert _wal(store).stat().st_size == 0 and await _autocheckpoint(store) == WAL_CHECKPOINT_PAGES
    assert await _summaries(store) == summaries
    again = await store.bar_counts(FIRST, LAST, ids)  # a restart's: through the summaries
    assert {sid: _days(p) for sid, p in again} == {sid: _days(p) for sid, p in made}


async def test_a_released_store_still_writes_if_the_copy_fails(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint that fails (the file busy) still gives the commits theirs back."""
    if store.backend != "sqlite":
        pytest.skip("SQLite's WAL")
    from slamon_daemon.errors import StoreUnavailable
    from slamon_daemon.store.dialects import sqlite as sqlite_mod

    await store.hold_checkpoints()

    class Busy:
        async def fetch(self, sql: str, *args: Any) -> Any:
            raise StoreUnavailable("SQLITE_BUSY")

    class Reading:
        async def __aenter__(self) -> Busy:
            return Busy()

        async def __aexit__(self, *exc: Any) -> None:
            return None

    monkeypatch.setattr(sqlite_mod.SqliteDialect, "read", lambda self: Reading())
    with pytest.raises(StoreUnavailable):
        await store.release_checkpoints()
    assert await _autocheckpoint(store) == WAL_CHECKPOINT_PAGES


async def test_the_first_start_copies_its_summaries_log_after_ready(
    db_url: str, tmp_path: Path, sock_dir: Path
) -> None:
    """Ready first, then the copy (a task a shutdown waits for); the bar served is the one
    of the rows, and the summaries are in the file for the next start."""
    await upgrade._upgraded_database(db_url)
    settings = upgrade._settings(tmp_path, sock_dir / "c.sock", db_url)
    daemon = Daemon(settings)
    try:
        await daemon.start()
        bar = upgrade._bar(daemon.state)
        releasing = [t for t in daemon._tasks if t.get_name() == "checkpoint"]
        assert len(releasing) == 1
        await asyncio.gather(*releasing)
        if daemon.store.backend == "sqlite":
            assert _wal(daemon.store).stat().st_size == 0
            assert await _autocheckpoint(daemon.store) == WAL_CHECKPOINT_PAGES
        made = await daemon.store._fetch("SELECT count(*) FROM bar_summaries")  # type: ignore[attr-defined]
        assert made == [(len(upgrade.NAMED) + 1,)]
    finally:
        await daemon.shutdown()
    assert bar == await upgrade._bar_from_rows(db_url)
    async with open_store(db_url) as store:  # the summaries are in the file: a restart's bar
        assert len(await _summaries(store)) == len(upgrade.NAMED) + 1


async def test_a_shutdown_right_after_ready_waits_for_the_copy(
    db_url: str, tmp_path: Path, sock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopped at once: the store is closed after the copy, which neither fails nor warns."""
    await upgrade._upgraded_database(db_url)
    settings = upgrade._settings(tmp_path, sock_dir / "s.sock", db_url)
    daemon = Daemon(settings)
    try:
        await daemon.start()
    finally:
        await daemon.shutdown()
    assert "checkpoint failed" not in caplog.text
    async with open_store(db_url) as store:
        assert len(await _summaries(store)) == len(upgrade.NAMED) + 1
