"""Uptime math, daily status of the 90-day bar, rollups and history windows (SPEC §3.4)."""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from slamon_daemon.models import Check, DailyStatus, ErrorKind, Outcome, Service
from slamon_daemon.rollup import (
    HIST_ERROR_BOUND,
    Rollup,
    bucket_value,
    daily_status,
    percentile_of,
    rollup_deltas,
    sum_rollups,
    uptime_percent_text,
    uptime_ratio,
)
from slamon_daemon.state import ServiceState

DAY = date(2025, 3, 31)
T0 = datetime(2025, 3, 31, 12, 0, tzinfo=UTC)


def chk(
    outcome: Outcome = Outcome.UP,
    *,
    at: datetime = T0,
    latency: float = 10.0,
    kind: ErrorKind | None = None,
    maintenance: bool = False,
    interval: float = 60.0,
    sid: str = "api",
) -> Check:
    if outcome is Outcome.DOWN and kind is None:
        kind = ErrorKind.TIMEOUT
    return Check(
        service_id=sid,
        started_at=at,
        latency_ms=latency,
        outcome=outcome,
        error_kind=kind,
        maintenance=maintenance,
        interval_s=interval,
    )


def rollup(
    up: int = 0, degraded: int = 0, down: int = 0, maintenance: int = 0, day: date = DAY
) -> Rollup:
    r = Rollup(service_id="api", day=day)
    at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=1)
    for _ in range(up):
        r.add(chk(Outcome.UP, at=at))
    for _ in range(degraded):
        r.add(chk(Outcome.DEGRADED, at=at))
    for _ in range(down):
        r.add(chk(Outcome.DOWN, at=at))
    for _ in range(maintenance):
        r.add(chk(Outcome.DOWN, at=at, maintenance=True))
    return r


# -- uptime % -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("up", "degraded", "checks", "maintenance", "text"),
    [
        (9999, 0, 10000, 0, "99.99"),
        (99999, 0, 100000, 0, "99.99"),  # 99.999 is truncated, not rounded up
        (10000, 0, 10000, 0, "100.00"),
        (1, 0, 3, 0, "33.33"),
        (2, 0, 3, 0, "66.66"),  # 66.666… truncated
        (1, 0, 7, 0, "14.28"),
        (0, 0, 5, 0, "0.00"),
        (5, 5, 10, 0, "100.00"),  # degraded answered correctly: it counts as up
        (4, 4, 10, 0, "80.00"),
        (9, 0, 20, 10, "90.00"),  # maintenance is excluded from the denominator
        (10, 0, 20, 10, "100.00"),
        (0, 0, 0, 0, "—"),  # no data
        (0, 0, 5, 5, "—"),  # only maintenance: no data that counts
    ],
)
def test_uptime_percent_text(
    up: int, degraded: int, checks: int, maintenance: int, text: str
) -> None:
    assert uptime_percent_text(up, degraded, checks, maintenance) == text


def test_uptime_is_never_100_when_anything_failed() -> None:
    for n in range(1, 200_001, 7):
        assert uptime_percent_text(n - 1, 0, n, 0) != "100.00", n
        assert uptime_percent_text(0, n - 1, n + 3, 3) != "100.00", n


def test_uptime_ratio() -> None:
    assert uptime_ratio(1, 1, 4, 0) == pytest.approx(0.5)
    assert uptime_ratio(3, 0, 6, 2) == pytest.approx(0.75)
    assert uptime_ratio(0, 0, 0, 0) is None
    assert uptime_ratio(0, 0, 3, 3) is None


# -- daily status -------------------------------------------------------------------------


def test_daily_status_no_data() -> None:
    assert daily_status(None) is DailyStatus.NO_DATA
    assert daily_status(Rollup(service_id="api", day=DAY)) is DailyStatus.NO_DATA
    assert DailyStatus.NO_DATA.value == "nd"


def test_daily_status_all_maintenance() -> None:
    assert daily_status(rollup(maintenance=5)) is DailyStatus.MAINTENANCE
    # Failures inside maintenance are not failures of the day.
    assert daily_status(rollup(up=5, maintenance=5)) is DailyStatus.OPERATIONAL


