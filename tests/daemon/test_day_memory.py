"""A day's memory at 50,000 services (issue 14 point 3, stop 23): what grows over a day of
checks every minute is kept in compact forms, and every figure read from them is the same.

* Today's latency histogram (the live state's ``DayHistogram``): a byte a bucket while its
  counts fit, copied wider before one would not.
* /metrics' latency histogram of a service: an array of 32-bit counts, not a list whose
  counts become int objects past 256; the text rendered is byte for byte the same as from
  the plain list and dict of the same checks.
* The SLO ledger's failure counts: sparse pairs while few (tests/daemon/alerts/
  test_burnrate_scale.py compares every window with the plain ledger).

Structure types and sizes are asserted, never timing.
"""

from __future__ import annotations

import random
from array import array
from datetime import UTC, datetime, timedelta

import pytest

from slamon_daemon.alerts.burnrate import SloLedger
from slamon_daemon.models import Check, ErrorKind, Outcome, Service
from slamon_daemon.rollup import bucket_of, percentile_of, rollup_deltas
from slamon_daemon.state import DayHistogram, LiveState
from slamon_daemon.web.metrics import (
    LATENCY_BUCKETS_S,
    LATENESS_BUCKETS_S,
    CheckCounters,
    DaemonSample,
    Histogram,
    ServiceSample,
    SlamonCollector,
    counts_array,
    make_registry,
    render_metrics,
)
from slamon_daemon.web.metrics_source import MetricsBook

T0 = datetime(2026, 11, 30, 22, tzinfo=UTC)  # two hours before midnight


def _day_of_checks(sid: str, n: int, seed: int, start: datetime = T0) -> list[Check]:
    """``n`` checks a minute apart from ``start`` (across midnight), every outcome, error
    kinds, latencies over ~150 buckets with a few far out."""
    rnd = random.Random(seed)
    out = []
    for k in range(n):
        outcome = rnd.choices(list(Outcome), weights=[90, 5, 5])[0]
        latency = rnd.choice(
            [20 * 1.02 ** rnd.randrange(150), 20.0, 0.0004, 45_000.0, rnd.random() * 10]
        )
        kind = None if outcome is Outcome.UP else rnd.choice([None, *ErrorKind])
        out.append(
            Check(
                sid,
                start + timedelta(seconds=60 * k + rnd.randrange(50)),
                latency,
                outcome,
                error_kind=kind,
                maintenance=rnd.random() < 0.03,
            )
        )
    return out


@pytest.mark.parametrize("seed", range(4))
def test_day_histogram_counts_as_a_dict(seed: int) -> None:
    rnd = random.Random(seed)
    h, ref = DayHistogram(), {}
    typecodes = []
    for _ in range(3000):
        b = rnd.randint(-300, 500)
        n = rnd.choice([1, 1, 1, 1, 200, 70_000, 5_000_000_000] if seed % 2 else [1, 1, 3, 250])
        h.add(b, n)
        ref[b] = ref.get(b, 0) + n
        if h.counts.typecode not in typecodes:
            typecodes.append(h.counts.typecode)
        assert h.as_dict() == ref
    assert typecodes[0] == "B" and typecodes[-1] == ("q" if seed % 2 else "H")
    assert typecodes == sorted(typecodes, key="BHIq".index)  # only ever wider


def test_a_first_bucket_too_large_for_a_byte() -> None:
    """A merged rollup's histogram (``_put_live``) can start with any count."""
    for n in (255, 256, 65_536, 2**40):
        h = DayHistogram()
        h.add(7, n)
        h.add(3)
        assert h.as_dict() == {7: n, 3: 1} and h.lo == 3


def test_todays_figures_equal_the_fold_of_its_checks_across_midnight() -> None:
    """The live state's day rollup (service.day: counts, latency figures, percentiles) at
    each hour from 22:00 to 02:00 against ``rollup_deltas`` of the same checks; hundreds
    of checks in a bucket, so its byte counts widen."""
    state = LiveState()
    state.set_services([Service(id="svc", name="svc", url="http://127.0.0.1/")])
    made = _day_of_checks("svc", 240, seed=3)
    made += [
        Check(
            "svc", datetime(2026, 12, 1, 1, 30, tzinfo=UTC) + timedelta(seconds=s), 20.0, Outcome.UP
        )
        for s in range(600)
    ]
    made.sort(key=lambda c: c.started_at)
    hours_seen = set()
    for k, c in enumerate(made):
        state.apply(c)
        nxt = made[k + 1].started_at if k + 1 < len(made) else None
        if nxt is not None and nxt.hour == c.started_at.hour:
            continue
        hours_seen.add(c.started_at.hour)
        day = c.started_at.date()
        st = state.services["svc"]
        live = st.day_rollup(day)
        (ref,) = [
            r for r in rollup_deltas([x for x in made[: k + 1] if x.started_at.date() == day])
        ]
        assert live is not None
        assert live.hist == ref.hist
        for p in (1, 50, 90, 95, 99, 99.9, 100):
            assert live.percentile(p) == ref.percentile(p)
        for f in ("checks", "up", "degraded", "down", "maintenance", "latency_count"):
            assert getattr(live, f) == getattr(ref, f), f
        assert (live.latency_sum_us, live.latency_min_ms, live.latency_max_ms) == (
            ref.latency_sum_us,
            ref.latency_min_ms,
            ref.latency_max_ms,
        )
    assert hours_seen == {22, 23, 0, 1}
    assert state.services["svc"].hist is not None
    assert state.services["svc"].hist.counts.typecode == "H"  # 600 checks in one bucket


