"""Logins, tokens, throttling and the audit log through a real daemon on a real socket
(SPEC §3.10, docs/feed.md "Roles and logins").

Every test starts its own daemon on its own database: login throttling is kept in the
daemon's memory and its database, and every in-process client runs as the same Unix user
(the client of the (username, client) key), so failures of one test must not spill into the
next. A second client running as another Unix user (uid 65534, via a
subprocess) shows which throttle key applies.

The helpers at the top (``running_daemon``, ``Client``, ``add_user``, ``login``) are shared
with the other tests of this folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from slamon_daemon.auth import hash_password, token_digest
from slamon_daemon.config import load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Role
from slamon_daemon.protocol import ErrorCode

from .support import FakeClock, FeedClient, remove_dir, short_dir, write_config

OTHER_UID = 65534  # nobody / nogroup: a second client that is not this process's user
THIRD_UID = 65533  # a third client (no passwd entry needed), in group OTHER_UID
STDLIB_PYTHON = "/usr/bin/python3"  # runs as OTHER_UID, which cannot read /root's pyenv

PW_ALICE = "alice-Pa55word-one"
PW_BOB = "bob-Pa55word-two!"
PW_ADMIN = "admin-Pa55word-three"


# -- shared helpers -------------------------------------------------------------------------


class Client(FeedClient):
    """FeedClient that can send a token with a request."""

    async def req(
        self, method: str, params: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        self._next_id += 1
        rid = self._next_id
        frame: dict[str, Any] = {"id": rid, "method": method}
        if params is not None:
            frame["params"] = params
        if token is not None:
            frame["token"] = token
        await self.send(frame)
        return await self.reply_to(rid)

    async def ok(
        self, method: str, params: dict[str, Any] | None = None, token: str | None = None
    ) -> Any:
        reply = await self.req(method, params, token)
        assert "result" in reply, reply
        return reply["result"]


def error_of(reply: dict[str, Any]) -> tuple[str, str]:
    assert "error" in reply, reply
    return reply["error"]["code"], reply["error"]["message"]


@pytest.fixture
def folder() -> Iterator[Path]:
    d = short_dir()
    yield d
    remove_dir(d)


def daemon_config(
    folder: Path,
    *,
    db_url: str | None = None,
    extra: str = "",
    services: tuple[dict[str, Any], ...] = (),
) -> Path:
    """A config in ``folder``: SQLite there by default; spool and secret files kept there too."""
    lines = [extra, f'spool_dir = "{folder}/spool"']
    if db_url is not None and not db_url.startswith("sqlite"):
        lines.append(f'secret_file = "{folder}/jwt.secret"')
    return write_config(
        folder / "slamon.toml",
        db_url=db_url or f"sqlite:///{folder}/db.sqlite",
        socket=folder / "s.sock",
        services=services,
        extra_daemon="\n".join(lines),
    )


@contextlib.asynccontextmanager
async def running_daemon(config: Path) -> AsyncIterator[Daemon]:
    """A Daemon of ``config`` running in this event loop, stopped afterwards."""
    settings, _ = load_settings(config)
    daemon = Daemon(settings, config_path=config)
    task = asyncio.create_task(daemon.run())
    started = asyncio.create_task(daemon.started.wait())
    done, _ = await asyncio.wait({task, started}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        started.cancel()
        task.result()  # raises why it could not start
        raise AssertionError("daemon stopped right after starting")
    assert started in done, "daemon did not start within 30 s"
    try:
        yield daemon
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)


_HASHES: dict[str, str] = {}


async def add_user(daemon: Daemon, username: str, password: str, role: Role) -> None:
    """A user made the way `slamon user add` makes one (an argon2id hash of ``password``;
    one hash per password, reused: hashing costs ~0.2 s)."""
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    await daemon.store.create_user(username, f"{username}@example.com", _HASHES[password], role)


async def login(c: Client, username: str, password: str) -> dict[str, Any]:
    reply = await c.req("auth.login", {"username": username, "password": password})
    assert "result" in reply, reply
    return reply["result"]


_OTHER_CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
f = s.makefile("rwb")
out = {"hello": json.loads(f.readline()), "replies": []}
for i, (method, params) in enumerate(json.loads(sys.stdin.read())):
    f.write(json.dumps({"id": i, "method": method, "params": params}).encode() + b"\n")
    f.flush()
    out["replies"].append(json.loads(f.readline()))
print(json.dumps(out))
"""


