"""The feed socket's file: mode, group, and what the daemon refuses to bind over (SPEC §3.11).

Real daemons on real sockets; the stale-socket case kills a real ``slamond`` process with
SIGKILL. The tests run as root (to chown a file to another uid) and are skipped otherwise.
"""

from __future__ import annotations

import asyncio
import grp
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slamon_daemon.errors import SlamonError

from .support import remove_dir, short_dir
from .test_auth import Client, daemon_config, running_daemon

OTHER_UID = 65534


@pytest.fixture
def folder() -> Iterator[Path]:
    d = short_dir()
    yield d
    remove_dir(d)


def other_group() -> grp.struct_group:
    """An existing group that is not this process's primary group (so a chown is visible)."""
    for g in grp.getgrall():
        if g.gr_gid != os.getgid():
            return g
    pytest.skip("no group other than this process's own")


def stale_socket(path: Path) -> None:
    """A socket file nobody listens on (as a killed daemon leaves it)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()
    assert stat.S_ISSOCK(path.lstat().st_mode)


async def ping(sock: Path) -> dict:
    c = await Client.connect(sock)
    try:
        assert c.hello["hello"] == "slamon"
        return await c.ok("ping")
    finally:
        await c.close()


async def refused(config: Path) -> str:
    """Start a daemon that must refuse; the message it gives."""
    with pytest.raises(SlamonError) as info:
        async with running_daemon(config):
            pass
    return str(info.value)


async def test_socket_mode_is_0660(folder: Path) -> None:
    async with running_daemon(daemon_config(folder)):
        st = (folder / "s.sock").lstat()
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o660
        assert st.st_uid == os.getuid()
        assert (await ping(folder / "s.sock"))["pong"] is True
    # A clean stop removes the socket file.
    assert not (folder / "s.sock").exists()


async def test_socket_group_is_applied(folder: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("giving a file another group needs root or membership")
    g = other_group()
    async with running_daemon(daemon_config(folder, extra=f'socket_group = "{g.gr_name}"')):
        st = (folder / "s.sock").lstat()
        assert st.st_gid == g.gr_gid != os.getgid()
        assert stat.S_IMODE(st.st_mode) == 0o660
        assert (await ping(folder / "s.sock"))["pong"] is True


async def test_unknown_socket_group_refuses_to_start(folder: Path) -> None:
    message = await refused(daemon_config(folder, extra='socket_group = "no-such-group-xyz"'))
    assert "socket_group 'no-such-group-xyz' is not a group" in message


async def test_unknown_socket_group_leaves_no_socket_behind(folder: Path) -> None:
    await refused(daemon_config(folder, extra='socket_group = "no-such-group-xyz"'))
    assert not (folder / "s.sock").exists()


def test_slamond_reports_an_unknown_group_in_one_line(folder: Path) -> None:
    config = daemon_config(folder, extra='socket_group = "no-such-group-xyz"')
    slamond = Path(sys.executable).parent / "slamond"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLAMON_")}
    proc = subprocess.run(
        [str(slamond), "--config", str(config)], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 1, proc
    assert "slamond: socket_group 'no-such-group-xyz' is not a group on this machine" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_symlink_at_the_socket_path_is_refused(folder: Path) -> None:
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    # Dangling, and pointing at a real (stale) socket: both refused, neither touched.
    for target in (elsewhere / "missing.sock", elsewhere / "real.sock"):
        if target.name == "real.sock":
            stale_socket(target)
        link = folder / "s.sock"
        link.symlink_to(target)
        message = await refused(daemon_config(folder))
        assert "symlink" in message and str(link) in message
        assert link.is_symlink() and os.readlink(link) == str(target)
        if target.exists():
            assert stat.S_ISSOCK(target.lstat().st_mode)
        link.unlink()


async def test_socket_file_of_another_user_is_refused(folder: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("chown to another uid needs root")
    path = folder / "s.sock"
    stale_socket(path)
    os.chown(path, OTHER_UID, -1)
    message = await refused(daemon_config(folder))
    assert f"belongs to uid {OTHER_UID}" in message
    st = path.lstat()
    assert stat.S_ISSOCK(st.st_mode) and st.st_uid == OTHER_UID  # left alone


async def test_a_regular_file_at_the_socket_path_is_refused(folder: Path) -> None:
    path = folder / "s.sock"
    path.write_text("not a socket", encoding="utf-8")
    message = await refused(daemon_config(folder))
    assert "not a socket file" in message
    assert path.read_text(encoding="utf-8") == "not a socket"


async def test_a_second_daemon_on_a_live_socket_is_refused(folder: Path) -> None:
    config = daemon_config(folder)
    async with running_daemon(config):
        other = folder / "other"
        other.mkdir()
        second = daemon_config(other, extra="")
        # Same socket, another database.
        text = second.read_text(encoding="utf-8").replace(
            str(other / "s.sock"), str(folder / "s.sock")
        )
        second.write_text(text, encoding="utf-8")
        message = await refused(second)
        assert "already serving" in message
        # The first daemon still serves on its own socket file.
        assert (folder / "s.sock").exists()
        assert (await ping(folder / "s.sock"))["pong"] is True


async def test_stale_socket_of_a_killed_daemon_is_replaced(folder: Path) -> None:
    config = daemon_config(folder)
    sock = folder / "s.sock"
    slamond = Path(sys.executable).parent / "slamond"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLAMON_")}
    proc = await asyncio.create_subprocess_exec(
        str(slamond),
        "--config",
        str(config),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.returncode is None, f"slamond exited with {proc.returncode}"
            if sock.exists():
                try:
                    if (await ping(sock))["pong"]:
                        break
                except (OSError, EOFError, json.JSONDecodeError):
                    pass
            assert time.monotonic() < deadline, "slamond did not start serving"
            await asyncio.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == -signal.SIGKILL
    assert stat.S_ISSOCK(sock.lstat().st_mode)  # left behind by the killed daemon
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_unix_connection(str(sock))

    async with running_daemon(config):
        assert stat.S_IMODE(sock.lstat().st_mode) == 0o660
        assert (await ping(sock))["pong"] is True
