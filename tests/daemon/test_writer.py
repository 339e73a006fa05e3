"""The writer's loop (writer.py): a writer left behind writes on at once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from slamon_daemon.models import Check, Outcome, Service
from slamon_daemon.spool import Spool
from slamon_daemon.store import SqliteStore
from slamon_daemon.store.base import Record
from slamon_daemon.writer import CheckWriter
from tests.conftest import migrated

T0 = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


def _check(i: int) -> Check:
    return Check("web", T0 + timedelta(seconds=i), 1.5, Outcome.UP, status_code=200)


async def test_a_writer_behind_writes_on_without_waiting_a_flush_interval(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "t.db"))
    async with migrated(store):
        await store.sync_services([Service(id="web", name="Web", url="http://127.0.0.1/")])
        writer = CheckWriter(store, Spool(tmp_path / "spool"), batch_size=2, flush_interval=3600)
        write_batches = store.write_batches

        async def slow_write(batches: Sequence[Sequence[Record]]) -> int:
            # While the first flush writes, more than a batch of checks is made.
            if writer.written == 0:
                for i in range(2, 6):
                    assert writer.add(_check(i))
            return await write_batches(batches)

        store.write_batches = slow_write  # type: ignore[method-assign]
        for i in range(2):
            assert writer.add(_check(i))
        task = asyncio.create_task(writer.run())
        writer.wake()  # the first flush; the next would come an hour later
        try:

            async def all_written() -> None:
                while writer.written < 6:
                    await asyncio.sleep(0.01)

            await asyncio.wait_for(all_written(), 60)
        finally:
            writer.stop()
            await task
        assert writer.pending == 0
        assert len((await store.latest_checks(10))["web"]) == 6
