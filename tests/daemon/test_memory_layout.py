"""Memory layout at 50,000 services (issue 14 point 3, stop 22): what a long-running daemon
keeps must not grow with what it has done, and the compact forms read as before.

* The live state's recent checks (60 a service after an hour): a ring of two arrays of
  exactly 60 items instead of three grown by appends and shifted (~1.1 instead of ~1.5 KB
  a service); /metrics' 24 hours in 2-byte counters widened before one would overflow.
  Every reading (the window, the status rule, the sparkline, service.get's hint, the 24h
  ratio) is compared with its definition before, at and after the wrap and the hour
  boundaries.
* SQLite's writer: every batch of a size not seen before made new prepared statements (a
  multi-row INSERT of that many rows, for the checks and each rollup table), and Python's
  sqlite3 keeps the last 128 a connection prepared, each with its compiled program and its
  bound values (~0.7 MB for 500 rows): ~90 MiB in SQLite's heap at 50,000 services. The
  statements now come in a few fixed sizes.

Real SQLite files; the in-memory structures alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import gc
import json
import random
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from slamon_daemon.models import Check, Outcome, Service, ServiceStatus
from slamon_daemon.rollup import uptime_ratio
from slamon_daemon.state import (
    FLAP_WINDOW,
    SPARKLINE_POINTS,
    LiveState,
    RecentCheck,
    RecentChecks,
    ServiceState,
)
from slamon_daemon.store import SqliteStore
from slamon_daemon.store.dialects import sqlite as sqlite_dialect
from slamon_daemon.web.metrics_source import MetricsBook, _Hours

T0 = datetime(2026, 11, 30, tzinfo=UTC)


def _sqlite_heap() -> int:
    """Bytes SQLite's allocator holds now (the library Python's sqlite3 module uses)."""
    lib = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return int(lib.sqlite3_memory_used())


@pytest.mark.parametrize("most", [500, 17, 1])
def test_pieces_keep_every_row_in_order_in_few_fixed_sizes(most: int) -> None:
    sizes = {most, *(n for n in sqlite_dialect._PIECES if n < most)}
    for total in range(0, 1203):
        pieces = list(sqlite_dialect._pieces(total, most))
        assert [i for start, n in pieces for i in range(start, start + n)] == list(range(total))
        assert all(n in sizes for _, n in pieces)
        # a full piece while they last, then each smaller size at most once
        assert len(pieces) <= total // most + len(sizes) - 1 + 1
        assert [n for _, n in pieces] == sorted((n for _, n in pieces), reverse=True)


def _batch(services: list[str], start: datetime, n: int) -> list[Check]:
    """``n`` checks, one a service in turn (each its own minute), a failure every 7th."""
    out = []
    for i in range(n):
        failed = i % 7 == 0
        out.append(
            Check(
                services[i % len(services)],
                start + timedelta(seconds=60 * (i // len(services)), microseconds=i),
                10.0 + i % 13,
                Outcome.DOWN if failed else Outcome.UP,
                status_code=500 if failed else 200,
            )
        )
    return out


async def test_batches_of_every_size_do_not_pile_up_prepared_statements(tmp_path: Path) -> None:
    """40 batches of 40 different sizes (201..240 checks, each its own rows in the checks
    table and the three rollup tables): SQLite's heap grows by a few statements, not by 160
    multi-row statements (old: ~40 MiB more); and every check and rollup is stored."""
    services = [f"s{i:03d}" for i in range(250)]
    async with SqliteStore(tmp_path / "m.db") as store:
        await store.migrate()
        await store.sync_services(
            [Service(id=s, name=s, url="http://127.0.0.1/") for s in services]
        )
        await store.write_batch(_batch(services, T0 - timedelta(days=1), 3))  # warm up
        before = _sqlite_heap()
        written = 0
        for k, n in enumerate(range(201, 241)):
            written += await store.write_batch(_batch(services, T0 + timedelta(minutes=20 * k), n))
        grown = _sqlite_heap() - before
        assert written == sum(range(201, 241))
        assert await store.count_checks() == written + 3  # the warm-up's 3 too
        daily = {r.service_id: r for r in await store.daily_rollups(date(2026, 11, 30))}
        expected_checks = {s: 0 for s in services}
        expected_down = {s: 0 for s in services}
        for k, n in enumerate(range(201, 241)):
            for c in _batch(services, T0 + timedelta(minutes=20 * k), n):
                expected_checks[c.service_id] += 1
                expected_down[c.service_id] += c.outcome is Outcome.DOWN
        assert {s: r.checks for s, r in daily.items()} == {
            s: v for s, v in expected_checks.items() if v
        }
        assert {s: r.down for s, r in daily.items()} == {
            s: v for s, v in expected_down.items() if expected_checks[s]
        }
    assert grown < 12 * 2**20, f"SQLite's heap grew by {grown / 2**20:.1f} MiB"


# -- the live state's recent checks: a ring of two arrays ---------------------------------


def _checks(n: int, start: datetime = T0, seed: int = 7) -> list[Check]:
    """``n`` checks of one service, irregular starts (microseconds, a few in the same
    second, a gap of hours), every outcome with and without maintenance, awkward latencies."""
    rnd = random.Random(seed)
    out, at = [], start
    for _ in range(n):
        at += timedelta(
            seconds=rnd.choice([0, 1, 59, 60, 61, 3600 * 5]), microseconds=rnd.randrange(10**6)
        )
        out.append(
            Check(
                "svc",
                at,
                rnd.choice([0.0, 0.05, 12.35, 12.25, 999.95, rnd.random() * 3000]),
                rnd.choice(list(Outcome)),
                maintenance=rnd.random() < 0.15,
            )
        )
    return out


def _as_recent(c: Check) -> RecentCheck:
    # the live state keeps a recent latency to 0.1 ms, as every reader shows it (stop 23)
    return RecentCheck(c.started_at, round(c.latency_ms, 1), c.outcome, c.maintenance)


def _flapping(kept: list[Check], after: datetime | None) -> int:
    """The flapping rule's count, straight from its definition (SPEC §3.3)."""
    seen = [c for c in kept if not c.maintenance and (after is None or c.started_at >= after)]
    return sum(c.outcome is Outcome.DOWN for c in seen[-FLAP_WINDOW:])


