"""The daemon's hold on its database: connect (or keep trying), one daemon per database, and
a watch on the database while the daemon runs (issue 10).

* ``connect`` opens the store, takes the daemon lock (store.base.DaemonLock: a lock file for
  SQLite, an advisory lock keyed by the node name for PostgreSQL) and applies migrations.
  A lock held by another daemon is fatal (``DatabaseTaken``); an unreachable database is
  not: slamond starts without it, probes, journals and serves, and ``run`` keeps trying
  with backoff, saying so once (and once a minute after) in the log, never a traceback.
* Once connected, ``run`` checks every few seconds that the database is still the one
  opened (a SQLite file deleted or replaced is reported, and the store refuses writes) and
  that the lock is still held (PostgreSQL: the lock's connection can die in an outage; it is
  taken again when the database returns, and if another daemon took it meanwhile that is
  fatal too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import ServeError, StoreError, StoreUnavailable
from .store.base import DaemonLock, Store

logger = logging.getLogger("slamon.store")

WATCH_S = 2.0
"""How often the database file and the lock are checked (a deleted file is seen this soon)."""
RETRY_MAX_S = 30.0
"""Longest wait between two attempts to reach the database."""
REPEAT_LOG_S = 60.0
"""An unreachable database is logged again at most this often."""


class DatabaseTaken(ServeError):
    """Another daemon holds the daemon lock of this database (and node)."""


class StoreLink:
    """Connects ``store`` for a daemon named ``node`` and watches it while the daemon runs.

    ``on_connected`` runs once the store is open, locked and migrated when that happens after
    start (the database was unreachable at first); ``on_fatal`` when the lock turns out to be
    another daemon's.
    """

    def __init__(self, store: Store, node: str) -> None:
        self.store = store
        self.node = node
        self.lock: DaemonLock | None = None
        self.connected = False
        self.error: str | None = None
        self.problem: str | None = None  # the database is not the one opened (SQLite file)
        self._down_since: float | None = None
        self._attempts = 0
        self._logged_at = 0.0
        self._stop = asyncio.Event()
        self.on_connected: Callable[[], Awaitable[None]] | None = None
        self.on_fatal: Callable[[str], None] | None = None

    @property
    def ready(self) -> bool:
        """Open, locked, migrated and set up, and still the database that was opened."""
        return self.connected and self.problem is None

    async def connect(self) -> bool:
        """Open, lock and migrate the store; False (after saying why) when unreachable.

        Raises:
            DatabaseTaken: another daemon holds the lock.
            MigrationError: a migration failed.
        """
        self._attempts += 1
        try:
            await self.store.open()
            if self.lock is None:
                self.lock = self.store.daemon_lock(self.node)
            holder = await self.lock.acquire()
            if holder is not None:
                await self.store.close()
                raise DatabaseTaken(f"refusing to start: {holder}")
            applied = await self.store.migrate()
        except StoreUnavailable as exc:
            await self._unreachable(exc)
            return False
        if applied:
            logger.info("database migrated: %s", ", ".join(applied))
        if self._down_since is not None:
            logger.warning(
                "database reached after %.0f s (%d attempts); journaled checks are written now",
                time.monotonic() - self._down_since,
                self._attempts,
            )
        self.connected, self.error, self._down_since, self._attempts = True, None, None, 0
        return True

    async def _unreachable(self, exc: StoreError) -> None:
        with contextlib.suppress(Exception):
            await self.store.close()
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            logger.warning(
                "database unreachable: %s; probing, the journal and the feed go on, checks"
                " are written when it answers (retrying with backoff)",
                exc,
            )
            self._logged_at = now
        elif now - self._logged_at >= REPEAT_LOG_S:
            logger.warning(
                "database still unreachable after %.0f s (%d attempts): %s",
                now - self._down_since,
                self._attempts,
                exc,
            )
            self._logged_at = now
        else:
            logger.debug("database still unreachable: %s", exc)
        self.connected, self.error = False, str(exc)

    async def run(self) -> None:
        """Until ``stop``: reach the database when it was not reached, then watch it."""
        delay = 1.0
        while not self._stop.is_set():
            if not self.connected:
                try:
                    reached = await self.connect()
                except DatabaseTaken as exc:
                    self._fatal(str(exc))
                    return
                except StoreError as exc:  # e.g. a migration failed: said, and retried
                    await self._unreachable(exc)
                    reached = False
                if not reached:
                    await self._sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_S)
                    continue
                delay = 1.0
                if self.on_connected is not None:
                    await self.on_connected()
            await self._sleep(WATCH_S)
            await self.watch()

    async def watch(self) -> None:
        """One look at the database: still the file opened, and the lock still held."""
        if not self.connected:
            return
        try:
            await self._watch()
        except StoreError as exc:  # the writer reports an unreachable database
            logger.debug("database watch: %s", exc)

    async def _watch(self) -> None:
        problem = await self.store.verify()
        if problem is not None:
            now = time.monotonic()
            if self.problem is None or now - self._logged_at >= REPEAT_LOG_S:
                logger.error("%s", problem)
                self._logged_at = now
            self.problem = problem
            return
        if self.lock is not None and not await self.lock.held():
            try:
                holder = await self.lock.acquire()
            except StoreUnavailable as exc:
                logger.debug("daemon lock not retaken yet: %s", exc)
                return  # the database is away; the writer says so
            if holder is not None:
                self._fatal(f"lost the daemon lock during an outage and {holder}")
            else:
                logger.info("daemon lock of %s taken again", self.lock.description)

    def _fatal(self, message: str) -> None:
        logger.critical("%s; stopping (journaled checks stay on disk)", message)
        self.error = message
        if self.on_fatal is not None:
            self.on_fatal(message)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    def stop(self) -> None:
        self._stop.set()

    async def release(self) -> None:
        if self.lock is not None:
            await self.lock.release()

    def stats(self) -> dict[str, Any]:
        """The database as daemon.stats tells it."""
        if self.problem is not None:
            state = "lost"
        elif self.connected:
            state = "connected"
        else:
            state = "unreachable"
        down = time.monotonic() - self._down_since if self._down_since is not None else None
        return {
            "state": state,
            "backend": self.store.backend,
            "error": self.problem or self.error,
            "unreachable_for_s": None if down is None else round(down, 1),
            "attempts": self._attempts if not self.connected else 0,
        }
