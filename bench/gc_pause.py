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

A day's growth, old and new side by side (stop 23):

    .venv/bin/python bench/gc_pause.py --code old=/tmp/base --code new=. --sizes 5,60,1440 \
        [--services 200]

runs, for each tree (``PYTHONPATH``) and each K, a child that feeds K checks a service to
each part alone — the live state, the SLO ledgers, /metrics' book — and prints what each
takes a service (tracemalloc), then the growth from the first K to the last and its cost at
50,000 services.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
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


PARTS = ("state", "ledgers", "book")


def _check(s: Service, i: int, k: int, n: int, t: datetime) -> tuple[Check, bool]:
    """Service ``i``'s ``k``-th check: every 60 s from ``t``, spread over the minute, a
    failure every 97th, latencies over ~110 histogram buckets."""
    failed = (i + k) % 97 == 0
    check = Check(
        service_id=s.id,
        started_at=t + timedelta(seconds=60 * k + i * 60 / n),
        latency_ms=20 * 1.02 ** ((i * 37 + k * 7) % 110),
        outcome=Outcome.DOWN if failed else Outcome.UP,
        status_code=500 if failed else 200,
        node="bench",
    )
    return check, failed


def part_sizes(n: int, checks: int) -> dict[str, float]:
    """Bytes a service of each part alone after ``checks`` checks a service (tracemalloc)."""
    services = [
        Service(id=f"svc-{i:05d}", name=f"svc-{i:05d}", url=f"http://127.0.0.1/svc/{i}")
        for i in range(n)
    ]
    t = datetime(2026, 12, 2, tzinfo=UTC)
    out: dict[str, float] = {}
    for part in PARTS:
        gc.collect()
        tracemalloc.start()
        state = LiveState()
        state.set_services(services)
        ledgers = {s.id: SloLedger() for s in services}
        book = MetricsBook()
        before = tracemalloc.get_traced_memory()[0]
        for k in range(checks):
            for i, s in enumerate(services):
                check, failed = _check(s, i, k, n, t)
                if part == "state":
                    state.apply(check)
                elif part == "ledgers":
                    ledgers[s.id].add(check.started_at, failed)
                else:
                    book.record(check)
        del check
        out[part] = (tracemalloc.get_traced_memory()[0] - before) / n
        tracemalloc.stop()
        if part == "state":
            out["histogram"] = today_histogram_bytes(state, t.date())
    return out


def compare_sizes(codes: list[tuple[str, Path]], n: int, ks: list[int]) -> None:
    """The per-service sizes of each tree at each K, side by side, and the day's growth."""
    got: dict[tuple[str, int], dict[str, float]] = {}
    for k in ks:
        for name, code in codes:
            env = {**os.environ, "PYTHONPATH": str(code)}
            cmd = [
                sys.executable,
                __file__,
                "--part-sizes",
                "--services",
                str(n),
                "--checks",
                str(k),
            ]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise SystemExit(f"child failed ({code}):\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            got[name, k] = r
            print(
                f"K={k} {name:>4} [{r.pop('code')}]: "
                + ", ".join(f"{p} {r[p]:,.0f} B" for p in (*PARTS, "histogram")),
                flush=True,
            )
    names = [name for name, _ in codes]
    print(f"\nper service, {n} services, K checks every 60 s from midnight (B):")
    print("| K | " + " | ".join(f"{p} {nm}" for p in (*PARTS, "in all") for nm in names) + " |")
    print("|---" * (1 + len(names) * (len(PARTS) + 1)) + "|")

    def total(name: str, k: int) -> float:
        return sum(got[name, k][p] for p in PARTS)

    for k in ks:
        cells = [f"{got[nm, k][p]:,.0f}" for p in PARTS for nm in names]
        cells += [f"{total(nm, k):,.0f}" for nm in names]
        print(f"| {k:,} | " + " | ".join(cells) + " |")
    first, last = ks[0], ks[-1]
    for nm in names:
        grow = total(nm, last) - total(nm, first)
        parts = ", ".join(f"{p} {got[nm, last][p] - got[nm, first][p]:+,.0f}" for p in PARTS)
        print(
            f"{nm}: K={first} → {last}: {grow / 1024:+.2f} KiB a service ({parts} B); "
            f"× 50,000 = {grow * 50_000 / 2**20:+.0f} MiB; at K={last} "
            f"{total(nm, last) / 1024:.2f} KiB a service = {total(nm, last) * 50_000 / 2**20:.0f} MiB"
        )
    if len(names) == 2:
        a, b = names
        ratio = (total(b, last) - total(b, first)) / (total(a, last) - total(a, first))
        print(f"growth {b}/{a}: {ratio:.2f}")


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
    ap.add_argument("--code", action="append", default=[], help="NAME=DIR (with --sizes)")
    ap.add_argument("--sizes", help="K,K,...: each part's size a service, per tree (--code)")
    ap.add_argument("--part-sizes", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.part_sizes:
        import slamon_daemon

        r: dict[str, Any] = dict(part_sizes(args.services, args.checks))
        r["code"] = str(Path(slamon_daemon.__file__).resolve().parent.parent)
        print(json.dumps(r))
        return
    if args.sizes:
        C.print_machine()
        codes = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.code]
        compare_sizes(
            codes or [("new", C.REPO)], args.services, [int(k) for k in args.sizes.split(",")]
        )
        return
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
            check, failed = _check(s, i, k, n, t)
            state.apply(check)
            ledgers[s.id].add(check.started_at, failed)
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