@pytest.mark.parametrize("n", [0, 1, 9, 59, 60, 61, 119, 120, 121, 250])
def test_recent_checks_read_as_the_last_60_checks(n: int) -> None:
    """Before full, exactly full, wrapped once and many times: every reading is that of
    the last ``SPARKLINE_POINTS`` checks appended, oldest first."""
    made = _checks(n)
    recent = RecentChecks()
    for c in made:
        recent.append(c)
    kept = made[-SPARKLINE_POINTS:]
    assert len(recent) == len(kept) and bool(recent) == bool(kept) and recent.added == n
    assert list(recent) == [_as_recent(c) for c in kept]
    for i in range(-len(kept), len(kept)):
        assert recent[i] == _as_recent(kept[i])
    for bad in (len(kept), -len(kept) - 1):
        with pytest.raises(IndexError):
            recent[bad]
    for start in range(len(kept) + 1):
        assert recent.latencies(start) == [round(c.latency_ms, 1) for c in kept[start:]]
        assert recent.outcomes(start) == [c.outcome for c in kept[start:]]
    for after in [
        None,
        *(c.started_at for c in kept),
        *(c.started_at + timedelta(microseconds=1) for c in kept),
    ]:
        assert recent.flapping_failures(after) == _flapping(kept, after)
    # merge_history's rebuild: older checks first, the newest 60 kept
    older = _checks(30, T0 - timedelta(days=3), seed=3)
    assert list(recent.with_older(older)) == [
        _as_recent(c) for c in [*older, *kept][-SPARKLINE_POINTS:]
    ]


