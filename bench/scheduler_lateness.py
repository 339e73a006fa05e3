"""Scheduler lateness: 10,000 services every 60 s for at least 3 minutes.

    .venv/bin/python bench/scheduler_lateness.py [--seconds 190] [--services 10000]
        [--interval 60] [--backend sqlite|postgres] [--profile] [--gc] [--history-days N]

The daemon runs as its own process (``python -m slamon_daemon --config FILE``, default
settings: max_concurrency 500, per_host_concurrency 20), so its CPU and RSS are its own; the
target runs in another process (nginx with 1 worker when /usr/sbin/nginx exists, else an
asyncio server from slamon_daemon.targets) and answers every service on its own path.

From the moment the daemon answers on its socket, for ``--seconds``, it samples the daemon's
CPU and RSS from /proc every second and daemon.stats every 10 s. At the end it reads the
start lateness (actual start - due slot; p50, p99, max, from daemon.stats), the skipped slots,
and compares the checks made with the slots that fell in the window (computed from the
scheduler's own phase formula), then stops the daemon and counts the stored rows.

``--history-days N`` first writes N past days of daily rollups (and the monthly rollups of
those days' months) for every service, bulk (one executemany in one transaction on SQLite,
COPY on PostgreSQL), so the daemon starts as one that has run that long: its RSS at ready
and startup time then include the 90-day bar's history (issue 14 point 3). Hourly rollups
are not seeded (only service.get reads them, never the start).

Targets (from the issue): p99 lateness < 1 s, no missed checks, RSS < 300 MB, CPU < 25 % of
one core.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

from slamon_daemon.scheduler import phase_of  # noqa: E402


def slots_between(ids: list[str], interval: float, a: float, b: float) -> int:
    """How many slots of these services fall in (a, b] (epoch seconds)."""
    n = 0
    for sid in ids:
        ph = phase_of(sid, interval)
        n += math.floor((b - ph) / interval) - math.floor((a - ph) / interval)
    return n


async def paced_httpx(port: int, rate: float, seconds: float) -> None:
    """Child mode: one shared AsyncClient, keep-alive off, ``rate`` GETs a second, evenly paced."""
    import json
    import resource

    import httpx

    client = httpx.AsyncClient(
        limits=httpx.Limits(max_keepalive_connections=0, max_connections=None),
        trust_env=False,
        timeout=httpx.Timeout(10.0),
    )
    done = {"ok": 0, "failed": 0}
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int) -> None:
        try:
            r = await client.get(f"http://127.0.0.1:{port}/paced/{i % 10000}")
            done["ok" if r.status_code == 200 else "failed"] += 1
        except httpx.HTTPError:
            done["failed"] += 1

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    k = 0
    while k / rate < seconds:
        delay = t0 + k / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = asyncio.create_task(one(k))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
        k += 1
    await asyncio.gather(*tasks)
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    await client.aclose()
    print(json.dumps({"requests": k, **done, "cpu_s": cpu, "wall_s": wall}))


def run_baseline(target: C.TargetProc, rate: float, seconds: float) -> dict[str, Any]:
    import json
    import subprocess

    out = subprocess.run(
        [C.PYTHON, __file__, "--child-paced", str(target.port), str(rate), str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


GC_PROBE = Path(__file__).resolve().parent / "gc_probe"


def gc_figures(path: Path, a: float, b: float) -> dict[str, Any]:
    """The daemon's collections between ``a`` and ``b`` (epoch s) from the probe's file:
    per generation the count, the CPU in all and in the longest."""
    import json

    runs = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    out: dict[str, Any] = {}
    for gen in (0, 1, 2):
        cpu = [c for t, g, c in runs if g == gen and a <= t <= b]
        out[str(gen)] = {"count": len(cpu), "cpu_s": sum(cpu), "max_s": max(cpu, default=0.0)}
    return out


def config(
    folder: Path,
    db_url: str,
    target: C.TargetProc,
    ids: list[str],
    interval: float,
    per_host: int | None = None,
) -> str:
    head = (
        f'[daemon]\ndatabase_url = "{db_url}"\nsocket = "{folder / "slamon.sock"}"\n'
        f'spool_dir = "{folder / "spool"}"\nnode = "bench"\nlog_level = "INFO"\n'
        + (f"per_host_concurrency = {per_host}\n" if per_host else "")
        + "\n"
    )
    return head + "".join(
        C.service_toml(sid, f"{target.url}svc/{sid}", f"{interval:g}s", "10s") for sid in ids
    )


def history_rows(
    ids: list[str], days: int, today: Any
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Daily and monthly rollup rows (service_id, day, *ROLLUP_COLUMNS) of ``days`` past days
    before ``today`` for every service: a check a minute, a day in 29 with failures (a few
    below 99 %), one in 31 with slow checks, one in 97 all maintenance; a small histogram
    (the start does not read it)."""
    from datetime import timedelta

    from slamon_daemon.rollup import Rollup
    from slamon_daemon.store.sql import rollup_values

    def day_values(k: int) -> tuple[Any, ...]:
        r = Rollup(service_id="", day=today)
        r.checks = 1440
        if k % 97 == 5:
            r.maintenance, r.maintenance_s = 1440, 86400.0
        elif k % 29 == 3:
            r.down = 3 + 20 * (k % 2)  # 3 failures: po; 23: mo (98.4 %)
            r.up = 1440 - r.down
            r.downtime_s = 60.0 * r.down
            r.errors = {"timeout": r.down}
        elif k % 31 == 7:
            r.degraded, r.up = 40, 1400
        else:
            r.up = 1440
        r.latency_count = r.up + r.degraded
        r.latency_sum_us = r.latency_count * 12_000
        r.latency_min_ms, r.latency_max_ms = 8.0, 60.0
        r.hist = {104: r.latency_count // 2, 126: r.latency_count - r.latency_count // 2}
        return rollup_values(r)

    daily: list[tuple[Any, ...]] = []
    months: dict[tuple[str, Any], Rollup] = {}
    for n, sid in enumerate(ids):
        for i in range(1, days + 1):
            day = today - timedelta(days=i)
            values = day_values(n + i)
            daily.append((sid, day, *values))
            m = months.get((sid, day.replace(day=1)))
            if m is None:
                m = months[(sid, day.replace(day=1))] = Rollup(service_id=sid, day=day)
            m.checks += values[0]
            m.up += values[1]
            m.degraded += values[2]
            m.down += values[3]
            m.maintenance += values[4]
            m.downtime_s += values[5]
            m.latency_count += values[6]
            m.latency_sum_us += values[7]
            m.maintenance_s += values[12]
    monthly = [(sid, day, *rollup_values(m)) for (sid, day), m in months.items()]
    return daily, monthly


async def seed_history(db_url: str, ids: list[str], days: int) -> None:
    """Write ``days`` past days of rollups for every service (``history_rows``), in bulk."""
    from datetime import UTC, datetime

    from slamon_daemon.store import open_store
    from slamon_daemon.store.dialects.base import ROLLUP_COLUMNS

    t0 = time.perf_counter()
    today = datetime.now(UTC).date()
    async with open_store(db_url) as store:
        await store.migrate()
    daily, monthly = history_rows(ids, days, today)
    cols = ["service_id", "day", *ROLLUP_COLUMNS]
    if db_url.startswith("sqlite:"):
        import sqlite3

        con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        try:
            with con:
                for table, rows in (("daily_rollups", daily), ("monthly_rollups", monthly)):
                    con.executemany(
                        f"INSERT INTO {table} ({', '.join(cols)})"
                        f" VALUES ({', '.join('?' * len(cols))})",
                        [(r[0], r[1].isoformat(), *r[2:]) for r in rows],
                    )
        finally:
            con.close()
    else:
        import asyncpg

        con = await asyncpg.connect(db_url)
        try:
            for table, rows in (("daily_rollups", daily), ("monthly_rollups", monthly)):
                await con.copy_records_to_table(table, records=rows, columns=cols)
            await con.execute("ANALYZE daily_rollups")
        finally:
            await con.close()
    print(
        f"seeded {days} past days for {len(ids)} services: {len(daily):,} daily and "
        f"{len(monthly):,} monthly rollups in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )


async def run(
    args: argparse.Namespace, db_url: str, folder: Path, target: C.TargetProc
) -> dict[str, Any]:
    ids = [f"svc-{i:05d}" for i in range(args.services)]
    if args.history_days:
        await seed_history(db_url, ids, args.history_days)
    cfg = folder / "slamon.toml"
    cfg.write_text(
        config(folder, db_url, target, ids, args.interval, args.per_host_concurrency),
        encoding="utf-8",
    )
    d = C.DaemonProc(folder, cfg, folder / "slamon.sock")
    if args.memory:
        d.wrapper = [str(C.HERE / "_memprobe.py"), str(folder / "memory.txt")]
        d.wrapper += ["--trace"] if args.memory == "trace" else []
    C.wait_quiet()
    t_launch = time.time()
    if args.gc:  # the probe goes into the daemon's process only (bench/gc_probe)
        saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "BENCH_GC_OUT")}
        os.environ["BENCH_GC_OUT"] = str(folder / "gc.json")
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(GC_PROBE), saved["PYTHONPATH"]) if p
        )
        try:
            d.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    else:
        d.start()
    res: dict[str, Any] = {}
    try:
        res["ready_s"] = await d.wait_ready()
        t_ready = time.time()
        res["startup_cpu"] = C.cpu_seconds(d.pid)
        res["rss_ready"] = C.rss_bytes(d.pid)[0]
        print(
            f"daemon ready after {res['ready_s']:.1f} s (launch to socket; CPU "
            f"{res['startup_cpu']:.1f} s, RSS {res['rss_ready'] / 2**20:.0f} MiB)"
        )
        prof = None
        prof_at = {"first": 0.0, "steady": args.interval + 5, "all": 0.0}.get(
            args.profile or "", -1.0
        )
        prof_for = {
            "first": args.interval,
            "steady": args.seconds - args.interval - 5,
            "all": args.seconds,
        }.get(args.profile or "", 0.0)
        c_ready = res["startup_cpu"]
        samples: list[tuple[float, float, int]] = []  # (t, cpu, rss)
        stats: dict[str, Any] = {}
        tg_start = target.cpu()
        load = C.Load()
        async with C.FeedClient(d.socket) as feed:
            t0 = time.monotonic()
            last_print = (t0, c_ready, 0)
            while True:
                await asyncio.sleep(1.0)
                now = time.monotonic()
                cpu = C.cpu_seconds(d.pid)
                rss = C.rss_bytes(d.pid)[0]
                samples.append((now - t0, cpu, rss))
                if prof is None and prof_at >= 0 and now - t0 >= prof_at and prof_for > 1:
                    print(f"  (py-spy on the daemon from t={now - t0:.0f} s for {prof_for:.0f} s)")
                    prof = (
                        C.start_profile(d.pid, prof_for, folder / "profile.txt", rate=100),
                        folder / "profile.txt",
                    )
                if now - last_print[0] >= 10 or now - t0 >= args.seconds:
                    stats = await feed.call("daemon.stats")
                    pct = 100 * (cpu - last_print[1]) / (now - last_print[0])
                    print(
                        f"  t={now - t0:5.0f} s  checks {stats['checks_made']:7d} "
                        f"(+{stats['checks_made'] - last_print[2]:5d})  CPU {pct:5.1f} %  "
                        f"RSS {rss / 2**20:5.0f} MiB  p99 {stats['lateness']['p99_s']:.3f} s  "
                        f"skipped {stats['lateness']['skipped']}",
                        flush=True,
                    )
                    last_print = (now, cpu, stats["checks_made"])
                if now - t0 >= args.seconds:
                    break
            t_end = time.time()
            res["stats"] = stats
        res["load"] = load.report(samples[-1][1] - c_ready + target.cpu() - tg_start)
        res["hwm"] = C.rss_bytes(d.pid)[1]
        if args.memory:
            res["memory"] = await memory_report(d, folder / "memory.txt")
        if prof is not None:
            C.finish_profile(*prof)
    finally:
        res["exit"] = d.stop()
    if args.gc:
        res["gc"] = gc_figures(folder / "gc.json", t_ready, t_end)
    res["samples"] = samples
    res["cpu_window"] = samples[-1][1] - c_ready
    res["wall_window"] = samples[-1][0]
    res["expected_min"] = slots_between(ids, args.interval, t_ready, t_end - 2.0)
    res["expected_max"] = slots_between(ids, args.interval, t_launch, t_end)
    from slamon_daemon.store import open_store

    async with open_store(db_url) as store:
        res["stored"] = await store.count_checks()
    errors = d.log_lines(" ERROR ")
    res["errors_logged"] = len(errors)
    for line in sorted({e.split(" ERROR ", 1)[1][:160] for e in errors})[:5]:
        print(f"  ERROR logged: {line}")
    return res


