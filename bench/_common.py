"""Helpers shared by the benchmark scripts in bench/ (not a benchmark itself).

Everything here talks to 127.0.0.1 or a Unix socket only. CPU and memory of a process are
read from /proc/PID (utime + stime of every thread of the process; VmRSS / VmHWM), so a
figure is that process's own, never its children's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
NGINX = "/usr/sbin/nginx"
BLACKBOX = shutil.which("prometheus-blackbox-exporter") or shutil.which("blackbox_exporter")
PG_ADMIN_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


# -- the machine --------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "memory": mem,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def print_machine() -> None:
    m = machine()
    print(
        f"machine: nproc={m['nproc']}, cpu={m['cpu']!r}, memory={m['memory']}, "
        f"Python {m['python']}, Linux {m['kernel']}"
    )
    with contextlib.suppress(Exception):
        import httpcore
        import httpx

        print(
            f"         httpx {httpx.__version__}, httpcore {httpcore.__version__}, "
            f"sniffio {'present' if _has('sniffio') else 'ABSENT'}"
        )
    print(f"code:    {code_version()}")


def code_version() -> str:
    """Where slamon_daemon is imported from, and which commit that is."""
    import slamon_daemon

    pkg = Path(slamon_daemon.__file__).resolve().parent
    root = pkg.parent
    marker = root / ".commit"
    if marker.exists():
        return f"slamon_daemon from {pkg} (export of commit {marker.read_text().strip()[:12]})"
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "slamon_daemon", "schema"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"slamon_daemon from {pkg}"
    return f"slamon_daemon from {pkg} (commit {rev}" + (
        ", with UNCOMMITTED changes in slamon_daemon/ or schema/)" if dirty else ")"
    )


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# -- /proc -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (all its threads)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_bytes(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in bytes."""
    rss = hwm = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    return rss, hwm


def children_of(pid: int) -> list[int]:
    out: list[int] = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with (
            contextlib.suppress(OSError),
            open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f,
        ):
            out += [int(x) for x in f.read().split()]
    return out


def pids_named(comm: str) -> list[int]:
    """Every process whose /proc/PID/comm is ``comm`` (read-only: used to sum CPU)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{d}/comm", encoding="utf-8") as f:
                if f.read().strip() == comm:
                    out.append(int(d))
    return out


def cpu_of(pids: Sequence[int]) -> float:
    total = 0.0
    for p in pids:
        with contextlib.suppress(OSError, ValueError):
            total += cpu_seconds(p)
    return total


def busy_seconds() -> float:
    """CPU seconds the whole machine spent busy so far, all CPUs (/proc/stat; no idle/steal)."""
    with open("/proc/stat", encoding="ascii") as f:
        v = [int(x) for x in f.readline().split()[1:8]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / CLK_TCK  # user nice system irq softirq


class Load:
    """Machine-wide busy CPU over a window, to tell whether something else ran meanwhile."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.b0 = busy_seconds()

    def report(self, measured_cpu: float) -> str:
        wall = time.monotonic() - self.t0
        busy = busy_seconds() - self.b0
        other = busy - measured_cpu
        return (
            f"machine busy {busy:.1f} CPU-s over {wall:.0f} s on {os.cpu_count()} CPUs; "
            f"outside the measured processes {max(0.0, other):.1f} CPU-s "
            f"({100 * max(0.0, other) / max(1e-9, wall):.0f} % of a core)"
        )


def wait_quiet(max_wait: float = 120.0, threshold: float = 0.15) -> None:
    """Wait (at most ``max_wait`` s) until the machine is idle: busy < ``threshold`` of a core.

    Other people's test runs on a shared machine would otherwise skew the figures.
    ``BENCH_MAX_WAIT`` (seconds) caps the wait, on a machine that never gets quiet."""
    max_wait = min(max_wait, float(os.environ.get("BENCH_MAX_WAIT", max_wait)))
    t0 = time.monotonic()
    told = False
    while True:
        b0 = busy_seconds()
        time.sleep(2.0)
        load = (busy_seconds() - b0) / 2.0
        if load < threshold:
            if told:
                print(f"  (machine idle again after {time.monotonic() - t0:.0f} s)", flush=True)
            return
        if time.monotonic() - t0 > max_wait:
            print(
                f"  WARNING: other processes still use {100 * load:.0f} % of a core after "
                f"{max_wait:.0f} s; measuring anyway",
                flush=True,
            )
            return
        if not told:
            print(
                f"  (waiting for the machine to be idle: other processes use {100 * load:.0f} % "
                f"of a core)",
                flush=True,
            )
            told = True


