"""The live state's past days of the bar as compact counts (issue 14 point 3): what users read
(status.get's cells and uptimes, /metrics' windows) is what the whole day-rollups gave."""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import slamon_daemon.daemon as daemon_mod
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Check, ErrorKind, Outcome, Service
from slamon_daemon.rollup import Rollup, daily_status, uptime_percent_text
from slamon_daemon.state import HISTORY_DAYS, WINDOWS, LiveState, ServiceState

IDS = ("a", "b", "c")


def _svc(sid: str) -> Service:
    return Service(id=sid, name=sid, url=f"http://127.0.0.1:9/{sid}", interval_s=60.0)


def _check(sid: str, at: datetime, outcome: Outcome, *, maintenance: bool = False) -> Check:
    kind = ErrorKind.CONNECTION_ERROR if outcome is Outcome.DOWN else None
    return Check(sid, at, 12.0 + at.minute, outcome, error_kind=kind, maintenance=maintenance)


def _history_checks(today: date) -> list[Check]:
    """95 days (some outside the bar) of a varied pattern per service: days without checks,
    all up, slow, a few failures (po), many (mo), all maintenance; and today."""
    out: list[Check] = []
    for n, sid in enumerate(IDS):
        for age in range(95, -1, -1):
            day = today - timedelta(days=age)
            t = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
            k = (age * 7 + n * 3) % 11
            if k == 0 and n:
                continue  # no check that day ("a" has every day: the start's fast path)
            plan = [Outcome.UP] * (150 if k in (4, 5) else 6)
            if k == 2:
                plan[1] = Outcome.DEGRADED
            elif k == 4:
                plan[3] = Outcome.DOWN  # 1 of 150: 99.33 %, po
            elif k == 5:
                plan[3:5] = [Outcome.DOWN, Outcome.DOWN]  # 2 of 150: 98.66 %, mo
            elif k == 6:
                plan[0] = Outcome.DOWN  # 1 of 6: mo
            for i, outcome in enumerate(plan):
                at = t + timedelta(minutes=i)
                out.append(_check(sid, at, outcome, maintenance=k == 8 or (k == 9 and i == 0)))
    return out


def _reference(rollups: list[Rollup], sid: str, today: date) -> tuple[list[str], dict[str, str]]:
    """The bar and uptimes as the whole day-rollups gave them (the code before issue 14
    point 3): one cell per day, the windows' sums of up, degraded, checks, maintenance."""
    by_day = {r.day: r for r in rollups if r.service_id == sid}
    cells = [
        daily_status(by_day.get(today - timedelta(days=HISTORY_DAYS - 1 - i))).value
        for i in range(HISTORY_DAYS)
    ]
    uptime = {}
    for w in WINDOWS:
        days = [r for d, r in by_day.items() if 0 <= (today - d).days < w]
        uptime[str(w)] = uptime_percent_text(
            sum(r.up for r in days),
            sum(r.degraded for r in days),
            sum(r.checks for r in days),
            sum(r.maintenance for r in days),
        )
    return cells, uptime


def _window(rollups: list[Rollup], sid: str, first: date, last: date) -> tuple[int, int]:
    days = [r for r in rollups if r.service_id == sid and first <= r.day <= last]
    return sum(r.up + r.degraded for r in days), sum(r.checks - r.maintenance for r in days)


