"""The ``slamon`` command: the TUI by default, and scriptable subcommands.

Exit codes of ``slamon status``: 0 all operational (or in maintenance), 1 degraded or
unknown, 2 partial or major outage, 3 daemon unreachable. ``slamon call``: 0 ok, 1 error
reply, 2 bad arguments, 3 daemon unreachable. Bad configuration: 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slamon_daemon.models import ServiceStatus, parse_ts
from slamon_tui.client import FeedCallError, FeedClient, FeedClientError
from slamon_tui.formatting import latency_text, overall_text, status_symbol, status_word
from slamon_tui.token_cache import TokenCache

EXIT_OK, EXIT_DEGRADED, EXIT_OUTAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
EXIT_USAGE = 2
CALL_TIMEOUT_S = 15.0

HOW_TO_START = "Start one with `slamond --config slamon.toml`, or try `slamon demo` (`make run`)."

STATUS_EXIT: dict[str, int] = {
    ServiceStatus.OPERATIONAL: EXIT_OK,
    ServiceStatus.MAINTENANCE: EXIT_OK,
    ServiceStatus.DEGRADED: EXIT_DEGRADED,
    ServiceStatus.UNKNOWN: EXIT_DEGRADED,
    ServiceStatus.PARTIAL_OUTAGE: EXIT_OUTAGE,
    ServiceStatus.MAJOR_OUTAGE: EXIT_OUTAGE,
}


ADMIN_HELP = {
    "db": "database: migrate, backup, restore, rebuild-rollups (slamon db --help)",
    "user": "user accounts: add, list, set-role, disable, passwd (slamon user --help)",
    "report": "SLA report, --format md|csv|json (slamon report --help)",
}


def _connection_options(defaults: bool) -> argparse.ArgumentParser:
    # Accepted before and after the command; after it, an option left out must not reset
    # one given before, hence SUPPRESS as the default there.
    common = argparse.ArgumentParser(add_help=False)
    default = None if defaults else argparse.SUPPRESS
    common.add_argument(
        "--config", metavar="PATH", default=default, help="config file (slamon.toml)"
    )
    common.add_argument(
        "--socket",
        metavar="PATH",
        default=default,
        help="the daemon's feed socket (overrides the config)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``slamon``."""
    parser = argparse.ArgumentParser(
        prog="slamon",
        description="slamon terminal client. With no command, opens the live dashboard.",
        epilog=(
            "The socket is taken from --socket, else from the config's [daemon] socket "
            "(file from --config, $SLAMON_CONFIG, ./slamon.toml or ~/.config/slamon/slamon.toml), "
            "else the default $XDG_RUNTIME_DIR/slamon.sock.\n\n"
            "slamon status exits 0 all operational, 1 degraded, 2 partial or major outage, "
            "3 daemon unreachable.\n\n"
            "Logins made in the dashboard are cached (mode 0600) in "
            "$XDG_CACHE_HOME/slamon/token-<hash>.json until they expire; slamon status and "
            "slamon call use that login too. Ctrl+L in the dashboard logs out and deletes it."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_connection_options(defaults=True)],
    )
    parser.add_argument(
        "--user",
        metavar="NAME",
        help="log in as NAME: the login screen opens with it filled in (a cached login of "
        "NAME is reused until it expires; one of another user is ignored)",
    )
    later = [_connection_options(defaults=False)]
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "status",
        parents=later,
        help="print a one-shot status summary; the exit code tells the overall status",
    )
    call = sub.add_parser(
        "call",
        parents=later,
        help="make a raw feed call and print the result as JSON",
        description="Make one feed call, e.g.  slamon call status.get  or  "
        'slamon call subscribe \'{"topics":["check"]}\'',
    )
    call.add_argument(
        "method", help="feed method, e.g. status.get (slamon call methods lists them)"
    )
    call.add_argument(
        "params", nargs="?", default="{}", help="params as a JSON object (default {})"
    )
    sub.add_parser(
        "reload",
        parents=later,
        help="make the daemon re-read its config file (as SIGHUP does); admin only",
    )
    demo = sub.add_parser(
        "demo", help="start a demo daemon with local targets in a temp dir and open the dashboard"
    )
    demo.add_argument(
        "--keep", action="store_true", help="keep the temp dir (database, log) afterwards"
    )
    for name, text in ADMIN_HELP.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def admin_command(argv: Sequence[str]) -> str | None:
    """The command word of ``argv`` when it is one the daemon package serves (db, user …)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--config", "--socket", "--user"):
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        return arg if arg in ADMIN_HELP else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``slamon`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Admin commands have their own parser (slamon_daemon.cli): hand them argv as typed,
    # so `slamon db --help` shows theirs.
    if admin_command(argv) is not None:
        return run_admin(argv)
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from slamon_tui.demo import run_demo

        return run_demo(keep=args.keep, run=run_tui)
    socket_path = resolve_socket(args.config, args.socket)
    if socket_path is None:
        return EXIT_USAGE
    if args.command == "status":
        return asyncio.run(status_command(socket_path))
    if args.command == "call":
        return asyncio.run(call_command(socket_path, args.method, args.params))
    if args.command == "reload":
        return asyncio.run(reload_command(socket_path))
    return run_tui(socket_path, user=args.user)


def resolve_socket(config: str | None, socket: str | None) -> Path | None:
    """The socket to use; None (after printing the problems) when the config is invalid."""
    if socket and not config:
        return Path(socket)
    from slamon_daemon.config import load_settings
    from slamon_daemon.errors import ConfigError

    try:
        settings, _file = load_settings(config)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return None
    return Path(socket) if socket else Path(settings.daemon.socket)


def run_tui(socket_path: Path, user: str | None = None) -> int:
    """Run the dashboard until the user quits (``user``: the name to log in as)."""
    from slamon_tui.app import make_app

    app = make_app(socket_path, user=user)
    app.run()
    return app.return_code or 0


def run_admin(argv: list[str]) -> int:
    """Hand ``db``/``user``/``report`` to the daemon package's admin CLI.

    They act on the database, not the socket, so ``--socket`` is dropped; the rest of argv
    (``--config`` included) goes through unchanged.
    """
    try:
        from slamon_daemon.cli import admin_main
    except ImportError as exc:
        print(f"slamon: admin commands are not available in this build ({exc})", file=sys.stderr)
        return EXIT_USAGE
    return int(admin_main(_without_socket(argv)))


def _without_socket(argv: list[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--socket":
            skip = True
        elif not arg.startswith("--socket="):
            out.append(arg)
    return out


# --- status and call ------------------------------------------------------------------------


def _unreachable(socket_path: Path, exc: BaseException) -> int:
    message = str(exc) or f"no answer within {CALL_TIMEOUT_S:.0f} s"
    if str(socket_path) not in message:
        message = f"cannot reach the daemon at {socket_path}: {message}"
    print(f"slamon: {message}", file=sys.stderr)
    print(HOW_TO_START, file=sys.stderr)
    return EXIT_UNREACHABLE


async def _one_call(socket_path: Path, method: str, params: dict[str, Any]) -> Any:
    # As the dashboard's cached login when there is one (status on a daemon without
    # anonymous reads, admin calls); anonymous otherwise.
    login = TokenCache.for_socket(socket_path).load()
    async with FeedClient(socket_path, token=login.access_token if login else None) as client:
        return await asyncio.wait_for(client.call(method, params), CALL_TIMEOUT_S)


async def status_command(socket_path: Path) -> int:
    """Print the summary of status.get; the exit code tells the overall status."""
    try:
        result = await _one_call(socket_path, "status.get", {})
    except FeedCallError as exc:
        print(f"slamon: the daemon refused status.get: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (FeedClientError, TimeoutError) as exc:
        return _unreachable(socket_path, exc)
    print(format_status(result))
    overall = str((result.get("overall") or {}).get("status") or ServiceStatus.UNKNOWN)
    return STATUS_EXIT.get(overall, EXIT_DEGRADED)


def format_status(result: dict[str, Any]) -> str:
    """The text of ``slamon status``: overall, notice, then one aligned line per service."""
    overall = str((result.get("overall") or {}).get("status") or ServiceStatus.UNKNOWN)
    lines = [f"{overall_text(overall)}   (node {result.get('node', '?')}, {_when(result)})"]
    if result.get("notice"):
        lines.append(f"Note: {result['notice']}")
    services = result.get("services") or []
    if not services:
        lines.append("No services are configured.")
        return "\n".join(lines)
    rows = [("SERVICE", "STATUS", "UPTIME 90D", "LAST CHECK")]
    for s in services:
        status = str(s.get("status") or ServiceStatus.UNKNOWN)
        uptime = str((s.get("uptime") or {}).get("90", "—"))
        rows.append(
            (
                str(s.get("name") or s.get("id")),
                f"{status_symbol(status)} {status_word(status)}",
                uptime if uptime == "—" else f"{uptime}%",
                latency_text(s.get("last_check")),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines.append("")
    for name, status, uptime, last in rows:
        lines.append(
            f"{name:<{widths[0]}}  {status:<{widths[1]}}  {uptime:>{widths[2]}}  {last:>{widths[3]}}"
        )
    return "\n".join(lines)


def _when(result: dict[str, Any]) -> str:
    generated = result.get("generated_at")
    try:
        return parse_ts(str(generated)).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return str(generated or "?")


async def call_command(socket_path: Path, method: str, params_text: str) -> int:
    """Print the result of one feed call as JSON (errors to stderr)."""
    try:
        params = json.loads(params_text)
    except json.JSONDecodeError as exc:
        print(f"slamon call: PARAMS is not valid JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(params, dict):
        print("slamon call: PARAMS must be a JSON object, e.g. '{\"days\": 30}'", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = await _one_call(socket_path, method, params)
    except FeedCallError as exc:
        print(f"error {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except (FeedClientError, TimeoutError) as exc:
        return _unreachable(socket_path, exc)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return EXIT_OK


async def reload_command(socket_path: Path) -> int:
    """``slamon reload``: print what daemon.reload changed, or every problem of the file
    (exit 0 applied, 1 refused, 3 daemon unreachable)."""
    try:
        result = await _one_call(socket_path, "daemon.reload", {})
    except FeedCallError as exc:
        print(f"slamon reload: {exc.message}", file=sys.stderr)
        return 1
    except (FeedClientError, TimeoutError) as exc:
        return _unreachable(socket_path, exc)
    for line in result.get("problems") or []:
        print(line, file=sys.stderr)
    if not result.get("ok"):
        print(f"slamon reload: {result.get('config')} refused; the daemon runs on", file=sys.stderr)
        return 1
    for line in result.get("changes") or ["nothing changed"]:
        print(line)
    if result.get("restart_needed"):
        print("takes effect at the next restart: " + ", ".join(result["restart_needed"]))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