async def as_other_uid(
    sock: Path, requests: list[tuple[str, dict[str, Any]]], uid: int = OTHER_UID
) -> list[dict[str, Any]]:
    """Send ``requests`` from a process running as ``uid``; its replies, in order."""
    if not Path(STDLIB_PYTHON).exists():
        pytest.skip(f"{STDLIB_PYTHON} is needed to run a client as another user")
    proc = await asyncio.create_subprocess_exec(
        STDLIB_PYTHON,
        "-I",
        "-c",
        _OTHER_CLIENT,
        str(sock),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        user=uid,
        group=OTHER_UID,
        extra_groups=[],
        cwd="/",
    )
    out, err = await asyncio.wait_for(proc.communicate(json.dumps(requests).encode()), 30)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)["replies"]


def other_uid_config(folder: Path) -> Path:
    """A config whose socket the OTHER_UID client may use (socket group nogroup)."""
    import grp

    if os.getuid() != 0:
        pytest.skip("running a client as another user needs root")
    os.chmod(folder, 0o755)
    return daemon_config(folder, extra=f'socket_group = "{grp.getgrgid(OTHER_UID).gr_name}"')


def assert_retry_in(reply: dict[str, Any]) -> int:
    code, message = error_of(reply)
    assert code == ErrorCode.RATE_LIMITED, reply
    m = re.search(r"too many failed logins; retry in (\d+) s", message)
    assert m, message
    n = int(m.group(1))
    assert 1 <= n <= 900, message
    return n


# -- login, refresh, logout -----------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("pg_url"))


async def test_login_refresh_logout(folder: Path, db_url: str | None) -> None:
    async with running_daemon(daemon_config(folder, db_url=db_url)) as daemon:
        await add_user(daemon, "alice", PW_ALICE, Role.VIEWER)
        c = await Client.connect(folder / "s.sock")
        try:
            t0 = datetime.now(UTC)
            first = await login(c, "alice", PW_ALICE)
            assert set(first) == {"access_token", "refresh_token", "expires_at", "user"}
            user = first["user"]
            assert (user["username"], user["role"], user["active"]) == ("alice", "viewer", True)
            assert "password_hash" not in user and "$argon2" not in json.dumps(first)
            # 12 h by default.
            expires = datetime.fromisoformat(first["expires_at"])
            assert (
                t0 + timedelta(hours=11, minutes=59)
                <= expires
                <= t0 + timedelta(hours=12, minutes=1)
            )
            stored = await daemon.store.get_user("alice")
            assert stored is not None and stored.last_login_at is not None
            assert stored.last_login_at >= t0 - timedelta(seconds=1)

            # Anonymous until the token is sent; the token works on later requests.
            anon = await c.ok("auth.whoami")
            assert (anon["logged_in"], anon["role"]) == (False, "viewer")
            me = await c.ok("auth.whoami", token=first["access_token"])
            assert (me["name"], me["role"], me["logged_in"]) == ("alice", "viewer", True)
            assert "services" in await c.ok("status.get", token=first["access_token"])

            # Refresh: a new pair; the old refresh token is then refused (single use).
            second = (await c.req("auth.refresh", {"refresh_token": first["refresh_token"]}))[
                "result"
            ]
            assert second["refresh_token"] != first["refresh_token"]
            assert second["user"]["username"] == "alice"
            assert (await c.ok("auth.whoami", token=second["access_token"]))["name"] == "alice"
            again = await c.req("auth.refresh", {"refresh_token": first["refresh_token"]})
            code, message = error_of(again)
            assert code == ErrorCode.UNAUTHORIZED and "log in again" in message
            bogus = await c.req("auth.refresh", {"refresh_token": "never-issued-token"})
            assert error_of(bogus)[0] == ErrorCode.UNAUTHORIZED

            # Logout revokes the refresh token.
            assert await c.ok("auth.logout", {"refresh_token": second["refresh_token"]}) == {
                "ok": True
            }
            after = await c.req("auth.refresh", {"refresh_token": second["refresh_token"]})
            assert error_of(after)[0] == ErrorCode.UNAUTHORIZED
            # Only the hash of a refresh token is stored.
            assert (
                await daemon.store.use_refresh_token(
                    token_digest(second["refresh_token"]), datetime.now(UTC)
                )
                is None
            )
        finally:
            await c.close()


