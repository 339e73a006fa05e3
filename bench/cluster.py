"""A cluster on one PostgreSQL (issue 15): 3 nodes × 10,000 services at 60 s.

    .venv/bin/python bench/cluster.py [--services 10000] [--interval 60] [--seconds 180]
        [--target auto|nginx|python] [--no-failover] [--profile] [--watch eu-1|us-1|ap-1]
        [--code old=DIR --code new=.] [--rounds 1]

Three slamond, each in its own region (eu, us, ap) and probing from its own loopback
address (127.0.0.2, .3, .4), share one throw-away PostgreSQL database; every service is
probed from the three regions (3 × 10,000 / 60 s = 500 checks a second in all). One target
process (nginx, 1 worker, when installed; else bench/_target.py) answers every service.

Measured over ``--seconds`` of steady state (from the moment every node holds its share):
* p99 start lateness of each node (daemon.stats);
* lease churn: leases that changed hands per minute (``leases.moves``);
* PostgreSQL CPU (every ``postgres`` process, /proc) and rows written per second
  (pg_stat_database: inserted + updated + deleted);
* cross-node event latency: a client on node eu-1 (``--watch``) receives the check events
  of the other two nodes; latency = receipt − (check start + check latency), p50 / p99 (goal: p99 < 1 s);
  each node's daemon.stats splits it: ``sent`` (a batch's first check made to the batch
  stored and notified, on the sender) and ``stored->folded`` (another node's event stored
  to handed on, on the receiver); the singletons each node holds;
* the singletons in the database over the window (sampled every half second: how often one
  had no holder whose lease runs, the shortest time a lease had left, holder changes) and,
  from each node's log, how often it began to believe it runs one (more than once per
  singleton: its belief lapsed and came back);
* the machine's load over the window (load average, CPU outside the nodes and PostgreSQL);
* ``--profile``: py-spy of each node over the window (where each node's loop time goes);

then, unless ``--no-failover``: a fourth node joins region eu (it takes half of eu's
services), is SIGKILLed, and the failover time is how long until every service it held has
a check by the other eu node (bound: interval + lease timeout).

``--code NAME=DIR[:DIR…]`` runs the nodes on the slamon_daemon of DIR (PYTHONPATH), one whole
cluster after the other on a fresh database (six nodes do not fit the machine), the codes'
order alternating each of ``--rounds``.

No competitor runs here: neither Uptime Kuma nor Gatus can share probing between instances.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

NODES = [("eu-1", "eu", "127.0.0.2"), ("us-1", "us", "127.0.0.3"), ("ap-1", "ap", "127.0.0.4")]
STANDBY = ("eu-2", "eu", "127.0.0.5")


def node_config(folder: Path, dsn: str, node: tuple[str, str, str], services: str) -> C.DaemonProc:
    """A node's folder and config (the code it runs: PYTHONPATH of this process)."""
    name, region, source = node
    d = folder / name
    d.mkdir()
    cfg = d / "slamon.toml"
    cfg.write_text(
        "[daemon]\n"
        f'database_url = "{dsn}"\n'
        f'socket = "{d}/s.sock"\n'
        f'spool_dir = "{d}/spool"\n'
        f'secret_file = "{folder}/secret"\n'
        f'node = "{name}"\nregion = "{region}"\nsource_address = "{source}"\n'
        "max_concurrency = 500\nper_host_concurrency = 500\n\n" + services,
        encoding="utf-8",
    )
    return C.DaemonProc(d, cfg, d / "s.sock")


def pg_cpu_by_pid() -> dict[int, float]:
    """CPU seconds of each PostgreSQL process now (a backend that ended is not counted: the
    daemons' pooled connections live through the window)."""
    out = {}
    for pid in C.pids_named("postgres"):
        with contextlib.suppress(OSError, ValueError):
            out[pid] = C.cpu_seconds(pid)
    return out


