"""slamon's own work per check, without probing: a real daemon given made-up checks.

    .venv/bin/python bench/own_work.py [--code old=DIR --code new=.] [--services 2000] \
        [--checks 40000] [--backend sqlite|postgres] [--rounds 2]

Each measurement runs in its own process, importing ``slamon_daemon`` from the folder given
with ``--code NAME=DIR`` (several run side by side, their order alternating each round). The
process starts a ``Daemon`` (config file, store, journal, feed socket, writer, scheduler —
its services point at a closed port and are checked once a day, so nothing is probed in the
window), then hands ``Daemon.on_check`` ``--checks`` checks (up, 2 % down, round-robin over
``--services`` services, 1 s apart per service, each round in the order of the services'
phases, as the scheduler starts them: scattered over the tables' keys as a daemon's checks
are; in id order SQLite's thread cost less than half of that, issue 14), yielding to the
event loop after every 50 so the writer runs as it does in a daemon, and finally flushes the
writer. It prints the process's CPU per check (the event loop's and the database thread's;
on PostgreSQL the server's CPU too): journal, live state, alerts and incidents, writer,
rollup fold, store.
Goal (issue 14 point 2): at most 150 µs per check beside the prober.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


async def _measure(args: argparse.Namespace, db_url: str | None) -> dict[str, Any]:
    from slamon_daemon.config import load_settings
    from slamon_daemon.daemon import Daemon
    from slamon_daemon.models import Check, ErrorKind, Outcome
    from slamon_daemon.scheduler import phase_of

    with tempfile.TemporaryDirectory(prefix="slamon-own-") as tmp:
        folder = Path(tmp)
        url = db_url or f"sqlite:///{folder / 'own.db'}"
        port = C.free_port()
        head = (
            f'[daemon]\ndatabase_url = "{url}"\nsocket = "{folder / "s.sock"}"\n'
            f'spool_dir = "{folder / "spool"}"\nnode = "bench"\nlog_level = "WARNING"\n\n'
        )
        body = "".join(
            C.service_toml(f"svc-{i}", f"http://127.0.0.1:{port}/{i}", "1d")
            for i in range(args.services)
        )
        (folder / "slamon.toml").write_text(head + body, encoding="utf-8")
        settings, path = load_settings(folder / "slamon.toml")
        daemon = Daemon(settings, config_path=path)
        await daemon.start()
        try:
            await asyncio.sleep(2)  # what the start left to do (alerts' seeding)
            await daemon.writer.flush()
            t0 = datetime.now(UTC) - timedelta(seconds=args.checks // args.services + 5)
            ids = sorted((f"svc-{i}" for i in range(args.services)), key=lambda s: phase_of(s, 60))
            pg0 = C.postgres_cpu() if db_url else 0.0
            c0, w0 = time.process_time(), time.monotonic()
            for n in range(args.checks):
                sid = ids[n % args.services]
                at = t0 + timedelta(seconds=n // args.services, microseconds=n % 997)
                down = n % 50 == 7
                daemon.on_check(
                    Check(
                        service_id=sid,
                        started_at=at,
                        latency_ms=3.0 + (n % 40) * 0.5,
                        outcome=Outcome.DOWN if down else Outcome.UP,
                        status_code=None if down else 200,
                        error_kind=ErrorKind.CONNECTION_ERROR if down else None,
                        error="refused" if down else None,
                        node="bench",
                        interval_s=1.0,
                    )
                )
                if n % 50 == 49:
                    await asyncio.sleep(0)
            await daemon.writer.flush()
            cpu, wall = time.process_time() - c0, time.monotonic() - w0
            pg = (C.postgres_cpu() - pg0) if db_url else 0.0
            stored = await daemon.store.count_checks()
        finally:
            daemon.request_stop()
            await daemon.shutdown()
    return {
        "us_per_check": 1e6 * cpu / args.checks,
        "server_us_per_check": 1e6 * pg / args.checks,
        "checks_per_s": args.checks / wall,
        "stored": stored,
    }


def _child(args: argparse.Namespace) -> None:
    from slamon_daemon.loop import install_fast_loop

    install_fast_loop()
    if args.backend == "sqlite":
        result = asyncio.run(_measure(args, None))
    else:

        async def on_pg() -> dict[str, Any]:
            async with C.pg_database() as dsn:
                return await _measure(args, dsn)

        result = asyncio.run(on_pg())
    import slamon_daemon

    result["code"] = str(Path(slamon_daemon.__file__).resolve().parent)
    print(json.dumps(result))


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--code", action="append", default=[], help="NAME=DIR (default new=repo)")
    ap.add_argument("--services", type=int, default=2000)
    ap.add_argument("--checks", type=int, default=40_000)
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return 0
    C.print_machine()
    codes = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.code] or [
        ("new", C.REPO)
    ]
    child = [
        C.PYTHON,
        __file__,
        "--child",
        "--services",
        str(args.services),
        "--checks",
        str(args.checks),
        "--backend",
        args.backend,
    ]
    for rnd in range(args.rounds):
        for name, code in codes if rnd % 2 == 0 else list(reversed(codes)):
            load = C.Load()
            env = {**os.environ, "PYTHONPATH": str(code)}
            out = subprocess.run(child, env=env, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise SystemExit(f"child failed ({code}):\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            server = (
                f" + server {r['server_us_per_check']:.0f} µs" if args.backend == "postgres" else ""
            )
            print(
                f"round {rnd + 1} {name:>5} [{args.backend}]: {r['us_per_check']:.0f} µs per check"
                f"{server}, {r['checks_per_s']:.0f} checks/s, {r['stored']} stored"
                f" (machine busy {C.busy_seconds() - load.b0:.1f} CPU-s over"
                f" {time.monotonic() - load.t0:.0f} s, this child included) [{r['code']}]",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
