"""``slamon db …`` and ``slamon user …``: commands that act on the database directly.

The ``slamon`` console script lives in slamon_tui.cli and hands these subcommands here, so the
TUI never imports the store.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from .auth import hash_password
from .backup import backup, restore
from .config import Settings, load_settings
from .errors import ConfigError, InvalidParams, SlamonError
from .models import AuditEntry, role_from_name
from .report import render
from .reporting import check_role_name, grant_readonly
from .reports import sla_report
from .sla import Period, period_from_params
from .store import cluster_parts, database_location, open_store


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slamon", description="slamon administration commands")
    p.add_argument(
        "--config", help="TOML config file (default: $SLAMON_CONFIG, ./slamon.toml, XDG)"
    )
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
    bak = dbsub.add_parser(
        "backup",
        help="copy the database into FILE (SQLite backup API, or pg_dump); works while the"
        " daemon runs",
    )
    bak.add_argument("file", help="the backup file to write (must not exist)")
    bak.add_argument("--config", dest="sub_config", help=argparse.SUPPRESS)
    res = dbsub.add_parser(
        "restore",
        help="replace the database with the backup FILE (SQLite, or pg_restore), then migrate;"
        " stop the daemon first",
    )
    res.add_argument("file", help="a file made by slamon db backup")
    res.add_argument("--config", dest="sub_config", help=argparse.SUPPRESS)

    gro = dbsub.add_parser(
        "grant-readonly",
        help="PostgreSQL: create or update a login role for Grafana/BI that may read the"
        " report_* views and nothing else",
    )
    gro.add_argument("role", help="the role name, e.g. grafana_ro")
    gro.add_argument(
        "--password-stdin",
        action="store_true",
        help="set the role's password from the first line of stdin (default: leave it as it is)",
    )
    gro.add_argument("--config", dest="sub_config", help=argparse.SUPPRESS)

    rep = sub.add_parser("report", help="SLA report (calendar month by default)")
    grp = rep.add_mutually_exclusive_group()
    grp.add_argument("--month", help="calendar month YYYY-MM (default: this month)")
    grp.add_argument("--days", type=int, help="the last N days, today included")
    grp.add_argument("--from", dest="first", help="first day YYYY-MM-DD (with --to)")
    rep.add_argument("--to", dest="last", help="last day YYYY-MM-DD (with --from)")
    rep.add_argument("--service", help="one service id (default: every active service)")
    rep.add_argument("--format", choices=["md", "csv", "json"], default="md")
    rep.add_argument("--output", "-o", help="write to this file instead of stdout")
    rep.add_argument("--config", dest="sub_config", help=argparse.SUPPRESS)

    nodes = sub.add_parser(
        "nodes", help="the nodes of a cluster on PostgreSQL: region, heartbeat, leases, health"
    )
    nodes.add_argument("--json", action="store_true", help="print JSON")
    nodes.add_argument("--config", dest="sub_config", help=argparse.SUPPRESS)

    user = sub.add_parser("user", help="manage users (works on the database directly)")
    usub = user.add_subparsers(dest="user_command", required=True)
    add = usub.add_parser("add", help="add a user; the password is prompted (or read from stdin)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["viewer", "reporter", "admin"])
    add.add_argument("--email", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    usub.add_parser("list", help="list users")
    sr = usub.add_parser("set-role", help="change a user's role (ends their logins)")
    sr.add_argument("username")
    sr.add_argument("role", choices=["viewer", "reporter", "admin"])
    dis = usub.add_parser("disable", help="disable a user (ends their logins)")
    dis.add_argument("username")
    en = usub.add_parser("enable", help="enable a disabled user")
    en.add_argument("username")
    pw = usub.add_parser("passwd", help="set a user's password (ends their logins)")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    for sp in (add, sr, dis, en, pw, usub.choices["list"]):
        sp.add_argument("--config", dest="sub_config", help=argparse.SUPPRESS)
    return p


def _read_password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or prompted twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _report(settings: Settings, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    try:
        period = period_from_params(
            month=args.month,
            days=args.days,
            first=args.first,
            last=args.last,
            now=now,
            tz=settings.daemon.timezone,
        )
    except ValueError as exc:
        print(f"slamon report: {exc}", file=sys.stderr)
        return 2
    report = asyncio.run(_report_data(settings, args, period, now))
    if report is None:
        return 1
    text = render(report, args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


async def _report_data(
    settings: Settings, args: argparse.Namespace, period: Period, now: datetime
) -> dict[str, Any] | None:
    async with open_store(settings.daemon.database_url) as store:
        await store.migrate()
        services = await store.list_services(include_inactive=args.service is not None)
        if args.service and args.service not in {s.id for s in services}:
            print(f"slamon report: no service {args.service!r}", file=sys.stderr)
            return None
        return await sla_report(
            store, services, settings.daemon.sla_target, period, now, args.service
        )


async def _user_command(database_url: str, args: argparse.Namespace) -> int:
    actor = f"cli:{getpass.getuser()}"
    async with open_store(database_url) as store:
        await store.migrate()
        cmd = args.user_command
        if cmd == "list":
            users = await store.list_users()
            if not users:
                print("no users yet; add the first admin with: slamon user add NAME --role admin")
            for u in users:
                last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never"
                state = "active" if u.active else "disabled"
                print(
                    f"{u.username:<20} {u.role.name.lower():<9} {state:<9} last login {last:<16} {u.email}"
                )
            return 0
        changes: dict[str, object] = {}
        if cmd == "add":
            pw = _read_password(args.password_stdin)
            user = await store.create_user(
                args.username, args.email, hash_password(pw), role_from_name(args.role)
            )
            changes = {"role": args.role, "email": args.email, "password": "***"}
            print(f"added {user.username} ({args.role})")
        elif cmd == "set-role":
            found = await store.update_user(
                args.username, role=role_from_name(args.role), revoke_tokens=True
            )
            changes = {"role": args.role}
        elif cmd == "disable":
            found = await store.update_user(args.username, active=False, revoke_tokens=True)
            changes = {"active": False}
        elif cmd == "enable":
            found = await store.update_user(args.username, active=True)
            changes = {"active": True}
        elif cmd == "passwd":
            pw = _read_password(args.password_stdin)
            found = await store.update_user(
                args.username, password_hash=hash_password(pw), revoke_tokens=True
            )
            changes = {"password": "***"}
        if cmd != "add":
            if found is None:
                print(f"slamon: no user {args.username!r}", file=sys.stderr)
                return 1
            print(f"{cmd}: {args.username} done")
        await store.add_audit(
            AuditEntry(
                actor=actor,
                method=f"cli user {cmd}",
                target=args.username,
                changes=changes,
                at=datetime.now(UTC),
            )
        )
        return 0


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


def _say_database(settings: Settings) -> None:
    """Issue 12: say which database a command acts on (a relative sqlite:/// path is taken
    from the working directory), before it touches it."""
    print(f"database: {database_location(settings.daemon.database_url)}", file=sys.stderr)


async def _nodes(settings: Settings, as_json: bool) -> int:
    """``slamon nodes``: the cluster's nodes, read from the database (issue 15)."""
    cfg = settings.daemon
    store = open_store(cfg.database_url)
    parts = cluster_parts(store)
    if parts is None:
        print(f"single node: SQLite is single-node (node {cfg.node!r}); a cluster needs PostgreSQL")
        return 0
    async with store:
        await store.migrate()
        nodes = await parts[0].nodes()
        holders = await parts[0].singletons()
        if as_json:  # with each node's health by hour (last day) and by day
            rows = [
                n.to_dict(cfg.lease_timeout)
                | {
                    "hourly": (await parts[0].health_rows(n.name, "hour"))[:24],
                    "daily": await parts[0].health_rows(n.name, "day"),
                }
                for n in nodes
            ]
            print(json.dumps({"nodes": rows, "singletons": holders}, indent=2))
            return 0
    if not nodes:
        print("no node has run on this database with [daemon] region set")
        return 0
    runs: dict[str, list[str]] = {}
    for name, node in holders.items():
        runs.setdefault(node, []).append(name)
    print(
        f"{'NODE':<16} {'REGION':<12} {'STATE':<8} {'HEARTBEAT':>9} {'LEASES':>6}  VERSION  NOTES"
    )
    for n in nodes:
        notes = []
        if n.sick:
            notes.append(f"SICK: {n.sick}")
        if n.name in runs:
            notes.append("runs " + ", ".join(sorted(runs[n.name])))
        print(
            f"{n.name:<16} {n.region or '-':<12} {n.state(cfg.lease_timeout):<8}"
            f" {n.heartbeat_age_s:>8.1f}s {n.leases:>6}  {n.version:<7}  {'; '.join(notes)}"
        )
    return 0


