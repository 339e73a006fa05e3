"""Batched writes of check results to the store, through the journal (spool.py).

The journal is the promise (SPEC §3.9): a check is *counted* (folded into the live state,
announced to clients) only once it is durable somewhere, first of all in the journal.

* ``add_soon`` (a check made) gathers the records of a turn of the event loop and journals
  them at its end in one ``write`` (``journal_soon``); only once that write returned are its
  checks counted (``counted``, in order): a check killed before that was never counted, as
  a check killed before its own write was. ``add`` (transitions, episodes) journals a record
  at once, behind what ``add_soon`` gathered, and says whether it is journaled.
* When the journal cannot be written (full disk, read-only filesystem, folder gone), the
  error is logged once with the folder and the cause, and the records wait, in order, in a
  bounded memory queue (``held``). While anything is held, new records join the queue behind
  it, so order is kept. Every second the writer tries the journal again; while it stays
  broken and the database answers, held records are written to the database directly (after
  every older journal segment), and count from then on. Only when the queue is full is a
  record dropped, and every drop is counted and logged.
* Every ``flush_interval`` the writer closes the active segment and writes the closed
  segments to the store in order, in batches of at most ``batch_size`` records, handed
  ten at a time (``Store.write_batches``: one transaction, on SQLite in one hand-off to its
  thread; on PostgreSQL a backlog pays its round trips through the event loop once per ten
  batches). When the store fails, the segments stay on disk and are retried with backoff while probing,
  state and the feed go on. A daemon restarted after a crash or kill replays them.
* The writer never dies silently: whatever fails is logged (the first time, and then once a
  minute with a count), counted in ``failures``, kept in ``last_error`` and retried.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import StoreError
from .models import Check
from .spool import JournalError, Spool
from .store.base import Record, Store

logger = logging.getLogger("slamon.writer")

HELD_LIMIT = 100_000
"""Records kept in memory at most while the journal cannot be written (~50 MB)."""
JOURNAL_RETRY_S = 1.0
"""How often a broken journal is tried again."""
BATCHES_PER_CALL = 10
"""Batches handed to the store at once, in one transaction: SQLite writes them in one
hand-off to its thread (a busy event loop delays them once, not each), and each page of its
rollup tables goes to the WAL once, not once per batch."""
REPEAT_LOG_S = 60.0
"""A failure that goes on is logged again at most this often, with a count."""

Counted = Callable[[Check], None]
"""Called once a check is durable (journaled or stored), in the order checks were made."""


class CheckWriter:
    """Journals checks and writes them in batches; ``run`` is its loop, ``flush`` drains it."""

    def __init__(
        self,
        store: Store,
        spool: Spool,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        held_limit: int = HELD_LIMIT,
        counted: Counted | None = None,
    ) -> None:
        self.store = store
        self.spool = spool
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.held_limit = held_limit
        self.counted = counted or (lambda check: None)
        self.written = 0
        self._segment_written = 0  # of the segment being written (still in spool.pending)
        self.failures = 0
        self.store_ok = True
        self.store_error: str | None = None
        self.store_down_since: float | None = None  # time.monotonic() of the first failure
        self.last_error: str | None = None
        self.held: deque[Record] = deque()
        self._soon: list[Record] = []  # add_soon's, journaled at the end of this loop turn
        self._soon_handle: asyncio.Handle | None = None
        self.lost = 0
        self.journal_error: str | None = spool.open_error
        self.journal_failures = 0
        self._journal_retry_at = 0.0
        self._journal_logged_at: float | None = None
        self._journal_breaks = 0
        self._journal_reported = False
        self._lost_logged_at = 0.0
        self._error_logged: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._lock = asyncio.Lock()
        self.ready: Callable[[], Awaitable[bool]] | None = None
        """Asked before each flush: False while the store is not set up (not yet reached)."""
        if self.journal_error:
            logger.error(
                "%s; checks are held in memory until it can be written", self.journal_error
            )

    # -- the journal --------------------------------------------------------------------

    def add(self, record: Record) -> bool:
        """Journal ``record``; True when it is in the journal now, False when it waits in
        memory (the journal is failing, or older records still wait)."""
        if self._soon:
            self.journal_soon()  # older: first (its checks are counted now)
        if not self.held and self.journal_error is None:
            try:
                self.spool.append(record)
                return True
            except JournalError as exc:
                self._journal_failed(exc)
        self._hold(record)
        return False

    def add_soon(self, record: Record) -> None:
        """Journal ``record`` at the end of this turn of the event loop, in one write with the
        others added in it; a check is counted (``counted``) once it is journaled — then, or
        when a failing journal takes it again or the database stores it (``held``)."""
        if self.held or self.journal_error is not None:
            self._hold(record)
            return
        self._soon.append(record)
        if self._soon_handle is None:
            self._soon_handle = asyncio.get_running_loop().call_soon(self.journal_soon)

    def journal_soon(self) -> None:
        """Journal what ``add_soon`` gathered, in one write, then count its checks in order
        (when the write fails, they wait in ``held``, in order, as ``add``'s would)."""
        if self._soon_handle is not None:
            self._soon_handle.cancel()
            self._soon_handle = None
        records, self._soon = self._soon, []
        if not records:
            return
        try:
            self.spool.append_many(records)
        except JournalError as exc:
            self._journal_failed(exc)
            self.held.extendleft(reversed(records))  # older than anything held since
            return
        counted = self.counted
        for r in records:
            if type(r) is Check:
                try:
                    counted(r)
                except Exception:  # one check's bug must not leave the others uncounted
                    logger.exception("counting the check of %s failed", r.service_id)

    def _hold(self, record: Record) -> None:
        if len(self.held) < self.held_limit:
            self.held.append(record)
            return
        self.lost += 1
        now = time.monotonic()
        if now - self._lost_logged_at >= REPEAT_LOG_S:
            self._lost_logged_at = now
            logger.error(
                "journal in %s still failing and %d records held in memory (the limit):"
                " %d checks dropped so far; free the disk or fix the folder",
                self.spool.folder,
                len(self.held),
                self.lost,
            )

    def _journal_failed(self, exc: BaseException) -> None:
        first = self.journal_error is None
        self.journal_error = str(exc)
        self.journal_failures += 1
        self._journal_retry_at = time.monotonic() + JOURNAL_RETRY_S
        if not first:
            return
        # A nearly full disk comes and goes as segments are written and removed: said at
        # most once a minute (with the count), and its recovery only after such a report.
        self._journal_breaks += 1
        now = time.monotonic()
        if self._journal_logged_at is not None and now - self._journal_logged_at < REPEAT_LOG_S:
            return
        self._journal_logged_at = now
        again = (
            f" (it failed {self._journal_breaks} times since the last report)"
            if self._journal_breaks > 1
            else ""
        )
        self._journal_breaks = 0
        self._journal_reported = True
        logger.error(
            "%s%s; probing goes on, checks are held in memory (at most %d) and written to"
            " the database directly while it answers; retrying every %.0f s",
            exc,
            again,
            self.held_limit,
            JOURNAL_RETRY_S,
        )

    def retry_journal(self, *, force: bool = False) -> None:
        """Move held records into the journal, in order, while it takes them; count the
        checks among them (at most once a second while it fails, unless ``force``)."""
        self.journal_soon()
        if (
            not force
            and self.journal_error is not None
            and time.monotonic() < self._journal_retry_at
        ):
            return
        if not self.held and self.journal_error is None:
            return
        moved = 0
        while self.held:
            record = self.held[0]
            try:
                self.spool.append(record)
            except JournalError as exc:
                self._journal_failed(exc)
                return
            self.held.popleft()
            moved += 1
            if isinstance(record, Check):
                self.counted(record)  # may add transitions behind the queue
        if self.journal_error is not None:
            if self._journal_reported:
                logger.warning(
                    "journal in %s is writable again; %d held records journaled",
                    self.spool.folder,
                    moved,
                )
                self._journal_reported = False
            self.journal_error = None

    @property
    def pending(self) -> int:
        """Records not yet stored: in the journal and held in memory."""
        return self.spool.pending - self._segment_written + len(self.held) + len(self._soon)

    # -- the loop -----------------------------------------------------------------------

    async def run(self) -> None:
        backoff = 0.5
        behind = False
        while not self._stopping:
            if behind:
                # The last flush left a batch or more journaled (checks came faster than it
                # wrote): write on at once rather than idle a flush interval first.
                await asyncio.sleep(0)
            else:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval)
                except TimeoutError:
                    pass
            behind = False
            self._wake.clear()
            try:
                self.retry_journal()
                self.spool.retry_removals()
                if self.ready is not None and not await self.ready():
                    continue
                await self.flush()
                behind = self.pending >= self.batch_size
                if not self.store_ok:
                    logger.warning(
                        "database is back after %.0f s; journaled checks written",
                        time.monotonic() - (self.store_down_since or time.monotonic()),
                    )
                self.store_ok, self.store_error, self.store_down_since = True, None, None
                self.last_error = None
                backoff = 0.5
                continue
            except StoreError as exc:
                self.failures += 1
                if self.store_ok:
                    logger.warning(
                        "database write failed; checks stay in the journal (%s) until it"
                        " answers: %s",
                        self.spool.folder,
                        exc,
                    )
                    self.store_down_since = time.monotonic()
                self.store_ok, self.store_error = False, str(exc)
            except Exception as exc:  # a journal read failure or a bug: never die silently
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._log_repeating(self.last_error, exc)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except TimeoutError:
                pass
            backoff = min(backoff * 2, 5.0)

    def _log_repeating(self, key: str, exc: BaseException) -> None:
        now = time.monotonic()
        last = self._error_logged.get(key)
        if last is None:
            logger.error("writing checks failed (retrying): %s", key, exc_info=exc)
            self._error_logged[key] = now
        elif now - last >= REPEAT_LOG_S:
            logger.error("writing checks still fails (retrying): %s", key)
            self._error_logged[key] = now

    async def flush(self) -> None:
        """Write every journaled check now, in order; then, while the journal is broken,
        the held records directly.

        Raises:
            StoreError: the store failed; what was not written stays journaled (or held).
            OSError: a journal segment cannot be read.
        """
        async with self._lock:
            self._segment_written = 0  # a segment that failed part-way is written again
            self.journal_soon()
            self.spool.rotate()
            for segment in list(self.spool.closed):
                records = self.spool.read(segment)
                step = self.batch_size * BATCHES_PER_CALL
                for i in range(0, len(records), step):
                    part = records[i : i + step]
                    await self.store.write_batches(
                        [
                            part[j : j + self.batch_size]
                            for j in range(0, len(part), self.batch_size)
                        ]
                    )
                    # Counted as it goes: a segment that grew while the last one was written
                    # can take many calls, and daemon.stats shows the writer moving.
                    self.written += len(part)
                    self._segment_written += len(part)
                self.spool.done(segment)
                self._segment_written = 0
            # Held records are newer than every segment: written only now, in order.
            while self.held and self.journal_error is not None:
                batch = [self.held[i] for i in range(min(self.batch_size, len(self.held)))]
                await self.store.write_batch(batch)
                for _ in batch:
                    self.held.popleft()
                self.written += len(batch)
                for r in batch:
                    if isinstance(r, Check):
                        self.counted(r)

    def stats(self) -> dict[str, Any]:
        """The writer's and the journal's figures for daemon.stats."""
        return {
            "records_written": self.written,
            "write_pending": self.pending,
            "write_failures": self.failures,
            "write_error": self.last_error,
            "store_ok": self.store_ok,
            "store_error": self.store_error,
            "journal": {
                "folder": str(self.spool.folder),
                "ok": self.journal_error is None,
                "error": self.journal_error,
                "failures": self.journal_failures,
                "held": len(self.held),
                "held_limit": self.held_limit,
                "lost": self.lost,
            },
        }

    def wake(self) -> None:
        """Flush now rather than at the next interval."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
