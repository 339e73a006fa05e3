"""Startup time with many services: launch of slamond to the feed answering ``ping``.

    .venv/bin/python bench/startup.py [--services 50000] [--backend sqlite|postgres] \
        [--code old=DIR --code new=.] [--starts 2]

Writes a config of ``--services`` services (one host, a path each, a closed port, checked
once a day so no check runs in the window), then starts ``python -m slamon_daemon`` on it
``--starts`` times against the same database: the first start creates every service, the
next ones find them stored. Prints, per start, the seconds to the first answered ``ping``
and the daemon's CPU seconds until then. Each ``--code NAME=DIR`` imports slamon_daemon
from DIR (PYTHONPATH), the codes alternating. Goal (issue 14): under 10 s for 50,000.

``--history-days N`` first writes N past days of daily rollups for every service
(``scheduler_lateness.seed_history``) once, into a template (a PostgreSQL database made with
``CREATE DATABASE … TEMPLATE``, an SQLite file copied); each code's round starts from a fresh
copy of it: its first start inserts the services over a stored history (the bench of
scheduler_lateness.py), the next ones are restarts. A PostgreSQL copy is vacuumed and
analysed first, as autovacuum leaves a database that has held its history for a while
(``--no-vacuum``: analysed only; every start then reads the rollups' heap pages, without
index-only scans: stop 22's quiet runs, 16-26 s). ``--profile DIR`` records each start of
the code named ``new`` with py-spy (collapsed stacks, DIR/<round>-<start>.txt).

``--settle S`` also prints the daemon's CPU seconds S seconds after ready: a start may leave
work to after it (SQLite's WAL checkpoint of the first start's bar summaries, issue 14), and
the daemon's CPU until then counts it (both codes alike; a check may run in those seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def write_config(folder: Path, db_url: str, services: int) -> Path:
    head = (
        f'[daemon]\ndatabase_url = "{db_url}"\nsocket = "{folder / "slamon.sock"}"\n'
        f'spool_dir = "{folder / "spool"}"\nnode = "bench"\nlog_level = "INFO"\n\n'
    )
    port = C.free_port()  # nothing listens there: no check would succeed (none runs anyway)
    body = "".join(
        C.service_toml(f"svc-{i}", f"http://127.0.0.1:{port}/svc/{i}", "1d", "10s")
        for i in range(services)
    )
    path = folder / "slamon.toml"
    path.write_text(head + body, encoding="utf-8")
    return path


async def backends_cpu(db_url: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to ``db_url``'s database now (the
    daemon's pool at ready: its start's queries; a backend already closed is not counted)."""
    if not db_url.startswith("postgres"):
        return 0.0
    import asyncpg

    con = await asyncpg.connect(C.PG_ADMIN_DSN)
    try:
        rows = await con.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            db_url.rpartition("/")[2],
        )
    finally:
        await con.close()
    return C.cpu_of([r[0] for r in rows])


async def one_start(
    folder: Path,
    config: Path,
    code: Path,
    profile: Path | None = None,
    db_url: str = "",
    settle: float = 0.0,
) -> tuple[float, float, float, float]:
    d = C.DaemonProc(folder, config, folder / "slamon.sock")
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(code)
    try:
        d.start()
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    spy = None if profile is None else C.start_profile(d.pid, 30, profile, rate=100)
    try:
        seconds = await d.wait_ready(timeout=600)
        cpu = C.cpu_seconds(d.pid)
        server = await backends_cpu(db_url)
        settled = cpu
        if settle:
            await asyncio.sleep(settle)
            settled = C.cpu_seconds(d.pid)
    finally:
        d.stop()
        if spy is not None:
            spy.wait()
    return seconds, cpu, server, settled


def service_ids(services: int) -> list[str]:
    return [f"svc-{i}" for i in range(services)]


