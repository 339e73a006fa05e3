"""The TUI following a real daemon with many services (issue 12, point 9).

``python bench/tui_fleet.py serve --services 1000 --dir DIR`` writes DIR/slamon.toml (N
services on one local target, ``--down`` of them on a port nobody listens on, ``--groups``
sections), starts the target and ``slamond`` in processes of their own and waits; the TUI
can then be run on DIR/slamon.sock (``slamon --noc --socket DIR/slamon.sock``, e.g. in tmux).

``python bench/tui_fleet.py measure --services 1000`` does the same, then runs the TUI
headless in this process (Textual's run_test at ``--size``) and prints: seconds to the first
full screen, the TUI's CPU per second while it follows the checks, the list lines drawn per
second against the check events received, and the time per cursor key.

``python bench/tui_fleet.py tmux --services 1000 --size 300x80`` does the same, then runs the
real TUI (``slamon --socket``) in a detached tmux session of ``--size`` and measures it from
outside, as a user sees it: seconds from launch until the list's rows are on the pane
(``tmux capture-pane``), the TUI process's CPU from /proc over ``--seconds``, and the time from
``tmux send-keys j`` (or ``k``) until the cursor mark (▸) is on another row of the pane, one key
at a time, ``--keys`` samples (p50/p90). Each tree's modules are compiled to bytecode first, as
an install does (with PYTHONDONTWRITEBYTECODE set, every launch would compile them again).

Figures are the TUI's own (the daemon and the target run elsewhere); tests never read them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket as sockets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = re.compile(r"(?:Service|Broken) \d{5}")
sys.path.insert(0, str(HERE.parent))

from bench._common import cpu_seconds, free_port, print_machine, quantile  # noqa: E402


def write_config(folder: Path, services: int, down: int, groups: int, interval: float) -> Path:
    target = free_port()
    dead = free_port()
    lines = [
        "[daemon]",
        f'database_url = "sqlite:///{folder}/slamon.db"',
        f'socket = "{folder}/slamon.sock"',
        "anonymous_read = true",
        'write_flush_interval = "200ms"',
        "max_concurrency = 200",
        "per_host_concurrency = 200",
    ]
    for i in range(services):
        bad = i >= services - down
        lines += [
            "",
            "[[service]]",
            f'id = "svc-{i:05d}"',
            f'name = "{"Broken" if bad else "Service"} {i:05d}"',
            f'url = "http://127.0.0.1:{dead if bad else target}/health"',
            f'interval = "{interval}s"',
            'timeout = "2s"',
        ]
        if groups:
            lines.append(f'group = "Team {i % groups:02d}"')
    path = folder / "slamon.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "target.port").write_text(str(target))
    return path


def start(folder: Path, config: Path) -> list[subprocess.Popen[bytes]]:
    port = (folder / "target.port").read_text()
    log = (folder / "daemon.log").open("wb")
    target = subprocess.Popen([sys.executable, str(HERE / "_target.py"), "--port", port])
    daemon = subprocess.Popen(
        [sys.executable, "-m", "slamon_daemon", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not (folder / "slamon.sock").exists():
        if time.monotonic() > deadline or daemon.poll() is not None:
            raise SystemExit(f"the daemon did not start; see {folder / 'daemon.log'}")
        time.sleep(0.1)
    return [daemon, target]


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()


def print_load(when: str) -> None:
    one, five, fifteen = os.getloadavg()
    print(f"load average {when}: {one:.2f}, {five:.2f}, {fifteen:.2f}", flush=True)


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system


async def measure(socket: Path, services: int, size: tuple[int, int], seconds: float) -> None:
    from textual import events

    from slamon_tui.app import make_app
    from slamon_tui.messages import CheckEvent, FeedMessage
    from slamon_tui.models.dashboard_view import build_lines
    from slamon_tui.ui_state import UiState

    app = make_app(socket, ui_state=UiState())
    checks = 0

    async with app.run_test(size=size) as pilot:
        board = app.dashboard
        t0 = time.monotonic()
        while len(board.model.services) < services:
            await pilot.pause(0.05)
            if time.monotonic() - t0 > 120:
                raise SystemExit("no snapshot within 120 s")
        await pilot.pause()
        first = time.monotonic() - t0
        print(f"first full screen: {first:.2f} s after start ({services} services, {size})")

        if hasattr(app, "broadcast_events"):  # events read at once come together
            broadcast_events = app.broadcast_events

            def counted(messages: list[FeedMessage]) -> None:
                nonlocal checks
                checks += sum(isinstance(m, CheckEvent) for m in messages)
                broadcast_events(messages)

            app.broadcast_events = counted  # type: ignore[method-assign]
        else:  # the code before (PYTHONPATH=another checkout): one message per event
            broadcast = app.broadcast

            def counted_one(message: FeedMessage) -> None:
                nonlocal checks
                checks += isinstance(message, CheckEvent)
                broadcast(message)

            app.broadcast = counted_one  # type: ignore[method-assign]
        table = board.table
        t_steady = time.monotonic()
        while any(x.status == "unknown" for x in board.model.services.values()):
            await asyncio.sleep(0.5)  # the first checks change every status: not steady yet
            if time.monotonic() - t_steady > 180:
                break
        checks = 0
        drawn0, cpu0, t1 = table.lines_drawn, cpu_s(), time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - t1
        cpu = cpu_s() - cpu0
        drawn = table.lines_drawn - drawn0
        print(
            f"following: {checks / elapsed:.0f} check events/s, TUI CPU {cpu / elapsed * 100:.0f}%"
            f" of a core, {drawn / elapsed:.0f} list lines drawn/s"
            f" ({drawn / max(checks, 1):.2f} per event; {table.visible_height} lines on screen)"
        )
        keys = 200
        moved = 0
        cursor_action = board.action_cursor  # type: ignore[attr-defined]

        def counted_move(delta: int) -> None:
            nonlocal moved
            moved += 1
            cursor_action(delta)

        board.action_cursor = counted_move  # type: ignore[attr-defined]
        driver = app._driver
        assert driver is not None
        t2 = time.monotonic()
        for _ in range(keys):  # one burst, as over SSH
            driver.send_message(events.Key("j", "j"))
        while moved < keys:  # (the cursor's index moves with re-sorts: count the moves)
            await asyncio.sleep(0.001)
            if time.monotonic() - t2 > 120:
                print(f"cursor: only {moved} of {keys} keys handled within 120 s")
                break
        per_key = (time.monotonic() - t2) / keys
        print(f"cursor: a burst of {keys} j handled in order, {per_key * 1000:.2f} ms per key")
        t3 = time.perf_counter()
        view = build_lines(board.model.services.values(), sort="name")
        built = time.perf_counter() - t3
        t4 = time.perf_counter()
        board.action_sort()  # type: ignore[attr-defined]
        resort = time.perf_counter() - t4
        print(
            f"sort of {len(view.lines)} lines: {built * 1000:.0f} ms (model);"
            f" s key on screen: {resort * 1000:.0f} ms"
        )


def _pane(session: str) -> list[str]:
    out = subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=False
    )
    return out.stdout.splitlines()


def _cursor_row(lines: list[str]) -> tuple[int, str] | None:
    """(pane line, service name) of the row with the cursor mark, or None."""
    for i, line in enumerate(lines):
        if "▸" in line:
            name = NAME.search(line)
            if name is not None:
                return i, name.group(0)
    return None


class EventCounter(threading.Thread):
    """Counts the daemon's check events on a connection of its own (how many the TUI was
    sent while it was measured: on a busy machine the daemon may fall short of the rate)."""

    def __init__(self, socket_path: Path) -> None:
        super().__init__(daemon=True)
        self.checks = 0
        self.sock = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
        self.sock.connect(str(socket_path))
        self.stream = self.sock.makefile("rb")
        self.stream.readline()  # hello
        request = {"id": 1, "method": "subscribe", "params": {"topics": ["check"]}}
        self.sock.sendall(json.dumps(request).encode() + b"\n")

    def run(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in self.stream:
                if line.startswith(b'{"event"') and b'"check"' in line[:40]:
                    self.checks += 1

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(sockets.SHUT_RDWR)
        self.sock.close()


def status_get_seconds(socket_path: Path) -> tuple[float, float, int]:
    """(seconds for the daemon's status.get answer to arrive, seconds to decode it, bytes) on
    a connection of the bench's own: the daemon's share of a first paint at that moment."""
    with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as sock:
        sock.connect(str(socket_path))
        stream = sock.makefile("rb")
        stream.readline()  # hello
        t0 = time.monotonic()
        sock.sendall(b'{"id":1,"method":"status.get","params":{}}\n')
        line = stream.readline()
        t1 = time.monotonic()
        json.loads(line)
        return t1 - t0, time.monotonic() - t1, len(line)


def _tui_pid(session: str) -> int:
    out = subprocess.run(
        ["tmux", "display-message", "-p", "-t", session, "#{pane_pid}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def measure_floor(size: tuple[int, int], keys: int) -> None:
    """The same key-to-pane loop against ``cat`` in tmux: what tmux, send-keys and
    capture-pane cost by themselves on this machine (the floor under the TUI's figures)."""
    session = f"slamon-floor-{os.getpid()}"
    w, h = size
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(w), "-y", str(h), "exec cat"],
        check=True,
    )
    try:
        samples: list[float] = []
        for n in range(keys):
            before = "".join(_pane(session)).count("x")
            ts = time.monotonic()
            subprocess.run(["tmux", "send-keys", "-t", session, "x"], check=True)
            while "".join(_pane(session)).count("x") == before:
                if time.monotonic() - ts > 5:
                    break
            else:
                samples.append(time.monotonic() - ts)
            if n % 50 == 49:
                subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
            time.sleep(0.05 + (n % 7) * 0.013)
        print(
            f"tmux {w}x{h}: the floor (cat echoing a key) over {len(samples)} keys:"
            f" p50 {quantile(samples, 0.5) * 1000:.0f} ms, p90 {quantile(samples, 0.9) * 1000:.0f} ms"
        )
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def compile_tree(root: Path) -> None:
    """Compile ``root``'s slamon packages to bytecode, as ``pip install`` does: a launch then
    reads them instead of compiling ~90 modules (0.5–1 s on a busy machine) every time."""
    packages = [str(root / name) for name in ("slamon_tui", "slamon_daemon")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True)


