"""How long a full garbage collection takes over a node's recent checks (issue 15).

    .venv/bin/python bench/gc_pause.py [--services 10000]

Every node of a cluster folds every node's checks, so each keeps the latest
``SPARKLINE_POINTS`` checks of every service: objects made after the start's
``gc.freeze()``, which a full collection walks. This builds that many checks as the
state's deques hold them and times a collection of each generation.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

from slamon_daemon.models import Check, Outcome  # noqa: E402
from slamon_daemon.state import SPARKLINE_POINTS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10_000)
    n = ap.parse_args().services
    C.print_machine()
    t = datetime(2026, 12, 2, tzinfo=UTC)
    recent: list[deque[Check]] = [deque(maxlen=SPARKLINE_POINTS) for _ in range(n)]
    gc.collect()
    gc.freeze()
    for k in range(SPARKLINE_POINTS):
        for i, d in enumerate(recent):
            d.append(
                Check(
                    service_id=f"s{i:05d}",
                    started_at=t + timedelta(seconds=k),
                    latency_ms=1.2,
                    outcome=Outcome.UP,
                    status_code=200,
                    node="eu-1",
                    region="eu",
                )
            )
    print(f"{n} services x {SPARKLINE_POINTS} recent checks: {len(gc.get_objects())} tracked")
    for generation in (0, 1, 2):
        t0 = time.perf_counter()
        gc.collect(generation)
        print(f"collection of generation {generation}: {time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()