async def test_loaded_history_reads_as_the_whole_rollups_did(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = datetime.now(UTC).date()
    await store.sync_services([_svc(s) for s in IDS])
    await store.write_batch(_history_checks(today))
    monkeypatch.setattr(daemon_mod, "BAR_PAGE", 1)  # many pages: the paging is exercised
    services = await store.list_services()
    bars = await Daemon._bar_days(SimpleNamespace(store=store), today, services)  # type: ignore[arg-type]
    state = LiveState()
    state.set_services([_svc(s) for s in IDS])
    state.load_history(bars, {})
    whole = await store.daily_rollups(today - timedelta(days=HISTORY_DAYS + 10))
    # the journal's path: whole rollups, compacted by load_history itself
    from_list = LiveState()
    from_list.set_services([_svc(s) for s in IDS])
    from_list.load_history(whole, {})
    seen = set()
    for sid in IDS:
        expected = _reference(whole, sid, today)
        for st in (state.services[sid], from_list.services[sid]):
            assert st.history(today) == expected
            cells, uptime = st.history_json(today)
            assert (cells, uptime) == (
                "[" + ",".join(f'"{c}"' for c in expected[0]) + "]",
                expected[1],
            )
            # /metrics' windows (7d, 30d, 90d with today) and the month so far
            for first in (today - timedelta(days=6), today.replace(day=1), today - timedelta(89)):
                assert st.counts(first, today) == _window(whole, sid, first, today)
            assert set(st.days) <= {today}  # the past days as counts only
            today_r = st.day_rollup(today)  # today's whole: its percentiles
            assert today_r is not None and today_r.hist and not st.days[today].hist
        seen.update(expected[0])
    assert seen == {"nd", "o", "degraded", "po", "mo", "maintenance"}  # every kind of cell


def test_midnight_and_month_boundary_hand_computed() -> None:
    st = ServiceState(service=_svc("a"))
    jan30, jan31 = datetime(2026, 1, 30, 12, tzinfo=UTC), datetime(2026, 1, 31, 10, tzinfo=UTC)
    for i in range(4):
        st.add_to_day(_check("a", jan30 + timedelta(minutes=i), Outcome.UP))
    for i in range(99):
        st.add_to_day(_check("a", jan31 + timedelta(minutes=i), Outcome.UP))
    # failed at 23:59:30: 30 s of downtime on Jan 31, 30 s on Feb 1
    st.add_to_day(_check("a", datetime(2026, 1, 31, 23, 59, 30, tzinfo=UTC), Outcome.DOWN))
    cells, uptime = st.history(date(2026, 1, 31))
    assert cells[-2:] == ["o", "po"]  # 99 of 100: exactly 99.0 %, not below the threshold
    assert uptime["30"] == "99.03"  # 103 of 104
    # the first check after midnight makes Jan 31 a past day: its counts only
    st.add_to_day(_check("a", datetime(2026, 2, 1, 0, 0, 10, tzinfo=UTC), Outcome.UP))
    feb1 = date(2026, 2, 1)
    assert list(st.days) == [feb1] and st.days[feb1].downtime_s == 30.0
    assert st.counts(date(2026, 1, 31), date(2026, 1, 31)) == (99, 100)
    assert st.counts(feb1.replace(day=1), feb1) == (1, 1)  # February so far: 100 %
    cells, uptime = st.history(feb1)
    assert cells[-3:] == ["o", "po", "o"] and cells[:-3] == ["nd"] * 87
    assert uptime == {"30": "99.04", "60": "99.04", "90": "99.04"}  # 104 of 105
    # a late check of Jan 31 (a replayed journal) counts there as it did: 99 of 101
    st.add_to_day(_check("a", datetime(2026, 1, 31, 20, tzinfo=UTC), Outcome.DOWN))
    cells, uptime = st.history(feb1)
    assert cells[-3:] == ["o", "mo", "o"]  # 98.01 %
    assert uptime["30"] == "98.11"  # 104 of 106
    assert list(st.days) == [feb1]
    # the next day, no check yet: the bar moves by one cell, today has no data
    cells, uptime = st.history(date(2026, 2, 2))
    assert cells[-4:] == ["o", "mo", "o", "nd"] and uptime["30"] == "98.11"
    assert st.counts(date(2026, 2, 1), date(2026, 2, 2)) == (1, 1)
    # 30 days after Jan 30 it leaves the 30-day window (ages 0..29): 100 of 102
    cells, uptime = st.history(date(2026, 3, 1))
    assert uptime["30"] == "98.03" and uptime["90"] == "98.11"
    assert cells[-31:-28] == ["o", "mo", "o"]
    # 90 days after Jan 31, Feb 1 is the oldest cell left
    cells, uptime = st.history(date(2026, 5, 1))
    assert cells[0] == "o" and set(cells[1:]) == {"nd"} and uptime["90"] == "100.00"


def test_a_threshold_change_repaints_the_past_cells() -> None:
    st = ServiceState(service=_svc("a"))
    day = datetime(2026, 3, 10, 8, tzinfo=UTC)
    for i in range(200):
        st.add_to_day(
            _check("a", day + timedelta(minutes=i), Outcome.DOWN if i < 3 else Outcome.UP)
        )
    today = date(2026, 3, 11)
    # 197 of 200: 98.5 %, below 99 %, exactly 98.5 %, below 98.6 %
    assert st.history_json(today, 99.0)[0].endswith('"mo","nd"]')
    assert st.history_json(today, 98.5)[0].endswith('"po","nd"]')  # not the cells of 99.0
    assert st.history(today, 98.6)[0][-2:] == ["mo", "nd"]


def test_past_days_take_no_rollup_objects() -> None:
    today = date(2026, 6, 30)
    state = LiveState()
    state.set_services([_svc("a")])
    rollups = []
    for age in range(1, HISTORY_DAYS):
        r = Rollup(service_id="a", day=today - timedelta(days=age), checks=1440, up=1440)
        r.hist = {100 + i: 13 for i in range(110)}  # a day's histogram: dropped for past days
        rollups.append(r)
    state.load_history(rollups, {})
    st = state.services["a"]
    assert not st.days and st.past is not None
    size = sum(map(sys.getsizeof, (st.past, st.past.good, st.past.counted, st.past.flags)))
    assert size < 1200  # 89 rollups without their histograms took 392 B each (35 KB)
    cells, uptime = st.history(today)
    assert cells == ["o"] * 89 + ["nd"] and uptime["90"] == "100.00"


async def test_daily_counts_by_pages(store: Any) -> None:
    today = datetime.now(UTC).date()
    d1, d2, d3 = (today - timedelta(days=k) for k in (3, 2, 1))

    def at(d: date, minute: int) -> datetime:
        return datetime(d.year, d.month, d.day, 5, minute, tzinfo=UTC)

    await store.sync_services([_svc(s) for s in IDS])
    await store.write_batch(
        [
            _check("a", at(d1, 0), Outcome.UP),
            _check("a", at(d1, 1), Outcome.DEGRADED),
            _check("a", at(d2, 0), Outcome.UP, maintenance=True),
            _check("a", at(d3, 0), Outcome.DOWN),
            _check("a", at(d3, 1), Outcome.UP),
            _check("b", at(d2, 0), Outcome.UP),
            _check("c", at(d3, 0), Outcome.DEGRADED),
            _check("c", at(d3, 1), Outcome.DOWN),
            _check("c", at(today, 0), Outcome.UP),  # after ``until``
        ]
    )
    # per service, four integers a day: offset from d1, good, counted, flags (checks 1,
    # degraded 2, down 4)
    expected = [
        ("a", [0, 2, 2, 1 | 2, 1, 0, 0, 1, 2, 1, 2, 1 | 4]),  # d2: maintenance only
        ("b", [1, 1, 1, 1]),
        ("c", [2, 1, 2, 1 | 2 | 4]),
    ]

    def listed(rows: list[tuple[str, Any]]) -> list[tuple[str, list[int]]]:
        return [(sid, list(days)) for sid, days in rows]

    assert listed(await store.daily_counts(d1, d3)) == expected
    pages, after = [], None
    while True:
        rows = await store.daily_counts(d1, d3, after=after, limit=2)
        pages.append(listed(rows))
        if len(rows) < 2:
            break
        after = rows[-1][0]
    assert [len(p) for p in pages] == [2, 1] and sum(pages, []) == expected
    assert listed(await store.daily_counts(d2, d2)) == [("a", [0, 0, 0, 1]), ("b", [0, 1, 1, 1])]
    # the default of another store (from daily_rollups) gives the same
    from slamon_daemon.store.base import Store

    assert listed(await Store.daily_counts(store, d1, d3)) == expected
    assert listed(await Store.daily_counts(store, d1, d3, after="a", limit=1)) == expected[1:2]


class _FixedClock:
    def __init__(self, now: datetime) -> None:
        self.t = now

    def now(self) -> datetime:
        return self.t


def test_history_merged_after_a_start_without_the_database() -> None:
    # issue 10: this run counted yesterday and today; the database held older days and
    # the same two days from before this run: days are summed, cells and uptimes as whole
    today = date(2026, 3, 2)  # across a month boundary: yesterday is Mar 1, then Feb 28
    state = LiveState(clock=_FixedClock(datetime(2026, 3, 2, 12, tzinfo=UTC)))
    state.set_services([_svc("a")])
    y = datetime(2026, 3, 1, 9, tzinfo=UTC)
    for i in range(3):
        state.apply(_check("a", y + timedelta(minutes=i), Outcome.UP))
    state.apply(_check("a", datetime(2026, 3, 2, 9, tzinfo=UTC), Outcome.UP))
    stored = [
        Rollup(service_id="a", day=date(2026, 2, 28), checks=10, up=10),
        Rollup(service_id="a", day=date(2026, 3, 1), checks=2, down=1, up=1),
        Rollup(service_id="a", day=today, checks=1, degraded=1, hist={120: 1}),
    ]
    state.merge_history(stored, {}, [])
    st = state.services["a"]
    cells, uptime = st.history(today)
    # Feb 28: 10 up; Mar 1: 4 up + 1 down (80 %: mo); Mar 2: 1 up + 1 degraded
    assert cells[-3:] == ["o", "mo", "degraded"]
    assert uptime == {"30": "94.11", "60": "94.11", "90": "94.11"}  # 16 of 17
    assert st.counts(date(2026, 3, 1), today) == (6, 7)  # March so far
    r = st.day_rollup(today)
    assert r is not None and (r.checks, r.up, r.degraded) == (2, 1, 1)
    assert sum(r.hist.values()) == 2 and r.hist[120] >= 1  # this run's and the stored one


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'slamon.db'}"
    return str(request.getfixturevalue("pg_url"))


