"""Run slamond with a memory report on SIGUSR1 (a helper of the benchmarks, not one itself).

    python bench/_memprobe.py REPORT_FILE [--trace] -- --config FILE

Starts the daemon as ``python -m slamon_daemon`` does. On SIGUSR1 it writes REPORT_FILE:
every collection's pause by generation (count, total and its CPU, p50, p99, max), the RSS, the
objects the collector tracks (frozen ones included) by type with their
shallow sizes, the collector's own figures, and with ``--trace`` (tracemalloc from the first
line, which slows the daemon and adds its own memory) the live allocations by file and line.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import signal
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from types import FrameType

PAUSES: dict[int, list[tuple[float, float]]] = {0: [], 1: [], 2: []}
"""Every collection since the start, by generation: (pause, CPU of the collecting thread)."""
_started = (0.0, 0.0)


def on_gc(phase: str, info: dict[str, int]) -> None:
    global _started
    if phase == "start":
        _started = (time.perf_counter(), time.thread_time())
    else:
        PAUSES[info["generation"]].append(
            (time.perf_counter() - _started[0], time.thread_time() - _started[1])
        )


def pause_lines() -> list[str]:
    lines = []
    for generation, pauses in PAUSES.items():
        p = sorted(w for w, _ in pauses)
        if not p:
            continue
        p99 = p[min(len(p) - 1, int(0.99 * len(p)))]
        lines.append(
            f"collections of generation {generation}: {len(p)}, {sum(p):.2f} s in all "
            f"(CPU {sum(c for _, c in pauses):.2f} s), pause p50 {p[len(p) // 2] * 1000:.1f} ms, "
            f"p99 {p99 * 1000:.1f} ms, max {p[-1] * 1000:.1f} ms"
        )
    return lines


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks"
        " keepcost".split()
    ]


def native_lines() -> list[str]:
    """Memory outside Python's objects: SQLite's own heap (its page caches, prepared
    statements and their bound values), glibc's arenas (mallinfo2: in use / free), and the
    process's resident memory split into the main heap, the other anonymous mappings (the
    threads' malloc arenas, CPython's object arenas, big blocks malloc maps alone) and files."""
    lines = []
    try:
        sq = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
        sq.sqlite3_memory_used.restype = sq.sqlite3_memory_highwater.restype = ctypes.c_int64
        lines.append(
            f"SQLite heap: {sq.sqlite3_memory_used() / 2**20:.1f} MiB in use, highwater "
            f"{sq.sqlite3_memory_highwater(0) / 2**20:.1f} MiB"
        )
    except (OSError, AttributeError):
        lines.append("SQLite heap: (libsqlite3 not loadable)")
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _Mallinfo2
        mi = libc.mallinfo2()
        lines.append(
            f"glibc malloc: {mi.arena / 2**20:.1f} MiB in arenas ({mi.uordblks / 2**20:.1f} in"
            f" use, {mi.fordblks / 2**20:.1f} free), {mi.hblkhd / 2**20:.1f} MiB mmapped alone"
        )
    except (OSError, AttributeError):
        pass
    kinds: dict[str, list[int]] = {}
    try:
        with open("/proc/self/smaps", encoding="ascii", errors="replace") as f:
            kind = ""
            for ln in f:
                head = ln.split()
                if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                    name = head[5] if len(head) > 5 else ""
                    if name == "[heap]":
                        kind = "main heap ([heap])"
                    elif name.startswith("/"):
                        kind = "files (code, mmapped files)"
                    elif name:
                        kind = f"other {name}"
                    else:  # the kernel merges neighbours: arenas of both kinds mix here
                        kind = "anonymous (threads' malloc arenas, CPython's arenas, big blocks)"
                elif head[0] == "Rss:":
                    k = kinds.setdefault(kind, [0, 0])
                    k[0] += int(head[1]) * 1024
                    k[1] += 1
    except OSError:
        return lines
    lines.append("resident memory by mapping kind (smaps Rss):")
    for name, (rss, n) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"  {rss / 2**20:8.1f} MiB in {n:>5} mappings  {name}")
    return lines


def report(path: Path) -> None:
    t0 = time.perf_counter()
    lines = pause_lines()
    with open("/proc/self/status", encoding="ascii") as f:
        lines += [ln.strip() for ln in f if ln.startswith(("VmRSS", "VmHWM"))]
    lines += native_lines()
    gc.unfreeze()  # get_objects() does not list frozen objects
    objects = gc.get_objects()
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for o in objects:
        name = type(o).__qualname__
        counts[name] += 1
        sizes[name] += sys.getsizeof(o)
    gc.freeze()
    lines.append(f"tracked objects {len(objects):,}; gc.get_count {gc.get_count()}")
    lines.append(f"gc.get_threshold {gc.get_threshold()}; gc.get_stats {gc.get_stats()}")
    lines.append("tracked objects by type (count, shallow MiB):")
    for name, n in counts.most_common(40):
        lines.append(f"  {n:>10,}  {sizes[name] / 2**20:8.1f}  {name}")
    del objects
    if tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot()
        stats = snap.statistics("lineno")
        total = sum(s.size for s in stats)
        lines.append(f"tracemalloc: {total / 2**20:.1f} MiB live in {len(stats)} lines; top:")
        for s in stats[:60]:
            frame = s.traceback[0]
            lines.append(
                f"  {s.size / 2**20:8.1f} MiB {s.count:>10,}  {frame.filename}:{frame.lineno}"
            )
        lines.append("tracemalloc by file:")
        for s in snap.statistics("filename")[:30]:
            lines.append(f"  {s.size / 2**20:8.1f} MiB {s.count:>10,}  {s.traceback[0].filename}")
    lines.append(f"(report took {time.perf_counter() - t0:.1f} s)")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    args = sys.argv[1:]
    split = args.index("--")
    own, rest = args[:split], args[split + 1 :]
    out = Path(own[0])
    if "--trace" in own:
        tracemalloc.start(1)

    def on_usr1(signum: int, frame: FrameType | None) -> None:
        report(out)

    signal.signal(signal.SIGUSR1, on_usr1)
    gc.callbacks.append(on_gc)
    from slamon_daemon.daemon import main as daemon_main

    return daemon_main(rest)


if __name__ == "__main__":
    sys.exit(main())
