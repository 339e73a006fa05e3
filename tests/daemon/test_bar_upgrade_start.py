"""The first start after the upgrade to 0015 (issue 14 point 3: every start with 50,000
services and 89 days under 10 s, this one included): it makes every bar summary while the
config is synced and the rest of the state is read side by side. The bar it serves is the
one a restart serves (through the summaries) and the one read from the rows alone (the code
before the summaries), for the config's services and for those stored but not named by the
config; a read that fails fails the start, nothing half-loaded, the others cancelled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import slamon_daemon.daemon as daemon_mod
from slamon_daemon.config import Settings, load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.errors import StoreUnavailable
from slamon_daemon.state import HISTORY_DAYS, BarHistory, LiveState
from slamon_daemon.store import open_store
from slamon_daemon.store.dialects.base import ROLLUP_COLUMNS
from slamon_daemon.store.sql import SqlStore, rollup_values

from . import test_daemon
from .support import write_config
from .test_startup_history_pg import _day_rollups, _svc

db_url = test_daemon.db_url  # a fixture: a URL for each backend
sock_dir = test_daemon.sock_dir  # a fixture: a folder short enough for a socket
_clean_env = test_daemon._clean_env  # autouse: no SLAMON_* variable of the caller's

TODAY = datetime.now(UTC).date()
IDS = tuple(f"svc-{n}" for n in range(11))  # n % 3: days without a row; n = 5: > 65,535 checks
ADMIN = "admin-1"  # stored and active, but not in the config file (added over the feed)
NAMED = IDS[:-2]  # the config's services; IDS[-2:] stored by an older config: deactivated


@pytest.fixture(autouse=True)
def _small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemon_mod, "BAR_PAGE", 3)


async def _upgraded_database(db_url: str) -> None:
    """A database with 89 days and more of rows (gaps, failures, maintenance) and no
    summary: as the upgrade to 0015 leaves it (or a restore, or ``rebuild-rollups``)."""
    async with open_store(db_url) as store:
        await store.migrate()
        await store.sync_services([_svc(s) for s in IDS])
        await store.save_admin_service(_svc(ADMIN))
        rows = [
            (sid, store.dialect.day(r.day), *rollup_values(r))
            for n, sid in enumerate((*IDS, ADMIN, "gone"))
            for r in _day_rollups(sid, n, TODAY)
        ]
        cols = ["service_id", "day", *ROLLUP_COLUMNS]
        async with store.dialect.transaction() as con:
            await con.executemany(
                f"INSERT INTO daily_rollups ({', '.join(cols)})"
                f" VALUES ({', '.join('?' * len(cols))})",
                rows,
            )
        assert await store._fetch("SELECT count(*) FROM bar_summaries") == [(0,)]  # type: ignore[attr-defined]


def _settings(tmp_path: Path, sock: Path, db_url: str) -> Settings:
    services = [{"id": s, "url": f"http://127.0.0.1:9/{s}", "interval": "1d"} for s in NAMED]
    services.append({"id": "new-svc", "url": "http://127.0.0.1:9/new", "interval": "1d"})
    cfg = write_config(
        tmp_path / "slamon.toml",
        db_url=db_url,
        socket=sock,
        services=services,
        extra_daemon=f'spool_dir = "{tmp_path / "spool"}"',
    )
    settings, _ = load_settings(cfg)
    return settings


def _bar(state: LiveState) -> dict[str, Any]:
    """What users read of each service's past days: its 89 past cells, the uptime texts,
    the counts of the windows ending yesterday (today's cell is the live one)."""
    yesterday = TODAY - timedelta(days=1)
    out = {}
    for sid, st in state.services.items():
        cells, uptime = st.history(TODAY)
        windows = [st.counts(TODAY - timedelta(days=n), yesterday) for n in (1, 7, 30, 89)]
        out[sid] = (cells[:-1], uptime, windows)
    return out


async def _bar_of_a_start(settings: Settings) -> tuple[dict[str, Any], int]:
    """A daemon's bar right at ready (before its first check), and how many summaries."""
    daemon = Daemon(settings)
    try:
        await daemon.start()
        bar = _bar(daemon.state)  # no await since ready: no check has run
        summaries = await daemon.store._fetch("SELECT count(*) FROM bar_summaries")  # type: ignore[attr-defined]
    finally:
        await daemon.shutdown()
    return bar, int(summaries[0][0])


async def _bar_from_rows(db_url: str) -> dict[str, Any]:
    """The bar as the code before the summaries read it: every past day from the rows, as
    daily_counts packs them; and the same from the rollup objects (not packed by SQL)."""
    first, last = TODAY - timedelta(days=HISTORY_DAYS - 1), TODAY - timedelta(days=1)
    async with open_store(db_url) as store:
        services = await store.list_services()
        ids = [s.id for s in services]
        packed, whole = BarHistory(TODAY), BarHistory(TODAY)
        packed.add_counts(first, await store.daily_counts(first, last, service_ids=ids))
        whole.add_rollups(await store.daily_rollups(first, last, ids))
    bars = []
    for source in (packed, whole):
        state = LiveState()
        state.set_services(services)
        state.load_history(source, {})
        bars.append(_bar(state))
    assert bars[0] == bars[1]
    return bars[0]


async def test_the_first_start_after_the_upgrade_serves_a_restarts_bar(
    db_url: str, tmp_path: Path, sock_dir: Path
) -> None:
    await _upgraded_database(db_url)
    settings = _settings(tmp_path, sock_dir / "u.sock", db_url)
    first, made = await _bar_of_a_start(settings)
    # the config's services, the new one and the one added over the feed; not those the
    # config no longer names
    assert set(first) == {*NAMED, "new-svc", ADMIN}
    assert made == len(NAMED) + 1  # every stored service with days got its summary
    restart, kept = await _bar_of_a_start(settings)
    assert kept == made
    rows = await _bar_from_rows(db_url)
    assert set(rows) == set(first)
    for sid in first:
        assert first[sid] == restart[sid] == rows[sid], sid
    # the history is there (not a bar of empty days that would agree by accident)
    assert all(any(c != "none" for c in first[sid][0]) for sid in (*NAMED, ADMIN))
    assert first["new-svc"][2] == [(0, 0)] * 4


@pytest.mark.parametrize("failing", ["bar_counts", "latest_checks", "sync_services"])
async def test_a_failed_read_fails_the_start_and_stops_the_others(
    db_url: str,
    tmp_path: Path,
    sock_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    """The reads run side by side: the one that fails fails the start with its error,
    the others are cancelled, the state is left empty; the next start works."""
    await _upgraded_database(db_url)
    settings = _settings(tmp_path, sock_dir / "f.sock", db_url)
    released = asyncio.Event()  # never set: the reads that are not failing wait on it
    waiting: list[str] = []
    cancelled: list[str] = []

    def patched(name: str) -> Any:
        real = getattr(SqlStore, name)

        async def read(self: Any, *args: Any, **kw: Any) -> Any:
            if name == failing:
                await asyncio.sleep(0.05)  # the others have started
                raise StoreUnavailable(f"{name} failed")
            waiting.append(name)
            try:
                await released.wait()
            except asyncio.CancelledError:
                cancelled.append(name)
                raise
            return await real(self, *args, **kw)  # pragma: no cover

        return read

    for name in ("bar_counts", "latest_checks", "sync_services"):
        monkeypatch.setattr(SqlStore, name, patched(name))
    daemon = Daemon(settings)
    try:
        with pytest.raises(StoreUnavailable, match=f"{failing} failed"):
            await asyncio.wait_for(daemon.start(), 30)
        assert daemon.state.services == {}
        assert waiting and sorted(cancelled) == sorted(waiting)
        assert failing not in waiting
    finally:
        await daemon.shutdown()
    monkeypatch.undo()
    bar, made = await _bar_of_a_start(settings)
    assert bar == await _bar_from_rows(db_url) and made == len(NAMED) + 1