def test_daily_status_operational() -> None:
    assert daily_status(rollup(up=1440)) is DailyStatus.OPERATIONAL
    assert DailyStatus.OPERATIONAL.value == "o"


def test_one_failure_in_a_day_is_partial_not_major() -> None:
    r = rollup(up=1439, down=1)
    assert daily_status(r) is DailyStatus.PARTIAL_OUTAGE
    assert daily_status(r).value == "po"


@pytest.mark.parametrize(("up", "down"), [(99, 1), (990, 10), (297, 3), (9900, 100)])
def test_exactly_at_the_threshold_is_partial(up: int, down: int) -> None:
    assert daily_status(rollup(up=up, down=down)) is DailyStatus.PARTIAL_OUTAGE


@pytest.mark.parametrize(("up", "down"), [(98, 2), (9899, 101), (0, 1), (1, 1)])
def test_below_the_threshold_is_major(up: int, down: int) -> None:
    assert daily_status(rollup(up=up, down=down)) is DailyStatus.MAJOR_OUTAGE
    assert daily_status(rollup(up=up, down=down)).value == "mo"


def test_degraded_only_day_is_slow_not_an_outage() -> None:
    # Issue 12: a slow-but-correct day has its own cell ("degraded"), never "po".
    assert daily_status(rollup(up=1000, degraded=1)) is DailyStatus.DEGRADED
    assert daily_status(rollup(degraded=1440)) is DailyStatus.DEGRADED
    assert daily_status(rollup(degraded=1440)).value == "degraded"
    assert daily_status(rollup(up=1000, degraded=5, down=1)) is DailyStatus.PARTIAL_OUTAGE


def test_threshold_counts_degraded_as_up_and_ignores_maintenance() -> None:
    # 98 up + 1 degraded + 1 down of 100 counted (+50 in maintenance): 99.0 % -> po.
    assert (
        daily_status(rollup(up=98, degraded=1, down=1, maintenance=50))
        is DailyStatus.PARTIAL_OUTAGE
    )


def test_configurable_threshold() -> None:
    r = rollup(up=96, down=4)  # 96 %
    assert daily_status(r) is DailyStatus.MAJOR_OUTAGE
    assert daily_status(r, major_threshold=95.0) is DailyStatus.PARTIAL_OUTAGE
    assert daily_status(r, major_threshold=96.0) is DailyStatus.PARTIAL_OUTAGE
    assert daily_status(r, major_threshold=96.5) is DailyStatus.MAJOR_OUTAGE


# -- Rollup -------------------------------------------------------------------------------


def test_rollup_add_counts_everything() -> None:
    r = Rollup(service_id="api", day=DAY)
    r.add(chk(Outcome.UP, latency=10.0))
    r.add(chk(Outcome.DEGRADED, latency=900.0))
    r.add(chk(Outcome.DOWN, latency=5000.0, kind=ErrorKind.TIMEOUT, interval=30.0))
    r.add(chk(Outcome.DOWN, latency=2.0, kind=ErrorKind.CONNECTION_ERROR, interval=60.0))
    r.add(chk(Outcome.DOWN, latency=3.0, kind=ErrorKind.CONNECTION_ERROR, interval=60.0))
    r.add(
        chk(Outcome.DOWN, latency=4.0, kind=ErrorKind.HTTP_ERROR, maintenance=True, interval=60.0)
    )
    r.add(chk(Outcome.UP, latency=20.0, maintenance=True))
    assert (r.checks, r.up, r.degraded, r.down, r.maintenance) == (7, 1, 1, 3, 2)
    # Downtime is the intervals of the failed checks, maintenance excluded.
    assert r.downtime_s == pytest.approx(150.0)
    assert r.errors == {"timeout": 1, "connection_error": 2}
    # Latency figures describe the answered checks only (a timeout's latency is the timeout).
    assert r.latency_count == 3
    assert r.latency_min_ms == pytest.approx(10.0)
    assert r.latency_max_ms == pytest.approx(900.0)
    assert r.latency_avg_ms == pytest.approx(310.0)
    d = r.to_dict()
    assert d["day"] == "2025-03-31"
    assert d["uptime"] == "40.00"  # (1 up + 1 degraded) / (7 - 2 maintenance)
    assert d["latency_avg_ms"] == pytest.approx(310.0)
    assert d["errors"] == {"timeout": 1, "connection_error": 2}
    assert "hour" not in d


