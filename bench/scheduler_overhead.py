"""The scheduler's own cost per check, without probing: CPU per started check and memory.

    .venv/bin/python bench/scheduler_overhead.py --code old=DIR --code new=. \
        [--services 20000] [--interval 2] [--seconds 10] [--rounds 3]

Each measurement runs in its own process (uvloop when installed, as slamond) and imports
``slamon_daemon`` from the folder given with ``--code NAME=DIR`` (several run side by side,
their order alternating each round, so each meets the same machine load). The process
schedules ``--services`` services every ``--interval`` s with the daemon's defaults
(max_concurrency 500, per_host_concurrency 20; the services spread over 100 hosts) and a
``run_check`` that only sleeps 20 ms (a check in flight that costs nothing), and counts over
``--seconds`` after one interval of warm-up: checks started, the process's CPU per started
check, its peak RSS and the asyncio tasks alive at the end of the window. What is left is the
scheduler: the heap, starting a check, the concurrency bounds, the lateness figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, REPO, machine, wait_quiet  # noqa: E402


async def _measure(services: int, interval: float, seconds: float) -> dict[str, Any]:
    from slamon_daemon.models import Service
    from slamon_daemon.scheduler import Scheduler

    started = 0

    async def run_check(service: Service) -> None:
        nonlocal started
        started += 1
        await asyncio.sleep(0.02)

    sched = Scheduler(run_check)
    sched.set_services(
        [
            Service(f"s{i:06d}", f"s{i}", f"http://h{i % 100}.example/{i}", interval_s=interval)
            for i in range(services)
        ]
    )
    runner = asyncio.create_task(sched.run())
    await asyncio.sleep(interval)  # warm-up: every service has its slot
    gc.collect()
    n0, c0, t0 = started, time.process_time(), time.perf_counter()
    tasks_max = 0
    while time.perf_counter() - t0 < seconds:
        await asyncio.sleep(0.25)
        tasks_max = max(tasks_max, len(asyncio.all_tasks()))
    n, cpu = started - n0, time.process_time() - c0
    wall = time.perf_counter() - t0
    stats = sched.lateness()
    sched.stop()
    await asyncio.wait_for(runner, 30)
    return {
        "checks": n,
        "rate": n / wall,
        "cpu_us": 1e6 * cpu / max(1, n),
        "core": cpu / wall,
        "tasks_max": tasks_max,
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "p99_s": stats.p99,
        "skipped": stats.skipped,
    }


def _child(args: argparse.Namespace) -> None:
    import slamon_daemon

    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency where it installs
        runner = asyncio.run
    result = runner(_measure(args.services, args.interval, args.seconds))
    result["code"] = str(Path(slamon_daemon.__file__).resolve().parent)
    print(json.dumps(result), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--code", action="append", default=[], help="NAME=DIR (default new=repo)")
    p.add_argument("--services", type=int, default=20_000)
    p.add_argument("--interval", type=float, default=2.0)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    codes = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.code]
    codes = codes or [("new", REPO)]
    m = machine()
    print(f"machine: nproc={m['nproc']}, cpu={m['cpu']!r}, Python {m['python']}")
    print(f"loadavg at start: {Path('/proc/loadavg').read_text().strip()}")
    print(
        f"{args.services:,} services every {args.interval:g} s "
        f"({args.services / args.interval:,.0f} checks/s offered), {args.seconds:g} s a run"
    )
    cpu: dict[str, list[float]] = {}
    for rnd in range(args.rounds):
        for name, code in codes if rnd % 2 == 0 else list(reversed(codes)):
            wait_quiet(max_wait=60)
            cmd = [PYTHON, __file__, "--child", "--services", str(args.services)]
            cmd += ["--interval", str(args.interval), "--seconds", str(args.seconds)]
            env = {**os.environ, "PYTHONPATH": str(code)}
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise SystemExit(f"child failed ({code}):\n{out.stderr}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            cpu.setdefault(name, []).append(r["cpu_us"])
            print(
                f"round {rnd + 1} {name:5}: {r['rate']:8,.0f} checks/s started, "
                f"{r['cpu_us']:5.1f} µs CPU/check ({100 * r['core']:.0f} % of a core), "
                f"tasks alive at most {r['tasks_max']:,}, peak RSS {r['rss_mib']:.0f} MiB, "
                f"lateness p99 {r['p99_s'] * 1000:.0f} ms, skipped {r['skipped']} [{r['code']}]",
                flush=True,
            )
    print(f"loadavg at end: {Path('/proc/loadavg').read_text().strip()}")
    medians = {name: statistics.median(v) for name, v in cpu.items()}
    print(
        "median µs CPU per started check: " + " | ".join(f"{k} {v:.1f}" for k, v in medians.items())
    )


if __name__ == "__main__":
    main()
