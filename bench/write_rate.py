"""Write rate of the store: checks and their rollups through ``write_batch``, as the writer
sends them (writer.py: transactions of at most ``batch_size`` checks, default 500).

Each measurement runs in its own process on a fresh database (a SQLite file in a temporary
folder, or a throw-away PostgreSQL database) and imports ``slamon_daemon`` from the folder
given with ``--code NAME=DIR``; several ``--code`` run side by side, alternating their order
each round, so an old and a new store meet the same machine load::

    rev=$(git rev-parse --short=12 main); d=/tmp/slamon-$rev
    mkdir -p $d && git archive main | tar -x -C $d && git rev-parse main > $d/.commit
    .venv/bin/python bench/write_rate.py --code old=$d --code new=. --backend both --rounds 3

Each process writes ``--checks`` checks of ``--services`` services, one round of every
service per interval (the times a daemon probing all of them would produce), in batches of
``--batch`` checks (and a run in batches of ``--small-batch``: a writer flushing a quiet
daemon every 0.5 s). Only the ``write_batch`` calls are timed. After the run the process
checks that every check is stored once and counted once in the daily rollups.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    PYTHON,
    REPO,
    busy_seconds,
    cpu_seconds,
    machine,
    pg_database,
    postgres_cpu,
    wait_quiet,
)


def _checks(services: int, count: int, start: datetime, spread: bool = False) -> list[Any]:
    """``count`` checks: each interval (60 s) every service once, 1 in 50 down. In service
    order, or with ``spread`` in the order of a stable hash of the id (the scheduler's
    phases: a daemon's batch holds services from all over the key order, so its rollup rows
    fall on pages all over their tables)."""
    import hashlib

    from slamon_daemon.models import Check, ErrorKind, Outcome

    order = [f"svc{k:04d}" for k in range(services)]
    if spread:
        order.sort(key=lambda sid: hashlib.blake2b(sid.encode(), digest_size=8).digest())
    out: list[Any] = []
    i = 0
    while len(out) < count:
        at = start + timedelta(seconds=60 * (i // services), microseconds=i % services)
        sid = order[i % services]
        if i % 50 == 7:
            out.append(Check(sid, at, 10_000.0, Outcome.DOWN, None, ErrorKind.TIMEOUT, "timeout"))
        else:
            out.append(Check(sid, at, 20.0 + (i % 97), Outcome.UP, 200, node="bench"))
        i += 1
    return out


async def _measure(
    db_url: str, services: int, count: int, batch: int, per_call: int = 1, spread: bool = False
) -> dict[str, Any]:
    """One run in this process: write ``count`` checks in batches (``per_call`` of them per
    ``write_batches`` call, as the writer hands a backlog; 1: ``write_batch``); returns the
    figures."""
    from slamon_daemon.models import Service
    from slamon_daemon.store import open_store

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(seconds=60 * (count // services + 1))
    checks = _checks(services, count, start, spread)
    async with open_store(db_url) as store:
        await store.migrate()  # PostgreSQL: also the partitions of yesterday .. 3 days ahead
        await store.sync_services(
            [Service(f"svc{k:04d}", f"svc{k:04d}", "http://127.0.0.1/") for k in range(services)]
        )
        cpu0, pg0, busy0 = cpu_seconds(os.getpid()), postgres_cpu(), busy_seconds()
        t0 = time.perf_counter()
        spent = 0.0
        step = batch * per_call
        for i in range(0, len(checks), step):
            part = checks[i : i + step]
            t = time.perf_counter()
            if per_call == 1:
                await store.write_batch(part)
            else:
                await store.write_batches([part[j : j + batch] for j in range(0, len(part), batch)])
            spent += time.perf_counter() - t
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(os.getpid()) - cpu0
        pg = postgres_cpu() - pg0 if db_url.startswith("postgres") else 0.0
        other = busy_seconds() - busy0 - cpu - pg
        stored = await store.count_checks()
        daily = sum(r.checks for r in await store.daily_rollups(start.date()))
    assert stored == count and daily == count, (stored, daily, count)
    return {
        "rows_per_s": count / spent,
        "seconds": spent,
        "cpu": cpu,
        "pg_cpu": pg,
        "other": max(0.0, other) / wall,
    }


async def _child(args: argparse.Namespace) -> None:
    import slamon_daemon

    if args.backend == "postgres":
        async with pg_database() as url:
            result = await _measure(
                url, args.services, args.checks, args.batch, args.per_call, args.spread
            )
    else:
        with tempfile.TemporaryDirectory(prefix="slamon-wr-") as d:
            result = await _measure(
                f"sqlite:///{d}/w.db",
                args.services,
                args.checks,
                args.batch,
                args.per_call,
                args.spread,
            )
    result["code"] = str(Path(slamon_daemon.__file__).resolve().parent)
    print(json.dumps(result), flush=True)


def _run_child(code: Path, backend: str, args: argparse.Namespace, batch: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    cmd = [PYTHON, __file__, "--child", "--backend", backend]
    cmd += ["--services", str(args.services), "--checks", str(args.checks), "--batch", str(batch)]
    cmd += ["--per-call", str(args.per_call)] + (["--spread"] if args.spread else [])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child failed ({code}, {backend}):\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--code", action="append", default=[], help="NAME=DIR (default new=repo)")
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--checks", type=int, default=30_000)
    p.add_argument("--batch", type=int, default=500, help="checks per write_batch (writer.py)")
    p.add_argument(
        "--per-call",
        type=int,
        default=1,
        help="batches per write_batches call (the writer hands up to 10 when behind); 1:"
        " write_batch",
    )
    p.add_argument(
        "--spread",
        action="store_true",
        help="services in the scheduler's hash order within each interval, not id order",
    )
    p.add_argument("--small-batch", type=int, default=20, help="0: no small-batch runs")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        asyncio.run(_child(args))
        return
    codes = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.code]
    codes = codes or [("new", REPO)]
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    batches = [args.batch] + ([args.small_batch] if args.small_batch else [])
    m = machine()
    print(f"machine: nproc={m['nproc']}, cpu={m['cpu']!r}, Python {m['python']}")
    print(f"loadavg at start: {Path('/proc/loadavg').read_text().strip()}")
    print(f"{args.checks:,} checks of {args.services:,} services per run; batches {batches}")
    figures: dict[tuple[str, str, int], list[float]] = {}
    cpu: dict[tuple[str, str, int], list[float]] = {}
    for rnd in range(args.rounds):
        order = codes if rnd % 2 == 0 else list(reversed(codes))
        for backend in backends:
            for batch in batches:
                for name, code in order:
                    wait_quiet(max_wait=60)
                    r = _run_child(code, backend, args, batch)
                    figures.setdefault((name, backend, batch), []).append(r["rows_per_s"])
                    per_check = 1e6 * (r["cpu"] + r["pg_cpu"]) / args.checks
                    cpu.setdefault((name, backend, batch), []).append(per_check)
                    print(
                        f"round {rnd + 1} {backend:8} batch {batch:4} {name:4}: "
                        f"{r['rows_per_s']:9,.0f} checks/s ({r['seconds']:.1f} s in write_batch, "
                        f"CPU: client {r['cpu']:.1f} s, PostgreSQL {r['pg_cpu']:.1f} s, other "
                        f"processes {100 * r['other']:.0f} % of a core) [{r['code']}]",
                        flush=True,
                    )
    print(f"loadavg at end: {Path('/proc/loadavg').read_text().strip()}")
    print("\nmedian checks/s over the rounds (CPU of the client and PostgreSQL per check):")
    for backend in backends:
        for batch in batches:
            row = [
                f"{name} {statistics.median(figures[(name, backend, batch)]):9,.0f}"
                f" ({statistics.median(cpu[(name, backend, batch)]):4.0f} µs)"
                for name, _ in codes
            ]
            first = statistics.median(figures[(codes[0][0], backend, batch)])
            last = statistics.median(figures[(codes[-1][0], backend, batch)])
            change = f"  ({100 * (last / first - 1):+.1f} %)" if len(codes) > 1 else ""
            print(f"  {backend:8} batch {batch:4}: " + " | ".join(row) + change)


if __name__ == "__main__":
    main()
