"""SQLite's prepared statements and the writer's batch sizes (issue 14 point 3, stop 22).

    .venv/bin/python bench/sqlite_statement_cache.py [--batches 300] [--rounds 2]

Writes ``--batches`` batches of 300..500 checks (a random size each, as the writer's
half-second segments are) into a fresh SQLite file with the writer's own statements: the
checks' multi-row INSERT and the three rollup tables' multi-row upserts. "one size a batch"
runs each table's rows as one statement of the batch's size (the code before stop 22: a
new statement text for nearly every batch, and Python's sqlite3 keeps the last 128 prepared
with their programs and bound values); "fixed sizes" cuts them as the dialect does now
(``_pieces``: 500, then 256, 128 ... 1: powers of two). Prints the CPU per batch, SQLite's heap
(``sqlite3_memory_used``) and the process's RSS before and after, for the statement cache
at its default (128) and off (0). Each variant runs in its own process, alternated.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import glob
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mib() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return 0


def child(mode: str, cache: int, batches: int) -> None:
    from slamon_daemon.store.dialects.base import CHECK_COLUMNS
    from slamon_daemon.store.dialects.sqlite import _add_rollups_sql, _many_sql, _pieces

    lib = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    folder = tempfile.mkdtemp(prefix="stmtcache-")
    con = sqlite3.connect(
        os.path.join(folder, "b.db"), isolation_level=None, cached_statements=cache
    )
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    for f in sorted(glob.glob(str(ROOT / "schema" / "sqlite" / "*.sql"))):
        con.executescript(Path(f).read_text(encoding="utf-8"))
    con.execute("PRAGMA foreign_keys=OFF")
    ids = [f"svc-{i:05d}" for i in range(50_000)]
    width = len(CHECK_COLUMNS.split(","))
    head = f"INSERT INTO checks ({CHECK_COLUMNS})"

    def run(sql_of: object, rows: list[list[object]]) -> None:
        parts = [rows] if mode == "one" else [rows[i : i + n] for i, n in _pieces(len(rows))]
        for part in parts:
            con.execute(sql_of(len(part)), [v for r in part for v in r])  # type: ignore[operator]

    rnd = random.Random(1)
    t0, heap0, rss0 = time.process_time(), lib.sqlite3_memory_used(), rss_mib()
    ts, k = 1_700_000_000_000_000, 0
    for _ in range(batches):
        n = rnd.randint(300, 500)
        con.execute("BEGIN IMMEDIATE")
        sids = [ids[(k + j) % len(ids)] for j in range(n)]
        k += n
        checks = []
        for sid in sids:
            ts += 1000
            checks.append([sid, ts, "node-a", 12.5, 200, "up", None, None, 0, 60, None, "", 0, 1.0])
        run(lambda m: _many_sql(head, width, m, ""), checks)
        for table in ("daily_rollups", "monthly_rollups", "hourly_rollups"):
            key = [10] if table == "hourly_rollups" else []
            rows = [
                [sid, "2026-12-02", *key, 1, 1, 0, 0, 0, 0, 1, 12500, 12, 12, '{"12":1}', "{}", 0]
                for sid in sids
            ]
            run(lambda m, t=table: _add_rollups_sql(t, m), rows)
        con.execute("COMMIT")
    cpu = (time.process_time() - t0) / batches * 1000
    heap = (lib.sqlite3_memory_used() - heap0) / 2**20
    print(f"{cpu:8.2f} ms/batch  SQLite heap +{heap:5.1f} MiB  RSS {rss0} -> {rss_mib()} MiB")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.batches)
        return 0
    names = {"one": "one size a batch", "fixed": "fixed sizes"}
    for r in range(args.rounds):
        for mode in ("one", "fixed"):
            for cache in (128, 0):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--batches",
                        str(args.batches),
                        "--child",
                        mode,
                        str(cache),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=ROOT,
                ).stdout.strip()
                print(f"round {r + 1}  {names[mode]:<17} cache {cache:>3}: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
