"""Probe throughput: checks per second and CPU per check that the daemon sustains.

    .venv/bin/python bench/probe_throughput.py [--backend sqlite|postgres|both] [--seconds 20]
        [--rounds 3] [--concurrency 50] [--services N] [--interval 1] [--profile SECONDS]
        [--loop uvloop|asyncio] [--code old=DIR --code new=.]

Against one fast local target (nginx with 1 worker when /usr/sbin/nginx exists, else a small
asyncio server from slamon_daemon.targets, in its own process either way), at the same
concurrency, it measures in turn, each in its own process and over the same window:

1. a bare prober loop: one slamon ``Prober`` (httpx's API over slamon's transport, one fresh
   connection per check), ``--concurrency`` workers calling ``Prober.check`` back to back
   (what the daemon's checks cost before its own work: state, rollups, store, feed);
2. Prometheus's blackbox exporter (when installed) probing the same target through /probe,
   driven by a cheap keep-alive load generator in another process; only the exporter's CPU
   is counted;
3. the daemon (``python -m slamon_daemon``) with many services (default: enough to offer
   1.5x the bare loop's rate, at least 2,000) at a short interval (1 s), all pointing at the
   target, every result stored (SQLite by default; PostgreSQL in a throw-away database).
   Checks made and records written come from daemon.stats over the real socket, CPU from
   /proc/PID/stat of the daemon process only. After the run the daemon is stopped (it
   flushes) and the stored rows are counted.

``--loop`` picks the event loop of the bare loop and of the daemon (uvloop by default when
it is installed: the daemon is started through ``slamon_daemon.loop.install_fast_loop``).

Each round runs a bare prober loop right before each daemon run, from the same code tree as
that daemon (``--code``: old's prober beside old's daemon; the machine's speed drifts by 10-20 %
over minutes), then the blackbox exporter; the verdicts use the medians over the rounds whose windows
were not disturbed by other processes (< 20 % of a core of other load).
Before each phase the script waits (at most 2 minutes) for the machine to be idle, and it
prints how much CPU other processes used during each window.

Targets (issue 14): the daemon reaches >= 80 % of the bare prober loop's rate, and its
CPU per stored check is <= 0.6 x the blackbox exporter's CPU per probe.

Only 127.0.0.1 and Unix sockets are used; every phase is bounded by --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

LOOP = "asyncio"
"""The event loop of the bare loop and of the daemon (--loop)."""

_DAEMON_ON_FAST_LOOP = (
    "import sys; from slamon_daemon.loop import install_fast_loop; install_fast_loop(); "
    "from slamon_daemon.daemon import main; sys.exit(main())"
)


class LoopDaemonProc(C.DaemonProc):
    """The daemon, started through install_fast_loop() when the loop asked for is uvloop,
    from the code tree ``code`` (PYTHONPATH) when one is set (--code)."""

    code: Path | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLAMON_")}
        env.pop("LOG_LEVEL", None)
        if self.code is not None:
            env["PYTHONPATH"] = str(self.code)
        argv = (
            [C.PYTHON, "-m", "slamon_daemon"]
            if LOOP == "asyncio"
            else [C.PYTHON, "-c", _DAEMON_ON_FAST_LOOP]
        )
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*argv, "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                cwd=str(self.folder),
            )


def _run_on(loop: str, main: Any) -> None:
    if loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main)
    else:
        asyncio.run(main)


# -- child processes: the bare prober loop and the blackbox load generator ----------------


async def _bare_loop(url: str, conc: int, warmup: float, seconds: float) -> None:
    from slamon_daemon.models import Outcome, Service
    from slamon_daemon.probe import Prober

    prober = Prober(node="bench")
    state = {"count": 0, "errors": 0, "counting": False, "stop": False}

    async def worker(i: int) -> None:
        service = Service(id=f"bare-{i}", name="bare", url=f"{url}bare/{i}", timeout_s=10.0)
        while not state["stop"]:
            ok = (await prober.check(service)).outcome is Outcome.UP
            if state["counting"]:
                if ok:
                    state["count"] += 1
                else:
                    state["errors"] += 1

    tasks = [asyncio.create_task(worker(i)) for i in range(conc)]
    await asyncio.sleep(warmup)
    print("START", flush=True)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    state["counting"] = True
    await asyncio.sleep(seconds)
    state["counting"] = False
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    state["stop"] = True
    await asyncio.gather(*tasks, return_exceptions=True)
    await prober.aclose()
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    print(
        "RESULT "
        + json.dumps(
            {
                "requests": state["count"],
                "errors": state["errors"],
                "seconds": t1 - t0,
                "cpu_s": cpu,
                "loop": type(asyncio.get_running_loop()).__module__,
                "code": str(Path(sys.modules["slamon_daemon"].__file__ or "?").parent),
            }
        ),
        flush=True,
    )


async def _read_http_response(r: asyncio.StreamReader) -> bytes:
    head = await r.readuntil(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        return await r.readexactly(int(headers["content-length"]))
    body = bytearray()
    while True:  # chunked
        size = int((await r.readline()).strip().split(b";")[0], 16)
        if size == 0:
            await r.readline()
            return bytes(body)
        body += await r.readexactly(size)
        await r.readexactly(2)


async def _blackbox_load(
    bb_port: int, target: str, conc: int, warmup: float, seconds: float
) -> None:
    req = (
        f"GET /probe?module=http_2xx&target={quote(target, safe='')} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{bb_port}\r\n\r\n"
    ).encode()
    state = {"count": 0, "failed": 0, "counting": False, "stop": False}

    async def worker() -> None:
        r, w = await asyncio.open_connection("127.0.0.1", bb_port)
        try:
            while not state["stop"]:
                w.write(req)
                body = await _read_http_response(r)
                if state["counting"]:
                    if b"\nprobe_success 1" in body:
                        state["count"] += 1
                    else:
                        state["failed"] += 1
        finally:
            w.close()

    tasks = [asyncio.create_task(worker()) for _ in range(conc)]
    await asyncio.sleep(warmup)
    print("START", flush=True)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    state["counting"] = True
    await asyncio.sleep(seconds)
    state["counting"] = False
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    state["stop"] = True
    await asyncio.gather(*tasks, return_exceptions=True)
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    print(
        "RESULT "
        + json.dumps(
            {
                "probes": state["count"],
                "failed": state["failed"],
                "seconds": t1 - t0,
                "gen_cpu_s": cpu,
            }
        ),
        flush=True,
    )


def _run_child(
    argv: list[str], on_start: Any, timeout: float, code: Path | None = None
) -> dict[str, Any]:
    """Run a child mode of this script (importing ``slamon_daemon`` from ``code`` when one is
    given); call ``on_start()`` at its START line; its RESULT."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    proc = subprocess.Popen(
        [C.PYTHON, __file__, *argv],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    result: dict[str, Any] = {}
    start_mark: Any = None
    end = time.monotonic() + timeout
    for line in proc.stdout:
        if line.startswith("START"):
            start_mark = on_start()
        elif line.startswith("RESULT "):
            result = json.loads(line[7:])
            result["end_mark"] = on_start()
            result["start_mark"] = start_mark
        if time.monotonic() > end:
            proc.kill()
            break
    proc.wait(30)
    if not result:
        raise RuntimeError(f"child {argv[:2]} gave no result (exit {proc.returncode})")
    return result