def measure_tmux(
    folder: Path,
    services: int,
    size: tuple[int, int],
    seconds: float,
    keys: int,
    tui_root: Path | None = None,
) -> None:
    """The real TUI in a detached tmux session, measured from outside (see the docstring)."""
    session = f"slamon-bench-{os.getpid()}"
    env_dir = folder / "xdg"
    env_dir.mkdir(exist_ok=True)
    root = tui_root or HERE.parent  # another checkout's TUI: a before/after in one run
    command = (
        f"exec env XDG_STATE_HOME={env_dir} XDG_CACHE_HOME={env_dir} TERM=xterm-256color"
        f" PYTHONPATH={root} {sys.executable} -m slamon_tui.cli --socket {folder / 'slamon.sock'}"
    )
    w, h = size
    answer, decode, size_b = status_get_seconds(folder / "slamon.sock")
    print(
        f"status.get just before the launch: answered in {answer * 1000:.0f} ms,"
        f" {size_b / 1e6:.2f} MB, decoded in {decode * 1000:.0f} ms (json.loads)"
    )
    t0 = time.monotonic()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(w), "-y", str(h), command],
        check=True,
    )
    try:
        pid = _tui_pid(session)
        rows_needed = 3 if h < 30 else 10
        first = None
        first_cpu = 0.0
        while time.monotonic() - t0 < 120:
            lines = _pane(session)
            rows = sum(1 for x in lines if "Service 0" in x or "Broken 0" in x)
            if rows >= rows_needed and _cursor_row(lines) is not None:
                first = time.monotonic() - t0
                first_cpu = cpu_seconds(pid)
                break
            time.sleep(0.01)
        print(
            f"tmux {w}x{h}: first paint (rows on the pane)"
            f" {'never' if first is None else f'{first:.2f} s'} after launch,"
            f" the TUI's CPU until then {first_cpu:.2f} s"
        )
        t_steady = time.monotonic()
        while any("no data yet" in x for x in _pane(session)):
            time.sleep(0.5)  # the first checks change every status: not steady yet
            if time.monotonic() - t_steady > 180:
                break
        time.sleep(2)
        counter = EventCounter(folder / "slamon.sock")
        counter.start()
        time.sleep(1)
        e0, c0, t1 = counter.checks, cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t1
        cpu = (cpu_seconds(pid) - c0) / elapsed
        rate = (counter.checks - e0) / elapsed
        counter.close()
        print(
            f"tmux {w}x{h}: TUI CPU {cpu * 100:.1f}% of a core over {seconds:.0f} s,"
            f" {rate:.0f} check events/s sent"
        )
        samples: list[float] = []
        misses = 0
        for n in range(keys):
            before = _cursor_row(_pane(session))
            key = "j" if n // 5 % 2 == 0 else "k"  # five down, five up: never at an edge
            ts = time.monotonic()
            subprocess.run(["tmux", "send-keys", "-t", session, key], check=True)
            while True:
                now = _cursor_row(_pane(session))
                if now is not None and before is not None and now != before:
                    samples.append(time.monotonic() - ts)
                    break
                if time.monotonic() - ts > 5:
                    misses += 1
                    break
            time.sleep(0.05 + (n % 7) * 0.013)  # keys apart, at varied phases of the checks
        if samples:
            print(
                f"tmux {w}x{h}: key to screen over {len(samples)} keys:"
                f" p50 {quantile(samples, 0.5) * 1000:.0f} ms, p90 {quantile(samples, 0.9) * 1000:.0f} ms,"
                f" max {max(samples) * 1000:.0f} ms; {misses} not seen within 5 s"
            )
        else:
            print(f"tmux {w}x{h}: no key seen to move the cursor ({misses} tries)")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("mode", choices=["serve", "measure", "tmux"])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--down", type=int, default=3)
    ap.add_argument("--groups", type=int, default=0)
    ap.add_argument("--interval", type=float, default=30.0)
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--size", default="300x80")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--keys", type=int, default=100, help="tmux: keys sent one at a time")
    ap.add_argument(
        "--tui-root",
        type=Path,
        action="append",
        help="tmux: run the TUI from this checkout (repeat: one after the other, same daemon)",
    )
    args = ap.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="slamon-fleet-"))
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder, args.services, args.down, args.groups, args.interval)
    if args.mode == "serve":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    else:  # `timeout` or Ctrl+C: still stop the daemon and the target
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs = start(folder, config)
    try:
        if args.mode == "serve":
            print(f"ready: slamon --noc --socket {folder / 'slamon.sock'}", flush=True)
            signal.sigwait({signal.SIGTERM, signal.SIGINT})
        elif args.mode == "tmux":
            print_machine()
            w, h = (int(x) for x in args.size.split("x"))
            print_load("at start")
            measure_floor((w, h), args.keys)
            for root in args.tui_root or [None]:
                compile_tree(root or HERE.parent)
                if root is not None:
                    print(f"TUI code from {root}")
                measure_tmux(folder, args.services, (w, h), args.seconds, args.keys, root)
            print_load("at the end")
        else:
            print_machine()
            w, h = (int(x) for x in args.size.split("x"))
            print_load("at start")
            asyncio.run(measure(folder / "slamon.sock", args.services, (w, h), args.seconds))
            print_load("at the end")
    finally:
        stop(procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
