"""How long a full garbage collection takes over a node's live state after an hour, and
how much memory that state takes (issue 14 point 3, issue 15).

    .venv/bin/python bench/gc_pause.py [--services 10000]
    PYTHONPATH=/tmp/base .venv/bin/python bench/gc_pause.py   # another tree's code

A daemon freezes what its start built (``gc.freeze()``); what it keeps afterwards is walked
by every full collection. This builds, with the real classes, what an hour of checks every
60 s leaves: a ``LiveState`` whose services each hold ``SPARKLINE_POINTS`` recent checks
(every node of a cluster folds every node's checks) and an SLO ledger per service fed the
same checks. It prints the memory they take (tracemalloc) and the objects the collector
tracks, then times collections of each generation (``--rounds`` each: median and max).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

from slamon_daemon.alerts.burnrate import SloLedger  # noqa: E402
from slamon_daemon.models import Check, Outcome, Service  # noqa: E402
from slamon_daemon.state import SPARKLINE_POINTS, LiveState  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
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
    state = LiveState()
    state.set_services(services)
    ledgers = {s.id: SloLedger() for s in services}
    at_start = tracemalloc.get_traced_memory()[0]
    t = datetime(2026, 12, 2, tzinfo=UTC)
    for k in range(SPARKLINE_POINTS):
        for i, s in enumerate(services):
            at = t + timedelta(seconds=60 * k + i * 60 / n)
            failed = (i + k) % 97 == 0
            state.apply(
                Check(
                    service_id=s.id,
                    started_at=at,
                    latency_ms=1.2 + (i % 50) / 7,
                    outcome=Outcome.DOWN if failed else Outcome.UP,
                    status_code=500 if failed else 200,
                    node="bench",
                )
            )
            ledgers[s.id].add(at, failed)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(
        f"{n} services x {SPARKLINE_POINTS} checks: live state and SLO ledgers "
        f"{size / 2**20:.1f} MiB ({at_start / 2**20:.1f} MiB before the first check), "
        f"{size / n / 1024:.2f} KiB a service; {len(gc.get_objects()):,} objects tracked"
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


if __name__ == "__main__":
    main()
