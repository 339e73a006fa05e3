"""Overload made visible (issue 10, point 9).

The watch's rules with a clock the test moves (the threshold crossed both ways, a warning a
minute, the figures over the last minute), then a real daemon asked to check far more than
it can: daemon.stats raises the flag with the figures and the log warns once.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slamon_daemon.overload import OverloadWatch
from slamon_daemon.targets import Target, respond
from tests.e2e.slamond import Slamond, config_text, wait_for

from .support import FakeClock


class Scheduled:
    """Stands for the scheduler: the starts and skips of the next sample."""

    def __init__(self) -> None:
        self.lateness: list[float] = []
        self.skipped = 0

    def take_window(self) -> tuple[list[float], int]:
        out = (self.lateness, self.skipped)
        self.lateness, self.skipped = [], 0
        return out


def test_the_watch_flags_lateness_and_skips_over_the_last_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(datetime(2026, 11, 1, tzinfo=UTC))
    source = Scheduled()
    watch = OverloadWatch(source, clock, lateness_s=2.0, skipped_percent=5.0)
    caplog.set_level(logging.INFO, "slamon.scheduler")

    source.lateness = [0.1] * 100
    watch.sample()
    assert not watch.active

    # Over the minute: 200 started (the 198th latest 7 s late), 600 skipped: 75 %.
    clock.advance(5)
    source.lateness = [0.2] * 95 + [7.0] * 5
    source.skipped = 600
    watch.sample()
    assert watch.active
    stats = watch.stats()
    assert stats["text"] == "checks running late: p99 7 s, 75 % skipped"
    assert (stats["started"], stats["skipped"]) == (200, 600)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "overloaded: checks running late" in warnings[0].message

    for _ in range(11):  # still overloaded for 55 s: no second warning yet
        clock.advance(5)
        source.lateness, source.skipped = [8.0] * 10, 100
        watch.sample()
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    clock.advance(5)
    source.lateness, source.skipped = [8.0] * 10, 100
    watch.sample()
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2

    # Back on time for a whole minute: the flag drops, once said.
    for _ in range(13):
        clock.advance(5)
        source.lateness, source.skipped = [0.1] * 50, 0
        watch.sample()
    assert not watch.active and watch.stats()["text"] is None
    assert sum("checks on time again" in r.message for r in caplog.records) == 1


def test_skipped_slots_alone_are_overload() -> None:
    clock = FakeClock(datetime(2026, 11, 1, tzinfo=UTC))
    source = Scheduled()
    watch = OverloadWatch(source, clock, lateness_s=2.0, skipped_percent=5.0)
    source.lateness, source.skipped = [0.0] * 90, 10
    watch.sample()
    assert watch.active and watch.summary() == "checks running late: p99 0 s, 10 % skipped"


async def test_a_daemon_asked_for_too_much_says_so() -> None:
    folder = Path(tempfile.mkdtemp(prefix="slt-", dir="/tmp"))
    async with Target(respond(200, delay_s=0.3)) as slow:
        cfg = folder / "slamon.toml"
        cfg.write_text(
            config_text(
                folder,
                f"sqlite:///{folder}/slamon.db",
                [(f"svc-{i}", slow.url, "200ms") for i in range(40)],
                'max_concurrency = 4\noverload_lateness = "1s"',
            ),
            encoding="utf-8",
        )
        daemon = Slamond(cfg, folder / "slamond.log", socket=folder / "s.sock")
        await daemon.start()
        try:

            async def overloaded() -> bool:
                return bool((await daemon.stats())["overload"]["active"])

            await wait_for(overloaded, 30, "the overload flag")
            overload = (await daemon.stats())["overload"]
            assert overload["skipped_percent"] > 50
            assert overload["p99_lateness_s"] > 1
            assert overload["text"].startswith("checks running late: p99 ")
            assert await daemon.stop() == 0
        finally:
            await daemon.kill()
    warnings = [line for line in daemon.log_lines() if "overloaded: checks running late" in line]
    assert len(warnings) == 1, "one warning a minute"
    print(f"\noverload: {overload['text']} ({overload['started']} started)")
