"""status.get's own cost when every service changed since the last call (an alert storm).

    .venv/bin/python bench/status_storm.py [--services 1000] [--calls 12]
        [--code old=DIR --code new=DIR] [--rounds 2]

In one process per code tree (``PYTHONPATH=DIR``, alternating their order each round): a live
state (state.LiveState) of ``--services`` services with 90 days of daily rollups (4 checks a
day) and 60 recent checks each, as the daemon holds after its warm start. Each call first
folds one new check into every service (half the calls fail them all: status transitions,
outage episodes), then times ``status_json`` (the status.get handler's reply, per-service
parts included) and ``protocol.encode_reply``: wall and CPU, medians. Also the time of one
full garbage collection of that process, before and after ``gc.freeze()`` (slamond freezes
what its warm start read).

No socket and no client: bench/read_paths.py and bench/alerts_latency.py time the call end
to end. Target (issue 11): status.get under 50 ms p99 during a 1,000-service storm.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any


def child(n: int, calls: int) -> dict[str, Any]:
    import slamon_daemon
    from slamon_daemon.api.status import ServiceFragments, status_json
    from slamon_daemon.clock import SystemClock
    from slamon_daemon.models import Check, Outcome, Service
    from slamon_daemon.protocol import encode_reply
    from slamon_daemon.state import LiveState

    rng = random.Random(1)
    live = LiveState()
    services = [
        Service(id=f"svc-{i:04d}", name=f"Service {i}", url=f"http://127.0.0.1:9/s/{i}")
        for i in range(n)
    ]
    live.set_services(services)
    now = datetime.now(UTC)
    for s in services:
        st = live.services[s.id]
        for k in range(90 * 4):
            at = now - timedelta(hours=6 * k)
            st.add_to_day(Check(s.id, at, rng.lognormvariate(3.2, 0.4), Outcome.UP, 200))
        for k in range(60, 0, -1):
            out = Outcome.UP if rng.random() > 0.01 else Outcome.DEGRADED
            live.apply(Check(s.id, now - timedelta(minutes=k), rng.lognormvariate(3.2, 0.4), out))
    ctx = SimpleNamespace(
        clock=SystemClock(),
        live=live,
        settings=SimpleNamespace(node="bench"),
        notice=None,
        incidents=SimpleNamespace(active=[]),
        alerts=None,
    )
    fragments = ServiceFragments()
    size = len(encode_reply(1, status_json(ctx, fragments)))  # every part encoded once
    t0 = time.perf_counter()
    gc.collect()
    full_gc = time.perf_counter() - t0
    walls, cpus = [], []
    for k in range(1, calls + 1):
        at = now + timedelta(seconds=k)
        outcome = Outcome.DOWN if k % 2 else Outcome.UP
        for s in services:
            live.apply(Check(s.id, at, 20.0 + k % 7, outcome, None if k % 2 else 200))
        w, c = time.perf_counter(), time.process_time()
        encode_reply(k, status_json(ctx, fragments))
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    tracked = len(gc.get_objects())
    gc.freeze()
    t0 = time.perf_counter()
    gc.collect()
    frozen_gc = time.perf_counter() - t0
    walls.sort()
    cpus.sort()
    return {
        "code": str(Path(slamon_daemon.__file__).parent.parent),
        "reply_bytes": size,
        "wall_median_ms": walls[len(walls) // 2] * 1000,
        "wall_max_ms": walls[-1] * 1000,
        "cpu_median_ms": cpus[len(cpus) // 2] * 1000,
        "full_gc_ms": full_gc * 1000,
        "full_gc_frozen_ms": frozen_gc * 1000,
        "tracked_objects": tracked,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--calls", type=int, default=12)
    ap.add_argument("--code", action="append", default=[], metavar="NAME=DIR")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.services, args.calls)))
        return
    codes = [tuple(c.split("=", 1)) for c in args.code] or [("this", "")]
    print(f"machine: nproc={os.cpu_count()}, load average {os.getloadavg()}")
    for rnd in range(args.rounds):
        for name, code in codes if rnd % 2 == 0 else codes[::-1]:
            env = {**os.environ, **({"PYTHONPATH": str(Path(code).resolve())} if code else {})}
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--services", str(args.services)]
                + ["--calls", str(args.calls)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"round {rnd + 1} {name:<5} status.get after a check of every one of "
                f"{args.services} services: wall median {r['wall_median_ms']:.1f} ms "
                f"(max {r['wall_max_ms']:.1f}), CPU median {r['cpu_median_ms']:.1f} ms; reply "
                f"{r['reply_bytes']:,} B; a full gc {r['full_gc_ms']:.0f} ms, after gc.freeze "
                f"{r['full_gc_frozen_ms']:.1f} ms ({r['tracked_objects']:,} objects)  [{r['code']}]"
            )


if __name__ == "__main__":
    main()