# -- phases ------------------------------------------------------------------------------


def run_bare(
    target: C.TargetProc, conc: int, warmup: float, seconds: float, code: Path | None = None
) -> dict[str, Any]:
    """The bare prober loop, importing ``slamon_daemon`` from ``code`` (the tree whose daemon
    it stands beside) when one is given."""
    res = _run_child(
        [
            "--child",
            "bare",
            "--url",
            target.url,
            "--concurrency",
            str(conc),
            "--warmup",
            str(warmup),
            "--seconds",
            str(seconds),
            "--loop",
            LOOP,
        ],
        lambda: (target.cpu(), C.busy_seconds()),
        warmup + seconds + 120,
        code,
    )
    res["rate"] = res["requests"] / res["seconds"]
    res["cpu_per"] = res["cpu_s"] / max(1, res["requests"])
    (tg0, b0), (tg1, b1) = res["start_mark"], res["end_mark"]
    res["target_cpu"] = tg1 - tg0
    res["other_cpu"] = max(0.0, (b1 - b0) - res["cpu_s"] - res["target_cpu"])
    return res


BLACKBOX_YML = """\
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
"""


def run_blackbox(
    target: C.TargetProc, conc: int, warmup: float, seconds: float
) -> dict[str, Any] | None:
    if C.BLACKBOX is None:
        return None
    d = Path(tempfile.mkdtemp(prefix="slamon-bench-bb-"))
    (d / "blackbox.yml").write_text(BLACKBOX_YML, encoding="utf-8")
    port = C.free_port()
    proc = subprocess.Popen(
        [
            C.BLACKBOX,
            f"--config.file={d / 'blackbox.yml'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(d / "bb.log", "wb"),  # noqa: SIM115
    )
    try:
        C.wait_port(port)

        def mark() -> tuple[float, float, float]:
            return C.cpu_seconds(proc.pid), target.cpu(), C.busy_seconds()

        res = _run_child(
            [
                "--child",
                "bbload",
                "--bb-port",
                str(port),
                "--url",
                f"{target.url}bb",
                "--concurrency",
                str(conc),
                "--warmup",
                str(warmup),
                "--seconds",
                str(seconds),
            ],
            mark,
            warmup + seconds + 120,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)
    (bb0, tg0, b0), (bb1, tg1, b1) = res["start_mark"], res["end_mark"]
    res["cpu_s"] = bb1 - bb0
    res["target_cpu"] = tg1 - tg0
    res["other_cpu"] = max(0.0, (b1 - b0) - res["cpu_s"] - res["target_cpu"] - res["gen_cpu_s"])
    res["rate"] = res["probes"] / res["seconds"]
    res["cpu_per"] = res["cpu_s"] / max(1, res["probes"])
    return res


def daemon_config(
    folder: Path, db_url: str, target: C.TargetProc, services: int, interval: float, conc: int
) -> str:
    head = (
        f'[daemon]\ndatabase_url = "{db_url}"\nsocket = "{folder / "slamon.sock"}"\n'
        f'spool_dir = "{folder / "spool"}"\nnode = "bench"\nmax_concurrency = {conc}\n'
        f'per_host_concurrency = {conc}\nlog_level = "INFO"\n\n'
    )
    body = "".join(
        C.service_toml(f"svc-{i:05d}", f"{target.url}s/{i}", f"{interval:g}s", "5s")
        for i in range(services)
    )
    return head + body


async def count_outcomes(db_url: str) -> dict[str, int]:
    if db_url.startswith("sqlite:///"):
        con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        try:
            return dict(
                con.execute("SELECT outcome, count(*) FROM checks GROUP BY outcome").fetchall()
            )
        finally:
            con.close()
    import asyncpg

    con = await asyncpg.connect(db_url)
    try:
        rows = await con.fetch("SELECT outcome, count(*) AS n FROM checks GROUP BY outcome")
        return {r["outcome"]: int(r["n"]) for r in rows}
    finally:
        await con.close()


async def run_daemon(
    backend: str,
    target: C.TargetProc,
    services: int,
    interval: float,
    conc: int,
    warmup: float,
    seconds: float,
    profile: float,
    code: Path | None = None,
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"slamon-bench-tp-{backend}-"))
    try:
        if backend == "postgres":
            async with C.pg_database() as dsn:
                return await _run_daemon(
                    folder, dsn, target, services, interval, conc, warmup, seconds, profile, code
                )
        return await _run_daemon(
            folder,
            f"sqlite:///{folder / 'slamon.db'}",
            target,
            services,
            interval,
            conc,
            warmup,
            seconds,
            profile,
            code,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _run_daemon(
    folder: Path,
    db_url: str,
    target: C.TargetProc,
    services: int,
    interval: float,
    conc: int,
    warmup: float,
    seconds: float,
    profile: float,
    code: Path | None,
) -> dict[str, Any]:
    cfg = folder / "slamon.toml"
    cfg.write_text(
        daemon_config(folder, db_url, target, services, interval, conc), encoding="utf-8"
    )
    d = LoopDaemonProc(folder, cfg, folder / "slamon.sock")
    d.code = code
    d.start()
    try:
        ready_s = await d.wait_ready()
        await asyncio.sleep(warmup)
        async with C.FeedClient(d.socket) as feed:
            s0 = await feed.call("daemon.stats")
            m0 = main_thread_cpu(d.pid)
            c0, pg0, tg0, t0 = (
                C.cpu_seconds(d.pid),
                C.postgres_cpu(),
                target.cpu(),
                time.perf_counter(),
            )
            b0 = C.busy_seconds()
            await asyncio.sleep(seconds)
            s1 = await feed.call("daemon.stats")
            m1 = main_thread_cpu(d.pid)
            c1, pg1, tg1, t1 = (
                C.cpu_seconds(d.pid),
                C.postgres_cpu(),
                target.cpu(),
                time.perf_counter(),
            )
            b1 = C.busy_seconds()
            rss, hwm = C.rss_bytes(d.pid)
            prof = None
            if profile:
                out = folder / "profile.txt"
                p = C.start_profile(d.pid, profile, out)
                await asyncio.sleep(profile + 1)
                prof = (p, out)
            s_end = await feed.call("daemon.stats")
        if prof:
            C.finish_profile(*prof)
            print(split_profile(prof[1], (c1 - c0) / max(1, s1["checks_made"] - s0["checks_made"])))
    finally:
        rc = d.stop()
    stored = await count_outcomes(db_url)
    dt = t1 - t0
    made = s1["checks_made"] - s0["checks_made"]
    written = s1["records_written"] - s0["records_written"]
    return {
        "ready_s": ready_s,
        "seconds": dt,
        "made": made,
        "written": written,
        "rate": made / dt,
        "stored_rate": written / dt,
        "cpu_s": c1 - c0,
        "cpu_per_check": (c1 - c0) / max(1, made),
        # Conservative: over the window, divide by whichever is smaller, checks made or records
        # written (they differ by the writer's last flush); every check is verified stored below.
        "cpu_per_stored": (c1 - c0) / min(made, written) if min(made, written) else math.inf,
        "cpu_pct": 100 * (c1 - c0) / dt,
        "loop_cpu_s": m1 - m0,
        "pg_cpu_s": pg1 - pg0 if db_url.startswith("postgres") else None,
        "target_cpu": tg1 - tg0,
        "pending_end": s1["write_pending"],
        "other_cpu": max(
            0.0,
            (b1 - b0)
            - (c1 - c0)
            - (tg1 - tg0)
            - ((pg1 - pg0) if db_url.startswith("postgres") else 0.0),
        ),
        "skipped": s1["lateness"]["skipped"] - s0["lateness"]["skipped"],
        "lateness_p99": s1["lateness"]["p99_s"],
        "rss": rss,
        "hwm": hwm,
        "made_before_stop": s_end["checks_made"],
        "stored_rows": sum(stored.values()),
        "outcomes": stored,
        "exit": rc,
        "write_failures": s_end["write_failures"],
        "errors_logged": len(d.log_lines(" ERROR ")),
    }


# -- where the daemon's CPU goes ---------------------------------------------------------


def main_thread_cpu(pid: int) -> float:
    """CPU seconds of the process's main thread (the event loop's); the rest of
    ``C.cpu_seconds`` is its other threads' (SQLite's, the name resolver's)."""
    with open(f"/proc/{pid}/task/{pid}/stat", encoding="ascii") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / C.CLK_TCK


SPLIT_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "journal (Spool.append: encode, write)",
        ("Spool.append", "encode_record", "CheckWriter.add", "CheckWriter.journal_soon"),
    ),
    ("logs", ("logging/", "Daemon._announce")),
    ("feed events", ("slamon_daemon/events.py",)),
    ("live state (state.py)", ("slamon_daemon/state.py",)),
    ("metrics book", ("metrics_source.py", "web/metrics.py")),
    ("alerts, per check", ("AlertingService.on_check", "slamon_daemon/alerts/")),
    ("incidents, per check", ("incident",)),
    ("rollup fold (rollup.py)", ("slamon_daemon/rollup.py",)),
    ("writer, loop side (flush, rows, store)", ("slamon_daemon/writer.py", "slamon_daemon/store/")),
    ("on_check's rest (classify, link)", ("Daemon.on_check", "Daemon._count")),
    (
        "prober (probe.py, transport/, httpx)",
        ("slamon_daemon/probe.py", "slamon_daemon/transport/", "httpx/", "httpcore/", "h11/"),
    ),
    ("run_check's rest (maintenance, re-check)", ("Daemon.run_check", "maintenance.py")),
    ("scheduler", ("slamon_daemon/scheduler.py",)),
    ("overload watch", ("slamon_daemon/overload.py",)),
)
"""Categories of a sample, by the frame nearest its leaf that names one of these."""


