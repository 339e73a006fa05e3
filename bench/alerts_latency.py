"""Alert latency and storms through a real slamond (issue 11).

    .venv/bin/python bench/alerts_latency.py [--rounds 30] [--services 1000] [--skip-storm]

Everything runs on 127.0.0.1: slamond in its own process (SQLite in a temp dir), a service
target that answers 200 or 500 as the bench says, and a webhook receiver that notes when each
message arrives. Three measurements:

1. **Latency** (``--rounds`` rounds): one service goes down; from the moment its failure is
   confirmed (the alert's ``opened_at``, the daemon's clock: the confirming check counted)
   to the webhook receiver's arrival, minus the grouping window (1 s here). Target: p99
   under 1 s beyond the grouping window.
2. **Storm, grouped** (``--services``, default 1,000, checked every 5 s, confirm_failures 1,
   grouping window 10 s, 2 webhook channels): all fail at once. status.get is called in a
   loop on one connection (from a process of its own, every 50 ms) from the flip until every
   service is confirmed down and the outbox is drained; its p50/p99 are printed, from
   writing the request to the decoded reply (target p99 < 50 ms). One message per channel
   is expected; the outbox drain time is from the flip to the last message received.
3. **Storm, ungrouped**: the same with grouping_window = 1 ms and rate_limit = 6000 a minute
   (the highest allowed), so each outage is its own message: the outbox's own throughput
   and drain time with ~1,000 messages queued at once.

No competitor runs side by side: none of the peers named in the issue (Uptime Kuma, Gatus)
is installed here (their alerting cannot be driven without them); the ratios printed are to
the issue's targets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

from slamon_daemon.targets import Request, Target, response_bytes  # noqa: E402

GROUPING_S = 1.0


class Switch:
    """The services' target: 200 while ``up``; 500 for the ids in ``down`` (or all)."""

    def __init__(self) -> None:
        self.all_down = False
        self.down: set[str] = set()
        self.target = Target(self._answer)

    async def _answer(self, req: Request, w: asyncio.StreamWriter) -> None:
        sid = req.path.rsplit("/", 1)[-1]
        bad = self.all_down or sid in self.down
        w.write(response_bytes(500 if bad else 200, b"no" if bad else b"ok"))


class Hook:
    """The webhook receiver: (arrival wall time, JSON body) of each message."""

    def __init__(self) -> None:
        self.got: list[tuple[float, dict[str, Any]]] = []
        self.target = Target(self._answer)

    async def _answer(self, req: Request, w: asyncio.StreamWriter) -> None:
        self.got.append((time.time(), json.loads(req.body)))
        w.write(response_bytes(200, b"ok"))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.target.port}{path}"


def write_config(
    folder: Path, services: int, interval: str, alerts: str, channels: str, port: int
) -> Path:
    body = "".join(
        f'\n[[service]]\nid = "s{i:04d}"\nurl = "http://127.0.0.1:{port}/s{i:04d}"\n'
        f'interval = "{interval}"\ntimeout = "2s"\nconfirm_failures = 1\n'
        for i in range(services)
    )
    path = folder / "slamon.toml"
    path.write_text(
        f'[daemon]\ndatabase_url = "sqlite:///{folder}/db.sqlite"\nsocket = "{folder}/s.sock"\n'
        'auto_incident = false\nlog_level = "WARNING"\n'
        f"\n[alerts]\n{alerts}\nslo_alerts = false\n{channels}\n{body}",
        encoding="utf-8",
    )
    return path


def channel(cid: str, url: str, extra: str = "") -> str:
    return f'\n[[alert_channel]]\nid = "{cid}"\ntype = "webhook"\nurl = "{url}"\n{extra}'


class Feed:
    """One connection to the daemon's socket."""

    def __init__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.r, self.w, self.n = r, w, 0

    @classmethod
    async def open(cls, sock: Path) -> Feed:
        r, w = await asyncio.open_unix_connection(str(sock), limit=1 << 26)
        await r.readline()
        return cls(r, w)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        self.n += 1
        self.w.write(
            json.dumps({"id": self.n, "method": method, "params": params or {}}).encode() + b"\n"
        )
        await self.w.drain()
        while True:
            frame = json.loads(await self.r.readline())
            if frame.get("id") == self.n:
                if "error" in frame:
                    raise RuntimeError(f"{method}: {frame['error']}")
                return frame["result"]

    async def close(self) -> None:
        self.w.close()
        with contextlib.suppress(Exception):
            await self.w.wait_closed()