async def pg(dsn: str, sql: str, *args: Any) -> list[Any]:
    import asyncpg

    con = await asyncpg.connect(dsn)
    try:
        return list(await con.fetch(sql, *args))
    finally:
        await con.close()


async def rows_written(dsn: str) -> int:
    r = await pg(
        dsn,
        "SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database"
        " WHERE datname = current_database()",
    )
    return int(r[0][0])


async def lease_moves(dsn: str) -> int:
    return int((await pg(dsn, "SELECT coalesce(sum(moves), 0) FROM leases"))[0][0])


async def watch_events(sock: Path, me: str, out: list[float], stop: asyncio.Event) -> None:
    """Subscribe to checks on node ``me``; the latency of every other node's check."""
    r, w = await asyncio.open_unix_connection(str(sock), limit=64 * 1024 * 1024)
    await r.readline()
    w.write(json.dumps({"id": 1, "method": "subscribe", "params": {"topics": ["check"]}}).encode())
    w.write(b"\n")
    while not stop.is_set():
        try:
            line = await asyncio.wait_for(r.readline(), 1.0)
        except TimeoutError:
            continue
        if not line:
            return
        now = time.time()
        msg = json.loads(line)
        if msg.get("event") != "check":
            continue
        c = msg["data"]["check"]
        if c["node"] == me:
            continue
        done = datetime.fromisoformat(c["started_at"]).timestamp() + c["latency_ms"] / 1000
        out.append(now - done)
    w.close()


async def node_stats(sock: Path, tries: int = 3) -> dict[str, Any]:
    """daemon.stats of a node; an overloaded node may miss the client's 5 s: asked again."""
    for left in range(tries - 1, -1, -1):
        try:
            async with C.FeedClient(sock) as c:
                return dict(await c.call("daemon.stats"))
        except (TimeoutError, OSError, ConnectionError):
            if not left:
                raise
    raise AssertionError("unreachable")


async def watch_singletons(dsn: str, stop: asyncio.Event) -> dict[str, Any]:
    """Sample the singletons table every half second until ``stop``: samples where a
    singleton had no holder whose lease runs, the least time a lease had left, the holder
    changes."""
    import asyncpg

    con = await asyncpg.connect(dsn)
    samples = lapsed = changes = 0
    least = float("inf")
    holders: dict[str, str] = {}
    try:
        while not stop.is_set():
            rows = await con.fetch(
                "SELECT name, node, extract(epoch FROM expires_at - now())::float8 FROM singletons"
            )
            samples += 1
            left = {r[0]: (r[1], r[2]) for r in rows}
            if len(left) < 3 or any(t <= 0 for _, t in left.values()):
                lapsed += 1
            for name, (node, t) in left.items():
                least = min(least, t)
                if holders.get(name, node) != node:
                    changes += 1
                holders[name] = node
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    finally:
        await con.close()
    return {"samples": samples, "lapsed": lapsed, "least_left_s": least, "changes": changes}


async def run(args: argparse.Namespace) -> None:
    C.print_machine()
    sys.stdout.flush()
    codes = [
        (name, os.pathsep.join(str(Path(d).resolve()) for d in dirs.split(os.pathsep)))
        for name, _, dirs in (c.partition("=") for c in args.code)
    ]
    if not codes:
        await run_one(args)
        return
    for rnd in range(args.rounds):
        for name, code in codes if rnd % 2 == 0 else list(reversed(codes)):
            print(f"\n== code {name} ({code}), round {rnd + 1}", flush=True)
            before = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = os.pathsep.join([code, *([before] if before else [])])
            try:
                await run_one(args)
            finally:
                if before is None:
                    os.environ.pop("PYTHONPATH", None)
                else:
                    os.environ["PYTHONPATH"] = before


