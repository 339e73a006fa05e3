"""A start's past days of the bar read faster (issue 14 point 3, startup under 10 s with 50,000
services and 89 days on PostgreSQL): the pages of named services read side by side and the
packed days taken as 16-bit halves give the same ``PastDays`` (so the same cells, uptimes and
windows) as the keyset pages read one after the other and the days added one by one; the
config's services are stored as before without parsing their settings twice."""

from __future__ import annotations

import dataclasses
import random
from array import array
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

import slamon_daemon.daemon as daemon_mod
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Service
from slamon_daemon.rollup import Rollup
from slamon_daemon.state import HISTORY_DAYS, BarHistory, LiveState, PastDays
from slamon_daemon.store.dialects.base import ROLLUP_COLUMNS
from slamon_daemon.store.sql import rollup_values

# Ids whose order differs between byte order and a linguistic collation (PostgreSQL's
# database default may be either).
IDS = ("A-1", "a", "a.b", "B", "b-2", "_x", "c", "C10", "c9", "d", "e", "Z", "zz")
UNKNOWN = ("0-gone", "b-gone", "zzz-gone")  # days of services no longer stored: not read


def _svc(sid: str) -> Service:
    return Service(id=sid, name=sid, url=f"http://127.0.0.1:9/{sid}", interval_s=60.0)


def _snapshot(p: PastDays) -> tuple[int, list[int], list[int], bytes]:
    return p.first, list(p.good), list(p.counted), bytes(p.flags)


def _day_rollups(sid: str, n: int, today: date) -> list[Rollup]:
    """A varied history: gaps, failures, maintenance, a day over 65,535 checks, one outside
    the bar."""
    out = []
    for age in range(1, HISTORY_DAYS + 3):
        k = (age * 5 + n * 3) % 13
        if k == 0 and n % 3:
            continue  # no row that day
        r = Rollup(service_id=sid, day=today - timedelta(days=age), checks=1440)
        if k == 1:
            r.down, r.up = 7, 1433
        elif k == 2:
            r.degraded, r.up = 40, 1400
        elif k == 3:
            r.maintenance = 1440
        elif k == 4 and n == 5:
            r.checks, r.up = 70_000, 69_990  # over 16 bits: the arrays widen
            r.down = 10
        else:
            r.up = 1440
        out.append(r)
    return out


async def _seed(store: Any, today: date) -> None:
    await store.sync_services([_svc(s) for s in IDS])
    rows = []
    for n, sid in enumerate((*IDS, *UNKNOWN)):
        for r in _day_rollups(sid, n, today):
            rows.append((sid, store.dialect.day(r.day), *rollup_values(r)))
    cols = ["service_id", "day", *ROLLUP_COLUMNS]
    async with store.dialect.transaction() as con:
        await con.executemany(
            f"INSERT INTO daily_rollups ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            rows,
        )


async def _serial(store: Any, today: date, page: int) -> BarHistory:
    """The start before: one keyset page after the other (``after`` + ``limit``)."""
    first = today - timedelta(days=HISTORY_DAYS - 1)
    bars, after = BarHistory(today), None
    while True:
        rows = await store.daily_counts(first, today - timedelta(days=1), after=after, limit=page)
        bars.add_counts(first, rows)
        if len(rows) < page:
            return bars
        after = rows[-1][0]


@pytest.mark.parametrize("page, readers", [(1, 2), (2, 2), (4, 3), (5, 1), (100, 2)])
async def test_pages_side_by_side_give_the_serial_past_days(
    store: Any, monkeypatch: pytest.MonkeyPatch, page: int, readers: int
) -> None:
    today = datetime.now(UTC).date()
    await _seed(store, today)
    monkeypatch.setattr(daemon_mod, "BAR_PAGE", page)
    monkeypatch.setattr(daemon_mod, "BAR_READERS", readers)
    services = await store.list_services()
    bars = await Daemon._bar_days(SimpleNamespace(store=store), today, services)  # type: ignore[arg-type]
    serial = await _serial(store, today, page)
    assert set(serial.past) == {*IDS, *UNKNOWN} and set(bars.past) == set(IDS)
    for sid in IDS:
        assert _snapshot(bars.past[sid]) == _snapshot(serial.past[sid]), sid
    # widened where a day held over 65,535 checks, as the serial read did
    assert bars.past[IDS[5]].good.typecode == serial.past[IDS[5]].good.typecode == "i"
    # and what users read through the live state is the same
    for source in (bars, serial):
        source.live = []
    a, b = LiveState(), LiveState()
    for s, bh in ((a, bars), (b, serial)):
        s.set_services(services)
        s.load_history(bh, {})
    for sid in IDS:
        assert a.services[sid].history(today) == b.services[sid].history(today)
        assert a.services[sid].history_json(today) == b.services[sid].history_json(today)
        first = today - timedelta(days=29)
        assert a.services[sid].counts(first, today) == b.services[sid].counts(first, today)