async def test_wrong_password_unknown_user_and_disabled_user(folder: Path) -> None:
    async with running_daemon(daemon_config(folder)) as daemon:
        await add_user(daemon, "alice", PW_ALICE, Role.VIEWER)
        await add_user(daemon, "bob", PW_BOB, Role.VIEWER)
        await daemon.store.update_user("bob", active=False)
        c = await Client.connect(folder / "s.sock")
        try:
            wrong = await c.req("auth.login", {"username": "alice", "password": "not-the-password"})
            unknown = await c.req("auth.login", {"username": "nobody-here", "password": PW_ALICE})
            disabled = await c.req("auth.login", {"username": "bob", "password": PW_BOB})
            for r in (wrong, unknown, disabled):
                assert r["error"] == {
                    "code": "unauthorized",
                    "message": "wrong username or password",
                }, r
            # A user's password does not open another account.
            cross = await c.req("auth.login", {"username": "alice", "password": PW_BOB})
            assert cross["error"]["code"] == "unauthorized"
            # ... and alice still logs in.
            assert (await login(c, "alice", PW_ALICE))["user"]["username"] == "alice"
        finally:
            await c.close()


async def test_role_change_password_change_and_disable_end_logins_at_once(folder: Path) -> None:
    async with running_daemon(daemon_config(folder)) as daemon:
        await add_user(daemon, "root-admin", PW_ADMIN, Role.ADMIN)
        await add_user(daemon, "alice", PW_ALICE, Role.VIEWER)
        c = await Client.connect(folder / "s.sock")
        try:
            admin = (await login(c, "root-admin", PW_ADMIN))["access_token"]

            # set_role: the old token is revoked at once, and so is the refresh token.
            t1 = await login(c, "alice", PW_ALICE)
            assert (await c.ok("auth.whoami", token=t1["access_token"]))["role"] == "viewer"
            await c.ok("user.set_role", {"username": "alice", "role": "reporter"}, token=admin)
            code, message = error_of(await c.req("auth.whoami", token=t1["access_token"]))
            assert code == ErrorCode.UNAUTHORIZED and "revoked" in message
            assert (
                error_of(await c.req("status.get", token=t1["access_token"]))[0]
                == ErrorCode.UNAUTHORIZED
            )
            stale = await c.req("auth.refresh", {"refresh_token": t1["refresh_token"]})
            assert error_of(stale)[0] == ErrorCode.UNAUTHORIZED
            t2 = await login(c, "alice", PW_ALICE)
            assert (await c.ok("auth.whoami", token=t2["access_token"]))["role"] == "reporter"

            # user.passwd: revoked at once; the old password no longer works, the new one does.
            new_pw = "alice-New-Pa55word"
            await c.ok("user.passwd", {"username": "alice", "password": new_pw}, token=admin)
            code, message = error_of(await c.req("auth.whoami", token=t2["access_token"]))
            assert code == ErrorCode.UNAUTHORIZED and "revoked" in message
            old = await c.req("auth.login", {"username": "alice", "password": PW_ALICE})
            assert error_of(old)[0] == ErrorCode.UNAUTHORIZED
            t3 = await login(c, "alice", new_pw)
            assert (await c.ok("auth.whoami", token=t3["access_token"]))["logged_in"] is True

            # disable: refused at once; no login while disabled; enable does not revive old tokens.
            await c.ok("user.disable", {"username": "alice"}, token=admin)
            code, message = error_of(await c.req("auth.whoami", token=t3["access_token"]))
            assert code == ErrorCode.UNAUTHORIZED and "disabled" in message
            assert (
                error_of(await c.req("auth.refresh", {"refresh_token": t3["refresh_token"]}))[0]
                == ErrorCode.UNAUTHORIZED
            )
            assert (
                error_of(await c.req("auth.login", {"username": "alice", "password": new_pw}))[0]
                == ErrorCode.UNAUTHORIZED
            )
            await c.ok("user.enable", {"username": "alice"}, token=admin)
            assert (
                error_of(await c.req("auth.whoami", token=t3["access_token"]))[0]
                == ErrorCode.UNAUTHORIZED
            )
            t4 = await login(c, "alice", new_pw)
            assert (await c.ok("auth.whoami", token=t4["access_token"]))["name"] == "alice"
            # The admin's own token was never affected.
            assert (await c.ok("auth.whoami", token=admin))["role"] == "admin"
        finally:
            await c.close()


