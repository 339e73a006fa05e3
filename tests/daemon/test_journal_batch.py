"""The journal's writes gathered per turn of the event loop (writer.py ``add_soon``,
spool.py ``append_many``): one ``write`` for a turn's checks, a check counted only once its
line is in the journal file, nothing half-written when the write fails, and a process
killed in the middle of it leaves every counted check in the journal."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slamon_daemon import spool as spool_module
from slamon_daemon.models import Check, Outcome, ServiceStatus, Transition
from slamon_daemon.spool import Spool
from slamon_daemon.store import SqliteStore
from slamon_daemon.writer import CheckWriter
from tests.conftest import migrated
from tests.e2e.fsfaults import small_fs

T0 = datetime(2026, 12, 2, 23, 59, 58, tzinfo=UTC)


def _check(i: int) -> Check:
    down = i % 3 == 1
    return Check(
        f"svc-{i % 4}",
        T0 + timedelta(seconds=i),
        1.5 + i,
        Outcome.DOWN if down else Outcome.UP,
        status_code=None if down else 200,
        error="refused" if down else None,
    )


def _journaled(folder: Path) -> list[object]:
    """What a new process reads back from the journal folder."""
    again = Spool(folder)
    return [r for s in again.closed for r in again.read(s)]


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The sizes of the journal's ``write`` calls (the real ``os.write`` still writes)."""
    sizes: list[int] = []
    real = os.write

    def counting(fd: int, data: bytes) -> int:
        sizes.append(len(data))
        return real(fd, data)

    monkeypatch.setattr(spool_module.os, "write", counting)
    yield sizes


async def test_a_turns_checks_are_one_write_and_counted_only_after_it(
    tmp_path: Path, writes: list[int]
) -> None:
    folder = tmp_path / "spool"
    counted: list[Check] = []
    in_file_when_counted: list[bool] = []

    def count(check: Check) -> None:
        # The promise: when a check is counted, its line is in the journal file already.
        in_file_when_counted.append(check in _journaled(folder))
        counted.append(check)

    store = SqliteStore(str(tmp_path / "t.db"))
    writer = CheckWriter(store, Spool(folder), counted=count)
    made = [_check(i) for i in range(7)]
    for c in made:
        writer.add_soon(c)
    assert counted == [] and writes == [] and writer.pending == 7
    await asyncio.sleep(0)  # the end of this turn
    assert len(writes) == 1
    assert counted == made and in_file_when_counted == [True] * 7
    for c in [_check(i) for i in range(7, 10)]:
        writer.add_soon(c)
    await asyncio.sleep(0)
    assert len(writes) == 2 and len(counted) == 10
    writer.spool.close()
    assert _journaled(folder) == [_check(i) for i in range(10)]


async def test_a_record_added_at_once_goes_behind_the_gathered_checks(
    tmp_path: Path, writes: list[int]
) -> None:
    counted: list[Check] = []
    store = SqliteStore(str(tmp_path / "t.db"))
    writer = CheckWriter(store, Spool(tmp_path / "spool"), counted=counted.append)
    t = Transition("svc-1", ServiceStatus.OPERATIONAL, ServiceStatus.MAJOR_OUTAGE, T0)
    writer.add_soon(_check(0))
    writer.add_soon(_check(1))
    assert writer.add(t)  # journaled now, behind the two checks, which are counted first
    assert counted == [_check(0), _check(1)]
    await asyncio.sleep(0)  # nothing left for the end of the turn
    assert len(writes) == 2
    writer.spool.close()
    assert _journaled(tmp_path / "spool") == [_check(0), _check(1), t]


async def test_flush_journals_and_stores_what_this_turn_gathered(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "t.db"))
    async with migrated(store):
        counted: list[Check] = []
        writer = CheckWriter(store, Spool(tmp_path / "spool"), counted=counted.append)
        for i in range(3):
            writer.add_soon(_check(i))
        await writer.flush()  # before the turn ends
        assert counted == [_check(i) for i in range(3)]
        assert writer.written == 3 and writer.pending == 0
        assert await store.count_checks() == 3


async def test_a_write_that_fails_leaves_no_line_and_counts_nothing_until_journaled() -> None:
    with small_fs("128k") as fs:
        folder = fs.path / "spool"
        store = SqliteStore(":memory:")
        counted: list[Check] = []
        writer = CheckWriter(store, Spool(folder), counted=counted.append)
        writer.add_soon(_check(0))
        await asyncio.sleep(0)
        assert counted == [_check(0)]
        (segment,) = folder.glob("*.jsonl")
        size = segment.stat().st_size
        fs.fill()
        # More than is left (the write may be short first, then ENOSPC).
        big = [
            Check("svc-9", T0 + timedelta(seconds=i), 2.0, Outcome.DOWN, error="x" * 2000)
            for i in range(1, 16)
        ]
        for c in big:
            writer.add_soon(c)
        await asyncio.sleep(0)
        assert counted == [_check(0)]  # none of the turn's checks: none is journaled
        assert writer.journal_error is not None
        assert list(writer.held) == big  # in order, waiting in memory
        assert segment.stat().st_size == size  # no part of them in the file
        writer.add_soon(_check(30))  # behind the held ones
        assert list(writer.held) == [*big, _check(30)]
        fs.free()
        writer.retry_journal(force=True)
        assert counted == [_check(0), *big, _check(30)]
        assert not writer.held and writer.journal_error is None
        writer.spool.close()
        assert _journaled(folder) == [_check(0), *big, _check(30)]


_KILLED_CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from slamon_daemon.models import Check, Outcome
    from slamon_daemon.spool import Spool
    from slamon_daemon.store import SqliteStore
    from slamon_daemon.writer import CheckWriter

    folder, report = Path(sys.argv[1]), open(sys.argv[2], "w", buffering=1)
    t0 = datetime(2026, 12, 2, 23, 59, 58, tzinfo=UTC)
    done = 0

    def count(check):
        global done
        report.write(check.started_at.isoformat() + "\\n")  # acknowledged
        done += 1
        if done == 250:  # killed in the middle of counting a turn's checks
            os.kill(os.getpid(), signal.SIGKILL)

    async def main():
        writer = CheckWriter(SqliteStore(":memory:"), Spool(folder), counted=count)
        n = 0
        while True:
            for _ in range(37):
                writer.add_soon(
                    Check("web", t0 + timedelta(seconds=n), 1.0, Outcome.UP, status_code=200)
                )
                n += 1
            await asyncio.sleep(0)

    asyncio.run(main())
    """
)


def test_a_process_killed_mid_turn_has_every_counted_check_in_its_journal(
    tmp_path: Path,
) -> None:
    folder, report = tmp_path / "spool", tmp_path / "counted"
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_CHILD, str(folder), str(report)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    acknowledged = report.read_text().split()
    assert len(acknowledged) == 250
    journaled = [r.started_at.isoformat() for r in _journaled(folder) if isinstance(r, Check)]
    # Every check counted before the kill is in the journal, in order; the rest of the turn
    # that was being counted is there too (journaled, not yet counted: replayed, not lost).
    assert journaled[: len(acknowledged)] == acknowledged
    assert len(journaled) == 259  # 7 whole turns of 37
    assert len(set(journaled)) == len(journaled)