async def run_one(args: argparse.Namespace) -> None:
    target = C.start_target(args.target)
    folder = Path(tempfile.mkdtemp(prefix="slamon-bench-cluster-"))
    services = "".join(
        C.service_toml(f"s{i:05d}", f"{target.url}s{i}", f"{args.interval:g}s", "10s")
        for i in range(args.services)
    )
    print(
        f"load:    {len(NODES)} nodes (eu, us, ap) x {args.services} services every"
        f" {args.interval} s = {len(NODES) * args.services / args.interval:.0f} checks/s,"
        f" target {target.kind}"
    )
    async with C.pg_database() as dsn:
        nodes = [node_config(folder, dsn, n, services) for n in NODES]
        try:
            for n in nodes:
                n.start()
            for n in nodes:
                print(f"{n.folder.name}: serving after {await n.wait_ready():.1f} s")
            while True:  # every node holds its whole region
                got = await pg(dsn, "SELECT count(*) FROM leases WHERE node IS NOT NULL")
                if int(got[0][0]) >= len(NODES) * args.services:
                    break
                await asyncio.sleep(1)
            await asyncio.sleep(args.interval)  # a whole interval: every slot placed once
            latencies: list[float] = []
            stop = asyncio.Event()
            watched = next(n for n in nodes if n.folder.name == args.watch)
            watcher = asyncio.create_task(watch_events(watched.socket, args.watch, latencies, stop))
            singles = asyncio.create_task(watch_singletons(dsn, stop))
            pg_cpu0, rows0, moves0, t0 = (
                pg_cpu_by_pid(),
                await rows_written(dsn),
                await lease_moves(dsn),
                time.monotonic(),
            )
            cpu0 = [C.cpu_seconds(n.pid) for n in nodes]
            load = C.Load()
            spies = [
                C.start_profile(n.pid, args.seconds, folder / f"{n.folder.name}.prof", rate=100)
                if args.profile
                else None
                for n in nodes
            ]
            await asyncio.sleep(args.seconds)
            dt = time.monotonic() - t0
            pg_cpu = sum(c - pg_cpu0.get(pid, 0.0) for pid, c in pg_cpu_by_pid().items()) / dt * 100
            rows = (await rows_written(dsn) - rows0) / dt
            churn = (await lease_moves(dsn) - moves0) / (dt / 60)
            cpus = [(C.cpu_seconds(n.pid) - c) / dt * 100 for n, c in zip(nodes, cpu0, strict=True)]
            pg_busy = pg_cpu / 100 * dt
            mine = sum(c / 100 * dt for c in cpus) + pg_busy
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(watcher, 5)
            sg = await singles
            print(f"window:  {dt:.0f} s of steady state ({folder})")
            avg = " / ".join(f"{x:.2f}" for x in os.getloadavg())
            print(
                f"load:    load average {avg}; {load.report(mine)} (measured: nodes + PostgreSQL)"
            )
            p99 = max(0.0, C.quantile(latencies, 0.99)) if latencies else float("nan")
            p50 = C.quantile(latencies, 0.5) if latencies else float("nan")
            print(f"lease churn: {churn:.1f} moves/min (steady state)")
            print(f"PostgreSQL: CPU {pg_cpu:.0f} % of a core, {rows:.0f} rows written/s")
            print(
                f"cross-node events: {len(latencies)} checks of the other nodes seen on"
                f" {args.watch} (its feed client subscribed to checks);"
                f" p50 {p50:.3f} s, p99 {p99:.3f} s",
                flush=True,
            )
            C.verdict("cross-node event latency p99 < 1 s", p99 < 1.0, f"{p99:.3f} s")
            print(
                f"singletons in the database: {sg['lapsed']} of {sg['samples']} samples with one"
                f" unheld; least lease left {sg['least_left_s']:.1f} s; {sg['changes']} holder"
                " changes"
            )
            for n, cpu in zip(nodes, cpus, strict=True):
                try:
                    s = await node_stats(n.socket)
                except (TimeoutError, OSError, ConnectionError) as exc:
                    over = n.log_lines("overloaded:")
                    print(
                        f"{n.folder.name}: daemon.stats not answered ({exc!r}), CPU {cpu:.0f} %"
                        f" of a core; its last overload line: {over[-1] if over else '-'}"
                    )
                    continue
                lat, cl = s["lateness"], s["cluster"]
                lags = "".join(
                    f", {what} p50/p99/max {q['p50']}/{q['p99']}/{q['max']} s"
                    for what, q in (
                        ("sent", cl.get("send_lag_s")),
                        ("stored->folded", cl.get("receive_lag_s")),
                    )
                    if q
                )
                print(
                    f"{n.folder.name}: p99 lateness {lat['p99_s']:.3f} s (max {lat['max_s']:.3f},"
                    f" skipped {lat['skipped']}), CPU {cpu:.0f} % of a core, checks made"
                    f" {s['checks_made']}, events received {cl['events_received']},"
                    f" heartbeat round {cl['round_s']} s"
                    + (
                        f" (beat {cl['beat_s']} s, {cl['singleton_lapses']} singleton lapses)"
                        if "beat_s" in cl
                        else ""
                    )
                    + f"{lags},"
                    f" singletons here: {', '.join(cl.get('singletons') or []) or '-'}"
                    f" (log: {len(n.log_lines(': runs here'))} times began to run one,"
                    f" {len(n.log_lines('heartbeat round took') + n.log_lines('a heartbeat took'))}"
                    " slow beats)",
                    flush=True,
                )
            for n, spy in zip(nodes, spies, strict=True):
                if spy is not None:
                    print(f"{n.folder.name}: ", end="")
                    C.finish_profile(spy, folder / f"{n.folder.name}.prof", top=20)
            if not args.no_failover:
                await failover(folder, dsn, services, args.interval)
        finally:
            for n in nodes:
                n.stop()
            target.stop()


