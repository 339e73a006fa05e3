"""The ``slamon`` command: status, call, demo and argument handling, against a fake daemon.

The CLI runs its own event loop (asyncio.run), so it runs in a thread here while the fake
daemon serves from the test's loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slamon_tui import cli, demo

from .fake_daemon import FakeDaemon, make_service, make_snapshot


async def slamon(*argv: str) -> int:
    """Run ``slamon ARGV`` and return its exit code."""
    return await asyncio.to_thread(cli.main, list(argv))


@pytest.mark.parametrize(
    ("overall", "code"),
    [
        ("operational", 0),
        ("maintenance", 0),
        ("degraded", 1),
        ("partial_outage", 2),
        ("major_outage", 2),
    ],
)
async def test_status_exit_code_follows_overall_status(
    daemon: FakeDaemon, capsys: pytest.CaptureFixture[str], overall: str, code: int
) -> None:
    daemon.snapshot["overall"]["status"] = overall
    assert await slamon("--socket", str(daemon.path), "status") == code
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "2026-11-21 23:10:00 UTC" in lines[0]
    assert "Note: Demo: history before 23:01 UTC is generated demo data" in out
    flaky = next(line for line in lines if line.startswith("Flaky backend"))
    assert "◆ Partial outage" in flaky and "98.91%" in flaky and flaky.endswith("timeout")
    api = next(line for line in lines if line.startswith("Public API"))
    assert "● Operational" in api and api.endswith("42 ms")
    # Columns line up: the status starts under the STATUS title on every line.
    header = next(line for line in lines if line.startswith("SERVICE"))
    assert header.index("STATUS") == api.index("●") == flaky.index("◆")


async def test_status_without_daemon_exits_3_with_a_hint(
    sock_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await slamon("status", "--socket", str(sock_path)) == 3
    err = capsys.readouterr().err
    assert f"no slamon daemon is running at {sock_path}" in err
    assert "slamond --config slamon.toml" in err


async def test_status_reads_the_socket_from_the_config(
    daemon: FakeDaemon, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "slamon.toml"
    config.write_text(f'[daemon]\nsocket = "{daemon.path}"\n', encoding="utf-8")
    daemon.snapshot = make_snapshot([make_service("api", "Only API")])
    assert await slamon("--config", str(config), "status") == 0
    assert "Only API" in capsys.readouterr().out


async def test_bad_config_prints_the_problems_and_exits_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "slamon.toml"
    config.write_text("[daemon]\nsla_target = 250\n", encoding="utf-8")
    # Issue 12: 4, not 2 (which says "outage").
    assert await slamon("--config", str(config), "status") == 4
    err = capsys.readouterr().err
    assert str(config) in err and "sla_target" in err


async def test_call_prints_the_result_as_json(
    daemon: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    daemon.results["ping"] = {"pong": True}
    assert await slamon("--socket", str(daemon.path), "call", "ping", '{"x": 1}') == 0
    assert json.loads(capsys.readouterr().out) == {"pong": True}
    assert daemon.requests[-1] == {"method": "ping", "params": {"x": 1}}


async def test_call_error_reply_goes_to_stderr_with_exit_1(
    daemon: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await slamon("--socket", str(daemon.path), "call", "nope") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error unknown_method: no method 'nope'" in captured.err


@pytest.mark.parametrize(
    ("params", "says"), [("{oops", "not valid JSON"), ("[1, 2]", "must be a JSON object")]
)
async def test_call_with_bad_params_exits_4(
    daemon: FakeDaemon, capsys: pytest.CaptureFixture[str], params: str, says: str
) -> None:
    assert await slamon("--socket", str(daemon.path), "call", "ping", params) == 4
    assert says in capsys.readouterr().err
    assert daemon.count("ping") == 0


async def test_call_without_daemon_exits_3(sock_path: Path) -> None:
    assert await slamon("--socket", str(sock_path), "call", "ping") == 3


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for word in ("status", "call", "demo", "db", "user", "--socket", "--config", "3 daemon"):
        assert word in out


async def test_unknown_services_read_as_no_data_yet_and_exit_1(
    daemon: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    # A daemon that has checked nothing yet says "operational" overall: not so here.
    fresh = [make_service(s, s.title(), status="unknown", last_latency=None) for s in "ab"]
    daemon.snapshot = make_snapshot(fresh, overall="operational")
    assert await slamon("--socket", str(daemon.path), "status") == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("? No data yet")
    assert "All Systems Operational" not in out
    assert all("? No data yet" in line for line in out.splitlines() if line[:2] in ("A ", "B "))
    # One checked and up, one not yet: still 1, and it says how many wait.
    daemon.snapshot = make_snapshot([make_service("a", "A"), fresh[1]], overall="operational")
    assert await slamon("--socket", str(daemon.path), "status") == 1
    assert "No data yet for 1 of 2 services." in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["status", "--bogus"], ["nosuchcommand"], ["--socket"]])
async def test_usage_errors_exit_4(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 4
    assert "usage: slamon" in capsys.readouterr().err


async def test_call_as_a_user_with_the_password_from_stdin(
    daemon: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    daemon.auth.anonymous_read = False
    daemon.auth.add_user("alice", "alice-password-1", "admin")
    monkeypatch.setattr("sys.stdin", io.StringIO("alice-password-1\n"))
    argv = ["--socket", str(daemon.path), "call", "user.list", "--user", "alice"]
    assert await slamon(*argv, "--password-stdin") == 0
    assert [u["username"] for u in json.loads(capsys.readouterr().out)] == ["alice"]
    login = next(r for r in daemon.requests if r["method"] == "auth.login")
    assert login["params"] == {"username": "alice", "password": "alice-password-1"}
    # A wrong password: the daemon's refusal, exit 1, nothing on stdout.
    monkeypatch.setattr("sys.stdin", io.StringIO("wrong\n"))
    assert await slamon(*argv, "--password-stdin") == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "error" in captured.err


async def test_call_into_a_closed_pipe_ends_quietly(daemon: FakeDaemon) -> None:
    daemon.snapshot = make_snapshot([make_service(f"s{i}", f"Service {i}") for i in range(300)])
    script = Path(sys.executable).parent / "slamon"
    cmd = f"'{script}' --socket '{daemon.path}' call status.get | head -n 1"
    proc = await asyncio.create_subprocess_shell(
        f"set -o pipefail; {cmd}",
        executable="/bin/bash",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert out.decode().strip() == "{"
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()
    assert proc.returncode == 0


def test_admin_commands_are_recognised_and_lose_only_the_socket() -> None:
    assert cli.admin_command(["--config", "x.toml", "db", "migrate"]) == "db"
    assert cli.admin_command(["--socket", "db", "status"]) is None
    assert cli.admin_command(["status"]) is None
    argv = ["--socket", "/s", "--config", "c.toml", "db", "migrate", "--socket=/t"]
    assert cli._without_socket(argv) == ["--config", "c.toml", "db", "migrate"]


# --- demo ------------------------------------------------------------------------------------

# Stands in for `python -m slamon_daemon.demo --dir DIR`: opens DIR/slamon.sock, writes its
# pid, and runs until it is terminated.
FAKE_DEMO = """
import os, signal, socket, sys, time
d = sys.argv[1]
s = socket.socket(socket.AF_UNIX); s.bind(os.path.join(d, "slamon.sock")); s.listen()
open(os.path.join(d, "pid"), "w").write(str(os.getpid()))
print("demo up", flush=True)
while True:
    time.sleep(0.1)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_runs_the_tui_on_the_demo_socket_then_cleans_up() -> None:
    seen: dict[str, object] = {}

    def fake_tui(socket_path: Path) -> int:
        seen["socket"] = socket_path
        seen["pid"] = int((socket_path.parent / "pid").read_text())
        seen["alive"] = _alive(int(seen["pid"]))  # type: ignore[call-overload]
        return 0

    code = demo.run_demo(
        daemon_argv=lambda d: [sys.executable, "-c", FAKE_DEMO, str(d)], run=fake_tui
    )
    assert code == 0
    socket_path = seen["socket"]
    assert isinstance(socket_path, Path) and socket_path.name == "slamon.sock"
    assert seen["alive"] is True
    assert not _alive(int(seen["pid"]))  # type: ignore[call-overload]
    assert not socket_path.parent.exists()


