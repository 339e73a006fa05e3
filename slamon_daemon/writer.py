"""Batched writes of check results to the store.

Checks wait in memory at most ``flush_interval`` (or until ``batch_size`` are queued) and are
written in one transaction. When the store fails, the batch stays queued, in order, and is
retried with backoff; the rest of the daemon does not wait for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from .errors import StoreError
from .models import Check
from .store.base import Store

logger = logging.getLogger("slamon.writer")


class CheckWriter:
    """Queues checks and writes them in batches; ``run`` is its loop, ``flush`` drains it."""

    def __init__(self, store: Store, *, batch_size: int = 500, flush_interval: float = 0.5) -> None:
        self.store = store
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.queue: deque[Check] = deque()
        self.written = 0
        self.failures = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._lock = asyncio.Lock()

    def add(self, check: Check) -> None:
        self.queue.append(check)
        if len(self.queue) >= self.batch_size:
            self._wake.set()

    async def run(self) -> None:
        backoff = 0.5
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._write_queued()
                backoff = 0.5
            except StoreError as exc:
                self.failures += 1
                logger.warning("cannot write %d queued checks (retry in %.1fs): %s",
                               len(self.queue), backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _write_queued(self) -> None:
        async with self._lock:
            while self.queue:
                batch = [self.queue[i] for i in range(min(self.batch_size, len(self.queue)))]
                await self.store.write_checks(batch)
                # Only now drop them: a failed write leaves the batch queued, in order.
                for _ in batch:
                    self.queue.popleft()
                self.written += len(batch)

    async def flush(self) -> None:
        """Write everything queued now (raises StoreError if the store fails)."""
        await self._write_queued()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
