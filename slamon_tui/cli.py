"""The ``slamon`` command: the TUI by default, and scriptable subcommands.

Exit codes of ``slamon status``: 0 all operational (or in maintenance), 1 degraded or no
data yet (a service not checked yet is unknown, never operational), 2 partial or major
outage, 3 daemon unreachable (or it refused), 4 bad configuration or usage. ``slamon call``:
0 ok, 1 error reply, 3 daemon unreachable, 4 bad configuration or usage. A closed pipe
(``slamon call … | head``) ends the output quietly.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from slamon_daemon.models import ServiceStatus, parse_ts
from slamon_tui import alert_cli, hangup
from slamon_tui.client import FeedCallError, FeedClient, FeedClientError, Login
from slamon_tui.formatting import latency_text, overall_text, status_symbol, status_word
from slamon_tui.token_cache import TokenCache

EXIT_OK, EXIT_DEGRADED, EXIT_OUTAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
EXIT_USAGE = 4
"""A bad configuration or bad arguments (issue 12: no longer 2, which means an outage)."""
CALL_TIMEOUT_S = 15.0

HOW_TO_START = "Start one with `slamond --config slamon.toml`, or try `slamon demo` (`make run`)."

STATUS_EXIT: dict[str, int] = {
    ServiceStatus.OPERATIONAL: EXIT_OK,
    ServiceStatus.MAINTENANCE: EXIT_OK,
    ServiceStatus.DEGRADED: EXIT_DEGRADED,
    ServiceStatus.UNKNOWN: EXIT_DEGRADED,  # "no data yet"
    ServiceStatus.PARTIAL_OUTAGE: EXIT_OUTAGE,
    ServiceStatus.MAJOR_OUTAGE: EXIT_OUTAGE,
}


ADMIN_HELP = {
    "db": "database: migrate, backup, restore, rebuild-rollups, grant-readonly (slamon db --help)",
    "user": "user accounts: add, list, set-role, disable, passwd (slamon user --help)",
    "report": "SLA report, --format md|csv|json (slamon report --help)",
    "nodes": "the nodes of a cluster on PostgreSQL, --json (slamon nodes --help)",
}


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors exiting EXIT_USAGE (argparse's own 2 means an outage)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _connection_options(defaults: bool) -> _Parser:
    # Accepted before and after the command; after it, an option left out must not reset
    # one given before, hence SUPPRESS as the default there.
    common = _Parser(add_help=False)
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
    parser = _Parser(
        prog="slamon",
        description="slamon terminal client. With no command, opens the live dashboard.",
        epilog=(
            "The socket is taken from --socket, else from the config's [daemon] socket "
            "(file from --config, $SLAMON_CONFIG, ./slamon.toml or ~/.config/slamon/slamon.toml), "
            "else the default $XDG_RUNTIME_DIR/slamon.sock.\n\n"
            "slamon status exits 0 all operational, 1 degraded or no data yet, 2 partial or "
            "major outage, 3 daemon unreachable, 4 bad config or usage.\n\n"
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
    parser.add_argument(
        "--noc",
        action="store_true",
        help="NOC mode: read-only, full screen, large banner with counts, pages through the "
        "services by itself, never needs a key; keeps reconnecting for as long as it runs",
    )
    later = [_connection_options(defaults=False)]
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
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
    call.add_argument(
        "--user",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="log in as NAME first (password prompted, or read from stdin with "
        "--password-stdin); without it the dashboard's cached login is used, if any",
    )
    call.add_argument(
        "--password-stdin",
        action="store_true",
        help="with --user: read the password from the first line of stdin",
    )
    sub.add_parser(
        "reload",
        parents=later,
        help="make the daemon re-read its config file (as SIGHUP does); admin only",
    )
    alert_cli.add_parser(sub, later)
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
        return _tolerate_closed_pipe(lambda: asyncio.run(status_command(socket_path)))
    if args.command == "call":
        login = None
        if getattr(args, "user", None):
            login = (args.user, read_password(args.password_stdin))
        return _tolerate_closed_pipe(
            lambda: asyncio.run(call_command(socket_path, args.method, args.params, login))
        )
    if args.command == "reload":
        return asyncio.run(reload_command(socket_path))
    if args.command == "alert":
        login = None
        if getattr(args, "user", None):
            login = (args.user, read_password(args.password_stdin))
        return asyncio.run(alert_command(socket_path, args, login))
    return run_tui(socket_path, user=args.user, noc=args.noc)


def _tolerate_closed_pipe(run: Callable[[], int]) -> int:
    """Run a printing command; a reader that went away (``| head``) ends it quietly."""
    try:
        code = run()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit: point it elsewhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return code


def read_password(from_stdin: bool) -> str:
    """The password of ``slamon call --user``: one line of stdin, or prompted without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass("Password: ")


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


