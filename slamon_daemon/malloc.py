"""glibc's malloc for a long-lived daemon: fewer arenas, freed pages given back (issue 14).

glibc gives each thread that allocates a malloc arena of its own (up to 8 per core), and
memory freed in an arena stays with the process. slamond's threads (SQLite's, the default
executor's, the resolver's) each kept arenas of their own: at 50,000 services the RSS at
ready was 306 MiB with them and 274 MiB with two arenas (docs/benchmarks.md, stop 21).

Both functions do nothing off glibc (musl, macOS, Windows): they say whether they acted.
"""

from __future__ import annotations

import ctypes
import os
from functools import cache

M_ARENA_MAX = -8
"""mallopt's parameter number for the most arenas (glibc's malloc.h)."""

ARENAS = 2
"""Arenas slamond allows: the event loop's thread and one for every other thread."""


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


def limit_arenas(arenas: int = ARENAS) -> bool:
    """At most ``arenas`` malloc arenas from now on. Call before any thread starts: a
    thread that has one keeps it. True when glibc took it."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(arenas)))


def trim() -> bool:
    """Give the free pages of every arena back to the system (``malloc_trim(0)``). True
    when glibc gave some back."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(ctypes.c_size_t(0)))
