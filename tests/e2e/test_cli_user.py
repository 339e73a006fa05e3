"""``slamon user …`` as an operator runs it: the console script in a subprocess, the password
piped on stdin or typed at a real pseudo-terminal, on a real SQLite file (and PostgreSQL).

Each change must be in the database and in the audit log with the actor ``cli:<user>``; no
password or hash is ever printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slamon_daemon.auth import verify_password
from slamon_daemon.models import Role
from slamon_daemon.store import open_store

SLAMON = Path(sys.executable).parent / "slamon"
LOGIN_NAME = "tester"  # what getpass.getuser() sees in the subprocess
PW1 = "first-Pa55word-cli"
PW2 = "second-Pa55word-cli"


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.upper().startswith("SLAMON_")}
    e.update(LOGNAME=LOGIN_NAME, USER=LOGIN_NAME)
    return e


def config(folder: Path, database_url: str | None = None) -> Path:
    p = folder / "slamon.toml"
    url = database_url or f"sqlite:///{folder}/db.sqlite"
    p.write_text(
        f'[daemon]\ndatabase_url = "{url}"\nsocket = "{folder}/s.sock"\n'
        f'spool_dir = "{folder}/spool"\nsecret_file = "{folder}/secret"\n',
        encoding="utf-8",
    )
    return p


def slamon(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    if not SLAMON.exists():
        pytest.skip(f"the console script {SLAMON} is not installed")
    proc = subprocess.run(
        [str(SLAMON), *args], input=stdin, capture_output=True, text=True, timeout=60, env=env()
    )
    return proc.returncode, proc.stdout, proc.stderr


async def _users_and_audit(url: str) -> tuple[dict, list]:
    async with open_store(url) as store:
        await store.migrate()
        users = {u.username: u for u in await store.list_users()}
        audit = await store.list_audit(limit=1000)
    return users, audit


def users_and_audit(url: str) -> tuple[dict, list]:
    return asyncio.run(_users_and_audit(url))


def raw_dump(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


# -- stdin ------------------------------------------------------------------------------------


def test_add_list_and_every_change_is_audited(tmp_path: Path) -> None:
    cfg = str(config(tmp_path))
    url = f"sqlite:///{tmp_path}/db.sqlite"
    outputs = []

    code, out, err = slamon(
        "user",
        "add",
        "alice",
        "--role",
        "admin",
        "--email",
        "a@example.com",
        "--password-stdin",
        "--config",
        cfg,
        stdin=PW1 + "\n",
    )
    assert (code, out.strip()) == (0, "added alice (admin)"), err
    outputs.append(out + err)
    users, audit = users_and_audit(url)
    alice = users["alice"]
    assert (alice.role, alice.email, alice.active) == (Role.ADMIN, "a@example.com", True)
    assert alice.password_hash.startswith("$argon2id$") and verify_password(
        alice.password_hash, PW1
    )

    code, out, err = slamon("user", "list", "--config", cfg)
    assert code == 0, err
    outputs.append(out + err)
    (line,) = [ln for ln in out.splitlines() if ln.startswith("alice")]
    assert line.split()[:4] == ["alice", "admin", "active", "last"]
    assert "a@example.com" in line

    steps = [
        (("set-role", "alice", "viewer"), None, {"role": "viewer"}),
        (("disable", "alice"), None, {"active": False}),
        (("enable", "alice"), None, {"active": True}),
        (("passwd", "alice", "--password-stdin"), PW2 + "\n", {"password": "***"}),
    ]
    for args, stdin, _ in steps:
        code, out, err = slamon("user", *args, "--config", cfg, stdin=stdin)
        assert (code, out.strip()) == (0, f"{args[0]}: alice done"), err
        outputs.append(out + err)
        if args[0] == "disable":
            users, _ = users_and_audit(url)
            assert users["alice"].active is False

    users, audit = users_and_audit(url)
    alice = users["alice"]
    assert (alice.role, alice.active) == (Role.VIEWER, True)
    assert verify_password(alice.password_hash, PW2) and not verify_password(
        alice.password_hash, PW1
    )
    assert alice.token_version == 3  # set-role, disable and passwd each end the logins

    assert [(e.actor, e.method, e.target) for e in audit] == [
        (f"cli:{LOGIN_NAME}", "cli user passwd", "alice"),
        (f"cli:{LOGIN_NAME}", "cli user enable", "alice"),
        (f"cli:{LOGIN_NAME}", "cli user disable", "alice"),
        (f"cli:{LOGIN_NAME}", "cli user set-role", "alice"),
        (f"cli:{LOGIN_NAME}", "cli user add", "alice"),
    ]
    assert [e.changes for e in reversed(audit[:4])] == [c for _, _, c in steps]
    assert audit[4].changes == {"role": "admin", "email": "a@example.com", "password": "***"}

    # Nothing printed holds a password or a hash; the database holds no password either.
    printed = "".join(outputs)
    for secret in (PW1, PW2, "$argon2", alice.password_hash):
        assert secret not in printed
    dump = raw_dump(tmp_path / "db.sqlite")
    assert alice.password_hash in dump  # the dump is the real thing
    assert PW1 not in dump and PW2 not in dump


def test_weak_passwords_exit_2_with_the_reason(tmp_path: Path) -> None:
    cfg = str(config(tmp_path))
    code, out, err = slamon(
        "user",
        "add",
        "carol",
        "--role",
        "viewer",
        "--password-stdin",
        "--config",
        cfg,
        stdin="short\n",
    )
    assert code == 2 and "at least 10 characters" in err, (out, err)
    assert "Traceback" not in err
    users, audit = users_and_audit(f"sqlite:///{tmp_path}/db.sqlite")
    assert users == {} and audit == []


def test_unknown_user_exits_1_and_duplicates_are_refused(tmp_path: Path) -> None:
    cfg = str(config(tmp_path))
    code, out, err = slamon("user", "set-role", "ghost", "admin", "--config", cfg)
    assert code == 1 and "no user 'ghost'" in err, (out, err)
    code, _, err = slamon(
        "user",
        "add",
        "dup",
        "--role",
        "viewer",
        "--password-stdin",
        "--config",
        cfg,
        stdin=PW1 + "\n",
    )
    assert code == 0, err
    code, out, err = slamon(
        "user",
        "add",
        "dup",
        "--role",
        "admin",
        "--password-stdin",
        "--config",
        cfg,
        stdin=PW2 + "\n",
    )
    assert code == 1 and "already exists" in err, (out, err)
    users, audit = users_and_audit(f"sqlite:///{tmp_path}/db.sqlite")
    assert users["dup"].role is Role.VIEWER and verify_password(users["dup"].password_hash, PW1)
    assert [(e.method, e.target) for e in audit] == [("cli user add", "dup")]  # failures: none


def test_on_postgres(tmp_path: Path, pg_url: str) -> None:
    cfg = str(config(tmp_path, pg_url))
    code, out, err = slamon(
        "user",
        "add",
        "pgadmin",
        "--role",
        "admin",
        "--password-stdin",
        "--config",
        cfg,
        stdin=PW1 + "\n",
    )
    assert code == 0, err
    code, out, err = slamon("user", "list", "--config", cfg)
    assert code == 0 and out.split()[:3] == ["pgadmin", "admin", "active"], (out, err)
    users, audit = users_and_audit(pg_url)
    assert verify_password(users["pgadmin"].password_hash, PW1)
    assert [(e.actor, e.method, e.target) for e in audit] == [
        (f"cli:{LOGIN_NAME}", "cli user add", "pgadmin")
    ]


# -- prompting on a terminal ------------------------------------------------------------------


def run_on_pty(args: list[str], answers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    """Run the CLI with a pseudo-terminal as its controlling terminal; on each prompt in
    ``answers`` type the reply. Returns the exit code and everything it wrote."""
    if not SLAMON.exists():
        pytest.skip(f"the console script {SLAMON} is not installed")
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the CLI
        try:
            os.execve(str(SLAMON), [str(SLAMON), *args], env())
        finally:
            os._exit(127)
    out = b""
    pending = list(answers)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            while pending and pending[0][0] in out:
                prompt, reply = pending.pop(0)
                out = out.replace(prompt, prompt.upper(), 1)  # seen: do not match it again
                os.write(fd, reply)
        else:
            raise AssertionError(f"the CLI did not finish: {out!r}")
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out


def test_prompted_password_twice(tmp_path: Path) -> None:
    cfg = str(config(tmp_path))
    code, out = run_on_pty(
        ["user", "add", "dan", "--role", "reporter", "--config", cfg],
        [(b"New password: ", PW1.encode() + b"\n"), (b"Again: ", PW1.encode() + b"\n")],
    )
    assert code == 0, out
    assert b"added dan (reporter)" in out
    assert PW1.encode() not in out  # not echoed
    users, audit = users_and_audit(f"sqlite:///{tmp_path}/db.sqlite")
    assert users["dan"].role is Role.REPORTER and verify_password(users["dan"].password_hash, PW1)
    assert [(e.actor, e.target) for e in audit] == [(f"cli:{LOGIN_NAME}", "dan")]


def test_prompted_passwords_that_differ_exit_2(tmp_path: Path) -> None:
    cfg = str(config(tmp_path))
    code, out = run_on_pty(
        ["user", "add", "eve", "--role", "admin", "--config", cfg],
        [(b"New password: ", PW1.encode() + b"\n"), (b"Again: ", PW2.encode() + b"\n")],
    )
    assert code == 2, out
    assert b"differ" in out
    assert PW1.encode() not in out and PW2.encode() not in out
    users, audit = users_and_audit(f"sqlite:///{tmp_path}/db.sqlite")
    assert users == {} and audit == []