def run_tui(socket_path: Path, user: str | None = None, *, noc: bool = False) -> int:
    """Run the dashboard until the user quits (``user``: the name to log in as; ``noc``:
    NOC mode)."""
    from slamon_tui.app import make_app

    app = make_app(socket_path, user=user, noc=noc)
    stop_watching = hangup.watch(sys.__stdin__.fileno()) if sys.__stdin__ else lambda: None
    try:
        app.run()
    finally:
        stop_watching()
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


async def _one_call(
    socket_path: Path,
    method: str,
    params: dict[str, Any],
    login: tuple[str, str] | None = None,
) -> Any:
    # As ``login`` (user, password) when given; else as the dashboard's cached login when
    # there is one (status on a daemon without anonymous reads, admin calls); else anonymous.
    cached = None if login else TokenCache.for_socket(socket_path).load()
    async with FeedClient(socket_path, token=cached.access_token if cached else None) as client:
        if login is not None:
            user, password = login
            answer = await asyncio.wait_for(
                client.call("auth.login", {"username": user, "password": password}),
                CALL_TIMEOUT_S,
            )
            client.token = Login.from_result(answer).access_token
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
    return status_exit(result)


def status_exit(result: dict[str, Any]) -> int:
    """The exit code of ``slamon status``: the overall status's, but never 0 while a service
    has no data yet (the daemon leaves unknown services out of the overall status)."""
    overall = str((result.get("overall") or {}).get("status") or ServiceStatus.UNKNOWN)
    code = STATUS_EXIT.get(overall, EXIT_DEGRADED)
    if code == EXIT_OK and _no_data(result):
        return EXIT_DEGRADED
    return code


def _no_data(result: dict[str, Any]) -> list[str]:
    """The services not checked yet."""
    return [
        str(s.get("name") or s.get("id"))
        for s in result.get("services") or []
        if (s.get("status") or ServiceStatus.UNKNOWN) == ServiceStatus.UNKNOWN
    ]


def format_status(result: dict[str, Any]) -> str:
    """The text of ``slamon status``: overall, notice, then one aligned line per service."""
    overall = str((result.get("overall") or {}).get("status") or ServiceStatus.UNKNOWN)
    services = result.get("services") or []
    waiting = _no_data(result)
    headline = overall_text(overall)
    if services and len(waiting) == len(services):
        headline = "? No data yet: no service has been checked"
    lines = [f"{headline}   (node {result.get('node', '?')}, {_when(result)})"]
    if waiting and len(waiting) < len(services):
        lines.append(f"No data yet for {len(waiting)} of {len(services)} services.")
    if result.get("notice"):
        lines.append(f"Note: {result['notice']}")
    if not services:
        lines.append("No services are configured.")
        return "\n".join(lines)
    rows = [("SERVICE", "STATUS", "UPTIME 90D", "LAST CHECK")]
    for s in services:
        status = str(s.get("status") or ServiceStatus.UNKNOWN)
        uptime = str((s.get("uptime") or {}).get("90", "—"))
        word = "No data yet" if status == ServiceStatus.UNKNOWN else status_word(status)
        rows.append(
            (
                str(s.get("name") or s.get("id")),
                f"{status_symbol(status)} {word}",
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


async def call_command(
    socket_path: Path, method: str, params_text: str, login: tuple[str, str] | None = None
) -> int:
    """Print the result of one feed call as JSON (errors to stderr); ``login`` (user,
    password) logs in first."""
    try:
        params = json.loads(params_text)
    except json.JSONDecodeError as exc:
        print(f"slamon call: PARAMS is not valid JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(params, dict):
        print("slamon call: PARAMS must be a JSON object, e.g. '{\"days\": 30}'", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = await _one_call(socket_path, method, params, login)
    except FeedCallError as exc:
        print(f"error {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except (FeedClientError, TimeoutError) as exc:
        return _unreachable(socket_path, exc)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return EXIT_OK


async def alert_command(
    socket_path: Path, args: argparse.Namespace, login: tuple[str, str] | None
) -> int:
    """``slamon alert VERB`` (alert_cli.py): exit 0, 1 refused or failed, 3 unreachable."""

    async def call(method: str, params: dict[str, Any]) -> Any:
        return await _one_call(socket_path, method, params, login)

    try:
        return await alert_cli.run(args, call)
    except FeedCallError as exc:
        print(f"slamon alert: {exc.message}", file=sys.stderr)
        return 1
    except (FeedClientError, TimeoutError) as exc:
        return _unreachable(socket_path, exc)


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
