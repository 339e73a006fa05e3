"""``slamon demo``: a throw-away daemon with local demo targets, and the dashboard on it.

The backend is ``python -m slamon_daemon.demo --dir DIR`` (targets on 127.0.0.1, a SQLite
database with labelled demo history, the daemon's socket at DIR/slamon.sock), run as a
subprocess so the TUI never imports the daemon. On exit the daemon gets SIGTERM (SIGKILL
after 5 s) and DIR is removed unless ``--keep``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

DEMO_START_TIMEOUT_S = 15.0
DEMO_STOP_TIMEOUT_S = 5.0


def demo_daemon_argv(workdir: Path) -> list[str]:
    """The demo backend's command line: local targets and a daemon with its socket in ``workdir``."""
    return [sys.executable, "-m", "slamon_daemon.demo", "--dir", str(workdir)]


def run_demo(
    *,
    keep: bool = False,
    run: Callable[[Path], int],
    daemon_argv: Callable[[Path], list[str]] = demo_daemon_argv,
) -> int:
    """Start the demo daemon in a temp dir, ``run`` the dashboard on it, then clean up."""
    workdir = Path(tempfile.mkdtemp(prefix="slamon-demo-"))
    socket_path = workdir / "slamon.sock"
    log_path = workdir / "daemon.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        with log_path.open("wb") as log:
            # A session of its own: Ctrl+C while we wait must reach us, not kill the daemon
            # before we can stop it cleanly.
            proc = subprocess.Popen(
                daemon_argv(workdir),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        if not wait_for_socket(proc, socket_path, DEMO_START_TIMEOUT_S):
            died = proc.poll() is not None
            what = f"exited with code {proc.returncode}" if died else "did not open its socket"
            print(
                f"slamon demo: the demo daemon {what} within {DEMO_START_TIMEOUT_S:.0f} s.",
                file=sys.stderr,
            )
            print(f"--- last lines of {log_path} ---", file=sys.stderr)
            print(log_tail(log_path), file=sys.stderr)
            return 1
        return run(socket_path)
    finally:
        if proc is not None:
            stop_process(proc, DEMO_STOP_TIMEOUT_S)
        if keep:
            print(f"slamon demo: kept {workdir} (database, config, daemon.log)", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def wait_for_socket(proc: subprocess.Popen[bytes], socket_path: Path, timeout: float) -> bool:
    """True once ``socket_path`` exists; False if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if socket_path.exists():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.1)
    return socket_path.exists()


def stop_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if it is still running after ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file (or why it cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read the log: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(the log is empty)"