async def test_expired_forged_and_foreign_tokens(folder: Path) -> None:
    async with running_daemon(daemon_config(folder)) as daemon:
        await add_user(daemon, "alice", PW_ALICE, Role.ADMIN)
        secret_file = folder / "db.sqlite.secret"
        secret = secret_file.read_text(encoding="ascii").strip().encode()
        user = await daemon.store.get_user("alice")
        assert user is not None
        now = datetime.now(UTC)

        def token(key: bytes = secret, **claims: Any) -> str:
            base = {
                "sub": "alice",
                "uid": user.id,
                "role": "admin",
                "ver": user.token_version,
                "iat": int(now.timestamp()),
                "exp": int((now + timedelta(hours=1)).timestamp()),
                "typ": "access",
            }
            return jwt.encode({**base, **claims}, key, algorithm="HS256")

        c = await Client.connect(folder / "s.sock")
        try:
            # Sanity: a token made this way with the daemon's secret is accepted...
            good = token()
            assert (await c.ok("auth.whoami", token=good))["name"] == "alice"
            assert isinstance(await c.ok("user.list", token=good), list)

            # ... so these are refused for the reason given, not for the way they were made.
            expired = token(
                exp=int((now - timedelta(minutes=1)).timestamp()),
                iat=int((now - timedelta(hours=13)).timestamp()),
            )
            code, message = error_of(await c.req("user.list", token=expired))
            assert code == ErrorCode.UNAUTHORIZED and "expired" in message

            foreign = token(key=b"another-daemon-secret-0123456789abcdef")
            code, message = error_of(await c.req("user.list", token=foreign))
            assert code == ErrorCode.UNAUTHORIZED and "invalid token" in message

            unsigned = jwt.encode(
                jwt.decode(good, options={"verify_signature": False}), None, algorithm="none"
            )
            assert error_of(await c.req("user.list", token=unsigned))[0] == ErrorCode.UNAUTHORIZED

            stale_version = token(ver=user.token_version + 1)
            code, message = error_of(await c.req("user.list", token=stale_version))
            assert code == ErrorCode.UNAUTHORIZED and "revoked" in message

            no_exp = jwt.encode(
                {"sub": "alice", "ver": user.token_version}, secret, algorithm="HS256"
            )
            assert error_of(await c.req("user.list", token=no_exp))[0] == ErrorCode.UNAUTHORIZED

            ghost = token(sub="ghost")
            assert error_of(await c.req("user.list", token=ghost))[0] == ErrorCode.UNAUTHORIZED

            garbage = await c.req("ping", token="not.a.jwt")
            assert error_of(garbage)[0] == ErrorCode.UNAUTHORIZED
            # An empty token is no token: anonymous.
            assert (await c.ok("auth.whoami", token=""))["logged_in"] is False
        finally:
            await c.close()


async def test_secret_file_is_private_and_reused_across_restarts(folder: Path) -> None:
    config = daemon_config(folder)
    secret_file = folder / "db.sqlite.secret"
    assert not secret_file.exists()
    async with running_daemon(config) as daemon:
        assert secret_file.is_file()
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        secret = secret_file.read_bytes()
        assert len(secret.strip()) >= 32
        await add_user(daemon, "alice", PW_ALICE, Role.VIEWER)
        c = await Client.connect(folder / "s.sock")
        tokens = await login(c, "alice", PW_ALICE)
        await c.close()
    jwt.decode(tokens["access_token"], secret.strip(), algorithms=["HS256"])

    async with running_daemon(config):
        assert secret_file.read_bytes() == secret  # not regenerated
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        c = await Client.connect(folder / "s.sock")
        try:
            me = await c.ok("auth.whoami", token=tokens["access_token"])
            assert (me["name"], me["logged_in"]) == ("alice", True)
            # The refresh token survives the restart too (it lives in the database).
            fresh = await c.ok("auth.refresh", {"refresh_token": tokens["refresh_token"]})
            assert (await c.ok("auth.whoami", token=fresh["access_token"]))["name"] == "alice"
        finally:
            await c.close()


