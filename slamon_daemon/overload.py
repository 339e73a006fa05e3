"""Overload made visible (issue 10): when checks start late or slots are skipped, say so.

Every ``SAMPLE_S`` the scheduler's figures since the last sample are taken; over the last
``WINDOW_S`` the 99th percentile of start lateness and the share of slots skipped (skipped /
(started + skipped)) are computed. Past either threshold (``[daemon] overload_lateness``,
``overload_skipped_percent``) the daemon is *overloaded*: a warning in the log at most once
a minute while it lasts (with the figures and what helps), a flag and the figures in
daemon.stats, and a line on the TUI dashboard ("checks running late: p99 7 s, 75 %
skipped"). Its end is logged once.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from typing import Any, Protocol

from .clock import Clock

logger = logging.getLogger("slamon.scheduler")

SAMPLE_S = 5.0
WINDOW_S = 60.0
WARN_EVERY_S = 60.0


class Sampled(Protocol):
    """What the watch reads from the scheduler."""

    def take_window(self) -> tuple[list[float], int]: ...


class OverloadWatch:
    """Watches start lateness and skipped slots against the thresholds."""

    def __init__(
        self,
        scheduler: Sampled,
        clock: Clock,
        *,
        lateness_s: float,
        skipped_percent: float,
    ) -> None:
        self.scheduler = scheduler
        self.clock = clock
        self.lateness_s = lateness_s
        self.skipped_percent = skipped_percent
        self._samples: deque[tuple[float, list[float], int]] = deque()
        self.active = False
        self.since: float | None = None
        self.p99_s = 0.0
        self.skipped_share = 0.0
        self.started = 0
        self.skipped = 0
        self._warned_at: float | None = None
        self._stop = asyncio.Event()

    def sample(self) -> None:
        """Take the scheduler's figures now and judge the last minute."""
        now = self.clock.monotonic()
        lateness, skipped = self.scheduler.take_window()
        self._samples.append((now, lateness, skipped))
        while self._samples and self._samples[0][0] <= now - WINDOW_S:
            self._samples.popleft()
        xs = sorted(x for _, lat, _ in self._samples for x in lat)
        self.started = len(xs)
        self.skipped = sum(k for _, _, k in self._samples)
        slots = self.started + self.skipped
        self.p99_s = xs[max(0, math.ceil(0.99 * len(xs)) - 1)] if xs else 0.0
        self.skipped_share = self.skipped / slots if slots else 0.0
        over = self.p99_s > self.lateness_s or self.skipped_share * 100 > self.skipped_percent
        if over and not self.active:
            self.active, self.since, self._warned_at = True, now, None
        elif not over and self.active:
            self.active, self.since = False, None
            logger.info(
                "checks on time again: p99 lateness %.1f s, %.0f %% of slots skipped",
                self.p99_s,
                self.skipped_share * 100,
            )
        if self.active and (self._warned_at is None or now - self._warned_at >= WARN_EVERY_S):
            self._warned_at = now
            logger.warning(
                "overloaded: %s over the last minute (%d checks started, %d slots skipped);"
                " raise max_concurrency, lengthen intervals or spread the services over more"
                " nodes",
                self.summary(),
                self.started,
                self.skipped,
            )

    def summary(self) -> str:
        """ "checks running late: p99 7 s, 75 % skipped"."""
        return (
            f"checks running late: p99 {_seconds(self.p99_s)},"
            f" {self.skipped_share * 100:.0f} % skipped"
        )

    async def run(self) -> None:
        while not self._stop.is_set():
            await self.clock.wait(self._stop, SAMPLE_S)
            self.sample()

    def stop(self) -> None:
        self._stop.set()

    def stats(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "text": self.summary() if self.active else None,
            "p99_lateness_s": round(self.p99_s, 3),
            "skipped_percent": round(self.skipped_share * 100, 1),
            "started": self.started,
            "skipped": self.skipped,
            "for_s": None if self.since is None else round(self.clock.monotonic() - self.since),
            "thresholds": {
                "p99_lateness_s": self.lateness_s,
                "skipped_percent": self.skipped_percent,
            },
        }


def _seconds(x: float) -> str:
    return f"{x:.0f} s" if x >= 10 else f"{x:.1f} s".replace(".0 s", " s")
