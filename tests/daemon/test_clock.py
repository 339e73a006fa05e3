"""The daemon on a clock the test moves: a UTC midnight, an hour and a month boundary crossed
deterministically (issue 9 point 6).

A real daemon (store, journal, writer, feed socket) runs with ``Daemon(settings, clock=...)``
and a prober that answers by the fake time, so which check lands on which side of midnight is
known exactly. The expected figures are folded from the very checks the prober made, with
rollup.py's definitions; the assertions compare the daemon's live state, its store and its
feed methods against them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from slamon_daemon.clock import SystemClock
from slamon_daemon.config import load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Check, ErrorKind, Outcome, Service, ServiceStatus
from slamon_daemon.rollup import Rollup, rollup_deltas
from slamon_daemon.store import open_store
from tests.conftest import throwaway_pg_database

from .support import FakeClock, FeedClient, remove_dir, short_dir, wait_until, write_config

START = datetime(2026, 10, 31, 23, 58, 0, tzinfo=UTC)
DOWN_FROM = datetime(2026, 10, 31, 23, 59, 30, tzinfo=UTC)
DOWN_UNTIL = datetime(2026, 11, 1, 0, 0, 50, tzinfo=UTC)
OCT31, NOV1 = date(2026, 10, 31), date(2026, 11, 1)


class ScriptedProber:
    """Answers by the fake time: down in [DOWN_FROM, DOWN_UNTIL), up otherwise."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.made: list[Check] = []

    async def check(self, service: Service, *, maintenance: bool = False) -> Check:
        t = self.clock.now()
        down = DOWN_FROM <= t < DOWN_UNTIL
        c = Check(
            service_id=service.id,
            started_at=t,
            latency_ms=3.0 if down else 40.0,
            outcome=Outcome.DOWN if down else Outcome.UP,
            status_code=None if down else 200,
            error_kind=ErrorKind.CONNECTION_ERROR if down else None,
            error="connection refused" if down else None,
            node="clock-node",
            maintenance=maintenance,
            interval_s=service.interval_s,
        )
        self.made.append(c)
        return c

    async def aclose(self) -> None:
        pass


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clock.db'}"
    else:
        async with throwaway_pg_database() as url:
            yield url


@pytest.fixture
def folder() -> AsyncIterator[Path]:
    d = short_dir()
    yield d  # type: ignore[misc]
    remove_dir(d)


@contextlib.asynccontextmanager
async def running(daemon: Daemon) -> AsyncIterator[Daemon]:
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.started.wait(), 30)
    try:
        yield daemon
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)


async def tick_until(clock: FakeClock, daemon: Daemon, until: datetime) -> None:
    """Let fake time pass one second at a time, each second fully served before the next."""
    while clock.now() < until:
        clock.advance(1.0)
        await wait_until(
            lambda: clock.idle and daemon.scheduler.in_flight == 0, what="the scheduler idle"
        )


def by_day(checks: list[Check]) -> dict[date, Rollup]:
    return {r.day: r for r in rollup_deltas(checks)}