async def test_jwt_secret_from_config_then_environment(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg_secret = "config-secret-" + "c" * 40
    env_secret = "environment-secret-" + "e" * 40
    config = daemon_config(folder, extra=f'jwt_secret = "{cfg_secret}"\naccess_token_ttl = "5m"')
    secret_file = folder / "db.sqlite.secret"

    async with running_daemon(config) as daemon:
        await add_user(daemon, "alice", PW_ALICE, Role.VIEWER)
        c = await Client.connect(folder / "s.sock")
        try:
            access = (await login(c, "alice", PW_ALICE))["access_token"]
        finally:
            await c.close()
    claims = jwt.decode(access, cfg_secret, algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert claims["exp"] - claims["iat"] == 300  # access_token_ttl
    assert not secret_file.exists()

    # The environment overrides the file.
    monkeypatch.setenv("SLAMON_DAEMON__JWT_SECRET", env_secret)
    async with running_daemon(config):
        c = await Client.connect(folder / "s.sock")
        try:
            # A token of the other secret is refused...
            assert error_of(await c.req("auth.whoami", token=access))[0] == ErrorCode.UNAUTHORIZED
            access2 = (await login(c, "alice", PW_ALICE))["access_token"]
        finally:
            await c.close()
    assert jwt.decode(access2, env_secret, algorithms=["HS256"])["sub"] == "alice"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(access2, cfg_secret, algorithms=["HS256"])
    assert not secret_file.exists()


# -- throttling -----------------------------------------------------------------------------


async def test_login_throttle_per_username_and_client_cannot_be_aimed(folder: Path) -> None:
    """Three clients, each a different Unix user: this process (uid 0), OTHER_UID, THIRD_UID.

    A (username, client) pair is locked after 5 failures; that never blocks another user of
    the same client, nor the same user from another client, with the right password
    (issue 10: one mistyping NOC screen, or a local user aiming at an admin, locks out
    nobody but itself)."""
    sock = folder / "s.sock"
    async with running_daemon(other_uid_config(folder)) as daemon:
        for name in ("alice", "bob", "carol"):
            await add_user(daemon, name, PW_ALICE, Role.VIEWER)

        # Another client: failures spread over 5 usernames lock none of those pairs, and
        # carol (no failure) logs in from that very client.
        other = await as_other_uid(
            sock,
            [
                ("auth.whoami", {}),
                *[
                    ("auth.login", {"username": f"guess-{i}", "password": "whatever-123"})
                    for i in range(5)
                ],
                ("auth.login", {"username": "carol", "password": PW_ALICE}),
            ],
        )
        assert other[0]["result"]["uid"] == OTHER_UID  # really another client
        assert [r["error"]["code"] for r in other[1:6]] == [ErrorCode.UNAUTHORIZED] * 5
        assert other[6]["result"]["user"]["username"] == "carol"

        c = await Client.connect(sock)
        c2 = await Client.connect(sock)  # another connection of the same Unix user
        try:
            # 5 failures for alice from this client...
            for i in range(5):
                r = await c.req(
                    "auth.login", {"username": "alice", "password": f"wrong-password-{i}"}
                )
                assert error_of(r)[0] == ErrorCode.UNAUTHORIZED, (i, r)
            # ... lock (alice, this client), in any case, on every connection of it,
            # a 30 s lock, counted from the fifth failure (its password check may have
            # taken a few seconds on a loaded machine)
            wait = assert_retry_in(
                await c.req("auth.login", {"username": "alice", "password": PW_ALICE})
            )
            assert 20 <= wait <= 30, wait
            assert_retry_in(await c.req("auth.login", {"username": "ALICE", "password": PW_ALICE}))
            assert_retry_in(await c2.req("auth.login", {"username": "alice", "password": PW_ALICE}))
            # ... but not bob from this same client.
            assert (await login(c2, "bob", PW_ALICE))["user"]["username"] == "bob"
        finally:
            await c.close()
            await c2.close()

        # Another client: alice logs in with the right password.
        third = await as_other_uid(
            sock,
            [
                ("auth.whoami", {}),
                ("auth.login", {"username": "alice", "password": PW_ALICE}),
            ],
            uid=THIRD_UID,
        )
        assert third[0]["result"]["uid"] == THIRD_UID
        assert third[1]["result"]["user"]["username"] == "alice"


async def test_a_client_spraying_usernames_is_locked_for_all(folder: Path) -> None:
    async with running_daemon(daemon_config(folder)) as daemon:
        await add_user(daemon, "alice", PW_ALICE, Role.VIEWER)
        c = await Client.connect(folder / "s.sock")
        try:
            for i in range(20):  # CLIENT_CEILING, over as many usernames
                r = await c.req("auth.login", {"username": f"u{i}", "password": "wrong-pw-xyz"})
                assert error_of(r)[0] == ErrorCode.UNAUTHORIZED, (i, r)
            reply = await c.req("auth.login", {"username": "alice", "password": PW_ALICE})
            assert_retry_in(reply)
            assert error_of(reply)[1].endswith("(from this client)")
        finally:
            await c.close()


async def test_parallel_attempts_cannot_race_past_the_count(folder: Path) -> None:
    """120 wrong passwords from 40 connections at once: exactly 5 reach the password check
    (issue 10 measured 44 before the count moved in front of the check)."""
    async with running_daemon(daemon_config(folder)) as daemon:
        await add_user(daemon, "alice", PW_ALICE, Role.VIEWER)
        clients = [await Client.connect(folder / "s.sock") for _ in range(40)]
        try:

            async def three(c: Client, n: int) -> list[dict[str, Any]]:
                out = []
                for k in range(3):
                    params = {"username": "alice", "password": f"wrong-{n}-{k}-pw"}
                    out.append(await c.req("auth.login", params))
                return out

            replies = [
                r
                for rs in await asyncio.gather(*(three(c, n) for n, c in enumerate(clients)))
                for r in rs
            ]
        finally:
            for c in clients:
                await c.close()
    codes = [error_of(r)[0] for r in replies]
    assert codes.count(ErrorCode.UNAUTHORIZED) == 5, "password checks made"
    assert codes.count(ErrorCode.RATE_LIMITED) == 115


async def test_the_lock_grows_with_each_failure_and_a_success_clears_it(folder: Path) -> None:
    clock = FakeClock(datetime.now(UTC))
    settings, _ = load_settings(daemon_config(folder))
    daemon = Daemon(settings, clock=clock)
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.started.wait(), 30)
    try:
        await add_user(daemon, "alice", PW_ALICE, Role.VIEWER)
        c = await Client.connect(folder / "s.sock")
        wrong = {"username": "alice", "password": "wrong-password-1"}
        for _ in range(5):
            assert error_of(await c.req("auth.login", wrong))[0] == ErrorCode.UNAUTHORIZED
        waits = [assert_retry_in(await c.req("auth.login", wrong))]
        for _ in range(3):  # wait the lock out, fail once more: it doubles
            clock.advance(waits[-1] + 1)
            assert error_of(await c.req("auth.login", wrong))[0] == ErrorCode.UNAUTHORIZED
            waits.append(assert_retry_in(await c.req("auth.login", wrong)))
        assert waits == [30, 60, 120, 240]
        clock.advance(241)
        await login(c, "alice", PW_ALICE)  # the right password: forgiven
        for _ in range(4):
            assert error_of(await c.req("auth.login", wrong))[0] == ErrorCode.UNAUTHORIZED
        await login(c, "alice", PW_ALICE)
        await c.close()
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)


