"""A terminal that goes away ends the dashboard (the SSH session dropped, the tmux pane closed).

When a terminal hangs up, the kernel sends SIGHUP to the session's controlling process only.
A dashboard started under another program that waits for it (``make run``, a wrapper script)
is not told: its reads return end-of-file at once and its writes fail. Textual's input thread
then spins on a core and its output queue fills, which blocks the event loop for good — seen
here: a ``make run`` left behind by a closed tmux pane used half a core for an hour, its demo
daemon with it. So a thread of its own looks at the terminal every second; once it is no
longer a terminal, it runs the registered clean-ups (the demo's daemon and directory) and ends
the process with 128 + SIGHUP, as SIGHUP would have.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable

CHECK_EVERY_S = 1.0
EXIT_HANGUP = 128 + signal.SIGHUP

_cleanups: list[Callable[[], None]] = []


def at_hangup(cleanup: Callable[[], None]) -> Callable[[], None]:
    """Run ``cleanup`` if the terminal hangs up; returns the function that forgets it."""
    _cleanups.append(cleanup)

    def forget() -> None:
        with contextlib.suppress(ValueError):
            _cleanups.remove(cleanup)

    return forget


def watch(
    fd: int,
    *,
    every_s: float = CHECK_EVERY_S,
    leave: Callable[[int], object] = os._exit,
) -> Callable[[], None]:
    """Watch the terminal ``fd`` until the returned function is called.

    A ``fd`` that is not a terminal to begin with (a pipe, a test) is not watched. ``leave``
    ends the process (``os._exit``: the event loop may be blocked for good, so nothing that
    needs it can run).
    """
    if not os.isatty(fd):
        return lambda: None
    stop = threading.Event()

    def look() -> None:
        while not stop.wait(every_s):
            if not os.isatty(fd):
                for cleanup in reversed(_cleanups):
                    with contextlib.suppress(Exception):
                        cleanup()
                leave(EXIT_HANGUP)
                return

    threading.Thread(target=look, name="slamon-hangup", daemon=True).start()
    return stop.set