async def test_daily_counts_of_named_services(store: Any) -> None:
    today = datetime.now(UTC).date()
    await _seed(store, today)
    first, last = today - timedelta(days=HISTORY_DAYS - 1), today - timedelta(days=1)
    everything = dict(await store.daily_counts(first, last, limit=100))
    assert set(everything) == {*IDS, *UNKNOWN}
    named = [IDS[7], "no-days", IDS[0], UNKNOWN[1], IDS[12]]
    got = await store.daily_counts(first, last, service_ids=named)
    assert sorted(sid for sid, _ in got) == sorted([IDS[7], IDS[0], UNKNOWN[1], IDS[12]])
    for sid, days in got:  # the same days, in whatever order they came
        mine = sorted(tuple(days[k : k + 4]) for k in range(0, len(days), 4))
        theirs = sorted(tuple(everything[sid][k : k + 4]) for k in range(0, len(days), 4))
        assert mine == theirs and len(days) == len(everything[sid])
    assert await store.daily_counts(first, last, service_ids=[]) == []
    # the default of another store (from daily_rollups) names the same way
    from slamon_daemon.store.base import Store

    default = await Store.daily_counts(store, first, last, service_ids=named)
    assert sorted((s, list(d)) for s, d in default) == sorted(
        (s, list(everything[s])) for s, _ in got
    )


def _added_one_by_one(last: int, start: int, packed: list[int]) -> PastDays:
    p = PastDays(last)
    for k in range(0, len(packed), 4):
        p.add(start + packed[k], packed[k + 1], packed[k + 2], packed[k + 3])
    return p


def _packed(rng: random.Random, n: int, offset: int, *, big: bool, negative: bool) -> list[int]:
    out = []
    for d in range(n):
        good = rng.choice((0, 1, 1439, 1440, 65_535))
        counted = max(good, rng.choice((0, 1440, 65_535)))
        if big and d == n // 2:
            good, counted = 65_536 + d, 70_000 + d  # over 16 bits
        if negative and d == 1:
            counted = -3
        out += [offset + d, good, counted, rng.randrange(1, 8)]  # a stored day has checks: 1
    return out


@pytest.mark.parametrize("seed", range(30))
def test_packed_days_as_halves_equal_the_days_added_one_by_one(seed: int) -> None:
    rng = random.Random(seed)
    last = 740_000
    start = last - HISTORY_DAYS + 1
    n = rng.choice((1, 2, 45, 89, 90))
    offset = rng.randrange(0, HISTORY_DAYS - n + 1)
    packed = _packed(rng, n, offset, big=seed % 3 == 0, negative=seed % 7 == 0)
    fast = PastDays(last)
    fast.add_packed(start, array("i", packed))
    slow = _added_one_by_one(last, start, packed)
    assert _snapshot(fast) == _snapshot(slow)
    assert fast.good.typecode == slow.good.typecode  # widened exactly when a day needs it
    for threshold in (99.0, 98.5):
        for day in range(start, last + 1):
            assert fast.cell(day, threshold) == slow.cell(day, threshold)
    # a second service's packed days onto days already counted (a merge) take the slow path
    again = array("i", packed)
    fast.add_packed(start, again)
    for k in range(0, len(packed), 4):
        slow.add(start + packed[k], packed[k + 1], packed[k + 2], packed[k + 3])
    assert _snapshot(fast) == _snapshot(slow)


def test_packed_days_out_of_order_are_added_one_by_one() -> None:
    """PostgreSQL's aggregate of a named service's days follows the primary key unsorted:
    days in another order still land on their own days (the first and last offsets alone
    do not tell)."""
    last = 740_000
    start = last - HISTORY_DAYS + 1
    shuffled = [0, 5, 5, 1, 2, 7, 8, 5, 1, 6, 6, 1, 3, 9, 9, 1]  # offsets 0, 2, 1, 3
    p = PastDays(last)
    p.add_packed(start, array("i", shuffled))
    assert _snapshot(p) == _snapshot(_added_one_by_one(last, start, shuffled))
    assert list(p.good[:4]) == [5, 6, 7, 9] and bytes(p.flags[:4]) == b"\x01\x01\x05\x01"