async def test_failed_logins_are_still_counted_after_a_restart(folder: Path) -> None:
    config = daemon_config(folder)
    async with running_daemon(config) as daemon:
        await add_user(daemon, "alice", PW_ALICE, Role.VIEWER)
        c = await Client.connect(folder / "s.sock")
        for i in range(5):
            r = await c.req("auth.login", {"username": "alice", "password": f"wrong-{i}-pw"})
            assert error_of(r)[0] == ErrorCode.UNAUTHORIZED
        await c.close()
    async with running_daemon(config):
        c = await Client.connect(folder / "s.sock")
        try:
            assert_retry_in(await c.req("auth.login", {"username": "alice", "password": PW_ALICE}))
        finally:
            await c.close()


async def test_logout_ends_the_access_token_it_was_called_with(folder: Path) -> None:
    config = daemon_config(folder)
    async with running_daemon(config) as daemon:
        await add_user(daemon, "alice", PW_ALICE, Role.VIEWER)
        c = await Client.connect(folder / "s.sock")
        try:
            first = await login(c, "alice", PW_ALICE)
            second = await login(c, "alice", PW_ALICE)
            me = await c.req("auth.whoami", token=first["access_token"])
            assert me["result"]["logged_in"] is True
            out = await c.req(
                "auth.logout",
                {"refresh_token": first["refresh_token"]},
                token=first["access_token"],
            )
            assert out["result"] == {"ok": True}
            refused = await c.req("status.get", token=first["access_token"])
            assert error_of(refused) == (
                ErrorCode.UNAUTHORIZED,
                "you logged out with this token; log in again",
            )
            # The other login of the same user goes on.
            assert "result" in await c.req("status.get", token=second["access_token"])
        finally:
            await c.close()
    async with running_daemon(config):  # and it stays ended after a restart
        c = await Client.connect(folder / "s.sock")
        try:
            refused = await c.req("status.get", token=first["access_token"])
            assert error_of(refused)[0] == ErrorCode.UNAUTHORIZED
            assert "result" in await c.req("status.get", token=second["access_token"])
        finally:
            await c.close()


# -- audit log, secrets ---------------------------------------------------------------------


