"""How long a full garbage collection takes over a node's live state after an hour, and
how much memory that state takes (issue 14 point 3, issue 15).

    .venv/bin/python bench/gc_pause.py [--services 10000] [--history-days 89] [--checks 60]
    PYTHONPATH=/tmp/base .venv/bin/python bench/gc_pause.py   # another tree's code (cwd /tmp)

A daemon freezes what its start built (``gc.freeze()``); what it keeps afterwards is walked
by every full collection. This builds, with the real classes, what an hour of checks every
60 s leaves: a ``LiveState`` whose services each hold ``SPARKLINE_POINTS`` recent checks
(every node of a cluster folds every node's checks) and an SLO ledger per service fed the
same checks. It prints the memory they take (tracemalloc) and the objects the collector
tracks, then times collections of each generation (``--rounds`` each: median and max).

``--history-days N`` first loads N past days per service as a start loads them from the
database (their counts, no histogram: ``LiveState.load_history``; a ``BarHistory`` when the
code has one), so the figures are those of a daemon that has run N days (issue 14 point 3).
``--metrics`` feeds /metrics' book (``MetricsBook.record``) the same checks, as the daemon
does, so its counters and 24 hours count in the figures. ``--checks K`` checks per service (60: an hour; 1440: a whole day at 60 s, today's latency
histogram full), their latencies spread over ~110 histogram buckets as a real day's are.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

from slamon_daemon.alerts.burnrate import SloLedger  # noqa: E402
from slamon_daemon.models import Check, Outcome, Service  # noqa: E402
from slamon_daemon.rollup import Rollup  # noqa: E402
from slamon_daemon.state import SPARKLINE_POINTS, LiveState  # noqa: E402
from slamon_daemon.web.metrics_source import MetricsBook  # noqa: E402


def load_past_days(state: LiveState, services: list[Service], days: int, today: Any) -> None:
    """``days`` past days per service, as ``Daemon._bar_days`` reads them (no histogram)."""
    import slamon_daemon.state as S

    def rollups(s: Service) -> list[Rollup]:
        out = []
        for age in range(1, days + 1):
            r = Rollup(service_id=s.id, day=today - timedelta(days=age), checks=1440)
            r.up = 1440 - (age % 29 == 3)
            r.down = r.checks - r.up
            r.latency_count, r.latency_sum_us = r.up, r.up * 12_000
            r.latency_min_ms, r.latency_max_ms = 8.0, 60.0
            out.append(r)
        return out

    bar_history = getattr(S, "BarHistory", None)
    if bar_history is None:  # the code before issue 14 point 3: a list of rollups
        state.load_history([r for s in services for r in rollups(s)], {})
        return
    bars = bar_history(today)
    for s in services:
        bars.add_rollups(rollups(s))
    state.load_history(bars, {})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--history-days", type=int, default=0)
    ap.add_argument("--checks", type=int, default=SPARKLINE_POINTS)
    ap.add_argument(
        "--metrics",
        action="store_true",
        help="also feed /metrics' book (counters, latency histogram, 24 hours) the same checks",
    )
    args = ap.parse_args()
    n = args.services
    C.print_machine()
    services = [
        Service(id=f"svc-{i:05d}", name=f"svc-{i:05d}", url=f"http://127.0.0.1/svc/{i}")
        for i in range(n)
    ]
    gc.collect()
    gc.freeze()  # as the daemon does after its start
    tracemalloc.start()
    t = datetime(2026, 12, 2, tzinfo=UTC)
    state = LiveState()
    state.set_services(services)
    t0 = time.perf_counter()
    if args.history_days:
        load_past_days(state, services, args.history_days, t.date())
    loaded = tracemalloc.get_traced_memory()[0]
    load_s = time.perf_counter() - t0
    ledgers = {s.id: SloLedger() for s in services}
    book = MetricsBook() if args.metrics else None
    at_start = tracemalloc.get_traced_memory()[0]
    for k in range(args.checks):
        for i, s in enumerate(services):
            at = t + timedelta(seconds=60 * k + i * 60 / n)
            failed = (i + k) % 97 == 0
            check = Check(
                service_id=s.id,
                started_at=at,
                latency_ms=20 * 1.02 ** ((i * 37 + k * 7) % 110),
                outcome=Outcome.DOWN if failed else Outcome.UP,
                status_code=500 if failed else 200,
                node="bench",
            )
            state.apply(check)
            ledgers[s.id].add(at, failed)
            if book is not None:
                book.record(check)
    size = tracemalloc.get_traced_memory()[0]
    hist = today_histogram_bytes(state, t.date())
    tracemalloc.stop()
    print(
        f"{n} services, {args.history_days} past days loaded ({loaded / 2**20:.1f} MiB, "
        f"{loaded / n / 1024:.2f} KiB a service, in {load_s:.1f} s), then {args.checks} checks: "
        f"live state and SLO ledgers{' and /metrics book' if book else ''} {size / 2**20:.1f} MiB ({at_start / 2**20:.1f} MiB before "
        f"the first check), {size / n / 1024:.2f} KiB a service; today's latency histogram "
        f"{hist:,.0f} B a service; {len(gc.get_objects()):,} objects tracked"
    )
    for generation in (0, 1, 2):
        pauses = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            gc.collect(generation)
            pauses.append(time.perf_counter() - t0)
        print(
            f"collection of generation {generation}: median {statistics.median(pauses):.4f} s,"
            f" max {max(pauses):.4f} s ({args.rounds} rounds)"
        )


def today_histogram_bytes(state: LiveState, today: Any) -> float:
    """What today's latency histogram takes per service: the dict of ints of its rollup
    before issue 14 point 3 (with its keys and counts outside CPython's small-int cache), the
    ``DayHistogram`` (its object and array) after."""

    def own_int(x: int) -> int:
        return sys.getsizeof(x) if not -5 <= x <= 256 else 0

    total = 0
    sts = list(state.services.values())
    for st in sts:
        h = getattr(st, "hist", None)
        if h is not None and hasattr(h, "counts"):  # DayHistogram
            total += sys.getsizeof(h) + sys.getsizeof(h.counts)
        else:
            r = st.days.get(today)
            if r is not None:
                total += sys.getsizeof(r.hist)
                total += sum(own_int(b) + own_int(c) for b, c in r.hist.items())
    return total / max(1, len(sts))


if __name__ == "__main__":
    main()
