"""When services are checked: stable phases, slots, no overlap, limits, lateness (SPEC §3.2).

The Scheduler runs for real here, with intervals of a fraction of a second and a run_check
that records what it was asked to do; assertions are about what happened, never how fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from slamon_daemon.models import Service
from slamon_daemon.scheduler import Scheduler, next_due, phase_of

from .support import FakeClock, wait_until


def svc(sid: str, interval: float = 0.2, host: str = "127.0.0.1") -> Service:
    return Service(id=sid, name=sid, url=f"http://{host}:9/{sid}", interval_s=interval)


# -- phases and slots ---------------------------------------------------------------------


def test_phase_is_stable_and_in_range() -> None:
    for i in range(2000):
        sid = f"service-{i}"
        for interval in (0.5, 1.0, 60.0, 3600.0):
            p = phase_of(sid, interval)
            assert 0 <= p < interval
            assert p == phase_of(sid, interval)  # same id, same slot, across calls and restarts


def test_phases_of_many_services_spread_over_the_interval() -> None:
    n, interval = 10_000, 60.0
    buckets = Counter(int(phase_of(f"svc-{i:05d}", interval)) for i in range(n))
    average = n / interval
    assert len(buckets) == 60  # every second of the minute has some
    assert max(buckets.values()) <= 3 * average, buckets.most_common(3)


def test_similar_ids_get_different_phases() -> None:
    phases = {phase_of(f"api-{i}", 60.0) for i in range(100)}
    assert len(phases) == 100


def test_next_due_is_after_now_and_on_the_slot_grid() -> None:
    now = time.time()
    for i in range(2000):
        sid = f"svc-{i}"
        for interval in (0.25, 1.0, 7.0, 60.0):
            due = next_due(sid, interval, now)
            assert now < due <= now + interval + 1e-6
            k = (due - phase_of(sid, interval)) / interval
            assert abs(k - round(k)) < 1e-6, (sid, interval, k)


def test_next_due_of_a_slot_is_the_next_slot() -> None:
    interval = 60.0
    phase = phase_of("api", interval)
    slot = phase + 28_000_000 * interval
    assert next_due("api", interval, slot - 0.5) == pytest.approx(slot)
    assert next_due("api", interval, slot + 0.5) == pytest.approx(slot + interval)


def test_next_due_is_strictly_after_a_slot_instant() -> None:
    # A float 'now' that is exactly one of the service's slots (found by search, deterministic).
    sid, interval = "s199971", 0.3
    now = phase_of(sid, interval) + 7665628211 * interval
    assert next_due(sid, interval, now) > now


# -- the running scheduler ------------------------------------------------------------------


class Recorder:
    """A run_check that records each call, its concurrency per service and per host."""

    def __init__(self, duration: float | dict[str, float] = 0.0) -> None:
        self.duration = duration
        self.calls: list[tuple[str, float]] = []
        self.running: Counter[str] = Counter()
        self.max_running: Counter[str] = Counter()
        self.host_running: Counter[str] = Counter()
        self.max_host_running: Counter[str] = Counter()
        self.total_running = 0
        self.max_total_running = 0

    def count(self, sid: str) -> int:
        return sum(1 for s, _ in self.calls if s == sid)

    async def __call__(self, service: Service) -> None:
        host = service.url.split("/")[2]
        self.calls.append((service.id, time.monotonic()))
        self.running[service.id] += 1
        self.max_running[service.id] = max(self.max_running[service.id], self.running[service.id])
        self.host_running[host] += 1
        self.max_host_running[host] = max(self.max_host_running[host], self.host_running[host])
        self.total_running += 1
        self.max_total_running = max(self.max_total_running, self.total_running)
        try:
            d = (
                self.duration
                if isinstance(self.duration, float)
                else self.duration.get(service.id, 0.0)
            )
            await asyncio.sleep(d)
        finally:
            self.running[service.id] -= 1
            self.host_running[host] -= 1
            self.total_running -= 1


@contextlib.asynccontextmanager
async def running(scheduler: Scheduler) -> AsyncIterator[Scheduler]:
    task = asyncio.create_task(scheduler.run())
    try:
        yield scheduler
    finally:
        scheduler.stop()
        await asyncio.wait_for(task, timeout=15)


async def test_every_service_is_checked_repeatedly() -> None:
    rec = Recorder()
    sched = Scheduler(rec)
    ids = [f"svc-{i}" for i in range(8)]
    sched.set_services([svc(sid, interval=0.2) for sid in ids])
    async with running(sched):
        await wait_until(
            lambda: all(rec.count(s) >= 3 for s in ids), what="3 checks of each service"
        )
    assert set(s for s, _ in rec.calls) == set(ids)
    assert max(rec.max_running.values()) == 1


async def test_a_slow_check_is_never_run_twice_at_once_and_slots_are_skipped() -> None:
    rec = Recorder(duration={"slow": 0.5})
    sched = Scheduler(rec)
    sched.set_services([svc("slow", interval=0.2), svc("fast", interval=0.2)])
    async with running(sched):
        await wait_until(lambda: rec.count("slow") >= 2, what="2 checks of the slow service")
        assert sched.skipped >= 2
    assert rec.max_running["slow"] == 1
    assert rec.max_running["fast"] == 1
    assert rec.count("fast") > rec.count("slow")
    # After stop() returned, nothing is in flight.
    assert rec.total_running == 0


async def test_inactive_services_are_not_scheduled() -> None:
    rec = Recorder()
    sched = Scheduler(rec)
    off = Service(id="off", name="off", url="http://127.0.0.1:9/", interval_s=0.2, active=False)
    sched.set_services([svc("on"), off])
    async with running(sched):
        await wait_until(lambda: rec.count("on") >= 3, what="checks of the active service")
    assert rec.count("off") == 0


async def test_set_services_removes_and_adds() -> None:
    rec = Recorder()
    sched = Scheduler(rec)
    sched.set_services([svc("a"), svc("b")])
    async with running(sched):
        await wait_until(
            lambda: rec.count("a") >= 2 and rec.count("b") >= 2, what="a and b checked"
        )
        sched.set_services([svc("a"), svc("c")])
        removed_at = rec.count("b")
        await wait_until(lambda: rec.count("c") >= 3, what="the added service checked")
        a_before = rec.count("a")
        await wait_until(lambda: rec.count("a") >= a_before + 3, what="a still checked")
        assert rec.count("b") <= removed_at + 1  # at most one start already under way
        frozen = rec.count("b")
        await wait_until(lambda: rec.count("c") >= 6, what="more checks of c")
        assert rec.count("b") == frozen


async def test_changed_interval_takes_effect() -> None:
    rec = Recorder()
    sched = Scheduler(rec)
    sched.set_services([svc("a", interval=3600.0)])
    async with running(sched):
        sched.set_services([svc("a", interval=0.2)])
        await wait_until(lambda: rec.count("a") >= 3, what="checks at the new interval")


def _id_not_due_soon(interval: float, margin: float) -> str:
    """A service id whose next regular slot is more than ``margin`` seconds away."""
    now = time.time()
    for i in range(10_000):
        sid = f"quiet-{i}"
        if next_due(sid, interval, now) - now > margin:
            return sid
    raise AssertionError("no quiet id found")


async def test_check_soon_adds_an_extra_check() -> None:
    rec = Recorder()
    sched = Scheduler(rec)
    sid = _id_not_due_soon(3600.0, margin=600.0)
    sched.set_services([svc(sid, interval=3600.0)])
    async with running(sched):
        await asyncio.sleep(0.3)
        assert rec.count(sid) == 0  # its regular slot is far away
        sched.check_soon(sid)
        await wait_until(lambda: rec.count(sid) == 1, what="the extra check")
        sched.check_soon(sid, delay_s=0.1)
        await wait_until(lambda: rec.count(sid) == 2, what="a second extra check")
        sched.check_soon("no-such-service")  # ignored
        await asyncio.sleep(0.3)
    assert rec.count(sid) == 2


async def test_check_soon_does_not_overlap_a_running_check() -> None:
    rec = Recorder(duration=0.5)
    sched = Scheduler(rec)
    sid = _id_not_due_soon(3600.0, margin=600.0)
    sched.set_services([svc(sid, interval=3600.0)])
    async with running(sched):
        sched.check_soon(sid)
        await wait_until(lambda: rec.running[sid] == 1, what="the check to start")
        sched.check_soon(sid)  # while the first still runs
        await wait_until(lambda: rec.running[sid] == 0, what="the check to finish")
    assert rec.max_running[sid] == 1


async def test_per_host_limit_bounds_concurrency() -> None:
    rec = Recorder(duration=0.3)
    sched = Scheduler(rec, per_host_concurrency=2)
    busy = [svc(f"busy-{i}", interval=0.2, host="busy.example") for i in range(4)]
    other = [svc(f"other-{i}", interval=0.2, host="other.example") for i in range(3)]
    sched.set_services(busy + other)
    async with running(sched):
        await wait_until(
            lambda: all(rec.count(s.id) >= 2 for s in busy + other),
            what="every service checked twice",
        )
    assert rec.max_host_running["busy.example:9"] == 2
    assert rec.max_host_running["other.example:9"] <= 2
    assert rec.max_total_running >= 3  # the other host was not held back by the busy one


async def test_global_limit_bounds_concurrency() -> None:
    rec = Recorder(duration=0.2)
    sched = Scheduler(rec, max_concurrency=3)
    services = [svc(f"g-{i}", interval=0.2, host=f"h{i}.example") for i in range(6)]
    sched.set_services(services)
    async with running(sched):
        await wait_until(lambda: all(rec.count(s.id) >= 2 for s in services), what="all checked")
    assert rec.max_total_running == 3


async def test_a_failing_run_check_does_not_stop_the_scheduler() -> None:
    calls: defaultdict[str, int] = defaultdict(int)

    async def flaky(service: Service) -> None:
        calls[service.id] += 1
        if service.id == "bad":
            raise RuntimeError("bug in a check")

    sched = Scheduler(flaky)
    sched.set_services([svc("bad"), svc("good")])
    async with running(sched):
        await wait_until(lambda: calls["bad"] >= 3 and calls["good"] >= 3, what="both keep running")


async def test_lateness_counts_check_starts() -> None:
    rec = Recorder(duration={"slow": 0.5})
    sched = Scheduler(rec)
    assert sched.lateness().count == 0
    sched.set_services([svc("slow", interval=0.2), svc("fast", interval=0.2)])
    async with running(sched):
        await wait_until(
            lambda: len(rec.calls) >= 8 and sched.skipped >= 1, what="checks and a skip"
        )
    stats = sched.lateness()
    assert stats.count == len(rec.calls)
    assert 0 <= stats.p50 <= stats.p99 <= stats.max
    assert stats.skipped == sched.skipped >= 1
    d = stats.to_dict()
    assert d["count"] == stats.count and d["skipped"] == stats.skipped
    assert set(d) == {"count", "p50_s", "p99_s", "max_s", "skipped"}
    assert all(isinstance(v, int | float) and not math.isnan(v) for v in d.values())


async def test_stop_waits_for_checks_in_flight() -> None:
    rec = Recorder(duration=0.5)
    sched = Scheduler(rec)
    sched.set_services([svc("a", interval=0.2)])
    task = asyncio.create_task(sched.run())
    await wait_until(lambda: rec.total_running == 1, what="a check in flight")
    sched.stop()
    await asyncio.wait_for(task, timeout=15)
    assert rec.total_running == 0  # it finished rather than being cut off
    n = len(rec.calls)
    await asyncio.sleep(0.5)
    assert len(rec.calls) == n  # and nothing starts after stop


# -- the clock: due times on the monotonic clock ---------------------------------------------


async def _tick(clock: FakeClock, sched: Scheduler, seconds: int) -> None:
    """Let ``seconds`` pass one second at a time, each fully served before the next."""
    for _ in range(seconds):
        clock.advance(1.0)
        await wait_until(lambda: clock.idle and sched.in_flight == 0, what="the scheduler idle")


async def test_wall_clock_steps_neither_stop_probing_nor_count_phantom_skips() -> None:
    """A backward step of an hour used to stop probing for an hour (due times on time.time());
    a forward one counted an hour of skipped slots. Due times are monotonic now."""
    clock = FakeClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    rec = Recorder()
    sched = Scheduler(rec, clock=clock)
    ids = ("a", "b", "c")
    sched.set_services([svc(sid, interval=10.0) for sid in ids])
    async with running(sched):
        await wait_until(lambda: clock.idle, what="the scheduler waiting")
        await _tick(clock, sched, 60)
        per_minute = {sid: rec.count(sid) for sid in ids}
        assert per_minute == {sid: 6 for sid in ids}  # every 10 s, on the fake clock

        clock.step_wall(-3600)  # the wall clock jumps back an hour
        await _tick(clock, sched, 60)
        assert {sid: rec.count(sid) for sid in ids} == {sid: 12 for sid in ids}

        clock.step_wall(+3600)  # and forward again
        await _tick(clock, sched, 60)
        assert {sid: rec.count(sid) for sid in ids} == {sid: 18 for sid in ids}
        assert sched.skipped == 0
        sched.check_soon("a", 2.0)  # quick re-checks run on the same clock
        await _tick(clock, sched, 2)
        assert rec.count("a") == 19


async def test_first_slots_follow_the_wall_clock_phase() -> None:
    """Slots keep their wall-clock phase (stable across restarts) though counted monotonic."""
    start = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    clock = FakeClock(start)
    seen: list[float] = []

    async def at(service: Service) -> None:
        seen.append(clock.now().timestamp())

    sched = Scheduler(at, clock=clock)
    sched.set_services([svc("api", interval=10.0)])
    async with running(sched):
        await wait_until(lambda: clock.idle, what="the scheduler waiting")
        await _tick(clock, sched, 30)
    first = next_due("api", 10.0, start.timestamp())
    # Each check starts at the first whole second of the fake clock at or after its slot.
    assert seen == [math.ceil(first - 1e-9) + 10 * k for k in range(len(seen))]
    assert len(seen) == 3


async def test_stop_does_not_start_the_checks_still_waiting() -> None:
    """Behind by many checks (one host, its limit reached), a stop ends the checks that run
    and starts none of those waiting for the host or for a worker."""
    rec = Recorder(duration=0.5)
    sched = Scheduler(rec, max_concurrency=3, per_host_concurrency=2)
    sched.set_services([svc(f"w-{i}", interval=0.2, host="one.example") for i in range(40)])
    task = asyncio.create_task(sched.run())
    await wait_until(lambda: rec.total_running == 2 and sched.in_flight > 10, what="a backlog")
    started = len(rec.calls)
    sched.stop()
    await asyncio.wait_for(task, timeout=15)
    assert rec.total_running == 0
    assert len(rec.calls) == started  # the two running finished; nothing else started
    assert sched.in_flight == 0


async def test_a_check_due_within_a_tick_of_the_last_wake_starts_at_the_next_one() -> None:
    """The scheduler wakes at most once a tick: a check due 5-20 ms after another one starts
    one tick after it (late by the rest of the tick), never before its slot."""
    start = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    wall = start.timestamp()
    by_phase = sorted((phase_of(f"t-{i}", 10.0), f"t-{i}") for i in range(2000))
    (pa, a), (pb, b) = next(
        (x, y)
        for x, y in zip(by_phase, by_phase[1:], strict=False)
        if x[0] > 1.0 and 0.005 < y[0] - x[0] < 0.02
    )
    due_a = next_due(a, 10.0, wall) - wall
    due_b = due_a + (pb - pa)
    clock = FakeClock(start)
    rec = Recorder()
    sched = Scheduler(rec, clock=clock, tick_s=0.05)
    sched.set_services([svc(a, interval=10.0), svc(b, interval=10.0)])
    async with running(sched):
        await wait_until(lambda: clock.idle, what="the scheduler waiting")
        clock.advance(due_a + 0.001)
        await wait_until(lambda: clock.idle and rec.count(a) == 1, what="a's check")
        clock.advance(due_b - due_a)  # b is due now, within the tick that started a
        await asyncio.sleep(0.1)
        assert rec.count(b) == 0
        clock.advance(0.05 - (due_b - due_a))  # the tick's end
        await wait_until(lambda: rec.count(b) == 1, what="b's check at the tick")
        stats = sched.lateness()
    assert stats.count == 2
    assert stats.max == pytest.approx(0.051 - (due_b - due_a), abs=1e-6)  # a woke 1 ms late


async def test_slots_that_come_while_a_check_runs_are_skipped_and_the_grid_kept() -> None:
    """A check that runs over three of its slots: each is skipped and counted (the first when
    it comes, the others when the check ends: the slot waits aside meanwhile), and the next
    check starts on the slot grid, not at the end of the slow one."""
    start = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    clock = FakeClock(start)
    release = asyncio.Event()
    seen: list[float] = []

    async def slow_first(service: Service) -> None:
        seen.append(clock.now().timestamp())
        if len(seen) == 1:
            await release.wait()

    sched = Scheduler(slow_first, clock=clock)
    sched.set_services([svc("api", interval=10.0)])
    first = math.ceil(next_due("api", 10.0, start.timestamp()) - 1e-9)
    async with running(sched):
        await wait_until(lambda: clock.idle, what="the scheduler waiting")
        while not seen:
            clock.advance(1.0)
            await wait_until(lambda: clock.idle, what="the scheduler waiting")
        for _ in range(35):  # the slots first+10, +20, +30 come while it runs
            clock.advance(1.0)
            await wait_until(lambda: clock.idle, what="the scheduler waiting")
        assert sched.skipped >= 1 and len(seen) == 1
        release.set()
        await wait_until(lambda: sched.in_flight == 0, what="the slow check's end")
        assert sched.skipped == 3
        await _tick(clock, sched, 20)
    assert seen == [first, first + 40, first + 50]
    assert sched.skipped == 3


async def test_a_service_removed_and_added_again_keeps_one_slot() -> None:
    """Generations were counted per service from 0: a service removed and added back before
    its old slot fired had two heap entries of generation 0, both live — each slot ran once
    and counted one phantom skipped slot, forever."""
    clock = FakeClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    rec = Recorder()
    sched = Scheduler(rec, clock=clock)
    sched.set_services([svc("a", interval=10.0), svc("b", interval=10.0)])
    sched.set_services([svc("b", interval=10.0)])
    sched.set_services([svc("a", interval=10.0), svc("b", interval=10.0)])
    async with running(sched):
        await wait_until(lambda: clock.idle, what="the scheduler waiting")
        await _tick(clock, sched, 60)
        assert {sid: rec.count(sid) for sid in ("a", "b")} == {"a": 6, "b": 6}
        assert sched.skipped == 0
