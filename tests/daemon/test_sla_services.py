"""sla.report over the feed covers exactly the active services, as the store lists them:
the handler takes them from the live state (no read of every service's settings), so the
live state must follow additions, pauses, resumes and edits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from slamon_daemon.config import load_settings
from slamon_daemon.daemon import Daemon

from .support import FeedClient, remove_dir, short_dir, wait_until, write_config


@pytest.fixture
def folder() -> Iterator[Path]:
    d = short_dir()
    yield d
    remove_dir(d)


@contextlib.asynccontextmanager
async def running(config: Path) -> AsyncIterator[Daemon]:
    settings, _ = load_settings(config)
    daemon = Daemon(settings, config_path=config)
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.started.wait(), 30)
    try:
        yield daemon
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)


async def test_the_report_lists_the_active_services_as_the_store_does(folder: Path) -> None:
    config = write_config(
        folder / "slamon.toml",
        db_url=f"sqlite:///{folder}/db.sqlite",
        socket=folder / "s.sock",
        services=[
            {"id": sid, "url": f"http://127.0.0.1:9/{sid}", "interval": "1h", "sla_target": t}
            for sid, t in (("zeta", 99.5), ("alpha", 99.9), ("mid", 99.0))
        ],
        extra_daemon=f'owner_is_admin = true\nspool_dir = "{folder}/spool"',
    )
    async with running(config) as daemon:
        c = await FeedClient.connect(folder / "s.sock")

        async def same_as_store() -> list[str]:
            report = await c.result("sla.report", {})
            stored = await daemon.store.list_services()
            assert [(r["id"], r["target"]) for r in report["services"]] == [
                (s.id, s.sla_target) for s in stored
            ]
            return [r["id"] for r in report["services"]]

        assert await same_as_store() == ["alpha", "mid", "zeta"]
        await c.result(
            "service.add",
            {"id": "beta", "url": "http://127.0.0.1:9/b", "interval": "1h", "sla_target": 98.0},
        )
        await wait_until(lambda: "beta" in daemon.state.services, what="beta tracked")
        assert await same_as_store() == ["alpha", "beta", "mid", "zeta"]
        await c.result("service.edit", {"id": "beta", "sla_target": 97.5})
        await wait_until(
            lambda: daemon.state.services["beta"].service.sla_target == 97.5, what="beta edited"
        )
        assert await same_as_store() == ["alpha", "beta", "mid", "zeta"]
        await c.result("service.pause", {"id": "beta"})
        await wait_until(lambda: "beta" not in daemon.state.services, what="beta paused")
        assert await same_as_store() == ["alpha", "mid", "zeta"]
        # One service by name, paused too, is still read from the store.
        one = await c.result("sla.report", {"service": "beta"})
        assert [r["id"] for r in one["services"]] == ["beta"]