async def start_daemon(config: Path, folder: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(C.REPO)}
    log = open(folder / "slamond.log", "ab")  # noqa: SIM115 - the child's
    proc = await asyncio.create_subprocess_exec(
        C.PYTHON, "-m", "slamon_daemon", "--config", str(config), stdout=log, stderr=log, env=env
    )
    log.close()
    sock = folder / "s.sock"
    for _ in range(600):
        if sock.exists():
            with contextlib.suppress(OSError):
                f = await Feed.open(sock)
                await f.close()
                return proc
        await asyncio.sleep(0.1)
    raise RuntimeError(f"slamond did not start: {(folder / 'slamond.log').read_text()}")


async def stop_daemon(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 60)
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def until(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return
        await asyncio.sleep(0.02)
    raise RuntimeError(f"timed out: {what}")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


async def latency(rounds: int) -> list[float]:
    """Seconds from confirmation to arrival, minus the grouping window, per round."""
    folder = Path(tempfile.mkdtemp(prefix="slamon-bench-"))
    sw, hook = Switch(), Hook()
    out: list[float] = []
    async with sw.target, hook.target:
        cfg = write_config(
            folder,
            5,
            "200ms",
            f'grouping_window = "{GROUPING_S}s"',
            channel("hook", hook.url("/h")),
            sw.target.port,
        )
        proc = await start_daemon(cfg, folder)
        feed = await Feed.open(folder / "s.sock")
        try:
            for n in range(rounds):
                sid = f"s{n % 5:04d}"
                before = len(hook.got)
                sw.down = {sid}
                await until(
                    lambda before=before: any(b["event"] == "down" for _, b in hook.got[before:]),
                    30,
                    "down",
                )
                arrived = next(t for t, b in hook.got[before:] if b["event"] == "down")
                alerts = (await feed.call("alert.list", {"hours": 0}))["alerts"]
                a = next(
                    x
                    for x in alerts
                    if x["service_id"] == sid and x["open"] and x["rule"] == "down"
                )
                opened = datetime.fromisoformat(a["opened_at"]).timestamp()
                out.append(arrived - opened - GROUPING_S)
                sw.down = set()
                await until(
                    lambda before=before: any(
                        b["event"] == "recovery" for _, b in hook.got[before:]
                    ),
                    30,
                    "recovery",
                )
        finally:
            await feed.close()
            await stop_daemon(proc)
            shutil.rmtree(folder, ignore_errors=True)
    return out


async def storm(services: int, grouped: bool) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="slamon-bench-"))
    sw, hook = Switch(), Hook()
    async with sw.target, hook.target:
        if grouped:
            alerts = 'grouping_window = "10s"'
            channels = channel("one", hook.url("/1")) + channel("two", hook.url("/2"))
        else:
            alerts = 'grouping_window = "1ms"'
            channels = channel("one", hook.url("/1"), "rate_limit = 6000\n")
        cfg = write_config(folder, services, "5s", alerts, channels, sw.target.port)
        proc = await start_daemon(cfg, folder)
        feed = await Feed.open(folder / "s.sock")
        try:

            async def all_up() -> bool:
                st = await feed.call("status.get")
                return all(s["status"] == "operational" for s in st["services"])

            await until(all_up, 120, "every service checked and up")
            cpu0 = C.cpu_seconds(proc.pid)
            out_file, stop_file = folder / "poll.jsonl", folder / "poll.stop"
            poller = await asyncio.create_subprocess_exec(
                C.PYTHON,
                __file__,
                "--poll",
                str(folder / "s.sock"),
                "--out",
                str(out_file),
                "--stop",
                str(stop_file),
            )
            await until(out_file.exists, 60, "the poller's first call")
            t0 = time.time()
            sw.all_down = True
            drained_at: float | None = None
            confirmed_at: float | None = None
            expected = 2 * services if grouped else services
            while time.time() - t0 < 300:
                await asyncio.sleep(0.5)
                if confirmed_at is None:
                    for line in out_file.read_text().splitlines():
                        at, _ms, down = json.loads(line)
                        if down == services and at >= t0:
                            confirmed_at = at
                            break
                    continue
                chans = await feed.call("alert.channels")
                listed = sum(len(b.get("services") or []) for _, b in hook.got)
                if sum(c["pending"] for c in chans) == 0 and listed >= expected:
                    drained_at = max(t for t, _ in hook.got)
                    break
            stop_file.touch()
            await poller.wait()
            timings = [
                ms
                for at, ms, _d in (json.loads(x) for x in out_file.read_text().splitlines())
                if at >= t0
            ]
            cpu = C.cpu_seconds(proc.pid) - cpu0
            listed = [len(b.get("services") or []) for _, b in hook.got]
            return {
                "messages": len(hook.got),
                "services_per_message": listed[:4],
                "status_calls": len(timings),
                "status_p50_ms": statistics.median(timings),
                "status_p99_ms": pct(timings, 99),
                "status_max_ms": max(timings),
                "all_confirmed_s": (confirmed_at or float("nan")) - t0,
                "drained_s": (drained_at or float("nan")) - t0,
                "daemon_cpu_s": cpu,
            }
        finally:
            await feed.close()
            await stop_daemon(proc)
            shutil.rmtree(folder, ignore_errors=True)