def test_rollup_of_failures_only_has_no_latency() -> None:
    r = rollup(down=3)
    assert r.latency_count == 0
    assert r.latency_avg_ms is None and r.latency_min_ms is None and r.percentile(95) is None
    assert r.to_dict()["p95_ms"] is None


def test_rollup_merge_equals_adding_all() -> None:
    checks = [
        chk(Outcome.UP, latency=7.0),
        chk(Outcome.DOWN, latency=50.0, kind=ErrorKind.DNS_ERROR),
        chk(Outcome.DEGRADED, latency=3.0),
        chk(Outcome.DOWN, latency=99.0, kind=ErrorKind.DNS_ERROR, interval=10.0),
        chk(Outcome.UP, latency=1.0, maintenance=True),
        chk(Outcome.UP, latency=123.456),
    ]
    whole = Rollup(service_id="api", day=DAY)
    a = Rollup(service_id="api", day=DAY)
    b = Rollup(service_id="api", day=DAY)
    for i, c in enumerate(checks):
        whole.add(c)
        (a if i % 2 else b).add(c)
    a.merge(b)
    assert a == whole  # every field, histogram and latency sum included, merges exactly

    # Merging an empty rollup changes nothing (its min/max are None).
    a.merge(Rollup(service_id="api", day=DAY))
    assert a == whole
    empty = Rollup(service_id="api", day=DAY)
    empty.merge(whole)
    assert empty == whole


def test_percentiles_are_nearest_rank_within_the_stated_bound() -> None:
    r = Rollup(service_id="api", day=DAY)
    latencies = [float(i) for i in range(1, 101)]  # 1 .. 100 ms
    for lat in latencies:
        r.add(chk(Outcome.UP, latency=lat))
    # Nearest rank: p50 of 1..100 is 50, p95 is 95, p99 is 99; p100 is the exact max.
    for p, exact in ((50, 50.0), (95, 95.0), (99, 99.0)):
        got = r.percentile(p)
        assert got is not None
        assert abs(got - exact) <= exact * HIST_ERROR_BOUND + 1e-9, (p, got)
    assert r.percentile(100) == 100.0
    assert r.percentile(1) == 1.0  # the exact min
    one = rollup(up=1)
    assert one.percentile(50) == one.latency_min_ms == one.percentile(99)


def test_percentiles_of_merged_rollups_match_one_rollup() -> None:
    whole = Rollup(service_id="api", day=DAY)
    parts = [Rollup(service_id="api", day=DAY) for _ in range(5)]
    for i in range(1000):
        c = chk(Outcome.UP, latency=1.0 + (i * 7919 % 1000) * 0.37)
        whole.add(c)
        parts[i % 5].add(c)
    total = sum_rollups(parts, "api", DAY)
    for p in (50, 95, 99):
        assert total.percentile(p) == whole.percentile(p)


def test_sum_rollups() -> None:
    total = sum_rollups(
        [rollup(up=3, day=DAY), rollup(down=1, day=DAY - timedelta(days=1))], "api", DAY
    )
    assert (total.checks, total.up, total.down, total.day) == (4, 3, 1, DAY)
    assert uptime_percent_text(total.up, total.degraded, total.checks, total.maintenance) == "75.00"