def test_demo_keep_leaves_the_directory(capsys: pytest.CaptureFixture[str]) -> None:
    dirs: list[Path] = []
    code = demo.run_demo(
        keep=True,
        daemon_argv=lambda d: [sys.executable, "-c", FAKE_DEMO, str(d)],
        run=lambda s: dirs.append(s.parent) or 0,  # type: ignore[func-returns-value]
    )
    try:
        assert code == 0
        assert (dirs[0] / "daemon.log").read_text() == "demo up\n"
        assert str(dirs[0]) in capsys.readouterr().err
    finally:
        for d in dirs:
            for f in d.iterdir():
                f.unlink()
            d.rmdir()


def test_demo_daemon_that_dies_shows_its_log_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ran: list[Path] = []
    script = "import sys; print('cannot bind 127.0.0.1:8080'); sys.exit(4)"
    code = demo.run_demo(
        daemon_argv=lambda d: [sys.executable, "-c", script],
        run=lambda s: ran.append(s) or 0,  # type: ignore[func-returns-value]
    )
    assert code == 1
    assert ran == []
    err = capsys.readouterr().err
    assert "exited with code 4" in err
    assert "cannot bind 127.0.0.1:8080" in err


# Runs run_demo in a process of its own, with a dashboard that just waits, so the test can
# signal that process the way `timeout` or a dropped SSH session would.
DEMO_PARENT = """
import sys, time
from pathlib import Path
from slamon_tui.demo import run_demo

def wait(socket_path):
    print(socket_path.parent, flush=True)
    time.sleep(60)
    return 0

sys.exit(run_demo(run=wait, daemon_argv=lambda d: [sys.executable, "-c", sys.argv[1], str(d)]))
"""


def _start_demo_parent() -> tuple[subprocess.Popen[str], Path, int]:
    parent = subprocess.Popen(
        [sys.executable, "-c", DEMO_PARENT, FAKE_DEMO], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    workdir = Path(parent.stdout.readline().strip())
    return parent, workdir, int((workdir / "pid").read_text())


def _wait_dead(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_demo_terminated_by_sigterm_still_stops_the_daemon_and_cleans_up() -> None:
    parent, workdir, daemon_pid = _start_demo_parent()
    assert _alive(daemon_pid)
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(10) == 128 + signal.SIGTERM
    assert _wait_dead(daemon_pid)
    assert not workdir.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_demo_killed_outright_still_takes_the_daemon_down() -> None:
    parent, workdir, daemon_pid = _start_demo_parent()
    try:
        parent.kill()
        parent.wait(10)
        assert _wait_dead(daemon_pid)
    finally:
        if _alive(daemon_pid):
            os.kill(daemon_pid, signal.SIGKILL)  # don't leak it when the test fails
        shutil.rmtree(workdir, ignore_errors=True)
