"""``slamon db …`` (and later ``slamon user …``): commands that act on the database directly.

The ``slamon`` console script lives in slamon_tui.cli and hands these subcommands here, so the
TUI never imports the store.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date

from .config import load_settings
from .errors import ConfigError, SlamonError
from .store import open_store


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slamon", description="slamon administration commands")
    p.add_argument("--config", help="TOML config file (default: $SLAMON_CONFIG, ./slamon.toml, XDG)")
    sub = p.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="database commands")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    mig = dbsub.add_parser("migrate", help="apply the schema migrations that are not applied yet")
    mig.add_argument("--config", dest="sub_config", help=argparse.SUPPRESS)
    reb = dbsub.add_parser(
        "rebuild-rollups", help="recompute hourly and daily rollups from the raw checks"
    )
    reb.add_argument("--since", help="first UTC day to rebuild (YYYY-MM-DD; default: oldest check)")
    reb.add_argument("--config", dest="sub_config", help=argparse.SUPPRESS)
    return p


def _progress_bar(done: int, total: int, *, width: int = 30) -> None:
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} days{end}")
    sys.stderr.flush()


async def _rebuild(database_url: str, since: date | None) -> int:
    async with open_store(database_url) as store:
        await store.migrate()
        return await store.rebuild_rollups(since, progress=_progress_bar)


async def _migrate(database_url: str) -> list[str]:
    async with open_store(database_url) as store:
        return await store.migrate()


def admin_main(argv: list[str]) -> int:
    """Run an administration command; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        settings, _ = load_settings(getattr(args, "sub_config", None) or args.config)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    try:
        if args.command == "db" and args.db_command == "migrate":
            applied = asyncio.run(_migrate(settings.daemon.database_url))
            if applied:
                for name in applied:
                    print(f"applied {name}")
            else:
                print("database is up to date")
            return 0
        if args.command == "db" and args.db_command == "rebuild-rollups":
            since = None
            if args.since:
                try:
                    since = date.fromisoformat(args.since)
                except ValueError:
                    print(f"slamon: --since {args.since!r} is not a date like 2026-11-01", file=sys.stderr)
                    return 2
            n = asyncio.run(_rebuild(settings.daemon.database_url, since))
            print(f"rebuilt rollups from {n} checks")
            return 0
    except SlamonError as exc:
        print(f"slamon: {exc}", file=sys.stderr)
        return 1
    return 2