def split_category(stack: str) -> str:
    """The part of the daemon a py-spy sample (collapsed stack, root first) belongs to."""
    frames = stack.split(";")
    if frames[0].startswith("Thread._bootstrap"):
        return "other threads (SQLite's: the writer's statements)"
    for frame in reversed(frames):
        for name, needles in SPLIT_RULES:
            if any(n in frame for n in needles):
                return name
    return "event loop and the rest (no slamon frame below main)"


def split_profile(path: Path, cpu_per_check: float) -> str:
    """The samples of a py-spy raw profile per part of the daemon, and that share of the
    daemon's CPU per check (a sample is a busy thread's wall time: on a loaded machine,
    waiting for a CPU counts too)."""
    counts: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        return f"(no profile: {exc})"
    for line in lines:
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit():
            cat = split_category(stack)
            counts[cat] = counts.get(cat, 0) + int(n)
    total = sum(counts.values())
    if not total:
        return "(empty profile)"
    out = [f"  split of the daemon's samples (share x {C.fmt_us(cpu_per_check)}/check made):"]
    for cat, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        out.append(f"  {100 * n / total:5.1f} %  {C.fmt_us(cpu_per_check * n / total):>8}  {cat}")
    return "\n".join(out)


# -- main --------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    ap.add_argument(
        "--seconds", type=float, default=20.0, help="measured window of each phase (20)"
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of (bare prober, daemon[, blackbox]); verdicts use medians (3)",
    )
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds before each window (5)")
    ap.add_argument(
        "--concurrency", type=int, default=50, help="requests in flight, all phases (50)"
    )
    ap.add_argument(
        "--services",
        type=int,
        default=0,
        help="services of the daemon (default: max(2000, 1.5 x bare rate x interval))",
    )
    ap.add_argument(
        "--interval", type=float, default=1.0, help="check interval of every service (1 s)"
    )
    ap.add_argument("--target", choices=["auto", "nginx", "python"], default="auto")
    ap.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        help="event loop of the bare prober loop and of the daemon (uvloop when installed)",
    )
    ap.add_argument("--no-blackbox", action="store_true", help="skip the blackbox exporter phase")
    ap.add_argument(
        "--code",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="run the daemon from this code tree (PYTHONPATH); several run side by side in "
        "each round, their order alternating (default: this repository's)",
    )
    ap.add_argument(
        "--profile",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="after the window, py-spy the daemon this long and print the hot functions",
    )
    # child modes (used by this script itself)
    ap.add_argument("--child", choices=["bare", "bbload"], help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--bb-port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    global LOOP
    LOOP = args.loop

    if args.child == "bare":
        _run_on(LOOP, _bare_loop(args.url, args.concurrency, args.warmup, args.seconds))
        return 0
    if args.child == "bbload":
        asyncio.run(
            _blackbox_load(args.bb_port, args.url, args.concurrency, args.warmup, args.seconds)
        )
        return 0

    print("== probe throughput ==")
    C.print_machine()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    target = C.start_target(args.target)
    print(
        f"target: {target.kind} on {target.url} (own process); concurrency {args.concurrency}; "
        f"each window {args.seconds:g} s after {args.warmup:g} s warm-up; {args.rounds} round(s), "
        f"each a bare prober run right before each daemon run; event loop {LOOP}"
    )
    codes: list[tuple[str, Path | None]] = [
        (c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.code
    ] or [("new", None)]
    pairs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {
        f"{b} {name}": [] for b in backends for name, _ in codes
    }
    bbs: list[dict[str, Any]] = []
    services = args.services
    try:
        for rnd in range(args.rounds):
            print(f"\n--- round {rnd + 1}/{args.rounds} ---")
            for backend in backends:
                order = codes if rnd % 2 == 0 else list(reversed(codes))
                for name, code in order:
                    # Each daemon run right after a bare prober run of its own tree: the
                    # prober's cost differs between trees, and "beside the prober" is the
                    # daemon's CPU less its own tree's prober's.
                    C.wait_quiet()
                    st0 = C.steal_seconds()
                    bare = run_bare(target, args.concurrency, args.warmup, args.seconds, code)
                    print(
                        f"[bare prober loop, {name}, {bare['loop']}] {bare['requests']} requests in "
                        f"{bare['seconds']:.1f} s = {bare['rate']:,.0f} req/s, {bare['errors']} errors; "
                        f"client CPU {bare['cpu_s']:.1f} s = {C.fmt_us(bare['cpu_per'])}/request "
                        f"({100 * bare['cpu_s'] / bare['seconds']:.0f} % of a core); target CPU "
                        f"{bare['target_cpu']:.1f} s; other processes {bare['other_cpu']:.1f} CPU-s; "
                        f"steal {C.steal_seconds() - st0:.1f} s [{bare['code']}]"
                    )
                    if not services:
                        services = max(2000, math.ceil(1.5 * bare["rate"] * args.interval))
                    offered = services / args.interval
                    print(
                        f"[daemon, {backend}, {name}] {services} services every {args.interval:g} s "
                        f"(offered {offered:,.0f} checks/s), max_concurrency = per_host_concurrency "
                        f"= {args.concurrency}"
                    )
                    C.wait_quiet()
                    st0 = C.steal_seconds()
                    prof = args.profile if rnd == args.rounds - 1 else 0.0
                    r = asyncio.run(
                        run_daemon(
                            backend,
                            target,
                            services,
                            args.interval,
                            args.concurrency,
                            max(args.warmup, 2 * args.interval + 1),
                            args.seconds,
                            prof,
                            code,
                        )
                    )
                    r["offered"] = offered
                    print(
                        f"  ready after {r['ready_s']:.1f} s; window {r['seconds']:.1f} s; other "
                        f"processes {r['other_cpu']:.1f} CPU-s; steal {C.steal_seconds() - st0:.1f} s"
                    )
                    print(
                        f"  checks made {r['made']} = {r['rate']:,.0f}/s; records written {r['written']} "
                        f"= {r['stored_rate']:,.0f}/s; journal backlog at end {r['pending_end']}; "
                        f"skipped slots {r['skipped']}; lateness p99 {r['lateness_p99']:.2f} s"
                    )
                    print(
                        f"  daemon CPU {r['cpu_s']:.1f} s ({r['cpu_pct']:.0f} % of a core) = "
                        f"{C.fmt_us(r['cpu_per_check'])}/check made, {C.fmt_us(r['cpu_per_stored'])}"
                        f"/stored check (CPU / min(made, written)); RSS {r['rss'] / 2**20:.0f} MiB"
                    )
                    print(
                        f"  of which the event loop's thread {C.fmt_us(r['loop_cpu_s'] / max(1, r['made']))}"
                        f"/check made, the other threads (SQLite's) "
                        f"{C.fmt_us((r['cpu_s'] - r['loop_cpu_s']) / max(1, r['made']))}"
                    )
                    extra = (
                        f"; PostgreSQL server CPU {r['pg_cpu_s']:.1f} s (not counted)"
                        if r["pg_cpu_s"] is not None
                        else ""
                    )
                    print(f"  target CPU {r['target_cpu']:.1f} s{extra}")
                    lost = r["made_before_stop"] - r["stored_rows"]
                    print(
                        f"  after stop (exit {r['exit']}): {r['stored_rows']} rows stored, "
                        f"{r['made_before_stop']} checks made before the stop -> "
                        f"{'none lost' if lost <= 0 else f'{lost} MISSING'}; outcomes {r['outcomes']}; "
                        f"write failures {r['write_failures']}; ERROR log lines {r['errors_logged']}"
                    )
                    print(
                        f"  ratio daemon / bare prober (this round) = {r['rate'] / bare['rate']:.3f}"
                    )
                    pairs[f"{backend} {name}"].append((bare, r))
            if not args.no_blackbox:
                C.wait_quiet()
                st0 = C.steal_seconds()
                bb = run_blackbox(target, args.concurrency, args.warmup, args.seconds)
                if bb is None:
                    print(
                        "[blackbox exporter] not installed (apt-get install -y "
                        "prometheus-blackbox-exporter): skipped"
                    )
                else:
                    bbs.append(bb)
                    print(
                        f"[blackbox exporter] {bb['probes']} successful probes ({bb['failed']} "
                        f"failed) in {bb['seconds']:.1f} s = {bb['rate']:,.0f} probes/s; exporter "
                        f"CPU {bb['cpu_s']:.1f} s = {C.fmt_us(bb['cpu_per'])}/probe "
                        f"({100 * bb['cpu_s'] / bb['seconds']:.0f} % of a core); target CPU "
                        f"{bb['target_cpu']:.1f} s; load generator {bb['gen_cpu_s']:.1f} CPU-s; "
                        f"other processes {bb['other_cpu']:.1f} CPU-s; steal "
                        f"{C.steal_seconds() - st0:.1f} s"
                    )
    finally:
        target.stop()

    # A run is "clean" when other processes (other people's test runs on a shared machine) used
    # less than 20 % of a core during its window; the verdicts use the medians of clean rounds.
    quiet = 0.2 * args.seconds
    print(
        f"\nsummary (medians over the rounds whose windows had < {quiet:.0f} CPU-s of other load):"
    )
    verdicts: list[str] = []
    bb_clean = [b for b in bbs if b["other_cpu"] < quiet] or bbs
    bb_cpu = C.median([b["cpu_per"] for b in bb_clean]) if bb_clean else None
    if bb_clean:
        print(
            f"  blackbox exporter: {C.median([b['rate'] for b in bb_clean]):,.0f} probes/s, "
            f"{C.fmt_us(bb_cpu)}/probe ({len(bb_clean)} of {len(bbs)} runs)"
        )
    for backend in pairs:
        all_ps = pairs[backend]
        ps = [(b, r) for b, r in all_ps if b["other_cpu"] < quiet and r["other_cpu"] < quiet]
        used = f"{len(ps)} of {len(all_ps)} rounds"
        if not ps:
            ps, used = all_ps, f"all {len(all_ps)} rounds, NONE was clean"
        ratios = [r["rate"] / b["rate"] for b, r in ps]
        ratio = C.median(ratios)
        bare_rate = C.median([b["rate"] for b, _ in ps])
        rate = C.median([r["rate"] for _, r in ps])
        bare_cpu = C.median([b["cpu_per"] for b, _ in ps])
        cpu_stored = C.median([r["cpu_per_stored"] for _, r in ps])
        bound = any(r["rate"] >= 0.95 * r["offered"] for _, r in ps)
        note = "; bound by the offered load: raise --services" if bound else ""
        print(
            f"  [{backend}] ({used}) bare prober {bare_rate:,.0f} req/s at {C.fmt_us(bare_cpu)}"
            f"/request; daemon {rate:,.0f} checks/s at {C.fmt_us(cpu_stored)}/stored check "
            f"(+{C.fmt_us(cpu_stored - bare_cpu)} beside the prober); ratio {ratio:.3f}{note}"
        )
        verdicts.append(
            C.verdict(
                f"[{backend}] daemon rate >= 80 % of the bare prober loop",
                ratio >= 0.80,
                f"median ratio {100 * ratio:.1f} % over {used}: "
                + ", ".join(f"{100 * x:.1f} %" for x in ratios)
                + f"; {rate:,.0f} vs {bare_rate:,.0f} checks/s"
                + note,
            )
        )
        if bb_cpu is None:
            verdicts.append(
                C.verdict(
                    f"[{backend}] daemon CPU/stored check <= 0.6 x blackbox CPU/probe",
                    False,
                    "NOT MEASURED: blackbox exporter not installed or skipped",
                )
            )
        else:
            verdicts.append(
                C.verdict(
                    f"[{backend}] daemon CPU/stored check <= 0.6 x blackbox CPU/probe",
                    cpu_stored <= 0.6 * bb_cpu,
                    f"{C.fmt_us(cpu_stored)} vs {C.fmt_us(bb_cpu)} = {cpu_stored / bb_cpu:.2f}x; bare "
                    f"prober alone {C.fmt_us(bare_cpu)} = {bare_cpu / bb_cpu:.2f}x",
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
