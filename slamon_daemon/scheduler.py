"""When each service is checked (SPEC §3.2).

Each service fires at ``phase + k × interval``, where the phase is a stable hash of its id:
10,000 services at 60 s spread evenly over the minute, and keep their slots across restarts.
The first slot is placed on the wall clock; from then on every due time is kept on the
monotonic clock (clock.py), so a wall-clock step (NTP, an operator, a resumed VM) neither
stops probing (backward) nor counts an hour of phantom skipped slots (forward). One heap
holds the next due time of every service; the loop wakes at most once a tick (TICK_S) and
due checks are run by a pool of worker tasks (no task per check). A service is never checked
twice at once: a slot that comes while the previous check still runs is skipped and counted,
as are slots missed because the loop was blocked. The pool's size and a per-host count bound
the checks in flight. The lateness of every check start (actual start − due time) is measured.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .clock import Clock, SystemClock
from .models import Service

logger = logging.getLogger("slamon.scheduler")

TICK_S = 0.05
"""The scheduler wakes at most this often; a check due between two wakes starts at the
second, up to this late. Waking once per check cost ~200 µs of CPU a check at 10,000 services
every 60 s (one loop sleep and wake per check, plus its connection's own): at a tick of
50 ms the checks of a tick start, connect and answer in shared turns of the loop
(docs/benchmarks.md, issue 14, h1)."""

RunCheck = Callable[[Service], Awaitable[None]]
_Item = tuple[Service, float, str]
"""A check to run: the service, its due time (monotonic), the host of its URL."""


def phase_of(service_id: str, interval_s: float) -> float:
    """Stable offset in [0, interval) of a service's slots."""
    return (zlib.crc32(service_id.encode()) / 2**32) * interval_s


def next_due(service_id: str, interval_s: float, now: float) -> float:
    """The first slot of the service strictly after ``now`` (epoch seconds)."""
    phase = phase_of(service_id, interval_s)
    k = math.floor((now - phase) / interval_s) + 1
    due = phase + k * interval_s
    if due <= now:  # float rounding when now sits exactly on a slot
        due += interval_s
    return due


@dataclass(slots=True)
class LatenessStats:
    """Start lateness over the last checks, in seconds."""

    count: int
    p50: float
    p99: float
    max: float
    skipped: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "count": self.count,
            "p50_s": self.p50,
            "p99_s": self.p99,
            "max_s": self.max,
            "skipped": self.skipped,
        }


