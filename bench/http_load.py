"""The HTTP server under load while 1,000 services are probed (issue 13, point 9).

    .venv/bin/python bench/http_load.py [--services 1000] [--interval 60] [--rate 200]
        [--duration 20] [--before 20]

The daemon runs as its own process with ``[http] listen`` on 127.0.0.1 and the services
checking a target in another process (nginx when installed, else bench/_target.py). Once
every service has been checked, the script

1. measures the probe lateness for ``--before`` seconds without HTTP load, then
2. sends ``/status``, ``/api/v2/summary.json`` and ``/metrics`` at ``--rate`` requests a
   second EACH (open loop: request i of a route is due at t0 + i/rate, whatever the
   answers do; latency counts from the due time, so a slow server cannot hide its queue),
   for ``--duration`` seconds (the issue: 200 req/s each for 60 s),

and reports per route p50/p99/max latency, errors and bytes, and the probe lateness (check
start − due time) before and during the load, from the daemon's own lateness histogram
(/metrics, differences of two scrapes; a quantile is interpolated in its bucket as
Prometheus' histogram_quantile does, and the bucket's upper bound is printed too).

The daemon's rate limit is raised for the run (one client sends everything). The same load
beside Uptime Kuma's status page and /metrics, with the probe delay measured at the target
for both, is bench/http_load_vs_kuma.py.

Targets: probe lateness p99 < 1 s during the load; the HTTP p99s are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common as C  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

ROUTES = ("/status", "/api/v2/summary.json", "/metrics")


class Conn:
    """One keep-alive HTTP/1.1 connection, hand-written (cheap for the load generator)."""

    def __init__(self, port: int, encoding: str = "gzip") -> None:
        self.port = port
        self.encoding = encoding  # as browsers and Prometheus ask
        self.r: asyncio.StreamReader | None = None
        self.w: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, int]:
        if self.w is None:
            self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 26)
        assert self.r is not None
        self.w.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: {self.encoding}\r\n\r\n".encode()
        )
        await self.w.drain()
        head = await self.r.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
            elif k.strip().lower() == b"transfer-encoding" and b"chunked" in v.lower():
                chunked = True
        if chunked:
            size = 0
            while True:
                n = int((await self.r.readline()).strip(), 16)
                if n == 0:
                    await self.r.readline()
                    break
                await self.r.readexactly(n + 2)
                size += n
            return status, size
        await self.r.readexactly(length)
        return status, length

    def close(self) -> None:
        if self.w is not None:
            self.w.close()
        self.r = self.w = None


async def drive(
    port: int, path: str, rate: float, seconds: float, connections: int
) -> dict[str, Any]:
    """Open-loop load on one route over a fixed pool of keep-alive connections (as wrk2
    does): request i is due at t0 + i/rate; when every connection is busy it waits for
    one, and its latency still counts from its due time."""
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Conn(port))
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sizes: list[int] = []
    t0 = time.monotonic() + 0.05
    n = int(rate * seconds)
    tasks = []

    async def one(due: float) -> None:
        try:  # a request still queued 30 s after its due time is given up (a timeout)
            conn = await asyncio.wait_for(pool.get(), max(0.0, due + 30 - time.monotonic()))
        except TimeoutError:
            errors["not sent in 30 s"] = errors.get("not sent in 30 s", 0) + 1
            return
        try:
            status, size = await asyncio.wait_for(conn.get(path), 30)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            conn.close()
            return
        finally:
            pool.put_nowait(conn)
        latencies.append(time.monotonic() - due)
        sizes.append(size)
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1

    for i in range(n):
        due = t0 + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()
    return {
        "route": path,
        "sent": n,
        "ok": len(latencies) - sum(v for k, v in errors.items() if k.isdigit()),
        "errors": errors,
        "p50_s": C.quantile(latencies, 0.5),
        "p99_s": C.quantile(latencies, 0.99),
        "max_s": max(latencies, default=float("nan")),
        "bytes": int(C.median(sizes)) if sizes else 0,
        "connections": connections,
    }


async def lateness_buckets(port: int) -> dict[float, float]:
    """The lateness histogram from /metrics (retried while the daemon sheds load)."""
    for _ in range(300):
        try:
            return await _lateness_buckets(port)
        except ValueError:  # a 503 body: shed, retry
            await asyncio.sleep(0.2)
    raise RuntimeError("/metrics refused for a minute")


async def _lateness_buckets(port: int) -> dict[float, float]:
    conn = Conn(port, "identity")
    try:
        if conn.w is None:
            conn.r, conn.w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 26)
        assert conn.r is not None and conn.w is not None
        conn.w.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await conn.w.drain()
        raw = await conn.r.read()
    finally:
        conn.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise ValueError(head.split(b"\r\n", 1)[0].decode())
    text = body.decode()
    out: dict[float, float] = {}
    for fam in text_string_to_metric_families(text):
        if fam.name == "slamon_scheduler_lateness_seconds":
            for s in fam.samples:
                if s.name.endswith("_bucket"):
                    out[float(s.labels["le"])] = s.value
    return out


def histogram_quantile(
    q: float, a: dict[float, float], b: dict[float, float]
) -> tuple[float, float, int]:
    """(interpolated quantile, the bucket's upper bound, count) of the starts between a and b."""
    bounds = sorted(b)
    counts = [b[x] - a.get(x, 0.0) for x in bounds]
    total = counts[-1]
    if total <= 0:
        return float("nan"), float("nan"), 0
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, c in zip(bounds, counts, strict=True):
        if c >= rank:
            if bound == float("inf"):
                return prev_bound, bound, int(total)
            share = (rank - prev_count) / (c - prev_count) if c > prev_count else 1.0
            return prev_bound + (bound - prev_bound) * share, bound, int(total)
        prev_bound, prev_count = bound, c
    return float("nan"), float("nan"), int(total)


def config(folder: Path, target: C.TargetProc, ids: list[str], interval: float, port: int) -> str:
    head = (
        f'[daemon]\ndatabase_url = "sqlite:///{folder / "slamon.db"}"\n'
        f'socket = "{folder / "slamon.sock"}"\nnode = "bench"\nlog_level = "INFO"\n\n'
        f'[http]\nlisten = "127.0.0.1:{port}"\nrate_limit = 100000\nrate_burst = 100000\n'
        "max_requests = 256\nmax_connections = 2048\n\n"
    )
    groups = ["Payments", "Identity", "Search", "Storage", ""]
    return head + "".join(
        C.service_toml(
            sid,
            f"{target.url}svc/{sid}",
            f"{interval:g}s",
            "10s",
            f'group = "{groups[i % 5]}"\n' if groups[i % 5] else "",
        )
        for i, sid in enumerate(ids)
    )


async def main_async(args: argparse.Namespace) -> int:
    C.print_machine()
    folder = Path(tempfile.mkdtemp(prefix="slamon-bench-http-"))
    target = C.start_target(args.target)
    port = C.free_port()
    ids = [f"svc-{i:04d}" for i in range(args.services)]
    cfg = folder / "slamon.toml"
    cfg.write_text(config(folder, target, ids, args.interval, port), encoding="utf-8")
    d = C.DaemonProc(folder, cfg, folder / "slamon.sock")
    results: dict[str, Any] = {"args": vars(args)}
    print(
        f"{args.services} services every {args.interval:g} s against {target.kind};"
        f" HTTP on 127.0.0.1:{port}"
    )
    d.start()
    try:
        await d.wait_ready()
        # every service checked once (one interval), and the page's caches warm
        async with C.FeedClient(d.socket) as feed:
            while True:
                st = await feed.call("status.get")
                if all(s["last_check"] for s in st["services"]):
                    break
                await asyncio.sleep(1)
        for path in ROUTES:
            await drive(port, path, 5, 1, 2)
        print(f"all services checked; measuring lateness without load for {args.before:g} s")
        a = await lateness_buckets(port)
        cpu0 = C.cpu_seconds(d.pid)
        await asyncio.sleep(args.before)
        b = await lateness_buckets(port)
        cpu1 = C.cpu_seconds(d.pid)
        before = histogram_quantile(0.99, a, b)
        print(
            f"  before: p99 lateness {before[0]:.4f} s (bucket ≤ {before[1]:g} s) over"
            f" {before[2]} starts; daemon CPU {100 * (cpu1 - cpu0) / args.before:.0f} %"
        )
        print(f"load: {', '.join(ROUTES)} at {args.rate:g} req/s each for {args.duration:g} s")
        t0 = time.monotonic()
        routes = await asyncio.gather(
            *(drive(port, path, args.rate, args.duration, args.connections) for path in ROUTES)
        )
        wall = time.monotonic() - t0
        c = await lateness_buckets(port)
        cpu2 = C.cpu_seconds(d.pid)
        during = histogram_quantile(0.99, b, c)
        results.update(
            before={"p99_s": before[0], "bucket_le": before[1], "starts": before[2]},
            during={"p99_s": during[0], "bucket_le": during[1], "starts": during[2]},
            routes=routes,
            daemon_cpu_percent=100 * (cpu2 - cpu1) / wall,
            rss_mib=C.rss_bytes(d.pid)[0] / 2**20,
        )
        print(
            f"\n{'route':28} {'sent':>6} {'ok':>6} {'p50':>9} {'p99':>9} {'max':>9} {'bytes':>9} errors"
        )
        for r in routes:
            print(
                f"{r['route']:28} {r['sent']:6d} {r['ok']:6d} {r['p50_s'] * 1000:7.1f}ms"
                f" {r['p99_s'] * 1000:7.1f}ms {r['max_s'] * 1000:7.1f}ms {r['bytes']:9d}"
                f" {r['errors'] or '-'}"
            )
        print(
            f"\nprobe lateness p99: before {before[0]:.4f} s (≤ {before[1]:g}), during"
            f" {during[0]:.4f} s (≤ {during[1]:g}) over {during[2]} starts;"
            f" daemon CPU {results['daemon_cpu_percent']:.0f} % of one core,"
            f" RSS {results['rss_mib']:.0f} MiB"
        )
        C.verdict(
            "probe lateness p99 < 1 s during the load", during[1] <= 1.0, f"≤ {during[1]:g} s"
        )
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    finally:
        code = d.stop()
        target.stop()
        print(f"daemon exit {code}; log {d.log}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=200.0, help="requests a second per route")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load (issue: 60)")
    ap.add_argument("--before", type=float, default=20.0, help="seconds measured without load")
    ap.add_argument("--connections", type=int, default=16, help="keep-alive connections per route")
    ap.add_argument("--target", default="auto", choices=["auto", "nginx", "python"])
    ap.add_argument("--json", help="write the figures to this file")
    return asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