def steal_seconds() -> float:
    """CPU time stolen from this VM by its host so far, all CPUs (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = f.readline().split()
    return int(fields[8]) / CLK_TCK if len(fields) > 8 else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > end:
                raise RuntimeError(
                    f"nothing listens on 127.0.0.1:{port} after {timeout}s"
                ) from None
            time.sleep(0.05)


# -- figures -----------------------------------------------------------------------------


def quantile(xs: Sequence[float], p: float) -> float:
    """Nearest-rank quantile of ``xs`` (0 < p <= 1)."""
    s = sorted(xs)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, math.ceil(p * len(s)) - 1))
    return s[k]


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs"


def verdict(target: str, met: bool, detail: str) -> str:
    line = f"VERDICT  {target}: {'MET' if met else 'NOT MET'} ({detail})"
    print(line)
    return line


# -- HTTP targets in their own process ----------------------------------------------------


@dataclass
class TargetProc:
    """A fast HTTP target on 127.0.0.1 answering 200 "ok" on every path, in its own process."""

    kind: str
    port: int
    proc: subprocess.Popen[bytes]
    folder: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def pids(self) -> list[int]:
        """The target's processes (nginx: master and worker)."""
        return [self.proc.pid, *children_of(self.proc.pid)]

    def cpu(self) -> float:
        return cpu_of(self.pids())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT if self.kind == "nginx" else signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


NGINX_CONF = """\
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 16384; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_timeout 0;
    server {{
        listen 127.0.0.1:{port} backlog=8192 reuseport;
        location / {{ default_type text/plain; return 200 "ok\\n"; }}
    }}
}}
"""


def start_target(kind: str = "auto") -> TargetProc:
    """nginx (1 worker) when /usr/sbin/nginx exists and kind is auto|nginx, else bench/_target.py."""
    if kind == "auto":
        kind = "nginx" if os.path.exists(NGINX) else "python"
    port = free_port()
    if kind == "nginx":
        if not os.path.exists(NGINX):
            raise SystemExit(
                f"{NGINX} is not installed (apt-get install -y nginx), or use --target python"
            )
        d = Path(tempfile.mkdtemp(prefix="slamon-bench-nginx-"))
        os.chmod(d, 0o755)
        conf = d / "nginx.conf"
        conf.write_text(NGINX_CONF.format(d=d, port=port), encoding="utf-8")
        proc = subprocess.Popen(
            [NGINX, "-p", str(d), "-e", str(d / "error.log"), "-c", str(conf)],
            stdin=subprocess.DEVNULL,
        )
        t = TargetProc("nginx", port, proc, d)
    else:
        proc = subprocess.Popen(
            [PYTHON, str(HERE / "_target.py"), "--port", str(port)], stdin=subprocess.DEVNULL
        )
        t = TargetProc("python", port, proc)
    try:
        wait_port(port)
    except RuntimeError:
        t.stop()
        raise
    return t


# -- PostgreSQL throw-away databases -------------------------------------------------------


@contextlib.asynccontextmanager
async def pg_database(admin_dsn: str = PG_ADMIN_DSN) -> AsyncIterator[str]:
    """A new empty database on the server of ``admin_dsn``; dropped on exit. Yields its DSN."""
    import asyncpg

    name = f"slamon_bench_{os.getpid()}_{secrets.token_hex(3)}"
    con = await asyncpg.connect(admin_dsn)
    try:
        await con.execute(f'CREATE DATABASE "{name}"')
    finally:
        await con.close()
    base, _, _ = admin_dsn.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        con = await asyncpg.connect(admin_dsn)
        try:
            await con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await con.close()


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL server process (the server's share of a run)."""
    return cpu_of(pids_named("postgres"))


# -- the daemon as a subprocess -----------------------------------------------------------


def service_toml(sid: str, url: str, interval: str, timeout: str = "10s", extra: str = "") -> str:
    return (
        f'[[service]]\nid = "{sid}"\nurl = "{url}"\ninterval = "{interval}"\n'
        f'timeout = "{timeout}"\n{extra}\n'
    )


@dataclass
class DaemonProc:
    """``python -m slamon_daemon --config FILE`` in its own process."""

    folder: Path
    config: Path
    socket: Path
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)
    # run through this script instead of ``-m slamon_daemon`` (bench/_memprobe.py: its args)
    wrapper: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log = self.folder / "daemon.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLAMON_")}
        env.pop("LOG_LEVEL", None)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    PYTHON,
                    *([*self.wrapper, "--"] if self.wrapper else ["-m", "slamon_daemon"]),
                    "--config",
                    str(self.config),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                cwd=str(self.folder),
            )

    async def wait_ready(self, timeout: float = 300.0) -> float:
        """Wait until the feed answers ping; returns the seconds it took."""
        t0 = time.monotonic()
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the daemon exited with {self.proc.returncode}; see {self.log}:\n"
                    + self.tail()
                )
            if self.socket.exists():
                with contextlib.suppress(
                    OSError, asyncio.IncompleteReadError, ConnectionError, ValueError, TimeoutError
                ):
                    async with FeedClient(self.socket) as c:
                        await c.call("ping")
                        return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"the daemon did not answer within {timeout}s; see {self.log}")
            await asyncio.sleep(0.1)

    def stop(self, timeout: float = 120.0) -> int | None:
        """SIGTERM (it flushes the writer), then wait; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(
                self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-n:]
            )
        except OSError:
            return ""

    def log_lines(self, word: str) -> list[str]:
        try:
            return [
                ln
                for ln in self.log.read_text(encoding="utf-8", errors="replace").splitlines()
                if word in ln
            ]
        except OSError:
            return []


# -- the feed ----------------------------------------------------------------------------


class FeedClient:
    """A minimal feed client (docs/feed.md): one connection, sequential calls."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._r: asyncio.StreamReader | None = None
        self._w: asyncio.StreamWriter | None = None
        self._id = 0
        self.hello: dict[str, Any] = {}

    async def __aenter__(self) -> FeedClient:
        self._r, self._w = await asyncio.wait_for(
            asyncio.open_unix_connection(str(self.path), limit=512 * 1024 * 1024), 5
        )
        self.hello = json.loads(await asyncio.wait_for(self._r.readline(), 5))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._w is not None:
            self._w.close()
            with contextlib.suppress(Exception):
                await self._w.wait_closed()

    async def raw_call(
        self, method: str, params: dict[str, Any] | None = None
    ) -> tuple[bytes, float]:
        """Send a request; (reply line, seconds from sending to its last byte)."""
        assert self._r is not None and self._w is not None
        self._id += 1
        frame = (
            json.dumps({"id": self._id, "method": method, "params": params or {}}).encode() + b"\n"
        )
        t0 = time.perf_counter()
        self._w.write(frame)
        while True:
            line = await asyncio.wait_for(self._r.readline(), 120)
            if not line:
                raise ConnectionError("the daemon closed the connection")
            if not line.startswith(b'{"event"'):
                return line, time.perf_counter() - t0

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        line, _ = await self.raw_call(method, params)
        msg = json.loads(line)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg["result"]