async def test_status_get_shows_the_stored_history_as_before(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # end to end: 95 days in the database, a daemon started on it, status.get over its
    # socket: the 89 past cells and the uptimes as the whole rollups give them
    from slamon_daemon.store import open_store

    from .support import FeedClient, remove_dir, short_dir
    from .test_daemon import running, service, settings_for

    monkeypatch.setattr(daemon_mod, "BAR_PAGE", 2)  # two pages of services
    for k in [k for k in os.environ if k.upper().startswith("SLAMON_")]:
        monkeypatch.delenv(k)
    sock_dir = short_dir()
    try:
        settings = settings_for(
            tmp_path / "slamon.toml",
            db_url=db_url,
            socket=sock_dir / "s.sock",
            services=[service(s, f"http://127.0.0.1:9/{s}", interval="1h") for s in IDS],
        )
        today = datetime.now(UTC).date()
        async with open_store(db_url) as store:
            await store.migrate()
            await store.sync_services(settings.services)
            await store.write_batch(_history_checks(today))
            whole = await store.daily_rollups(today - timedelta(days=HISTORY_DAYS + 10))
        past = [r for r in whole if r.day < today]
        async with running(settings) as daemon:
            client = await FeedClient.connect(sock_dir / "s.sock")
            try:
                status = await client.result("status.get")
            finally:
                await client.close()
            for row in status["services"]:
                sid = row["id"]
                cells, _ = _reference(past, sid, today)
                assert row["daily"][:-1] == cells[:-1]
                # today: the stored rollup and any check of this run (the live one)
                live = daemon.state.services[sid].day_rollup(today)
                assert row["daily"][-1] == daily_status(live).value
                days = [r for r in past if r.service_id == sid] + ([live] if live else [])
                assert row["uptime"] == _reference(days, sid, today)[1]
    finally:
        remove_dir(sock_dir)


def test_past_days_beyond_16_bits() -> None:
    # a check a second in 2 regions: 172,800 checks a day, more than 16-bit counts hold
    from array import array

    from slamon_daemon.state import BarHistory

    today = date(2026, 7, 1)
    bars = BarHistory(today)
    since = today - timedelta(days=HISTORY_DAYS - 1)
    bars.add_counts(since, [("a", array("i", [87, 172_790, 172_800, 5, 88, 1440, 1440, 1]))])
    p = bars.past["a"]
    assert p.sums(since.toordinal(), today.toordinal()) == (174_230, 174_240)
    st = ServiceState(service=_svc("a"), past=p, settled=today.toordinal())
    cells, uptime = st.history(today)
    assert cells[-3:] == ["po", "o", "nd"]  # 172,790 of 172,800: 99.99 %
    assert uptime["30"] == "99.99"  # 174,230 of 174,240
    # and one more check on a 16-bit day already full
    small = BarHistory(today)
    small.add_counts(since, [("a", array("i", [88, 65_535, 65_535, 1]))])
    q = small.past["a"]
    q.add(today.toordinal() - 1, 1, 1, 1)
    assert q.sums(today.toordinal() - 1, today.toordinal() - 1) == (65_536, 65_536)
