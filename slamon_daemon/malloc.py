"""glibc's malloc for a long-lived daemon: freed memory given back (issue 14 point 3).

glibc keeps what a program frees in its arenas' free lists (one arena per thread that
allocates, up to 8 per core) and gives back only the top of the main heap. slamond frees a
lot once: the start's reads (the parsed config, the warm start's rows, much of it made in
SQLite's thread) and the first round of checks' garbage. ``malloc_trim(0)`` at those two
moments gives the free pages of every arena back: 50,000 services, 236 -> 181 MiB at ready,
peak 479-492 -> 442 MiB over 150 s on SQLite (docs/benchmarks.md, m2 stop 21).

Limiting the arenas instead (``mallopt(M_ARENA_MAX, 2)``) was measured too: 205 MiB at
ready, peak 435-438 MiB; not taken, the trims do as well without making threads share an
arena (and its lock).

Off glibc (musl, macOS, Windows) ``trim`` does nothing.
"""

from __future__ import annotations

import ctypes
import os
from functools import cache


@cache
def _glibc() -> ctypes.CDLL | None:
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError, AttributeError):  # not a glibc (or no confstr at all)
        return None
    if not version or not version.startswith("glibc"):
        return None
    try:
        return ctypes.CDLL(None)  # the process's own symbols: glibc's malloc
    except OSError:
        return None


def trim() -> bool:
    """Give the free pages of every arena back to the system (``malloc_trim(0)``). True
    when glibc gave some back; False when it had none or this is not glibc."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(ctypes.c_size_t(0)))