# -- py-spy ------------------------------------------------------------------------------


def py_spy() -> str | None:
    cand = Path(PYTHON).parent / "py-spy"
    return str(cand) if cand.exists() else shutil.which("py-spy")


def start_profile(
    pid: int, seconds: float, out: Path, rate: int = 200
) -> subprocess.Popen[bytes] | None:
    """py-spy record (raw collapsed stacks) of ``pid`` for ``seconds``; None if py-spy is absent."""
    exe = py_spy()
    if exe is None:
        print("py-spy is not installed (.venv/bin/pip install py-spy): no profile")
        return None
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nonblocking",
            "-o",
            str(out),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


_GROUPS = (  # py-spy names files by module path: "httpx/_client.py", "asyncio/events.py"
    ("slamon_daemon", ("slamon_daemon/",)),
    (
        "httpx stack (httpx/httpcore/h11/anyio)",
        ("httpx/", "httpcore/", "h11/", "anyio/", "sniffio/", "idna/", "ipaddress.py"),
    ),
    ("SQLite (aiosqlite thread)", ("aiosqlite/", "sqlite3/")),
    ("asyncpg", ("asyncpg/",)),
    ("asyncio, selectors, sockets", ("asyncio/", "selectors.py", "socket.py", "ssl.py")),
    ("json", ("json/",)),
)


def _group(frame: str) -> str:
    for name, needles in _GROUPS:
        if any(n in frame for n in needles):
            return name
    return "other (stdlib, dataclasses, ...)"


def summarize_profile(path: Path, top: int = 25) -> str:
    """Self and inclusive sample shares from py-spy's raw (collapsed) output."""
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    total = 0
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(no profile: {exc})"
    for line in text.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        total += count
        raw = stack.split(";")
        frames = [_frame_name(f) for f in raw]
        self_c[frames[-1]] += count
        groups[_group(raw[-1])] += count
        for f in set(frames):
            incl[f] += count
    if not total:
        return "(empty profile)"
    out = [
        f"py-spy: {total} samples of busy threads (percentages of those samples)",
        "  by module group of the innermost frame (self):",
    ]
    out += [f"  {100 * c / total:5.1f} %  {g}" for g, c in groups.most_common()]
    out.append("  hottest functions, self:")
    out += [f"  {100 * c / total:5.1f} %  {f}" for f, c in self_c.most_common(top)]
    out.append("  slamon_daemon functions, inclusive (time under each):")
    mine = [(f, c) for f, c in incl.most_common() if "slamon_daemon/" in f and "__main__" not in f]
    out += [f"  {100 * c / total:5.1f} %  {f}" for f, c in mine[:top]]
    return "\n".join(out)


def _frame_name(frame: str) -> str:
    # "func (path/to/file.py:123)" -> "func (to/file.py)"
    name, _, loc = frame.partition(" (")
    loc = loc.rstrip(")")
    file = loc.rsplit(":", 1)[0]
    parts = file.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else file
    return f"{name} ({short})" if loc else name


def finish_profile(proc: subprocess.Popen[bytes] | None, out: Path, top: int = 25) -> None:
    if proc is None:
        return
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if proc.returncode != 0:
        print(f"py-spy failed ({proc.returncode}): {err.decode(errors='replace')[-500:]}")
    keep = Path(tempfile.gettempdir()) / "slamon-bench-profiles"
    keep.mkdir(exist_ok=True)
    kept = keep / f"{time.strftime('%Y%m%d-%H%M%S')}-{out.name}"
    with contextlib.suppress(OSError):
        shutil.copy(out, kept)
    print(f"profile (py-spy collapsed stacks kept in {kept}):")
    print(summarize_profile(out, top))