def _every(seconds: float, n: int, seed: int = 1) -> list[Check]:
    """``n`` checks ``seconds`` apart (a jitter of up to a second, one check out of order),
    every outcome, with and without maintenance."""
    rnd = random.Random(seed)
    out = [
        Check(
            "svc",
            T0 + timedelta(seconds=seconds * k, microseconds=rnd.randrange(10**6)),
            rnd.choice([0.0, 0.05, 12.35, 999.95, rnd.random() * 3000]),
            rnd.choice(list(Outcome)),
            maintenance=rnd.random() < 0.1,
        )
        for k in range(n)
    ]
    out[n // 2], out[n // 2 + 1] = out[n // 2 + 1], out[n // 2]
    return out


@pytest.mark.parametrize(
    ("seconds", "wide"),
    [(1, False), (60, False), (3600, False), (12 * 3600, False), (36 * 3600, True)],
)
def test_recent_checks_at_an_interval_read_as_the_last_60(seconds: float, wide: bool) -> None:
    """Checks at a service's interval: 4-byte starts (milliseconds) after a base that moves
    on, 8-byte ones once the 60 kept span more than 49.7 days; after every check each
    reading is that of the last 60 appended."""
    made = _every(seconds, 400, seed=seconds)
    recent = RecentChecks()
    for k, c in enumerate(made, 1):
        recent.append(c)
        kept = made[:k][-SPARKLINE_POINTS:]
        assert list(recent) == [_as_recent(x) for x in kept]
        assert recent.outcomes() == [x.outcome for x in kept]
        for after in (
            None,
            kept[0].started_at,
            kept[-1].started_at,
            kept[len(kept) // 2].started_at,
        ):
            assert recent.flapping_failures(after) == _flapping(kept, after)
    assert recent._at.typecode == ("q" if wide else "I")
    # every 12 h: 400 checks span 200 days, the 60 kept 30: the base moved on
    assert seconds != 12 * 3600 or recent._base > made[0].started_at.timestamp() * 10**6


def test_recent_checks_out_of_order_read_as_appended() -> None:
    """Late checks (another node's, a replayed journal) before the first one kept: the base
    moves back; every reading is still that of the last 60 appended, in appended order."""
    rnd = random.Random(5)
    made = [
        Check(
            "svc",
            T0 + timedelta(seconds=rnd.randrange(-86400, 86400), microseconds=rnd.randrange(10**6)),
            rnd.random() * 100,
            rnd.choice(list(Outcome)),
            maintenance=rnd.random() < 0.1,
        )
        for _ in range(200)
    ]
    recent = RecentChecks()
    for k, c in enumerate(made, 1):
        recent.append(c)
        kept = made[:k][-SPARKLINE_POINTS:]
        assert list(recent) == [_as_recent(x) for x in kept]
        for after in (None, T0, T0 - timedelta(hours=5, microseconds=1)):
            assert recent.flapping_failures(after) == _flapping(kept, after)
    assert recent._at.typecode == "I"


def test_recent_checks_of_many_services_take_less_memory() -> None:
    """An hour of checks (60, every minute) for 2,000 services: the arrays and their
    objects take at most 0.8 KB a service (0.75 KB measured; 8-byte starts and float
    latencies: ~1.0 KB; three arrays grown by appends: 1.42 KB)."""
    made = _every(60, SPARKLINE_POINTS + 7)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = []
        for _ in range(2000):
            recent = RecentChecks()
            for c in made:
                recent.append(c)
            kept.append(recent)
        per_service = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert per_service <= 800, f"{per_service:.0f} B a service"
    assert kept[0]._at.itemsize == kept[0]._word.itemsize == 4


def test_recent_latencies_of_any_size_are_kept() -> None:
    """A latency too large for 4 bytes of tenths (119 hours or more) or below zero widens
    the array; every latency still reads as ``round(x, 1)``."""
    odd = [1e9, -0.25, 2**40 + 0.5, 0.0]
    for n in (3, SPARKLINE_POINTS + 5):
        made = _checks(n, seed=n)
        for k, lat in enumerate(odd):
            made[(k * 17) % n] = dataclasses.replace(made[(k * 17) % n], latency_ms=lat)
        recent = RecentChecks(made)
        kept = made[-SPARKLINE_POINTS:]
        assert recent.latencies() == [round(c.latency_ms, 1) for c in kept]
        assert list(recent) == [_as_recent(c) for c in kept]


async def test_the_sparkline_reads_the_same_across_the_wrap() -> None:
    """status.get's sparkline, kept in step a check at a time, is the JSON of the last 60
    checks' latencies (to 0.1 ms) and outcomes before, at and after the ring wraps."""
    from slamon_daemon.api.status import _Spark

    made = _checks(200, seed=11)
    recent, spark = RecentChecks(), _Spark()
    for k, c in enumerate(made, 1):
        recent.append(c)
        if k % 3 and k not in (59, 60, 61, 120):
            continue
        latencies, outcomes = spark.sync(recent)
        kept = made[:k][-SPARKLINE_POINTS:]
        assert json.loads(latencies) == [round(c.latency_ms, 1) for c in kept]
        assert json.loads(outcomes) == [c.outcome.value for c in kept]


def test_service_get_reads_its_recent_checks_from_the_right_check() -> None:
    """service.get's hint (the 40th latest check's start) across the wrap."""
    from slamon_daemon.api.services import RECENT_CHECKS, recent_since

    for n in (RECENT_CHECKS - 1, RECENT_CHECKS, 45, 60, 61, 137):
        made = _checks(n, seed=n)
        st = ServiceState(Service(id="svc", name="svc", url="http://127.0.0.1/"))
        for c in made:
            st.recent.append(c)
        kept = made[-SPARKLINE_POINTS:]
        expected = (
            None if n < RECENT_CHECKS else kept[-min(len(kept), 2 * RECENT_CHECKS)].started_at
        )
        assert recent_since(st) == expected


def test_live_state_status_follows_the_flapping_rule_across_the_wrap() -> None:
    """The live state's status after each of 150 checks (failures in bursts, maintenance
    in between) is the one the rule gives on the last checks kept (partial outage when 3 of
    the last 10 failed without a confirmed failure)."""
    live = LiveState()
    svc = Service(id="svc", name="svc", url="http://127.0.0.1/", confirm_failures=3)
    live.set_services([svc])
    made, statuses = [], set()
    for i in range(150):
        outcome = Outcome.DOWN if i % 11 in (0, 4, 8) else Outcome.UP
        c = Check("svc", T0 + timedelta(seconds=60 * i), 20.0, outcome, maintenance=i % 17 == 5)
        made.append(c)
        live.apply(c)
        st = live.services["svc"]
        statuses.add(st.status)
        if st.status is ServiceStatus.PARTIAL_OUTAGE:
            assert _flapping(made[-SPARKLINE_POINTS:], st.flap_after) >= 3
        assert st.recent.flapping_failures(st.flap_after) == _flapping(
            made[-SPARKLINE_POINTS:], st.flap_after
        )
    assert ServiceStatus.PARTIAL_OUTAGE in statuses and ServiceStatus.OPERATIONAL in statuses


# -- /metrics' 24 hours: 2-byte counters, widened before one would overflow ---------------


def _hours_ratio(checks: list[Check], now: datetime) -> float | None:
    """The 24h uptime ratio from its definition: the hours up to ``now`` of the last 24
    counted, as the old 4-byte ring read them (a check older than 24 hours before the newest
    hour counted counts nowhere)."""
    head = -1
    kept: dict[int, list[int]] = {}
    for c in checks:
        hour = int(c.started_at.timestamp() // 3600)
        if hour > head:
            head = hour
            kept = {h: v for h, v in kept.items() if h > head - 24}
        elif hour <= head - 24:
            continue
        v = kept.setdefault(hour, [0, 0, 0, 0])
        v[0] += c.outcome is Outcome.UP
        v[1] += c.outcome is Outcome.DEGRADED
        v[2] += 1
        v[3] += c.maintenance
    first = max(int(now.timestamp() // 3600) - 23, head - 23)
    sums = [sum(v[k] for h, v in kept.items() if first <= h <= head) for k in range(4)]
    return uptime_ratio(*sums)


def test_metrics_hours_read_as_before_across_hour_boundaries_and_gaps() -> None:
    made = _checks(400, seed=5)
    late = Check("svc", made[-1].started_at - timedelta(hours=30), 5.0, Outcome.DOWN)
    made = [*made[:200], late, *made[200:]]
    book = MetricsBook()
    for k, c in enumerate(made, 1):
        book.record(c)
        for now in (
            c.started_at,
            c.started_at + timedelta(hours=1),
            c.started_at + timedelta(hours=23, minutes=59),
            c.started_at + timedelta(hours=30),
        ):
            assert book.hours["svc"].ratio(now) == _hours_ratio(made[:k], now)


def test_metrics_hours_widen_before_a_count_overflows() -> None:
    """70,000 checks in one hour (a cluster's nodes all counting one service): counts stay
    exact, the array widened from 2 to 4 bytes at 65,535."""
    hours = _Hours()
    assert hours.counts.itemsize == 2  # 4 bytes before: 0.2 KB more a service
    at = T0 + timedelta(minutes=30)
    n = 70_000
    for i in range(n):
        hours.add(
            Check(
                "svc", at, 1.0, Outcome.DOWN if i % 4 == 0 else Outcome.UP, maintenance=i % 10 == 0
            )
        )
        if i == 65_534:
            assert (
                hours.counts.itemsize == 2
                and hours.counts[4 * (int(at.timestamp() // 3600) % 24) + 2] == 65_535
            )
    i = 4 * (int(at.timestamp() // 3600) % 24)
    assert hours.counts.itemsize == 4
    assert list(hours.counts[i : i + 4]) == [n - n // 4, 0, n, n // 10]
    assert hours.ratio(at) == uptime_ratio(n - n // 4, 0, n, n // 10)
    # the next hour zeroes its slot in the wide array too
    hours.add(Check("svc", at + timedelta(hours=1), 1.0, Outcome.UP))
    j = 4 * ((int(at.timestamp() // 3600) + 1) % 24)
    assert list(hours.counts[j : j + 4]) == [1, 0, 1, 0]