def test_packed_days_onto_widened_arrays_and_with_gaps() -> None:
    last = 740_000
    start = last - HISTORY_DAYS + 1
    p = PastDays(last)
    p._widen()  # 32-bit already: 16-bit halves are converted to its type
    p.add_packed(start, array("i", [3, 10, 12, 1, 4, 11, 11, 1]))
    assert p.good.typecode == "i" and list(p.good[3:5]) == [10, 11]
    assert list(p.counted[3:5]) == [12, 11] and bytes(p.flags[3:5]) == b"\x01\x01"
    gaps = [0, 5, 5, 1, 2, 6, 7, 5]  # days 0 and 2: not in a row
    q = PastDays(last)
    q.add_packed(start, array("i", gaps))
    assert _snapshot(q) == _snapshot(_added_one_by_one(last, start, gaps))
    # days before the bar's first are dropped, as add does
    older = [-2, 5, 5, 1, -1, 5, 5, 1]
    r = PastDays(last)
    r.add_packed(start, array("i", older))
    assert _snapshot(r) == _snapshot(PastDays(last))


def _varied(n: int) -> list[Service]:
    out = []
    for i in range(n):
        out.append(
            Service(
                id=f"s-{i:03d}",
                name=f'Ünïcode "{i}" \\ {"é" * (i % 3)}',
                url=f"http://127.0.0.1:9/{i}?q=a&b=<{i}>",
                interval_s=30.0 + i % 7,
                timeout_s=2.5,
                expect_status=((200, 204), (301, 301)) if i % 2 else ((200, 299),),
                headers=(("X-Token", f"t{i}"),) if i % 3 else (),
                degraded_after_s=1.5 if i % 4 else None,
                sla_target=99.95 if i % 5 else None,
                tags=("a", "b") if i % 2 else (),
                active=True,
            )
        )
    return out


async def test_a_start_stores_the_config_and_parses_no_settings_twice(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first start inserts every service (PostgreSQL: in one statement) and reads them
    back without parsing their settings again; a restart with the same config parses no
    settings with json (PostgreSQL's reformatted jsonb: orjson compares them); a reload
    still sees a change."""
    import slamon_daemon.store.sql as sql_mod

    parsed = {"json": 0, "service": 0}
    loads, from_json = sql_mod.json.loads, sql_mod.service_from_json

    def counting_loads(text: Any, *a: Any, **k: Any) -> Any:
        parsed["json"] += 1
        return loads(text, *a, **k)

    def counting_from_json(*a: Any, **k: Any) -> Any:
        parsed["service"] += 1
        return from_json(*a, **k)

    monkeypatch.setattr(sql_mod.json, "loads", counting_loads)
    monkeypatch.setattr(sql_mod, "service_from_json", counting_from_json)
    services = _varied(40)
    first = await store.sync_services(services)
    assert sorted(first.added) == [s.id for s in services] and not first.updated
    listed = await store.list_services()
    assert listed == services and parsed == {"json": 0, "service": 0}
    assert all(a is b for a, b in zip(listed, services, strict=True))  # one Service each
    # a restart: a new process (nothing decoded yet), the same config
    store._decoded.clear()
    again = await store.sync_services(_varied(40))
    assert (again.added, again.updated, again.deactivated) == ([], [], [])
    assert parsed == {"json": 0, "service": 0}
    assert await store.list_services() == services and parsed["service"] == 0
    # a reload: one changed, one gone, one new; what is stored reads back the same
    changed = [*_varied(40)[1:], Service(id="new", name="n", url="http://127.0.0.1:9/n")]
    changed[3] = dataclasses.replace(changed[3], interval_s=5.0)
    result = await store.sync_services(changed)
    assert (result.added, result.updated, result.deactivated) == (
        ["new"],
        [changed[3].id],
        ["s-000"],
    )
    store._decoded.clear()
    assert await store.list_services() == sorted(changed, key=lambda s: s.id)
    inactive = [s for s in await store.list_services(include_inactive=True) if not s.active]
    assert [s.id for s in inactive] == ["s-000"]


def test_settings_compare_as_json_values() -> None:
    from slamon_daemon.store.sql import _same_json

    a = '{"b": [1, 2.5, "é"], "a": {"x": null, "y": true}}'
    assert _same_json(a, '{"a":{"y":true,"x":null},"b":[1,2.5,"\\u00e9"]}')
    assert not _same_json(a, '{"a": {"x": null, "y": false}, "b": [1, 2.5, "é"]}')
    assert not _same_json(a, '{"a": {"x": null, "y": true}, "b": [1, 2.5]}')
    assert not _same_json('{"n": 1}', '{"n": 1.5}')
    big = '{"n": 123456789012345678901234567890}'  # over 64 bits: json's parser
    assert _same_json(big, '{"n":123456789012345678901234567890}')
    assert not _same_json(big, '{"n": 123456789012345678901234567891}')
