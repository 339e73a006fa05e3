"""slamon's HTTP face beside Uptime Kuma's, under the same load, in one run (issue 13, point 9).

    .venv/bin/python bench/http_load_vs_kuma.py --kuma-dir DIR [--services 1000]
        [--interval 60] [--rate 200] [--duration 60] [--before 60] [--only slamon|kuma]

Each system in turn (slamon first, then Uptime Kuma) probes ``--services`` HTTP services
every ``--interval`` seconds against one recording target (a process of its own that notes
the arrival time of every request on its path). Once every service has been probed and one
interval has passed, the script

1. measures the probe delay for ``--before`` seconds without HTTP load, then
2. sends each system's three public routes ``--rate`` requests a second EACH for
   ``--duration`` seconds (open loop over keep-alive connections, latency from each
   request's due time: bench/http_load.py's ``drive``):

   =========================  ==========================================
   slamon                     Uptime Kuma
   =========================  ==========================================
   ``/status`` (the page)     ``/status/bench`` (the page's HTML)
   ``/api/v2/summary.json``   ``/api/status-page/heartbeat/bench`` (the
                              JSON the status page polls)
   ``/metrics``               ``/metrics``
   =========================  ==========================================

The probe delay is measured at the target, the same way for both: for each service, the
gap between two consecutive probes minus the interval (a probe that starts 2 s late
makes a gap of interval + 2 s). Reported: p50/p99/max of the delay over the gaps that end
in the window, and the gaps of two intervals or more (missed probes). It counts from the
outside what slamon's lateness histogram counts inside (bench/http_load.py reports that).

Uptime Kuma: `npm install uptime-kuma@2.0.0-dev.0` (the only version on the npm
registry; its bundled sqlite3 binary needs no build) in a folder of your choice, then
`cp -n node_modules/uptime-kuma/db/*.sql node_modules/uptime-kuma/db/old_migrations/`
(the package ships its patch files one folder too high) and pass
``--kuma-dir FOLDER/node_modules/uptime-kuma``. The script creates Kuma's database by
starting it once, then writes the monitors, a user, a published status page "bench"
listing every monitor and ``disableAuth`` (so /metrics needs no password, as slamon's) into
it, and starts it again. Nothing of Kuma is committed here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common as C  # noqa: E402
from http_load import drive  # noqa: E402

RECORDER = r"""
import asyncio, signal, sys, time
out = open(sys.argv[2], "w", buffering=1)
class Recorder(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buf = transport, b""
    def data_received(self, data):
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, _, self.buf = self.buf.partition(b"\r\n\r\n")
            parts = head.split(b" ", 2)
            if len(parts) > 1:
                out.write(f"{time.monotonic():.6f} {parts[1].decode('latin-1')}\n")
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
            )
