"""Read paths: status.get, service.get and service.series with 1,000 services and 90 days.

    .venv/bin/python bench/read_paths.py [--backend sqlite|postgres|both] [--services 1000]
        [--days 90] [--per-day 4] [--dense 20] [--calls 50] [--profile]

For each backend it seeds a fresh database directly through the store (``write_batch`` in
one transaction per day of history, which also folds the hourly and daily rollups):

* every service: ``--per-day`` checks a day (default 4: every 6 h) for ``--days`` days up to
  now, ~0.3 % failed (each with an outage episode) and ~1 % degraded; so every service has
  a daily rollup for every day (what status.get and the warm start read);
* the first ``--dense`` services (default 20) get 24 checks a day (hourly: every hourly
  rollup of the 90 days exists) and one check a minute over the last 26 hours, as a
  service checked every 60 s has; the per-service calls (service.get, service.series) ask
  for those.

Seeding used to be slow on SQLite and slow down as the tables grew (the store's rollup fold
read the stored rollups back, see docs/benchmarks.md), hence only 4 checks a day for the bulk.

On PostgreSQL it then runs VACUUM ANALYZE (``--no-vacuum``: ANALYZE only, as before stop
20), so autovacuum does not work on the fresh tables while calls are timed.

Then it starts the daemon (its own process; the services point at a closed port of
127.0.0.1 with a 1-day interval, so it makes next to no checks), waits for its warm start,
and times each call over the real Unix socket, one connection, sequentially: ``--calls``
calls after 3 unmeasured ones, from writing the request to the reply's last byte (client
JSON decoding not included: it is printed apart). The daemon's CPU per call comes from
/proc.

Target (from the issue): status.get for 1,000 services < 50 ms on each backend (judged on
p95 here; the median is printed too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

from slamon_daemon.config import load_settings  # noqa: E402
from slamon_daemon.models import (  # noqa: E402
    Check,
    ErrorKind,
    OutageEpisode,
    Outcome,
    ServiceStatus,
)
from slamon_daemon.protocol import MAX_FRAME_BYTES  # noqa: E402
from slamon_daemon.store import open_store  # noqa: E402


def write_config(folder: Path, db_url: str, n: int) -> Path:
    closed = C.free_port()  # nothing listens there
    head = (
        f'[daemon]\ndatabase_url = "{db_url}"\nsocket = "{folder / "slamon.sock"}"\n'
        f'spool_dir = "{folder / "spool"}"\nnode = "bench"\nlog_level = "INFO"\n\n'
    )
    body = "".join(
        C.service_toml(f"svc-{i:04d}", f"http://127.0.0.1:{closed}/s/{i}", "1d", "2s")
        for i in range(n)
    )
    cfg = folder / "slamon.toml"
    cfg.write_text(head + body, encoding="utf-8")
    return cfg


def _check(
    rng: random.Random, sid: str, at: datetime, interval_s: float
) -> tuple[Check, OutageEpisode | None]:
    x = rng.random()
    if x < 0.003:
        kind = ErrorKind.TIMEOUT if x < 0.0015 else ErrorKind.HTTP_ERROR
        c = Check(
            sid,
            at,
            2000.0 if kind is ErrorKind.TIMEOUT else rng.uniform(10, 60),
            Outcome.DOWN,
            status_code=None if kind is ErrorKind.TIMEOUT else 503,
            error_kind=kind,
            error="seeded failure",
            node="bench",
            interval_s=interval_s,
        )
        ep = OutageEpisode(
            service_id=sid,
            started_at=at,
            ended_at=at + timedelta(seconds=interval_s),
            worst_status=ServiceStatus.MAJOR_OUTAGE,
            cause=kind.value,
            error="seeded failure",
            failed_checks=1,
        )
        return c, ep
    outcome = Outcome.DEGRADED if x < 0.013 else Outcome.UP
    lat = rng.lognormvariate(3.2, 0.4) if outcome is Outcome.UP else rng.uniform(800, 1500)
    return Check(sid, at, lat, outcome, status_code=200, node="bench", interval_s=interval_s), None


async def seed(db_url: str, cfg: Path, days: int, per_day: int, dense: int) -> dict[str, Any]:
    settings, _ = load_settings(cfg)
    services = settings.services
    ids = [s.id for s in services]
    rng = random.Random(42)
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.replace(hour=0, minute=0, second=0)
    dense_ids = ids[:dense]
    steps = {sid: timedelta(seconds=86400 / (24 if sid in dense_ids else per_day)) for sid in ids}
    offset = {sid: timedelta(seconds=rng.uniform(0, steps[sid].total_seconds())) for sid in ids}
    checks = episodes = 0
    t0 = time.perf_counter()
    async with open_store(db_url) as store:
        await store.migrate()
        if store.backend == "postgres":
            for k in range(days + 1):  # daily partitions, as a daemon running 90 days has
                await store.maintain(today=(today - timedelta(days=days - k)).date())
        await store.sync_services(services)
        for k in range(days):
            day = today - timedelta(days=days - 1 - k)
            batch: list[Any] = []
            eps: list[Any] = []
            for j in range(max(24, per_day)):
                for sid in ids:
                    step = steps[sid]
                    if j * step >= timedelta(days=1):
                        continue
                    at = day + j * step + offset[sid]
                    if at >= now - timedelta(minutes=2):
                        continue
                    c, e = _check(rng, sid, at, step.total_seconds())
                    batch.append(c)
                    if e:
                        eps.append(e)
            await store.write_batch(batch + eps)
            checks += len(batch)
            episodes += len(eps)
            if (k + 1) % 15 == 0 or k == days - 1:
                el = time.perf_counter() - t0
                print(
                    f"  seeded {k + 1}/{days} days: {checks:,} checks in {el:.0f} s "
                    f"({checks / el:,.0f}/s)",
                    flush=True,
                )
        # dense services: one check a minute over the last 26 hours
        start = now - timedelta(hours=26)
        batch = []
        m = 0
        while start + timedelta(minutes=m, seconds=30) < now - timedelta(minutes=1):
            at = start + timedelta(minutes=m, seconds=30)
            for sid in dense_ids:
                c, e = _check(rng, sid, at, 60.0)
                batch.append(c)
                if e:
                    batch.append(e)
            m += 1
        for i in range(0, len(batch), 20_000):
            await store.write_batch(batch[i : i + 20_000])
        checks += sum(1 for b in batch if isinstance(b, Check))
        stored = await store.count_checks()
    return {
        "seconds": time.perf_counter() - t0,
        "checks": checks,
        "stored": stored,
        "episodes": episodes,
        "dense_ids": dense_ids,
        "ids": ids,
    }


def fold_lookup_diagnostic(db_file: str) -> None:
    """How SQLite runs a keyed rollup lookup of 400 (service, day, hour) keys with a
    row-value IN, as the store's write path did before issue 14 (wave 4: the writer adds its
    rollups in the database and reads none back); kept as a planner diagnostic."""
    import sqlite3

    con = sqlite3.connect(db_file)
    try:
        n_rows = con.execute("SELECT count(*) FROM hourly_rollups").fetchone()[0]
        keys = con.execute(
            "SELECT service_id, day, hour FROM hourly_rollups ORDER BY random() LIMIT 400"
        ).fetchall()
        params = [x for k in keys for x in k]
        sql_in = (
            "SELECT service_id, day, hour, latency_hist FROM hourly_rollups WHERE "
            "(service_id, day, hour) IN (VALUES " + ", ".join(["(?, ?, ?)"] * len(keys)) + ")"
        )
        plan = "; ".join(r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql_in, params))
        t = time.perf_counter()
        con.execute(sql_in, params).fetchall()
        t_in = time.perf_counter() - t
        sql_or = (
            "SELECT service_id, day, hour, latency_hist FROM hourly_rollups WHERE "
            + " OR ".join(["(service_id = ? AND day = ? AND hour = ?)"] * len(keys))
        )
        t = time.perf_counter()
        con.execute(sql_or, params).fetchall()
        t_or = time.perf_counter() - t
    finally:
        con.close()
    print(
        f"  planner diagnostic (the writer's old rollup lookup): 400 keys, `(service_id, day, hour)"
        f" IN (VALUES ...)`, on {n_rows:,} hourly rollup rows: plan [{plan}], {t_in * 1e3:.1f} ms; "
        f"the same keys as OR'ed equalities (primary-key lookups): {t_or * 1e3:.1f} ms"
    )


CALLS = [
    ("status.get", None),
    # issue 14: without the 90-day bars, sparklines and last checks (a tree without the
    # option answers invalid_params: the row is left out)
    ("status.get", "lean"),
    ("service.get", None),
    ("service.series", "30d"),
    ("service.series", "24h"),
    # issue 14: the whole report of this month (1,000 services) and of the previous one
    ("sla.report", "this"),
    ("sla.report", "previous"),
]


LEAN = ("daily", "latencies", "outcomes", "last_check")


def _month(which: str) -> str:
    first = datetime.now(UTC).date().replace(day=1)
    if which == "previous":
        first = (first - timedelta(days=1)).replace(day=1)
    return f"{first:%Y-%m}"


async def time_calls(d: C.DaemonProc, dense_ids: list[str], calls: int) -> list[dict[str, Any]]:
    out = []
    load = C.Load()
    me0 = time.process_time()
    d0 = C.cpu_seconds(d.pid)
    async with C.FeedClient(d.socket) as feed:
        for method, rng in CALLS:

            def params(i: int, method: str = method, rng: str | None = rng) -> dict[str, Any]:
                if method == "status.get":
                    return {"omit": list(LEAN)} if rng == "lean" else {}
                if method == "sla.report":
                    return {"month": _month(str(rng))}
                p: dict[str, Any] = {"id": dense_ids[i % len(dense_ids)]}
                if rng:
                    p["range"] = rng
                return p

            refused = False
            for i in range(3):
                line, _ = await feed.raw_call(method, params(i))
                msg = json.loads(line)
                if "error" in msg and rng == "lean":
                    refused = True
                    break
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
            if refused:
                print(f"  {method} {rng}: not served by this tree, left out")
                continue
            times = []
            size = 0
            c0 = C.cpu_seconds(d.pid)
            for i in range(calls):
                line, dt = await feed.raw_call(method, params(i))
                times.append(dt)
                size = len(line)
            cpu = (C.cpu_seconds(d.pid) - c0) / calls
            t = time.perf_counter()
            msg = json.loads(line)
            parse = time.perf_counter() - t
            assert "result" in msg, msg
            label = method + (f" {rng}" if rng else "")
            extra = ""
            if method == "status.get":
                extra = f", {len(msg['result']['services'])} services"
            elif method == "service.series":
                pts = msg["result"]["points"]
                extra = f", {len(pts)} points, {sum(p['checks'] for p in pts)} checks"
            elif method == "service.get":
                extra = f", 90d window {msg['result']['windows']['90d']['checks']} checks"
            elif method == "sla.report":
                rep = msg["result"]
                extra = f", {rep['period']['label']}: {len(rep['services'])} services"
            out.append(
                {
                    "label": label,
                    "median": C.median(times),
                    "p95": C.quantile(times, 0.95),
                    "max": max(times),
                    "bytes": size,
                    "cpu": cpu,
                    "parse": parse,
                    "extra": extra,
                    "n": calls,
                }
            )
    print("  timing phase: " + load.report(C.cpu_seconds(d.pid) - d0 + time.process_time() - me0))
    return out


async def profile_status(d: C.DaemonProc, folder: Path, calls: int) -> None:
    out = folder / "profile.txt"
    async with C.FeedClient(d.socket) as feed:
        t0 = time.perf_counter()
        await feed.raw_call("status.get")
        one = time.perf_counter() - t0
        secs = max(3.0, one * calls)
        p = C.start_profile(d.pid, secs, out, rate=250)
        await asyncio.sleep(0.5)
        end = time.monotonic() + secs
        n = 0
        while time.monotonic() < end:
            await feed.raw_call("status.get")
            n += 1
    print(f"profile of the daemon during {n} status.get calls:")
    C.finish_profile(p, out, top=30)


async def bench_backend(args: argparse.Namespace, backend: str) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix=f"slamon-bench-read-{backend}-"))
    verdicts = []
    try:
        if backend == "postgres":
            async with C.pg_database() as dsn:
                verdicts = await _bench(args, backend, dsn, folder)
        else:
            verdicts = await _bench(args, backend, f"sqlite:///{folder / 'slamon.db'}", folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return verdicts


async def _bench(args: argparse.Namespace, backend: str, db_url: str, folder: Path) -> list[str]:
    print(
        f"\n[{backend}] seeding {args.services} services x {args.days} days x {args.per_day} "
        f"checks/day ({args.dense} of them x 24 checks/day, + 1 check/min over the last 26 h)"
    )
    cfg = write_config(folder, db_url, args.services)
    s = await seed(db_url, cfg, args.days, args.per_day, args.dense)
    if backend == "postgres":
        # The planner's statistics, as autovacuum keeps them in a database that has run a
        # while (right after seeding it may not have caught up: plans then vary run to run).
        # VACUUM too (unless --no-vacuum): otherwise autovacuum works on the freshly seeded
        # tables during the timing phases (stop 19: 63-130 % of a core outside the measured
        # processes), and the first reads set the rows' hint bits.
        import asyncpg

        con = await asyncpg.connect(db_url)
        try:
            t0 = time.perf_counter()
            await con.execute("ANALYZE" if args.no_vacuum else "VACUUM ANALYZE")
            what = "ANALYZE" if args.no_vacuum else "VACUUM ANALYZE"
            print(f"  {what} after seeding: {time.perf_counter() - t0:.1f} s")
        finally:
            await con.close()
    print(
        f"  seeded {s['checks']:,} checks ({s['stored']:,} rows stored), {s['episodes']:,} "
        f"episodes in {s['seconds']:.0f} s = {s['checks'] / s['seconds']:,.0f} checks/s "
        f"through store.write_batch"
    )
    if backend == "sqlite":
        fold_lookup_diagnostic(db_url.removeprefix("sqlite:///"))
    verdicts = []
    codes = args.codes or [("this", None)]
    for rnd in range(args.rounds):
        order = codes if rnd % 2 == 0 else codes[::-1]
        for name, code in order:
            print(f"\n[{backend}] round {rnd + 1}, code {name}" + (f" ({code})" if code else ""))
            verdicts += await _run_daemon(args, backend, folder, cfg, s, name, code)
    return verdicts


async def _run_daemon(
    args: argparse.Namespace,
    backend: str,
    folder: Path,
    cfg: Path,
    s: dict[str, Any],
    name: str,
    code: Path | None,
) -> list[str]:
    d = C.DaemonProc(folder, cfg, folder / "slamon.sock")
    saved = os.environ.get("PYTHONPATH")
    if code is not None:
        os.environ["PYTHONPATH"] = str(code)  # DaemonProc passes the environment on
    try:
        d.start()
    finally:
        if code is not None:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved
    try:
        ready = await d.wait_ready()
        _, hwm = C.rss_bytes(d.pid)
        print(
            f"  daemon ready after {ready:.1f} s (warm start: {args.days} days of daily "
            f"rollups + latest checks), CPU {C.cpu_seconds(d.pid):.1f} s, RSS peak "
            f"{hwm / 2**20:.0f} MiB"
        )
        C.wait_quiet()
        res = await time_calls(d, s["dense_ids"], args.calls)
        print(
            f"  {'call':<20} {'median':>9} {'p95':>9} {'max':>9} {'reply':>10} "
            f"{'daemon CPU':>11} {'client parse':>13}"
        )
        for r in res:
            print(
                f"  {r['label']:<20} {r['median'] * 1e3:7.1f}ms {r['p95'] * 1e3:7.1f}ms "
                f"{r['max'] * 1e3:7.1f}ms {r['bytes'] / 1024:8.0f}KiB {r['cpu'] * 1e3:9.1f}ms "
                f"{r['parse'] * 1e3:11.1f}ms  ({r['n']} calls{r['extra']})"
            )
        sg = res[0]
        if sg["bytes"] > MAX_FRAME_BYTES:
            print(
                f"  note: the status.get reply ({sg['bytes']:,} bytes) is larger than "
                f"protocol.MAX_FRAME_BYTES ({MAX_FRAME_BYTES:,}), the request line limit"
            )
        if args.profile:
            await profile_status(d, folder, 100)
        by = {r["label"]: r for r in res}
        tag = f"[{backend}, {name}]"
        verdicts = [
            C.verdict(
                f"{tag} status.get with {args.services} services < 10 ms (issue 14)",
                sg["median"] < 0.010,
                f"median {sg['median'] * 1e3:.1f} ms, p95 {sg['p95'] * 1e3:.1f} ms, "
                f"daemon CPU {sg['cpu'] * 1e3:.1f} ms per call",
            ),
            C.verdict(
                f"{tag} service.get < 10 ms (issue 14)",
                by["service.get"]["median"] < 0.010,
                f"median {by['service.get']['median'] * 1e3:.1f} ms, daemon CPU "
                f"{by['service.get']['cpu'] * 1e3:.1f} ms per call",
            ),
        ]
        for which in ("this", "previous"):
            r = by[f"sla.report {which}"]
            verdicts.append(
                C.verdict(
                    f"{tag} sla.report {which} month, {args.services} services < 100 ms",
                    r["median"] < 0.100,
                    f"median {r['median'] * 1e3:.1f} ms, daemon CPU {r['cpu'] * 1e3:.1f} ms",
                )
            )
    finally:
        rc = d.stop()
        if rc not in (0, None):
            print(f"  daemon exit code {rc}; log tail:\n{d.tail()}")
    return verdicts


async def main_async(args: argparse.Namespace) -> int:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    verdicts = []
    for b in backends:
        verdicts += await bench_backend(args, b)
    print("\nsummary:")
    for v in verdicts:
        print("  " + v)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument(
        "--per-day",
        type=int,
        default=4,
        help="checks per day of the non-dense services (4: every 6 h)",
    )
    ap.add_argument(
        "--dense",
        type=int,
        default=20,
        help="services that also get 1 check/min over the last 26 h (20)",
    )
    ap.add_argument("--calls", type=int, default=50, help="measured calls per method (50)")
    ap.add_argument(
        "--code",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="run the daemon from DIR (PYTHONPATH); several: side by side on one database",
    )
    ap.add_argument("--rounds", type=int, default=1, help="rounds of every --code (1)")
    ap.add_argument(
        "--no-vacuum",
        action="store_true",
        help="PostgreSQL: only ANALYZE after seeding, no VACUUM (autovacuum may then run "
        "during the timing phases)",
    )
    ap.add_argument(
        "--profile", action="store_true", help="py-spy the daemon during repeated status.get calls"
    )
    args = ap.parse_args()
    args.codes = [
        (c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.code if "=" in c
    ]
    print("== read paths ==")
    C.print_machine()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