def _plain_counters(checks: list[Check]) -> CheckCounters:
    """CheckCounters as before: the latency histogram's counts a plain list."""
    c = CheckCounters(latency=Histogram(LATENCY_BUCKETS_S))
    assert isinstance(c.latency.counts, list)
    for x in checks:
        kind = x.error_kind.value if x.error_kind else None
        c.record(x.outcome.value, kind, x.latency_ms / 1000.0)
    return c


def _text(counters: dict[str, CheckCounters]) -> bytes:
    samples = [
        ServiceSample(id=sid, name=sid, node="n1", status="operational", counters=c, uptime={})
        for sid, c in counters.items()
    ]
    daemon = DaemonSample(node="n1", lateness=Histogram(LATENESS_BUCKETS_S))
    return render_metrics(make_registry(SlamonCollector(lambda: samples, lambda: daemon)))


def test_metrics_text_is_the_same_as_from_plain_counts() -> None:
    """A day of checks of three services (latency buckets far past 256): /metrics' text
    from the book's compact counters, and from their copies, is byte for byte that of
    plain lists."""
    book = MetricsBook()
    made = {sid: _day_of_checks(sid, 1440, seed=i) for i, sid in enumerate(["a", "b", "c"])}
    for sid, checks in made.items():
        for x in checks:
            book.record(x)
        assert isinstance(book.counters[sid].latency.counts, array)
        assert max(book.counters[sid].latency.counts) > 256
    plain = {sid: _plain_counters(checks) for sid, checks in made.items()}
    expected = _text(plain)
    assert b'slamon_check_duration_seconds_bucket{le="+Inf"' in expected
    assert _text(book.counters) == expected
    assert _text({sid: c.copy() for sid, c in book.counters.items()}) == expected


def test_a_compact_histogram_widens_before_a_count_overflows() -> None:
    h = counts_array(LATENCY_BUCKETS_S)
    assert isinstance(h.counts, array) and h.counts.typecode == "I"
    h.counts[3] = 2**32 - 1
    h.observe(0.03)  # bucket 3 (≤ 0.05 s)
    assert h.counts.typecode == "q" and h.counts[3] == 2**32
    h.observe(0.03)
    assert h.counts[3] == 2**32 + 1 and sum(h.counts) == 2**32 + 1


def test_a_day_leaves_compact_structures() -> None:
    """After a day of checks every minute (failures every 97th, latencies over ~110
    buckets, as bench/gc_pause.py), a service's growing parts are arrays of small
    counts: today's histogram in bytes, /metrics' histogram 4 B a count, the ledger's
    failures of the last 6 hours a few pairs."""
    state = LiveState()
    state.set_services([Service(id="s", name="s", url="http://127.0.0.1/")])
    ledger, book = SloLedger(), MetricsBook()
    start = datetime(2026, 12, 2, tzinfo=UTC)
    for k in range(1440):
        failed = k % 97 == 0
        at = start + timedelta(seconds=60 * k)
        c = Check("s", at, 20 * 1.02 ** ((k * 7) % 110), Outcome.DOWN if failed else Outcome.UP)
        state.apply(c)
        ledger.add(at, failed)
        book.record(c)
    hist = state.services["s"].hist
    assert hist is not None and hist.counts.typecode == "B" and len(hist.counts) <= 111
    counts = book.counters["s"].latency.counts
    assert isinstance(counts, array) and counts.itemsize == 4
    assert ledger._m_bad is not None and ledger._m_bad.typecode == "i"
    assert len(ledger._m_bad) <= 2 * 4
    assert bucket_of(20.0) in hist.as_dict()
    assert percentile_of(hist.as_dict(), 50, None, None) is not None