def test_rollup_deltas_by_utc_day_and_hour() -> None:
    checks = [
        chk(Outcome.UP, at=datetime(2025, 3, 30, 23, 59, 59, 999999, tzinfo=UTC)),
        chk(Outcome.DOWN, at=datetime(2025, 3, 31, 0, 0, tzinfo=UTC)),
        chk(Outcome.UP, at=datetime(2025, 3, 31, 0, 30, tzinfo=UTC)),
        chk(Outcome.UP, at=datetime(2025, 3, 31, 1, 0, tzinfo=UTC)),
        chk(
            Outcome.UP, at=datetime(2025, 3, 31, 3, 0, tzinfo=timezone(timedelta(hours=3)))
        ),  # 00:00Z
        chk(Outcome.UP, at=datetime(2025, 3, 31, 1, 0, tzinfo=UTC), sid="other"),
    ]
    daily = {(r.service_id, r.day, r.hour): r.checks for r in rollup_deltas(checks)}
    assert daily == {
        ("api", date(2025, 3, 30), None): 1,
        ("api", date(2025, 3, 31), None): 4,
        ("other", date(2025, 3, 31), None): 1,
    }
    hourly = {(r.service_id, r.day, r.hour): r.checks for r in rollup_deltas(checks, hourly=True)}
    assert hourly == {
        ("api", date(2025, 3, 30), 23): 1,
        ("api", date(2025, 3, 31), 0): 3,
        ("api", date(2025, 3, 31), 1): 1,
        ("other", date(2025, 3, 31), 1): 1,
    }


# -- ServiceState.history -------------------------------------------------------------------


def _state() -> ServiceState:
    return ServiceState(service=Service(id="api", name="API", url="http://127.0.0.1:1/"))


def _add(
    st: ServiceState, age: int, outcome: Outcome, n: int = 1, *, maintenance: bool = False
) -> None:
    at = datetime.combine(DAY - timedelta(days=age), datetime.min.time(), UTC) + timedelta(hours=6)
    for i in range(n):
        st.add_to_day(chk(outcome, at=at + timedelta(seconds=i), maintenance=maintenance))


def test_history_cells_and_windows() -> None:
    st = _state()
    _add(st, 0, Outcome.UP)
    _add(st, 29, Outcome.DOWN)
    _add(st, 30, Outcome.UP, 2)
    _add(st, 59, Outcome.DOWN)
    _add(st, 60, Outcome.UP, 5)
    _add(st, 89, Outcome.UP)
    _add(st, 89, Outcome.DOWN, maintenance=True)
    _add(st, 90, Outcome.DOWN, 100)  # outside the 90 days: must not count anywhere

    cells, uptime = st.history(DAY)
    assert len(cells) == 90
    expected = ["nd"] * 90
    for age, cell in {0: "o", 29: "mo", 30: "o", 59: "mo", 60: "o", 89: "o"}.items():
        expected[89 - age] = cell
    assert cells == expected
    # 30 days (ages 0..29): 1 up, 1 down.
    # 60 days (ages 0..59): 3 up, 2 down.
    # 90 days (ages 0..89): 9 up, 2 down, 1 maintenance excluded.
    assert uptime == {"30": "50.00", "60": "60.00", "90": "81.81"}
    assert DAY - timedelta(days=90) not in st.days  # pruned from memory


def test_history_without_data() -> None:
    cells, uptime = _state().history(DAY)
    assert cells == ["nd"] * 90
    assert uptime == {"30": "—", "60": "—", "90": "—"}


def test_history_sees_new_checks_today_and_late_checks_for_past_days() -> None:
    st = _state()
    _add(st, 1, Outcome.UP, 3)
    cells, uptime = st.history(DAY)
    assert cells[-2:] == ["o", "nd"] and uptime["30"] == "100.00"
    _add(st, 0, Outcome.DOWN)  # today
    cells, uptime = st.history(DAY)
    assert cells[-1] == "mo" and uptime["30"] == "75.00"
    _add(st, 1, Outcome.DEGRADED)  # a late check for yesterday: the cached past is recomputed
    cells, uptime = st.history(DAY)
    assert cells[-2] == "degraded" and uptime["30"] == "80.00"  # slow, not an outage
    # The next day the window moves by one cell.
    cells, _ = st.history(DAY + timedelta(days=1))
    assert cells[-3:] == ["degraded", "mo", "nd"]


