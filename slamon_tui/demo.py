"""``slamon demo``: a throw-away daemon with local demo targets, and the dashboard on it.

The backend is ``python -m slamon_daemon.demo --dir DIR`` (targets on 127.0.0.1, a SQLite
database with labelled demo history, the daemon's socket at DIR/slamon.sock), run as a
subprocess so the TUI never imports the daemon. On exit the daemon gets SIGTERM (SIGKILL
after 5 s) and DIR is removed unless ``--keep``.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slamon_tui import hangup

DEMO_START_TIMEOUT_S = 15.0
DEMO_STOP_TIMEOUT_S = 5.0
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


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
    once = threading.Lock()

    def clean_up() -> None:
        """Stop the daemon and remove (or keep) the directory; once, whoever comes first:
        the end of the run, or the terminal hanging up (slamon_tui/hangup.py)."""
        if not once.acquire(blocking=False):
            return
        if proc is not None:
            stop_process(proc, DEMO_STOP_TIMEOUT_S)
        if keep:
            with contextlib.suppress(OSError):  # no terminal left to say it on
                print(
                    f"slamon demo: kept {workdir} (database, config, daemon.log)", file=sys.stderr
                )
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    forget = hangup.at_hangup(clean_up)
    previous = _exit_on_termination()
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
                # Runs between fork and exec; safe here because slamon has no threads yet.
                preexec_fn=_die_with_parent,
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
        forget()
        clean_up()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _exit_on_termination() -> dict[int, Any]:
    """Turn SIGTERM and SIGHUP into SystemExit so the cleanup in run_demo runs.

    Python's default for SIGTERM is to die on the spot, which would leave the demo daemon
    running and its temp dir behind (e.g. under `timeout`, or when the SSH session drops).
    Returns the handlers to restore.
    """

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous  # signal handlers can only be set from the main thread
    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, leave)
    return previous


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it when slamon dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # best effort: the finally block in run_demo is the main guard


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
