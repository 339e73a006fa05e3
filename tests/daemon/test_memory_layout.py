"""Memory layout at 50,000 services (issue 14 point 3, stop 22): what a long-running daemon
keeps must not grow with what it has done, and the compact forms read as before.

* SQLite's writer: every batch of a size not seen before made new prepared statements (a
  multi-row INSERT of that many rows, for the checks and each rollup table), and Python's
  sqlite3 keeps the last 128 a connection prepared, each with its compiled program and its
  bound values (~0.7 MB for 500 rows): ~90 MiB in SQLite's heap at 50,000 services. The
  statements now come in a few fixed sizes.

Real SQLite files.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from slamon_daemon.models import Check, Outcome, Service
from slamon_daemon.store import SqliteStore
from slamon_daemon.store.dialects import sqlite as sqlite_dialect

T0 = datetime(2026, 11, 30, tzinfo=UTC)


def _sqlite_heap() -> int:
    """Bytes SQLite's allocator holds now (the library Python's sqlite3 module uses)."""
    lib = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return int(lib.sqlite3_memory_used())


@pytest.mark.parametrize("most", [500, 17, 1])
def test_chunks_keep_every_row_in_order_in_few_fixed_sizes(most: int) -> None:
    sizes = {most, *(n for n in sqlite_dialect._SMALLER_CHUNKS if n < most)}
    for total in range(0, 1203):
        rows = list(range(total))
        chunks = list(sqlite_dialect._chunks(rows, most))
        assert [r for c in chunks for r in c] == rows
        assert all(len(c) in sizes for c in chunks)
        # a full chunk while they last, then each smaller size at most 3 times (the sizes
        # are powers of 4 apart; 1 at most once)
        assert len(chunks) <= total // most + 3 * (len(sizes) - 1) + 1
        assert [len(c) for c in chunks] == sorted((len(c) for c in chunks), reverse=True)


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