def test_utc_day_boundaries() -> None:
    st = _state()
    last_ms = datetime(2025, 3, 30, 23, 59, 59, 999000, tzinfo=UTC)
    midnight = datetime(2025, 3, 31, 0, 0, 0, tzinfo=UTC)
    st.add_to_day(chk(Outcome.DOWN, at=last_ms))
    st.add_to_day(chk(Outcome.UP, at=midnight))
    # (up + degraded, checks - maintenance) of each day
    assert st.counts(date(2025, 3, 30), date(2025, 3, 30)) == (0, 1)
    assert st.counts(date(2025, 3, 31), date(2025, 3, 31)) == (1, 1)
    cells, _ = st.history(date(2025, 3, 31))
    assert cells[-2:] == ["mo", "o"]


def test_days_are_utc_whatever_the_timestamp_zone() -> None:
    st = _state()
    # 01:30 at UTC+02:00 is 23:30 UTC the day before.
    st.add_to_day(
        chk(Outcome.UP, at=datetime(2025, 3, 31, 1, 30, tzinfo=timezone(timedelta(hours=2))))
    )
    assert list(st.days) == [date(2025, 3, 30)]


def _naive_percentile(hist: dict[int, int], p: float, lo: float, hi: float) -> float | None:
    """The nearest-rank rule written out over every latency, one by one (for the test)."""
    values = sorted(b for b, n in hist.items() for _ in range(n))
    if not values:
        return None
    rank = max(1, math.ceil(p / 100 * len(values)))
    if rank >= len(values):
        return hi
    if rank == 1:
        return lo
    return min(max(bucket_value(values[rank - 1]), lo), hi)


@pytest.mark.parametrize("seed", range(40))
def test_percentile_matches_the_rule_over_every_latency(seed: int) -> None:
    rng = random.Random(seed)
    hist = {rng.randint(-5, 400): rng.randint(1, 9) for _ in range(rng.randint(0, 60))}
    lo, hi = 0.5, 5000.0
    for p in (1, 50, 95, 99, 99.9, 100):
        assert percentile_of(hist, p, lo, hi) == _naive_percentile(hist, p, lo, hi)


@pytest.mark.parametrize("seed", range(40))
def test_percentile_skips_empty_buckets_in_either_half(seed: int) -> None:
    # Buckets with a count of 0 (a stored object may hold one) between and around the
    # others: the upper half walks down from the largest bucket, the lower half sums up.
    rng = random.Random(1000 + seed)
    hist = {rng.randint(0, 300): rng.choice([0, 0, 1, 2, 7]) for _ in range(rng.randint(1, 80))}
    for p in (1, 10, 49.9, 50, 50.1, 75, 95, 99, 100):
        assert percentile_of(hist, p, 0.5, 5000.0) == _naive_percentile(hist, p, 0.5, 5000.0)


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        ('{"12":3,"15":1}', {12: 3, 15: 1}),
        ('{"12":3,"15":1,"12":1}', {12: 4, 15: 1}),  # appended by the writer: keys repeat
        ('{"-348":2,"7":1,"-348":5,"7":1,"9":0}', {-348: 7, 7: 2, 9: 0}),
        ('{ "12" : 3, "15" : 1 }', {12: 3, 15: 1}),  # PostgreSQL's json_object_agg spacing
        ("{}", {}),
        ("", {}),
    ],
)
def test_stored_histograms_are_read_with_repeated_keys_added(
    text: str, counts: dict[int, int]
) -> None:
    got = Rollup.hist_from_json(text)
    assert got == counts
    assert got == {int(k): v for k, v in _regex_counts(text).items()}


def _regex_counts(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for k, v in re.findall(r'"([^"]*)"\s*:\s*(-?\d+)', text):
        out[k] = out.get(k, 0) + int(v)
    return out


def test_a_remembered_histogram_is_a_new_dict_at_each_read() -> None:
    text = '{"12":3,"15":1,"12":1}'
    first = Rollup.hist_from_json(text)
    first[12] = 1000  # a caller adding to it (Rollup.add, merge) changes its own copy only
    assert Rollup.hist_from_json(text) == {12: 4, 15: 1}