async def test_audit_log_records_mutations_and_no_secret_leaks(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pw_dave, pw_dave_new = "dave-Pa55word-1234", "dave-New-Pa55word-99"
    secrets: list[str] = [PW_ADMIN, pw_dave, pw_dave_new]
    async with running_daemon(daemon_config(folder)) as daemon:
        await add_user(daemon, "boss", PW_ADMIN, Role.ADMIN)
        secrets.append((folder / "db.sqlite.secret").read_text().strip())
        c = await Client.connect(folder / "s.sock")
        try:
            boss = await login(c, "boss", PW_ADMIN)
            admin = boss["access_token"]
            secrets += [boss["access_token"], boss["refresh_token"]]

            added = await c.ok(
                "user.add",
                {
                    "username": "dave",
                    "role": "viewer",
                    "password": pw_dave,
                    "email": "d@example.com",
                },
                token=admin,
            )
            assert added["username"] == "dave" and "password" not in json.dumps(added)
            # A refused mutation is not audited.
            dup = await c.req(
                "user.add", {"username": "dave", "role": "admin", "password": pw_dave}, token=admin
            )
            assert error_of(dup)[0] == ErrorCode.CONFLICT
            await c.ok("user.set_role", {"username": "dave", "role": "reporter"}, token=admin)
            await c.ok(
                "service.add",
                {"id": "svc-a", "url": "http://127.0.0.1:9/health", "interval": "1h"},
                token=admin,
            )
            start = datetime.now(UTC) + timedelta(days=1)
            window = await c.ok(
                "maintenance.create",
                {
                    "title": "DB upgrade",
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=1)).isoformat(),
                    "services": ["svc-a"],
                },
                token=admin,
            )

            dave = await login(c, "dave", pw_dave)
            secrets += [dave["access_token"], dave["refresh_token"]]
            await c.ok(
                "auth.passwd",
                {"old_password": pw_dave, "new_password": pw_dave_new},
                token=dave["access_token"],
            )
            refreshed = await c.ok("auth.refresh", {"refresh_token": boss["refresh_token"]})
            secrets += [refreshed["access_token"], refreshed["refresh_token"]]
            await c.ok("auth.logout", {"refresh_token": refreshed["refresh_token"]})

            entries = await c.ok("audit.list", token=refreshed["access_token"])
            got = [(e["actor"], e["method"], e["target"]) for e in entries]
            assert got == [
                ("dave", "auth.passwd", None),
                ("boss", "maintenance.create", str(window["id"])),
                ("boss", "service.add", "svc-a"),
                ("boss", "user.set_role", "dave"),
                ("boss", "user.add", "dave"),
            ]
            by_method = {e["method"]: e for e in entries}
            assert by_method["user.add"]["changes"] == {
                "username": "dave",
                "role": "viewer",
                "password": "***",
                "email": "d@example.com",
            }
            assert by_method["user.set_role"]["changes"] == {"username": "dave", "role": "reporter"}
            assert by_method["auth.passwd"]["changes"] == {
                "old_password": "***",
                "new_password": "***",
            }
            assert by_method["service.add"]["changes"]["url"] == "http://127.0.0.1:9/health"
            assert by_method["maintenance.create"]["changes"]["title"] == "DB upgrade"
            for e in entries:
                at = datetime.fromisoformat(e["at"])
                assert abs((datetime.now(UTC) - at).total_seconds()) < 600
            assert [
                e["method"]
                for e in await c.ok("audit.list", {"limit": 2}, token=refreshed["access_token"])
            ] == ["auth.passwd", "maintenance.create"]

            text = json.dumps(entries)
            for s in secrets:
                assert s not in text
        finally:
            await c.close()

    # The raw rows: no secret in the audit log, no password or refresh token anywhere.
    db = sqlite3.connect(folder / "db.sqlite")
    try:
        audit_rows = repr(db.execute("SELECT * FROM audit_log").fetchall())
        assert "svc-a" in audit_rows  # the rows are really there
        everything = (
            audit_rows
            + repr(db.execute("SELECT * FROM users").fetchall())
            + repr(db.execute("SELECT * FROM refresh_tokens").fetchall())
        )
        for s in secrets:
            assert s not in everything
        hashes = {r[0] for r in db.execute("SELECT token_hash FROM refresh_tokens")}
        assert token_digest(boss["refresh_token"]) in hashes
    finally:
        db.close()

    # Nothing the daemon logged holds a password, a token or the signing secret.
    assert any(r.name.startswith("slamon") for r in caplog.records)
    logged = caplog.text + "".join(repr(r.args) + str(r.msg) for r in caplog.records)
    for s in secrets:
        assert s not in logged