async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Recorder, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    server.close()
asyncio.run(main())
"""


@dataclass
class Recording:
    """The recording target: a process that writes 'monotonic-time path' per request."""

    folder: Path
    port: int = field(default_factory=C.free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def file(self) -> Path:
        return self.folder / "arrivals.txt"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RECORDER, str(self.port), str(self.file)]
        )
        C.wait_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)

    def arrivals(self, prefix: str = "/svc/") -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        if not self.file.exists():
            return out
        for line in self.file.read_text(encoding="latin-1").splitlines():
            t, _, path = line.partition(" ")
            if path.startswith(prefix):
                out.setdefault(path, []).append(float(t))
        return out


def delays(
    arrivals: dict[str, list[float]], interval: float, start: float, end: float
) -> dict[str, Any]:
    """Probe delay (gap − interval, at least 0) for every gap that ends in [start, end)."""
    late: list[float] = []
    missed = 0
    for times in arrivals.values():
        for a, b in zip(times, times[1:], strict=False):
            if start <= b < end:
                gap = b - a
                late.append(max(0.0, gap - interval))
                missed += gap >= 2 * interval
    return {
        "gaps": len(late),
        "p50_s": C.quantile(late, 0.5) if late else float("nan"),
        "p99_s": C.quantile(late, 0.99) if late else float("nan"),
        "max_s": max(late, default=float("nan")),
        "missed": missed,
    }


async def wait_all_probed(rec: Recording, services: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(rec.arrivals()) < services:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(rec.arrivals())} of {services} services probed")
        await asyncio.sleep(1)


async def measure(
    name: str,
    pid: int,
    port: int,
    routes: tuple[str, ...],
    rec: Recording,
    args: argparse.Namespace,
    start_s: float = 0.0,
) -> dict[str, Any]:
    """The common part: settle, before-window, load-window; figures of one system.
    ``start_s``: how long the system takes to start all its services on its own."""
    await wait_all_probed(rec, args.services, start_s + args.interval * 3 + 120)
    print(f"[{name}] every service probed; one more interval to settle")
    await asyncio.sleep(args.interval)
    for path in routes:  # warm the caches, as a first visitor would
        await drive(port, path, 5, 1, 2)
    t0, cpu0 = time.monotonic(), C.cpu_seconds(pid)
    await asyncio.sleep(args.before)
    t1, cpu1 = time.monotonic(), C.cpu_seconds(pid)
    print(f"[{name}] load: {', '.join(routes)} at {args.rate:g} req/s each")
    results = await asyncio.gather(
        *(drive(port, path, args.rate, args.duration, args.connections) for path in routes)
    )
    t2, cpu2 = time.monotonic(), C.cpu_seconds(pid)
    arrivals = rec.arrivals()
    out = {
        "name": name,
        "before": delays(arrivals, args.interval, t0, t1),
        "during": delays(arrivals, args.interval, t1, t2),
        "cpu_before": (cpu1 - cpu0) / (t1 - t0),
        "cpu_during": (cpu2 - cpu1) / (t2 - t1),
        "rss_mib": C.rss_bytes(pid)[0] / 2**20,
        "routes": results,
    }
    report(out)
    return out


def report(r: dict[str, Any]) -> None:
    print(
        f"\n[{r['name']}] {'route':36} {'sent':>6} {'ok':>6} {'p50':>9} {'p99':>9} {'bytes':>9} errors"
    )
    for x in r["routes"]:
        print(
            f"[{r['name']}] {x['route']:36} {x['sent']:6d} {x['ok']:6d}"
            f" {x['p50_s'] * 1000:7.1f}ms {x['p99_s'] * 1000:7.1f}ms {x['bytes']:9d} {x['errors'] or '-'}"
        )
    for phase in ("before", "during"):
        d = r[phase]
        print(
            f"[{r['name']}] probe delay {phase:6}: p50 {d['p50_s']:.3f} s, p99 {d['p99_s']:.3f} s,"
            f" max {d['max_s']:.3f} s over {d['gaps']} gaps, {d['missed']} missed;"
            f" CPU {r['cpu_' + phase] * 100:.0f} % of a core"
        )
    print(f"[{r['name']}] RSS {r['rss_mib']:.0f} MiB")


async def run_slamon(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="slamon-bench-vs-kuma-"))
    rec = Recording(folder)
    rec.start()
    port = C.free_port()
    cfg = folder / "slamon.toml"
    head = (
        f'[daemon]\ndatabase_url = "sqlite:///{folder / "slamon.db"}"\n'
        f'socket = "{folder / "slamon.sock"}"\nnode = "bench"\n\n'
        f'[http]\nlisten = "127.0.0.1:{port}"\nrate_limit = 100000\nrate_burst = 100000\n'
        "max_requests = 256\nmax_connections = 2048\n\n"
    )
    url = f"http://127.0.0.1:{rec.port}/svc/"
    cfg.write_text(
        head
        + "".join(
            C.service_toml(f"svc-{i:04d}", f"{url}{i}", f"{args.interval:g}s", "48s")
            for i in range(args.services)
        ),
        encoding="utf-8",
    )
    d = C.DaemonProc(folder, cfg, folder / "slamon.sock")
    d.start()
    try:
        await d.wait_ready()
        return await measure(
            "slamon", d.pid, port, ("/status", "/api/v2/summary.json", "/metrics"), rec, args
        )
    finally:
        d.stop()
        rec.stop()


def kuma_proc(kuma_dir: Path, data: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DATA_DIR=f"{data}/", UPTIME_KUMA_PORT=str(port))
    env["UPTIME_KUMA_HOST"] = "127.0.0.1"
    return subprocess.Popen(
        ["node", "server/server.js"],
        cwd=kuma_dir,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_listening(proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while "Listening on" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"Uptime Kuma did not start; see {log}")
        time.sleep(0.5)


def stop_proc(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def seed_kuma(db: Path, kuma_dir: Path, url: str, services: int, interval: float) -> None:
    """A user, disableAuth, N http monitors and a published status page listing them all."""
    password = subprocess.run(
        ["node", "-e", "console.log(require('bcryptjs').hashSync('bench-password', 10))"],
        cwd=kuma_dir,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "INSERT INTO user (username, password, active) VALUES ('bench', ?, 1)", (password,)
        )
        con.execute("DELETE FROM setting WHERE key = 'disableAuth'")
        con.execute("INSERT INTO setting (key, value, type) VALUES ('disableAuth', 'true', NULL)")
        con.execute(
            "INSERT INTO status_page (slug, title, icon, theme, published) "
            "VALUES ('bench', 'Bench', '/icon.svg', 'auto', 1)"
        )
        page = con.execute("SELECT id FROM status_page WHERE slug = 'bench'").fetchone()[0]
        con.execute(
            "INSERT INTO `group` (name, public, active, weight, status_page_id) "
            "VALUES ('Services', 1, 1, 1, ?)",
            (page,),
        )
        group = con.execute("SELECT max(id) FROM `group`").fetchone()[0]
        for i in range(services):
            cur = con.execute(
                "INSERT INTO monitor (name, active, user_id, interval, url, type, weight,"
                " maxretries, ignore_tls, upside_down, maxredirects, accepted_statuscodes_json,"
                " retry_interval, method, timeout, resend_interval, expiry_notification)"
                " VALUES (?, 1, 1, ?, ?, 'http', 2000, 0, 0, 0, 10, '[\"200-299\"]', ?, 'GET',"
                " 48, 0, 0)",
                (f"svc-{i:04d}", int(interval), f"{url}{i}", int(interval)),
            )
            con.execute(
                "INSERT INTO monitor_group (monitor_id, group_id, weight) VALUES (?, ?, ?)",
                (cur.lastrowid, group, i + 1),
            )
    con.close()


async def run_kuma(args: argparse.Namespace) -> dict[str, Any]:
    kuma_dir = Path(args.kuma_dir).resolve()
    if not (kuma_dir / "server" / "server.js").exists():
        raise SystemExit(f"--kuma-dir {kuma_dir}: no server/server.js (see the docstring)")
    folder = Path(tempfile.mkdtemp(prefix="kuma-bench-"))
    data = folder / "data"
    data.mkdir()
    (data / "db-config.json").write_text('{"type": "sqlite"}')
    log = folder / "kuma.log"
    port = C.free_port()
    first = kuma_proc(kuma_dir, data, port, log)  # creates and migrates the database
    wait_listening(first, log)
    stop_proc(first)
    rec = Recording(folder)
    rec.start()
    seed_kuma(
        data / "kuma.db",
        kuma_dir,
        f"http://127.0.0.1:{rec.port}/svc/",
        args.services,
        args.interval,
    )
    proc = kuma_proc(kuma_dir, data, port, log)
    try:
        wait_listening(proc, log)
        return await measure(
            "kuma",
            proc.pid,
            port,
            ("/status/bench", "/api/status-page/heartbeat/bench", "/metrics"),
            rec,
            args,
            # Kuma starts its monitors one after the other, 300-1,000 ms apart
            # (server.js startMonitors): 1,000 monitors take about 11 minutes.
            start_s=args.services * 1.0,
        )
    finally:
        errors = log.read_text(errors="replace").count("Unable to acquire a connection")
        print(f"[kuma] 'Unable to acquire a connection' (a heartbeat not stored): {errors}")
        stop_proc(proc)
        rec.stop()
        print(f"[kuma] log {log}")


async def main_async(args: argparse.Namespace) -> int:
    C.print_machine()
    print(f"load before: {os.getloadavg()}")
    out: dict[str, Any] = {"args": vars(args)}
    if args.only in (None, "slamon"):
        out["slamon"] = await run_slamon(args)
    if args.only in (None, "kuma"):
        out["kuma"] = await run_kuma(args)
    print(f"load after: {os.getloadavg()}")
    if "slamon" in out and "kuma" in out:
        s, k = out["slamon"], out["kuma"]
        print("\nside by side (slamon ÷ Uptime Kuma; below 1 is better for slamon)")
        for i, label in enumerate(("page", "status JSON", "/metrics")):
            a, b = s["routes"][i], k["routes"][i]
            print(
                f"  {label:12} p99 {a['p99_s'] * 1000:8.1f} ms vs {b['p99_s'] * 1000:8.1f} ms"
                f" = {a['p99_s'] / b['p99_s']:.2f}; ok {a['ok']} vs {b['ok']} of {a['sent']}"
            )
        for phase in ("before", "during"):
            a, b = s[phase], k[phase]
            print(
                f"  probe delay p99 {phase:6}: {a['p99_s']:.3f} s vs {b['p99_s']:.3f} s;"
                f" missed {a['missed']} vs {b['missed']}"
            )
        print(
            f"  CPU during load {s['cpu_during'] * 100:.0f} % vs {k['cpu_during'] * 100:.0f} %"
            f" of a core; RSS {s['rss_mib']:.0f} vs {k['rss_mib']:.0f} MiB"
        )
        C.verdict(
            "slamon probe delay p99 < 1 s during the load",
            s["during"]["p99_s"] < 1.0,
            f"{s['during']['p99_s']:.3f} s",
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kuma-dir", default=os.environ.get("KUMA_DIR", ""))
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=200.0, help="requests a second per route")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    ap.add_argument("--before", type=float, default=60.0, help="seconds measured without load")
    ap.add_argument("--connections", type=int, default=16, help="keep-alive connections per route")
    ap.add_argument("--only", choices=["slamon", "kuma"])
    ap.add_argument("--json", help="write the figures to this file")
    return asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