class Scheduler:
    """Runs ``run_check(service)`` for every service on its own schedule until ``stop``."""

    def __init__(
        self,
        run_check: RunCheck,
        *,
        max_concurrency: int = 500,
        per_host_concurrency: int = 20,
        clock: Clock | None = None,
        tick_s: float = TICK_S,
    ) -> None:
        self._run_check = run_check
        self._tick = tick_s
        self._clock = clock or SystemClock()
        self._max_workers = max_concurrency
        self._per_host_limit = per_host_concurrency
        self._services: dict[str, tuple[Service, int]] = {}  # id -> (service, generation)
        # Generations are never reused, not even by a service removed and added again: its
        # old heap entry would otherwise fire beside the new one (the same slot twice, one
        # of them counted skipped at every slot).
        self._generation = 0
        self._host: dict[str, str] = {}  # id -> host of its URL (parsed once)
        # (due on the monotonic clock, seq, id, generation); generation -1: a quick re-check
        self._heap: list[tuple[float, int, str, int]] = []
        self._seq = 0
        self._in_flight: set[str] = set()
        # id -> (due, generation) of a regular slot that came while its check ran (_unpark)
        self._parked: dict[str, tuple[float, int]] = {}
        # Checks are run by a pool of at most max_concurrency worker tasks (started as
        # needed, kept): no task, no semaphore waiter per check. A check whose host has
        # per_host_concurrency checks running waits in that host's queue without holding
        # a worker, and goes to the ready queue when one of them ends.
        self._ready: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._workers: set[asyncio.Task[None]] = set()
        self._idle = 0
        self._host_running: dict[str, int] = {}
        self._host_waiting: dict[str, deque[_Item]] = {}
        self._drained = asyncio.Event()
        self._drained.set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._lateness: deque[float] = deque(maxlen=100_000)
        self.skipped = 0
        self.on_lateness: Callable[[float], None] | None = None
        """Told the lateness of every check start (seconds), e.g. for /metrics."""
        self._window: list[float] = []  # lateness of the starts since take_window()
        self._window_skipped = 0

    # -- services ---------------------------------------------------------------------

    def set_services(self, services: list[Service]) -> None:
        """Schedule exactly these services (active ones); changed ones get a new slot."""
        wanted = {s.id: s for s in services if s.active}
        for sid in list(self._services):
            if sid not in wanted:
                del self._services[sid]
                self._host.pop(sid, None)
                self._parked.pop(sid, None)
        wall = self._clock.now().timestamp()
        mono = self._clock.monotonic()
        for sid, s in wanted.items():
            old = self._services.get(sid)
            if old is not None and old[0] == s:
                continue
            gen = self._generation
            self._generation += 1
            self._services[sid] = (s, gen)
            self._host[sid] = urlsplit(s.url).hostname or ""
            # The slot on the wall clock, as a due time on the monotonic clock.
            self._push(mono + (next_due(sid, s.interval_s, wall) - wall), sid, gen)
        self._wake.set()

    @property
    def in_flight(self) -> int:
        """How many checks run now."""
        return len(self._in_flight)

    def check_soon(self, service_id: str, delay_s: float = 0.0) -> None:
        """Add one extra check in ``delay_s`` (a quick re-check), keeping the regular slots."""
        entry = self._services.get(service_id)
        if entry is not None:
            self._push(self._clock.monotonic() + delay_s, service_id, -1)
            self._wake.set()

    def _push(self, due: float, sid: str, gen: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, sid, gen))

    # -- loop -------------------------------------------------------------------------

    async def run(self) -> None:
        """The main loop; returns after ``stop`` once in-flight checks finished."""
        while not self._stopping:
            now = self._clock.monotonic()
            heap, services, in_flight = self._heap, self._services, self._in_flight
            while heap and heap[0][0] <= now:
                due, _, sid, gen = heap[0]
                entry = services.get(sid)
                if entry is None or (gen != -1 and gen != entry[1]):
                    heapq.heappop(heap)
                    continue  # removed or rescheduled
                service = entry[0]
                if sid in in_flight:
                    heapq.heappop(heap)
                    if gen != -1:
                        # Skipped, and parked: its next slot is placed when the check ends
                        # (_done), past the slots that come meanwhile, all skipped — a
                        # daemon behind its services no longer sifts the heap for each.
                        self.skipped += 1
                        self._window_skipped += 1
                        self._parked[sid] = (due, gen)
                    continue
                if gen != -1:
                    # Next slot; slots already past (the loop was blocked) are counted as missed.
                    # It takes the place of the slot due (one sift, not a pop and a push).
                    missed = math.floor((now - due) / service.interval_s)
                    if missed:
                        self.skipped += missed
                        self._window_skipped += missed
                    self._seq += 1
                    heapq.heapreplace(
                        heap, (due + (missed + 1) * service.interval_s, self._seq, sid, gen)
                    )
                else:
                    heapq.heappop(heap)
                self._start(service, due)
            delay = (self._heap[0][0] - self._clock.monotonic()) if self._heap else 3600.0
            if delay > 0:
                # Wake at most once a tick: the checks due meanwhile start together, and
                # their connections' events share the loop's turns (see TICK_S).
                delay = max(delay, self._tick)
                self._wake.clear()
                await self._clock.wait(self._wake, min(delay, 3600.0))
        # Checks still waiting for a worker or for their host are not started after stop
        # (a daemon behind by thousands would otherwise run them all before it stops).
        while not self._ready.empty():
            item = self._ready.get_nowait()
            if item is not None:
                self._in_flight.discard(item[0].id)
                self._host_running[item[2]] -= 1
        for waiting in self._host_waiting.values():
            for service, _, _ in waiting:
                self._in_flight.discard(service.id)
        self._host_waiting.clear()
        if not self._in_flight:
            self._drained.set()
        await self._drained.wait()  # every check started has ended
        for _ in self._workers:
            self._ready.put_nowait(None)
        if self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def _start(self, service: Service, due: float) -> None:
        self._in_flight.add(service.id)
        self._drained.clear()
        host = self._host.get(service.id, "")
        item = (service, due, host)
        running = self._host_running.get(host, 0)
        if running >= self._per_host_limit:
            self._host_waiting.setdefault(host, deque()).append(item)
            return
        self._host_running[host] = running + 1
        self._enqueue(item)

    def _enqueue(self, item: _Item) -> None:
        self._ready.put_nowait(item)
        if self._ready.qsize() > self._idle and len(self._workers) < self._max_workers:
            task = asyncio.create_task(self._worker(), name="check-worker")
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    async def _worker(self) -> None:
        while True:
            self._idle += 1
            try:
                item = await self._ready.get()
            finally:
                self._idle -= 1
            if item is None:
                return
            service, due, host = item
            try:
                late = max(0.0, self._clock.monotonic() - due)
                self._lateness.append(late)
                self._window.append(late)
                if self.on_lateness is not None:  # issue 13: /metrics' lateness histogram
                    self.on_lateness(late)
                await self._run_check(service)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("check of %s failed unexpectedly", service.id)
            finally:
                self._done(service.id, host)

    def _done(self, sid: str, host: str) -> None:
        self._in_flight.discard(sid)
        parked = self._parked.pop(sid, None)
        if parked is not None:
            self._unpark(sid, *parked)
        waiting = self._host_waiting.get(host)
        if waiting:
            self._enqueue(waiting.popleft())  # the host's slot passes to its next check
        else:
            self._host_running[host] -= 1
            if waiting is not None:
                del self._host_waiting[host]
        if not self._in_flight:
            self._drained.set()

    def _unpark(self, sid: str, due: float, gen: int) -> None:
        """The next slot of a service whose slot ``due`` came while its check ran: the first
        after now; the slots between (they came while it ran too) are skipped."""
        entry = self._services.get(sid)
        if entry is None or entry[1] != gen:
            return  # removed or rescheduled meanwhile (set_services placed its new slot)
        interval = entry[0].interval_s
        passed = math.floor((self._clock.monotonic() - due) / interval)
        if passed > 0:
            self.skipped += passed
            self._window_skipped += passed
        self._push(due + (max(passed, 0) + 1) * interval, sid, gen)
        if self._heap[0][2] == sid:
            self._wake.set()  # due before the loop's next wake

    def lateness(self) -> LatenessStats:
        """Lateness of the recent check starts."""
        xs = sorted(self._lateness)
        if not xs:
            return LatenessStats(0, 0.0, 0.0, 0.0, self.skipped)

        def q(p: float) -> float:
            return xs[min(len(xs) - 1, int(p * len(xs)))]

        return LatenessStats(len(xs), q(0.50), q(0.99), xs[-1], self.skipped)

    def take_window(self) -> tuple[list[float], int]:
        """The lateness of every check start and the slots skipped since the last call
        (overload.py samples them)."""
        window, skipped = self._window, self._window_skipped
        self._window, self._window_skipped = [], 0
        return window, skipped