async def test_audit_log_hides_service_header_values(folder: Path) -> None:
    bearer = "Bearer sk-live-0123456789abcdef"
    async with running_daemon(daemon_config(folder)) as daemon:
        await add_user(daemon, "boss", PW_ADMIN, Role.ADMIN)
        c = await Client.connect(folder / "s.sock")
        try:
            admin = (await login(c, "boss", PW_ADMIN))["access_token"]
            await c.ok(
                "service.add",
                {
                    "id": "private-api",
                    "url": "http://127.0.0.1:9/health",
                    "interval": "1h",
                    "headers": {"Authorization": bearer},
                },
                token=admin,
            )
            entries = await c.ok("audit.list", token=admin)
            assert [e["method"] for e in entries] == ["service.add"]
            assert "sk-live-0123456789abcdef" not in json.dumps(entries)
        finally:
            await c.close()


async def test_auth_passwd_needs_the_old_password(folder: Path) -> None:
    async with running_daemon(daemon_config(folder)) as daemon:
        await add_user(daemon, "alice", PW_ALICE, Role.VIEWER)
        c = await Client.connect(folder / "s.sock")
        try:
            t = await login(c, "alice", PW_ALICE)
            token = t["access_token"]
            new_pw = "alice-Changed-Pa55"

            # Without a login (anonymous_read gives a viewer), nobody's password can change.
            anon = await c.req("auth.passwd", {"old_password": PW_ALICE, "new_password": new_pw})
            assert error_of(anon)[0] == ErrorCode.UNAUTHORIZED

            wrong = await c.req(
                "auth.passwd",
                {"old_password": "not-my-password", "new_password": new_pw},
                token=token,
            )
            assert error_of(wrong) == (ErrorCode.FORBIDDEN, "the old password is wrong")
            missing = await c.req("auth.passwd", {"new_password": new_pw}, token=token)
            assert error_of(missing)[0] == ErrorCode.INVALID_PARAMS
            weak = await c.req(
                "auth.passwd", {"old_password": PW_ALICE, "new_password": "short"}, token=token
            )
            code, message = error_of(weak)
            assert code == ErrorCode.INVALID_PARAMS and "10 characters" in message
            assert weak["error"]["fields"].keys() == {"new_password"}
            # None of these changed anything.
            assert (await c.ok("auth.whoami", token=token))["logged_in"] is True

            assert (
                await c.ok(
                    "auth.passwd", {"old_password": PW_ALICE, "new_password": new_pw}, token=token
                )
            )["ok"] is True
            # Every login ends, the refresh token too; only the new password works.
            code, message = error_of(await c.req("auth.whoami", token=token))
            assert code == ErrorCode.UNAUTHORIZED and "revoked" in message
            assert (
                error_of(await c.req("auth.refresh", {"refresh_token": t["refresh_token"]}))[0]
                == ErrorCode.UNAUTHORIZED
            )
            assert (
                error_of(await c.req("auth.login", {"username": "alice", "password": PW_ALICE}))[0]
                == ErrorCode.UNAUTHORIZED
            )
            await login(c, "alice", new_pw)
        finally:
            await c.close()


async def test_password_checks_run_off_the_event_loop(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import slamon_daemon.auth as auth_module

    real = auth_module.verify_password
    where: list[str] = []

    def spy(password_hash: str, password: str) -> bool:
        try:
            asyncio.get_running_loop()
            where.append("event loop")
        except RuntimeError:
            where.append("worker thread")
        return real(password_hash, password)

    monkeypatch.setattr(auth_module, "verify_password", spy)
    async with running_daemon(daemon_config(folder)) as daemon:
        await add_user(daemon, "alice", PW_ALICE, Role.VIEWER)
        c = await Client.connect(folder / "s.sock")
        try:
            await login(c, "alice", PW_ALICE)
        finally:
            await c.close()
    assert where == ["worker thread"]


async def test_a_stale_access_token_does_not_block_refresh_or_login(folder: Path) -> None:
    async with running_daemon(daemon_config(folder)) as daemon:
        await add_user(daemon, "alice", PW_ALICE, Role.VIEWER)
        secret = (folder / "db.sqlite.secret").read_text(encoding="ascii").strip()
        c = await Client.connect(folder / "s.sock")
        try:
            tokens = await login(c, "alice", PW_ALICE)
            claims = jwt.decode(tokens["access_token"], secret, algorithms=["HS256"])
            claims["exp"] = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp())
            expired = jwt.encode(claims, secret, algorithm="HS256")
            assert "expired" in error_of(await c.req("auth.whoami", token=expired))[1]
            # The access token expired; its refresh token did not.
            fresh = await c.req(
                "auth.refresh", {"refresh_token": tokens["refresh_token"]}, token=expired
            )
            assert "result" in fresh, fresh
            again = await c.req(
                "auth.login", {"username": "alice", "password": PW_ALICE}, token=expired
            )
            assert "result" in again, again
        finally:
            await c.close()
