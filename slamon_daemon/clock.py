"""The daemon's sense of time, passed in (``Daemon(settings, clock=...)``) so tests can cross
an hour, a UTC midnight or a month boundary, or step the wall clock, deterministically.

Two clocks, kept apart on purpose:

* ``now()`` is the wall clock (UTC): when a check happened, which day a rollup belongs to,
  what "this month" is. It can step (NTP, an operator, a VM resumed).
* ``monotonic()`` only moves forward: when the next check is due, how late a check started.
  The scheduler runs on it alone, so a wall-clock step neither stops probing nor counts
  phantom skipped slots.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What the daemon asks of time."""

    def now(self) -> datetime:
        """The wall-clock time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps back (only differences mean anything)."""
        ...

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        """Return when ``event`` is set or ``seconds`` have passed on the monotonic clock."""
        ...


class SystemClock:
    """The machine's clocks."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        # asyncio.timeout, not wait_for: wait_for wraps event.wait() in a task of its own and
        # takes three turns of the loop to time out; the scheduler sleeps this way before
        # nearly every check at a low rate (issue 14: ~100 µs a check at 167 checks/s).
        if event.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()