async def memory_report(d: C.DaemonProc, path: Path) -> str:
    """Ask the daemon run by bench/_memprobe.py for its memory report (SIGUSR1)."""
    import os
    import signal

    os.kill(d.pid, signal.SIGUSR1)
    for _ in range(600):
        await asyncio.sleep(1.0)
        if path.exists() and path.read_text(encoding="utf-8").endswith("s)\n"):
            return path.read_text(encoding="utf-8")
    return "(no memory report within 600 s)"


async def main_async(args: argparse.Namespace) -> int:
    folder = Path(tempfile.mkdtemp(prefix="slamon-bench-sched-"))
    target = C.start_target(args.target)
    print(f"target: {target.kind} on {target.url} (own process), one path per service")
    base = None
    try:
        if args.baseline > 0:
            C.wait_quiet()
            rate = args.services / args.interval
            base = run_baseline(target, rate, args.baseline)
            print(
                f"baseline: bare httpx loop (one shared AsyncClient, keep-alive off) paced at "
                f"{rate:,.0f} req/s for {base['wall_s']:.0f} s: {base['ok']} ok, {base['failed']} "
                f"failed; CPU {base['cpu_s']:.1f} s = {100 * base['cpu_s'] / base['wall_s']:.1f} % "
                f"of one core = {C.fmt_us(base['cpu_s'] / max(1, base['requests']))}/request"
            )
        if args.backend == "postgres":
            async with C.pg_database() as dsn:
                r = await run(args, dsn, folder, target)
        else:
            r = await run(args, f"sqlite:///{folder / 'slamon.db'}", folder, target)
    finally:
        target.stop()
        shutil.rmtree(folder, ignore_errors=True)

    st = r["stats"]
    lat = st["lateness"]
    made = st["checks_made"]
    # A slot due in the window but not yet checked at its end may only be late: the daemon
    # finishes every started check when stopped, so "missed" compares with the stored rows.
    late_at_end = max(0, r["expected_min"] - made)
    missed = max(0, r["expected_min"] - r["stored"])
    cpu_pct = 100 * r["cpu_window"] / r["wall_window"]
    peak_rss = max(s[2] for s in r["samples"])
    # CPU per minute of the window
    per_min = []
    s = [(0.0, r["startup_cpu"], 0), *r["samples"]]
    for m in range(int(r["wall_window"] // 60)):
        a = [x for x in s if x[0] <= m * 60 + 0.5][-1]
        b = [x for x in s if x[0] <= (m + 1) * 60 + 0.5][-1]
        per_min.append(100 * (b[1] - a[1]) / max(1e-9, b[0] - a[0]))
    print(
        f"\nwindow {r['wall_window']:.0f} s after ready, backend {args.backend}, "
        f"{args.services} services every {args.interval:g} s"
    )
    print(
        f"  checks made {made} (slots due in the window: {r['expected_min']} surely, "
        f"{r['expected_max']} at most); not yet made at the end of the window {late_at_end}; "
        f"stored after the stop {r['stored']} -> missed {missed}; skipped slots {lat['skipped']}"
    )
    print(
        f"  start lateness over {lat['count']} checks: p50 {lat['p50_s'] * 1000:.1f} ms, "
        f"p99 {lat['p99_s'] * 1000:.1f} ms, max {lat['max_s'] * 1000:.1f} ms"
    )
    print(
        f"  daemon CPU {r['cpu_window']:.1f} s over {r['wall_window']:.0f} s = {cpu_pct:.1f} % of one "
        f"core; per minute: {', '.join(f'{x:.1f} %' for x in per_min)}; "
        f"= {C.fmt_us(r['cpu_window'] / max(1, made))}/check"
    )
    if len(per_min) > 1:
        steady = [x for x in r["samples"] if x[0] >= args.interval - 0.5]
        st_cpu = 100 * (steady[-1][1] - steady[0][1]) / max(1e-9, steady[-1][0] - steady[0][0])
        print(
            f"  after the first interval (all services already seen once): {st_cpu:.1f} % of one core"
        )
    print(
        f"  daemon RSS: {r['rss_ready'] / 2**20:.0f} MiB at ready, peak sampled "
        f"{peak_rss / 2**20:.0f} MiB, VmHWM {r['hwm'] / 2**20:.0f} MiB"
    )
    if "gc" in r:
        g = r["gc"]
        total = sum(x["cpu_s"] for x in g.values())
        print(
            f"  collector in the window: {total:.1f} s of CPU = "
            f"{100 * total / max(1e-9, r['cpu_window']):.0f} % of the daemon's, "
            f"{C.fmt_us(total / max(1, made))}/check; "
            + "; ".join(
                f"gen {k}: {x['count']} in {x['cpu_s']:.2f} s, longest {x['max_s'] * 1000:.0f} ms"
                for k, x in g.items()
            )
        )
    print(f"  {r['load']}")
    if "memory" in r:
        print("  memory at the end of the window:\n" + r["memory"])
    print(
        f"  after stop (exit {r['exit']}): {r['stored']} checks stored (>= {made} made at the "
        f"end of the window: {'yes' if r['stored'] >= made else 'NO'}); journal backlog at the "
        f"end {st['write_pending']}; write failures {st['write_failures']}; ERROR log lines "
        f"{r['errors_logged']}"
    )
    print()
    C.verdict(
        "p99 start lateness < 1 s",
        lat["p99_s"] < 1.0,
        f"p99 {lat['p99_s'] * 1000:.1f} ms, p50 {lat['p50_s'] * 1000:.1f} ms, max "
        f"{lat['max_s'] * 1000:.1f} ms",
    )
    C.verdict(
        "no missed checks",
        missed == 0 and lat["skipped"] == 0,
        f"{r['stored']} stored of >= {r['expected_min']} due; missed {missed}, skipped "
        f"{lat['skipped']}, still pending at the end of the window {late_at_end}",
    )
    C.verdict(
        "RSS < 300 MB",
        r["hwm"] < 300e6,
        f"VmHWM {r['hwm'] / 1e6:.0f} MB, steady {peak_rss / 1e6:.0f} MB",
    )
    C.verdict(
        "CPU < 25 % of one core",
        cpu_pct < 25.0,
        f"{cpu_pct:.1f} % over the window, max minute {max(per_min, default=cpu_pct):.1f} %"
        + (
            f"; bare httpx at the same rate: {100 * base['cpu_s'] / base['wall_s']:.1f} %"
            if base
            else ""
        ),
    )
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=190.0, help="window after ready (190)")
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--interval", type=float, default=60.0, help="seconds (60)")
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--target", choices=["auto", "nginx", "python"], default="auto")
    ap.add_argument(
        "--per-host-concurrency",
        type=int,
        default=None,
        help="the daemon's per_host_concurrency (default: its own, 20). Every service here is"
        " on one host: at 20 checks in flight, 50,000 services at 60 s (833/s) need each check"
        " done in 24 ms, which a loaded machine does not give; many hosts would not share it",
    )
    ap.add_argument(
        "--profile",
        choices=["first", "steady", "all"],
        help="py-spy the daemon (100 Hz) over the first interval, the rest of the window"
        " (steady state), or all of it, and print the hot functions",
    )
    ap.add_argument(
        "--gc",
        action="store_true",
        help="time the daemon's garbage collections (CPU per generation, the longest) with"
        " bench/gc_probe on its PYTHONPATH",
    )
    ap.add_argument(
        "--memory",
        choices=["types", "trace"],
        help="at the end of the window, the daemon's memory by object type (types), and by"
        " file and line (trace: tracemalloc from the start, slower, adds its own memory)",
    )
    ap.add_argument(
        "--history-days",
        type=int,
        default=0,
        metavar="N",
        help="before the start, write N past days of daily (and monthly) rollups for every"
        " service, as a daemon that has run N days has (0: an empty database)",
    )
    ap.add_argument(
        "--baseline",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="first, a bare httpx loop paced at the same rate (services/interval) for"
        " this long, for its CPU (30; 0 to skip)",
    )
    ap.add_argument(
        "--child-paced",
        nargs=3,
        type=float,
        metavar=("PORT", "RATE", "SECONDS"),
        help=argparse.SUPPRESS,
    )
    args = ap.parse_args()
    if args.child_paced:
        port, rate, seconds = args.child_paced
        asyncio.run(paced_httpx(int(port), rate, seconds))
        return 0
    print("== scheduler lateness ==")
    C.print_machine()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