async def failover(folder: Path, dsn: str, services: str, interval: float) -> None:
    standby = node_config(folder, dsn, STANDBY, services)
    standby.start()
    await standby.wait_ready()
    while True:  # it took its share of eu
        held = await pg(
            dsn,
            "SELECT service_id FROM leases WHERE node = 'eu-2'",
        )
        total = await pg(dsn, "SELECT count(*) FROM leases WHERE region = 'eu'")
        if len(held) >= int(total[0][0]) // 2:
            break
        await asyncio.sleep(1)
    await asyncio.sleep(interval)  # it probes them
    ids = [r[0] for r in held]
    assert standby.proc is not None
    killed = datetime.now(UTC)
    standby.proc.send_signal(signal.SIGKILL)
    standby.proc.wait()
    t0 = time.monotonic()
    while True:
        got = await pg(
            dsn,
            "SELECT count(*), max(first) FROM (SELECT service_id, min(started_at) AS first"
            " FROM checks WHERE node = 'eu-1' AND started_at > $1 AND service_id = ANY($2)"
            " GROUP BY 1) x",
            killed,
            ids,
        )
        if int(got[0][0]) == len(ids):
            took = (got[0][1] - killed).total_seconds()
            break
        if time.monotonic() - t0 > 10 * interval:
            took = float("inf")
            break
        await asyncio.sleep(2)
    print(
        f"failover: {len(ids)} services of the SIGKILLed eu-2 all probed again by eu-1"
        f" {took:.1f} s after the kill (bound: interval {interval:g} s + lease timeout 10 s)"
    )
    C.verdict("failover within interval + lease timeout", took <= interval + 10, f"{took:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--interval", type=float, default=60.0)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--target", default="auto", choices=["auto", "nginx", "python"])
    ap.add_argument("--no-failover", action="store_true")
    ap.add_argument("--profile", action="store_true", help="py-spy each node over the window")
    ap.add_argument("--code", action="append", default=[], help="NAME=DIR (default: this tree)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds of every --code (1)")
    ap.add_argument(
        "--watch",
        default="eu-1",
        choices=[n[0] for n in NODES],
        help="the node whose feed client measures the cross-node latency",
    )
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
