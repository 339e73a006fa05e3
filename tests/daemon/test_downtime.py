"""Downtime is the time each failed check stands for: until the next check of that service,
at most its interval (issue 10, point 10), hand-computed.

* rollup.py's rules: a first failure and its quick re-check, isolated failures, the issue's
  service at 3 s down for 30.0 s, an outage across midnight (split at midnight), a failure
  followed by maintenance;
* the store folds checks as the daemon links them, on both backends, into the hourly, daily
  and monthly rollups; ``rebuild_rollups`` (``slamon db rebuild-rollups``) turns old figures
  (each failed check counted for its whole interval) into the corrected ones, across
  midnight and from a ``since`` day.

The real daemon, with the quick re-check and an outage across midnight on a clock the test
moves, is tests/daemon/test_clock.py (26 s on Oct 31 and 54 s on Nov 1, not 100 s).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from slamon_daemon.models import Check, ErrorKind, Outcome
from slamon_daemon.rollup import downtime_within, linked, rollup_deltas
from slamon_daemon.store.base import Store

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
DAY = T0.date()


def chk(
    at: datetime,
    outcome: Outcome,
    *,
    interval: float = 60.0,
    maintenance: bool = False,
    sid: str = "api",
) -> Check:
    down = outcome is Outcome.DOWN
    return Check(
        service_id=sid,
        started_at=at,
        latency_ms=5.0,
        outcome=outcome,
        status_code=None if down else 200,
        error_kind=ErrorKind.CONNECTION_ERROR if down else None,
        error="refused" if down else None,
        node="n1",
        maintenance=maintenance,
        interval_s=interval,
    )


DOWN, UP = Outcome.DOWN, Outcome.UP


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def daily_downtime(checks: list[Check], sid: str = "api") -> dict[date, float]:
    return {r.day: r.downtime_s for r in rollup_deltas(linked(checks)) if r.service_id == sid}


# -- the rules --------------------------------------------------------------------------------


def test_a_first_failure_and_its_quick_recheck() -> None:
    # 60 s service: fails at 0, re-checked at 5 s (confirms), fails at 60, up at 120.
    checks = [chk(s(0), DOWN), chk(s(5), DOWN), chk(s(60), DOWN), chk(s(120), UP)]
    # 0→5 (5 s) + 5→60 (55 s) + 60→120 (60 s) = 120 s; counting every failure whole: 180 s.
    assert daily_downtime(checks) == {DAY: 120.0}
    assert sum(r.downtime_s for r in rollup_deltas(checks)) == 180.0  # the old, unlinked sum


def test_the_issues_service_at_3_s_down_for_30_s() -> None:
    # Down from 0 to 30 s; the quick re-check comes after min(5, 3/3) = 1 s, then slots.
    fails = [0.0, 1.0, *[3.0 * k for k in range(1, 10)]]  # 0, 1, 3, 6, ... 27
    checks = [chk(s(t), DOWN, interval=3.0) for t in fails] + [chk(s(30), UP, interval=3.0)]
    assert daily_downtime(checks) == {DAY: 30.0}  # not 33 s


def test_isolated_failures_stand_until_their_recheck() -> None:
    # Two 5 s blips on a 60 s service: each failure re-checked 5 s later, up again.
    checks = [
        chk(s(0), UP),
        chk(s(60), DOWN),
        chk(s(65), UP),
        chk(s(120), UP),
        chk(s(180), DOWN),
        chk(s(185), UP),
        chk(s(240), UP),
    ]
    assert daily_downtime(checks) == {DAY: 10.0}  # not 2 × 60 s


def test_the_last_failure_before_a_pause_stands_for_its_interval() -> None:
    # No check within its interval after it (the daemon stopped): capped at 60 s.
    checks = [chk(s(0), DOWN), chk(s(5), DOWN), chk(s(600), UP)]
    assert daily_downtime(checks) == {DAY: 65.0}


def test_an_outage_across_midnight_is_split_at_midnight() -> None:
    midnight = datetime(2026, 11, 21, tzinfo=UTC)
    at = [midnight + timedelta(seconds=x) for x in (-40, -35, -10, 20, 50)]
    checks = [chk(t, DOWN, interval=30.0) for t in at] + [
        chk(midnight + timedelta(seconds=80), UP, interval=30.0)
    ]
    # From 23:59:20 to 00:01:20 without a gap: 40 s on the 20th, 80 s on the 21st.
    assert daily_downtime(checks) == {date(2026, 11, 20): 40.0, date(2026, 11, 21): 80.0}
    hourly = {(r.day, r.hour): r.downtime_s for r in rollup_deltas(linked(checks), hourly=True)}
    assert hourly == {(date(2026, 11, 20), 23): 40.0, (date(2026, 11, 21), 0): 80.0}
    monthly = rollup_deltas(linked(checks), monthly=True)
    assert [(r.day, r.downtime_s, r.checks) for r in monthly] == [(date(2026, 11, 1), 120.0, 6)]
    # A window across midnight sees its part.
    assert downtime_within(linked(checks), midnight - timedelta(seconds=30), midnight) == 30.0


def test_maintenance_ends_a_failures_downtime() -> None:
    checks = [chk(s(0), DOWN), chk(s(20), DOWN, maintenance=True), chk(s(60), UP)]
    assert daily_downtime(checks) == {DAY: 20.0}


def test_each_service_links_to_its_own_checks() -> None:
    checks = [chk(s(0), DOWN), chk(s(5), UP, sid="web"), chk(s(60), UP)]
    assert daily_downtime(checks) == {DAY: 60.0}  # web's check cuts nothing of api's
    assert daily_downtime(checks, "web") == {DAY: 0.0}


# -- the store ----------------------------------------------------------------------------------


OUTAGE = [
    # A 60 s service: up; a blip at 23:58:00 re-checked at :05 (up); then an outage from
    # 23:59:30 (re-checked at :35) through midnight until 00:01:30.
    ("23:57:00", UP),
    ("23:58:00", DOWN),
    ("23:58:05", UP),
    ("23:59:00", UP),
    ("23:59:30", DOWN),
    ("23:59:35", DOWN),
    ("00:00:30", DOWN),
    ("00:01:30", UP),
    ("00:01:35", UP),
]
D20, D21 = date(2026, 11, 20), date(2026, 11, 21)
HAND = {D20: 5.0 + 30.0, D21: 90.0}
"""23:58:00→:05 (5 s) and 23:59:30→24:00 (30 s) on the 20th; 00:00→00:01:30 on the 21st."""


def outage_checks() -> list[Check]:
    out = []
    for hhmmss, outcome in OUTAGE:
        h, m, sec = (int(x) for x in hhmmss.split(":"))
        day = D20 if h == 23 else D21
        out.append(chk(datetime(day.year, day.month, day.day, h, m, sec, tzinfo=UTC), outcome))
    return out


async def _downtimes(store: Store) -> tuple[dict[date, float], dict[tuple[date, int], float]]:
    daily = {r.day: r.downtime_s for r in await store.daily_rollups(D20, D21)}
    hourly = {
        (r.day, r.hour or 0): r.downtime_s
        for r in await store.hourly_rollups(
            "api", datetime(2026, 11, 20, 23, tzinfo=UTC), datetime(2026, 11, 21, 1, tzinfo=UTC)
        )
    }
    return daily, hourly


async def test_the_store_folds_linked_checks_into_every_rollup(store: Store) -> None:
    checks = linked(outage_checks())
    # In three batches, one ending on the failure whose downtime the next batch cuts short.
    assert await store.write_checks(checks[:5]) == 5
    assert await store.write_checks(checks[5:7]) == 2
    assert await store.write_checks(checks[7:]) == 2
    daily, hourly = await _downtimes(store)
    assert daily == pytest.approx(HAND)
    assert hourly == pytest.approx({(D20, 23): HAND[D20], (D21, 0): HAND[D21]})
    (month,) = await store.monthly_rollups(date(2026, 11, 1), date(2026, 11, 30))
    assert month.downtime_s == pytest.approx(HAND[D20] + HAND[D21])
    # Written again (a journal replayed): nothing counted twice.
    assert await store.write_checks(checks) == 0
    assert (await _downtimes(store))[0] == pytest.approx(HAND)


async def test_rebuild_rollups_corrects_old_figures(store: Store) -> None:
    # Old data: the checks stored without their links, every failure counted whole.
    await store.write_checks(outage_checks())
    daily, _ = await _downtimes(store)
    # 23:58:00 whole (60 s); 23:59:30 and :35 whole, split at midnight (30 + 25 on the 20th,
    # 30 + 35 on the 21st); 00:00:30 whole (60 s).
    assert daily[D20] == pytest.approx(60 + 30 + 25)
    assert daily[D21] == pytest.approx(30 + 35 + 60)
    assert await store.rebuild_rollups() == len(OUTAGE)
    daily, hourly = await _downtimes(store)
    assert daily == pytest.approx(HAND)
    assert hourly == pytest.approx({(D20, 23): HAND[D20], (D21, 0): HAND[D21]})
    (month,) = await store.monthly_rollups(date(2026, 11, 1), date(2026, 11, 30))
    assert (month.downtime_s, month.checks) == (pytest.approx(sum(HAND.values())), len(OUTAGE))
    # From a day on: the 21st alone, still with what the 20th's last failures carry into it.
    await store.rebuild_rollups(since=D21)
    assert (await _downtimes(store))[0] == pytest.approx(HAND)


async def test_slamon_db_rebuild_rollups_gives_the_corrected_figures(tmp_path: Path) -> None:
    from slamon_daemon.store import SqliteStore

    db = tmp_path / "slamon.db"
    async with SqliteStore(db) as store:
        await store.migrate()
        await store.write_checks(outage_checks())
    cfg = tmp_path / "slamon.toml"
    cfg.write_text(
        f'[daemon]\ndatabase_url = "sqlite:///{db}"\nsocket = "{tmp_path}/s.sock"\n',
        encoding="utf-8",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from slamon_tui.cli import main; sys.exit(main())",
        "db",
        "rebuild-rollups",
        "--config",
        str(cfg),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip() == f"rebuilt rollups from {len(OUTAGE)} checks"
    async with SqliteStore(db) as store:
        assert (await _downtimes(store))[0] == pytest.approx(HAND)