async def poll(sock: Path, out: Path, stop: Path) -> None:
    """``--poll``: call status.get in a loop on one connection until ``stop`` exists; one JSON
    line per call: [wall time, milliseconds, services in major outage]. A process of its own,
    so the bench's targets and receiver do not slow the measuring client down."""
    feed = await Feed.open(sock)
    with out.open("a", encoding="utf-8") as f:
        while not stop.exists():
            s = time.perf_counter()
            st = await feed.call("status.get")
            ms = (time.perf_counter() - s) * 1000
            down = sum(1 for x in st["services"] if x["status"] == "major_outage")
            f.write(json.dumps([time.time(), ms, down]) + "\n")
            f.flush()
            await asyncio.sleep(0.05)
    await feed.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--poll", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--stop", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--skip-storm", action="store_true")
    ap.add_argument("--storms", choices=["both", "grouped", "ungrouped"], default="both")
    args = ap.parse_args()
    if args.poll:
        await poll(args.poll, args.out, args.stop)
        return
    C.print_machine()
    load = C.Load()
    lat = await latency(args.rounds) if args.rounds else []
    if lat:
        print(
            f"\n1. confirmation -> webhook, beyond the {GROUPING_S:g} s grouping window,"
            f" {len(lat)} rounds: p50 {statistics.median(lat) * 1000:.0f} ms,"
            f" p99 {pct(lat, 99) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms"
            f"  (target p99 < 1000 ms: ratio {pct(lat, 99):.2f}; "
            f"{'MET' if pct(lat, 99) < 1 else 'NOT MET'})"
        )
    if not args.skip_storm:
        kinds = {"both": (True, False), "grouped": (True,), "ungrouped": (False,)}
        for grouped in kinds[args.storms]:
            r = await storm(args.services, grouped)
            name = (
                "grouped (10 s window, 2 channels)"
                if grouped
                else "ungrouped (1 ms window, 1 channel at 6000/min)"
            )
            print(
                f"\n{'2' if grouped else '3'}. {args.services} services down at once, {name}:\n"
                f"   messages received {r['messages']} (services listed in the first:"
                f" {r['services_per_message'][:2]}); all confirmed down after"
                f" {r['all_confirmed_s']:.1f} s; outbox drained (last message) after {r['drained_s']:.1f} s\n"
                f"   status.get over {r['status_calls']} calls: p50 {r['status_p50_ms']:.1f} ms,"
                f" p99 {r['status_p99_ms']:.1f} ms, max {r['status_max_ms']:.1f} ms"
                f" (target p99 < 50 ms: ratio {r['status_p99_ms'] / 50:.2f};"
                f" {'MET' if r['status_p99_ms'] < 50 else 'NOT MET'}); daemon CPU {r['daemon_cpu_s']:.1f} s"
            )
    print(f"\nload: {load.report(0.0)}")


if __name__ == "__main__":
    asyncio.run(main())