async def test_an_outage_across_midnight_and_the_month_end(folder: Path, db_url: str) -> None:
    config = write_config(
        folder / "slamon.toml",
        db_url=db_url,
        socket=folder / "s.sock",
        node="clock-node",
        services=[
            {
                "id": "api",
                "url": "http://127.0.0.1:9/health",
                "interval": "20s",
                "timeout": "5s",
                "confirm_failures": 2,
            }
        ],
        extra_daemon=f'spool_dir = "{folder}/spool"\nsecret_file = "{folder}/jwt.secret"',
    )
    settings, _ = load_settings(config)
    clock = FakeClock(START)
    prober = ScriptedProber(clock)
    daemon = Daemon(settings, clock=clock, prober=prober)  # type: ignore[arg-type]
    async with running(daemon):
        await wait_until(lambda: clock.idle, what="the scheduler waiting")
        c = await FeedClient.connect(folder / "s.sock")
        try:
            await tick_until(clock, daemon, datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC))
            before = await c.result("status.get")
            assert before["days"][-1] == "2026-10-31"  # "today" is the daemon's clock's
            assert before["services"][0]["status"] == "major_outage"

            await tick_until(clock, daemon, datetime(2026, 11, 1, 0, 2, 30, tzinfo=UTC))
            made = list(prober.made)
            down = [x for x in made if x.failed]
            # The script did what this test is about: failures on both sides of midnight.
            # The slots of "api" (20 s) fall at :13.5, :33.5, :53.5 and the fake clock ticks
            # whole seconds: the first failure at 23:59:34, a quick re-check 5 s later, then
            # the slots, until the first success at 00:00:54.
            assert [x.started_at.strftime("%H:%M:%S") for x in down] == [
                "23:59:34",
                "23:59:39",
                "23:59:54",
                "00:00:14",
                "00:00:34",
            ]
            first_up = next(x for x in made if x.started_at > down[-1].started_at)
            assert first_up.started_at == datetime(2026, 11, 1, 0, 0, 54, tzinfo=UTC)
            expected = by_day(made)
            # Downtime by hand (issue 10): each failed check stands for the time until the next
            # check, and the outage is split at midnight: 23:59:34 → 24:00 is 26 s on Oct 31,
            # 00:00 → 00:00:54 is 54 s on Nov 1 (not 5 × 20 s = 100 s).
            expected[OCT31].downtime_s = 26.0
            expected[NOV1].downtime_s = 54.0

            after = await c.result("status.get")
            assert after["days"][-1] == "2026-11-01" and after["days"][-2] == "2026-10-31"
            row = after["services"][0]
            assert row["status"] == "operational"
            assert row["daily"][-2] == "mo" and row["daily"][-1] == "mo"

            # The live state split the checks at UTC midnight: yesterday is kept as the bar's
            # counts (issue 14: its downtime is the store's, checked below), today whole.
            st = daemon.state.services["api"]
            o = expected[OCT31]
            assert st.counts(OCT31, OCT31) == (o.up + o.degraded, o.checks - o.maintenance)
            assert o.down > 0 and o.checks - o.maintenance > o.up + o.degraded
            live = st.days[NOV1]
            assert (live.checks, live.down) == (expected[NOV1].checks, expected[NOV1].down)
            assert live.downtime_s == pytest.approx(expected[NOV1].downtime_s)

            await wait_until(lambda: daemon.writer.pending == 0, what="the journal flushed")
            # Yesterday from the store, today from the live state: the same figures.
            for day in (OCT31, NOV1):
                got = await c.result("service.day", {"id": "api", "day": day.isoformat()})
                assert got["figures"]["checks"] == expected[day].checks
                assert got["figures"]["down"] == expected[day].down
                assert got["downtime_s"] == pytest.approx(expected[day].downtime_s, abs=1e-3)
            oct_day = await c.result("service.day", {"id": "api", "day": "2026-10-31"})
            assert [e["started_at"] for e in oct_day["episodes"]] == [
                down[0].started_at.isoformat()
            ]

            # The SLA report of each month holds that month's part of the outage.
            for month, day in (("2026-10", OCT31), ("2026-11", NOV1)):
                report = await c.result("sla.report", {"month": month})
                (api,) = report["services"]
                assert api["downtime_s"] == pytest.approx(expected[day].downtime_s, abs=1e-3)
                assert api["failed_checks"] == expected[day].down
            assert (await c.result("sla.report", {}))["period"]["label"] == "2026-11"
        finally:
            await c.close()

    # Everything reached the store on the right side of midnight, the hour and the month.
    async with open_store(db_url) as store:
        assert await store.count_checks("api") == len(made)
        daily = {r.day: r for r in await store.daily_rollups(OCT31, NOV1, ["api"])}
        for day in (OCT31, NOV1):
            assert (daily[day].checks, daily[day].up, daily[day].down) == (
                expected[day].checks,
                expected[day].up,
                expected[day].down,
            )
            assert daily[day].downtime_s == pytest.approx(expected[day].downtime_s)
        monthly = {r.day: r for r in await store.monthly_rollups(date(2026, 10, 1), NOV1, ["api"])}
        assert monthly[date(2026, 10, 1)].checks == expected[OCT31].checks
        assert monthly[date(2026, 11, 1)].checks == expected[NOV1].checks
        hourly = await store.hourly_rollups(
            "api", datetime(2026, 10, 31, 23, tzinfo=UTC), datetime(2026, 11, 1, 1, tzinfo=UTC)
        )
        assert [(h.day, h.hour, h.down) for h in hourly] == [
            (OCT31, 23, expected[OCT31].down),
            (NOV1, 0, expected[NOV1].down),
        ]

        # One outage episode: from the first failed check (Oct 31) to the confirmed
        # recovery (the second success in a row, Nov 1).
        (episode,) = await store.episodes("api")
        recovered = [x for x in made if x.started_at > down[-1].started_at][1]
        assert episode.started_at == down[0].started_at
        assert episode.ended_at == recovered.started_at
        assert episode.failed_checks == len(down)
        assert episode.worst_status is ServiceStatus.MAJOR_OUTAGE
        history = await store.status_history("api", START)
        assert [(t.status, t.at) for t in reversed(history)][-2:] == [
            (ServiceStatus.MAJOR_OUTAGE, down[1].started_at),
            (ServiceStatus.OPERATIONAL, recovered.started_at),
        ]


async def test_the_system_clock_waits_for_the_event_or_the_time_and_passes_a_cancel_on() -> None:
    clock = SystemClock()
    event = asyncio.Event()
    t0 = clock.monotonic()
    await clock.wait(event, 0.05)  # nobody sets it: back after the time
    assert clock.monotonic() - t0 >= 0.05
    assert not event.is_set()

    waiting = asyncio.create_task(clock.wait(event, 3600))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    event.set()  # set while waiting: back at once
    await asyncio.wait_for(waiting, 5)
    await asyncio.wait_for(clock.wait(event, 3600), 5)  # already set: back at once

    event.clear()
    waiting = asyncio.create_task(clock.wait(event, 3600))
    await asyncio.sleep(0.01)
    waiting.cancel()  # a cancel from outside is not taken for the time running out
    with pytest.raises(asyncio.CancelledError):
        await waiting