async def run_code(
    name: str, code: Path, args: argparse.Namespace, db_url: str, rnd: int = 0
) -> None:
    with tempfile.TemporaryDirectory(prefix="slamon-startup-") as tmp:
        folder = Path(tmp)
        if db_url == "sqlite":
            url = f"sqlite:///{folder / 'slamon.db'}"
        elif db_url.startswith("sqlite:///"):  # a seeded template file
            shutil.copyfile(db_url.removeprefix("sqlite:///"), folder / "slamon.db")
            url = f"sqlite:///{folder / 'slamon.db'}"
        else:
            url = db_url
        config = write_config(folder, url, args.services)
        for i in range(args.starts):
            other = C.Load()
            profile = None
            if args.profile and name == "new":
                profile = Path(args.profile) / f"{args.backend}-{rnd + 1}-{i + 1}.txt"
            seconds, cpu, server, settled = await one_start(
                folder, config, code, profile, url, args.settle
            )
            on_server = "" if db_url.startswith("sqlite") else f", server CPU {server:5.2f} s"
            after = f", {settled:6.2f} s {args.settle:g} s later" if args.settle else ""
            print(
                f"{name:>6} start {i + 1}: ready after {seconds:6.2f} s, daemon CPU {cpu:6.2f} s"
                f"{after}{on_server} ({other.report(cpu + server)})",
                flush=True,
            )


async def main_async(args: argparse.Namespace) -> None:
    C.print_machine()
    codes = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.code] or [
        ("new", C.REPO)
    ]
    print(f"{args.services} services, {args.backend}, {args.starts} starts per code", flush=True)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    if args.history_days:
        await with_history(codes, args)
        return
    for rnd in range(args.rounds):
        order = codes if rnd % 2 == 0 else list(reversed(codes))
        for name, code in order:
            if args.backend == "sqlite":
                await run_code(name, code, args, "sqlite", rnd)
            else:
                async with C.pg_database() as dsn:
                    await run_code(name, code, args, dsn, rnd)


async def with_history(codes: list[tuple[str, Path]], args: argparse.Namespace) -> None:
    """Seed ``--history-days`` once into a template; each code's round on a fresh copy."""
    from scheduler_lateness import seed_history

    ids = service_ids(args.services)
    if args.backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="slamon-startup-seed-") as tmp:
            template = f"sqlite:///{Path(tmp) / 'template.db'}"
            await seed_history(template, ids, args.history_days)
            for rnd in range(args.rounds):
                order = codes if rnd % 2 == 0 else list(reversed(codes))
                for name, code in order:
                    await run_code(name, code, args, template, rnd)
        return
    import asyncpg

    async with C.pg_database() as template:
        await seed_history(template, ids, args.history_days)
        tname = template.rpartition("/")[2]
        for rnd in range(args.rounds):
            order = codes if rnd % 2 == 0 else list(reversed(codes))
            for name, code in order:
                async with C.pg_database() as dsn:
                    con = await asyncpg.connect(C.PG_ADMIN_DSN)
                    try:
                        copy = dsn.rpartition("/")[2]
                        await con.execute(f'DROP DATABASE "{copy}"')
                        await con.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{tname}"')
                    finally:
                        await con.close()
                    con = await asyncpg.connect(dsn)
                    try:
                        # A database that has held 89 days is vacuumed (autovacuum runs after
                        # inserts since PostgreSQL 13): its visibility map lets the bar's read
                        # use index-only scans. ``--no-vacuum``: a fresh copy as it comes.
                        await con.execute("ANALYZE" if args.no_vacuum else "VACUUM (ANALYZE)")
                    finally:
                        await con.close()
                    await run_code(name, code, args, dsn, rnd)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--services", type=int, default=50_000)
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--code", action="append", default=[], help="NAME=DIR (default new=repo)")
    ap.add_argument("--starts", type=int, default=2, help="starts per code on one database")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--history-days", type=int, default=0, help="seed N past days first")
    ap.add_argument("--profile", default="", help="DIR: py-spy each start of 'new'")
    ap.add_argument(
        "--settle", type=float, default=0.0, help="S: the daemon's CPU also S seconds after ready"
    )
    ap.add_argument(
        "--no-vacuum",
        action="store_true",
        help="PostgreSQL: start on the copy unvacuumed (ANALYZE only; no visibility map)",
    )
    args = ap.parse_args()
    t0 = time.monotonic()
    asyncio.run(main_async(args))
    print(f"done in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