def admin_main(argv: list[str]) -> int:
    """Run an administration command; returns the exit code."""
    os.umask(0o077)  # what it writes (a backup, a new database) is the owner's alone
    args = _parser().parse_args(argv)
    try:
        settings, _ = load_settings(getattr(args, "sub_config", None) or args.config)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    try:
        if args.command == "nodes":
            return asyncio.run(_nodes(settings, args.json))
        if args.command == "db" and args.db_command == "migrate":
            _say_database(settings)
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
                    print(
                        f"slamon: --since {args.since!r} is not a date like 2026-11-01",
                        file=sys.stderr,
                    )
                    return 2
            _say_database(settings)
            n = asyncio.run(_rebuild(settings.daemon.database_url, since))
            print(f"rebuilt rollups from {n} checks")
            return 0
        if args.command == "db" and args.db_command in ("backup", "restore"):
            act = backup if args.db_command == "backup" else restore
            done = asyncio.run(act(settings.daemon.database_url, Path(args.file)))
            print(done.message)
            return 0
        if args.command == "db" and args.db_command == "grant-readonly":
            _say_database(settings)
            password = None
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\n")
                if not password:
                    print(
                        "slamon: --password-stdin: the first line of stdin is empty",
                        file=sys.stderr,
                    )
                    return 2
            url = settings.daemon.database_url
            check_role_name(args.role)
            if url.startswith(("postgresql://", "postgres://")):
                asyncio.run(_migrate(url))
            print(asyncio.run(grant_readonly(url, args.role, password)).message)
            return 0
        if args.command == "report":
            return _report(settings, args)
        if args.command == "user":
            _say_database(settings)
            return asyncio.run(_user_command(settings.daemon.database_url, args))
    except (InvalidParams, ValueError) as exc:  # a weak or mistyped password
        print(f"slamon: {exc}", file=sys.stderr)
        return 2
    except (SlamonError, EOFError) as exc:
        print(f"slamon: {exc}", file=sys.stderr)
        return 1
    return 2
