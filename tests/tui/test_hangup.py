"""A dashboard whose terminal goes away ends, and the demo takes its daemon with it.

Real processes in a real pseudo-terminal: ``slamon demo`` (the demo daemon, the Textual
dashboard) is started in a session of its own with the terminal not its controlling one, as
under ``make run`` (make is the session leader and waits), so no SIGHUP reaches it when the
terminal closes. Before slamon_tui/hangup.py it kept running with half a core busy.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slamon_tui import hangup

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux ptys")


def _read_until(fd: int, text: bytes, within: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + within
    while text not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def _pids_with(needle: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if needle.encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def test_the_demo_ends_with_its_terminal_and_takes_its_daemon_down(tmp_path: Path) -> None:
    master, slave = os.openpty()
    env = dict(os.environ, TERM="xterm-256color", TMPDIR=str(tmp_path), COLUMNS="80", LINES="24")
    code = "import sys; from slamon_tui.cli import main; sys.exit(main(['demo']))"
    tui = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,  # the pty is not its controlling terminal: no SIGHUP
    )
    os.close(slave)
    try:
        screen = _read_until(master, b"Checkout API", within=60)
        assert b"Checkout API" in screen, screen[-2000:]
        (workdir,) = tmp_path.glob("slamon-demo-*")
        assert _pids_with(str(workdir))  # the demo daemon runs
        os.close(master)
        master = -1
        assert tui.wait(30) == hangup.EXIT_HANGUP
        deadline = time.monotonic() + 15
        while _pids_with(str(workdir)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _pids_with(str(workdir))  # its daemon stopped
        assert not workdir.exists()  # and its directory is gone
    finally:
        if master >= 0:
            os.close(master)
        if tui.poll() is None:
            tui.kill()
            tui.wait()
        for pid in _pids_with(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)


def test_a_terminal_that_stays_is_watched_until_told_to_stop() -> None:
    master, slave = os.openpty()
    left: list[int] = []
    try:
        stop = hangup.watch(slave, every_s=0.05, leave=left.append)
        time.sleep(0.3)
        assert left == []  # still a terminal: nothing happens
        stop()
    finally:
        os.close(slave)
        os.close(master)


def test_a_terminal_that_goes_away_runs_the_cleanups_then_leaves() -> None:
    master, slave = os.openpty()
    ran: list[str] = []
    left: list[int] = []
    forget_first = hangup.at_hangup(lambda: ran.append("first"))
    forget_failing = hangup.at_hangup(lambda: 1 / 0)  # one failing does not stop the others
    forget_last = hangup.at_hangup(lambda: ran.append("last"))
    try:
        hangup.watch(slave, every_s=0.05, leave=left.append)
        os.close(master)
        deadline = time.monotonic() + 5
        while not left and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left == [128 + signal.SIGHUP]
        assert ran == ["last", "first"]
    finally:
        forget_first()
        forget_failing()
        forget_last()
        os.close(slave)


def test_what_is_not_a_terminal_is_not_watched(tmp_path: Path) -> None:
    left: list[int] = []
    with (tmp_path / "f").open("w") as f:
        hangup.watch(f.fileno(), every_s=0.01, leave=left.append)()
    assert left == []
