"""Batched writes of check results to the store, through the journal (spool.py).

Each check is appended to the journal at once; every ``flush_interval`` the writer closes the
active journal segment and writes the closed segments to the store in order, in transactions
of at most ``batch_size`` checks. When the store fails, the segments stay on disk, in order,
and are retried with backoff while probing, state and the feed go on. A daemon restarted
after a crash or kill replays what its predecessor left.
"""

from __future__ import annotations

import asyncio
import logging

from .errors import StoreError
from .spool import Spool
from .store.base import Record, Store

logger = logging.getLogger("slamon.writer")


class CheckWriter:
    """Journals checks and writes them in batches; ``run`` is its loop, ``flush`` drains it."""

    def __init__(
        self, store: Store, spool: Spool, *, batch_size: int = 500, flush_interval: float = 0.5
    ) -> None:
        self.store = store
        self.spool = spool
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.written = 0
        self.failures = 0
        self.store_ok = True
        self._wake = asyncio.Event()
        self._stopping = False
        self._lock = asyncio.Lock()

    def add(self, record: Record) -> None:
        self.spool.append(record)

    @property
    def pending(self) -> int:
        return self.spool.pending

    async def run(self) -> None:
        backoff = 0.5
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
                if not self.store_ok:
                    logger.info("database is back; spooled checks written")
                self.store_ok = True
                backoff = 0.5
            except StoreError as exc:
                self.failures += 1
                if self.store_ok:
                    logger.warning(
                        "database write failed; spooling checks to %s: %s", self.spool.folder, exc
                    )
                self.store_ok = False
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, 5.0)

    async def flush(self) -> None:
        """Write every journaled check now, in order.

        Raises:
            StoreError: the store failed; what was not written stays journaled.
        """
        async with self._lock:
            self.spool.rotate()
            for segment in list(self.spool.closed):
                records = self.spool.read(segment)
                for i in range(0, len(records), self.batch_size):
                    await self.store.write_batch(records[i : i + self.batch_size])
                self.written += len(records)
                self.spool.done(segment)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
