"""A failing database under every store method a feed method uses, on both backends, through a
real daemon and its socket: the client gets ``unavailable`` with a sentence, never ``internal``.

The database is made to fail from outside the daemon, in three steps:

1. only the audit log refuses writes: mutations still succeed (their audit entry is logged as
   not written), they do not turn into ``internal`` errors;
2. every table a feed method writes refuses writes (a trigger raises), while reads work, so
   each write method gets past its reads and fails in its own store call (``record_login``,
   ``use_refresh_token``, ``save_incident`` ...);
3. the database goes away: PostgreSQL is cut off through a TCP proxy; SQLite loses its
   tables under the daemon (another connection drops them). Every store-backed method fails.

The methods are listed by what they need; the test checks that the list covers every method
the daemon registers, so a new method must say whether it uses the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from slamon_daemon.auth import hash_password
from slamon_daemon.config import load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Role
from slamon_daemon.targets import Target, respond
from tests.conftest import throwaway_pg_database
from tests.e2e.proxy import TcpProxy

from .alert_seed import alert_write_params, seed_alerts
from .support import FeedClient, remove_dir, short_dir, write_config

PW = "rita-Reporter-pw-1"
NEW_PW = "a-New-password-2024"
NO_STORE = {
    "ping",
    "methods",
    "status.get",
    "subscribe",
    "unsubscribe",
    "daemon.stats",
    "nodes.list",  # single-node: this daemon, from memory
    "auth.whoami",
    "presence.set",
    "presence.clear",
    "presence.list",
    "daemon.reload",  # the config file unchanged: nothing to store
    "alert.channel_test",  # sends to the receiver, stores nothing
}
"""Methods answered from the daemon's memory alone."""
WRITTEN = (
    "services",
    "maintenance_windows",
    "users",
    "refresh_tokens",
    "audit_log",
    "incidents",
    "incident_services",
    "incident_updates",
    "incident_revisions",
    "alert_state",
    "alert_acks",
    "alert_silences",
    "alert_channels",
)
"""The tables feed methods write."""


class Client(FeedClient):
    """A feed client that may send an access token."""

    token: str | None = None

    async def call(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        self._next_id += 1
        frame: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.token is not None:
            frame["token"] = self.token
        await self.send(frame)
        return await self.reply_to(self._next_id, timeout)


class Backend:
    """The database under the daemon, and the ways to break it from outside."""

    url: str

    async def fail_writes(self, tables: tuple[str, ...]) -> None:
        raise NotImplementedError

    async def go_away(self) -> None:
        raise NotImplementedError


class SqliteBackend(Backend):
    def __init__(self, folder: Path) -> None:
        self.path = folder / "db.sqlite"
        self.url = f"sqlite:///{self.path}"

    def _run(self, script: str) -> None:
        con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            con.executescript(f"BEGIN IMMEDIATE;\n{script}\nCOMMIT;")
        finally:
            con.close()

    async def fail_writes(self, tables: tuple[str, ...]) -> None:
        self._run(
            "\n".join(
                f"CREATE TRIGGER fail_{t}_{op} BEFORE {op} ON {t}"
                " BEGIN SELECT RAISE(ABORT, 'simulated failure'); END;"
                for t in tables
                for op in ("INSERT", "UPDATE", "DELETE")
            )
        )

    async def go_away(self) -> None:
        con = sqlite3.connect(self.path)
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        con.close()
        keep = ("sqlite_", "incident_search_")  # SQLite's own; the FTS table drops its shadows
        self._run("\n".join(f'DROP TABLE "{n}";' for n in names if not n.startswith(keep)))


class PostgresBackend(Backend):
    def __init__(self, url: str, proxy: TcpProxy) -> None:
        parts = urlsplit(url)
        self.direct = url
        self.proxy = proxy
        self.url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))

    async def fail_writes(self, tables: tuple[str, ...]) -> None:
        import asyncpg

        con = await asyncpg.connect(self.direct)
        try:
            await con.execute(
                "CREATE OR REPLACE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql"
                " AS $$BEGIN RAISE EXCEPTION 'simulated failure'; END$$"
            )
            for t in tables:
                await con.execute(
                    f"CREATE TRIGGER fail_{t} BEFORE INSERT OR UPDATE OR DELETE ON {t}"
                    " FOR EACH STATEMENT EXECUTE FUNCTION fail()"
                )
        finally:
            await con.close()

    async def go_away(self) -> None:
        await self.proxy.cut()


@pytest.fixture
def folder() -> Iterator[Path]:
    d = short_dir()
    yield d
    remove_dir(d)


@contextlib.asynccontextmanager
async def backend_for(kind: str, folder: Path) -> AsyncIterator[Backend]:
    if kind == "sqlite":
        yield SqliteBackend(folder)
        return
    async with throwaway_pg_database() as url:
        parts = urlsplit(url)
        proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
        await proxy.start()
        try:
            yield PostgresBackend(url, proxy)
        finally:
            await proxy.cut()


@contextlib.asynccontextmanager
async def running(folder: Path, db_url: str, target_url: str) -> AsyncIterator[Daemon]:
    cfg = write_config(
        folder / "slamon.toml",
        db_url=db_url,
        socket=folder / "s.sock",
        services=[{"id": "api", "url": target_url, "interval": "1h", "timeout": "2s"}],
        extra_daemon="\n".join(
            [
                f'spool_dir = "{folder}/spool"',
                f'secret_file = "{folder}/jwt.secret"',
                "owner_is_admin = true",  # this test's client is the socket's owner: admin
            ]
        ),
    )
    settings, _ = load_settings(cfg)
    daemon = Daemon(settings, config_path=cfg)
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.started.wait(), 30)
    try:
        await daemon.store.create_user("rita", "r@example.com", hash_password(PW), Role.REPORTER)
        yield daemon
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)


async def ok(c: Client, method: str, params: dict[str, Any] | None = None) -> Any:
    reply = await c.call(method, params)
    assert "result" in reply, (method, reply)
    return reply["result"]


def assert_unavailable(method: str, reply: dict[str, Any]) -> None:
    error = reply.get("error")
    assert error is not None, f"{method} answered while the database fails: {reply}"
    assert error["code"] == "unavailable", f"{method}: {error}"
    assert len(error["message"].split()) >= 4, f"{method}: not a sentence: {error['message']!r}"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_a_failing_database_is_unavailable_never_internal(kind: str, folder: Path) -> None:
    async with (
        Target(respond(200)) as target,
        backend_for(kind, folder) as db,
        running(folder, db.url, target.url) as daemon,
    ):
        c = await Client.connect(folder / "s.sock")
        # -- what the methods below act on, while the database works ------------------------
        login = await ok(c, "auth.login", {"username": "rita", "password": PW})
        refresh = login["refresh_token"]
        incident = await ok(
            c, "incident.create", {"title": "Disk full", "severity": "high", "priority": "P2"}
        )
        iid, version = incident["id"], incident["version"]
        start = datetime.now(UTC) + timedelta(days=1)
        window = {"title": "upgrade", "start": start.isoformat()}
        window["end"] = (start + timedelta(hours=1)).isoformat()
        wid = (await ok(c, "maintenance.create", window))["id"]
        await ok(c, "service.add", {"id": "extra", "url": target.url, "interval": "1h"})
        alert_writes = alert_write_params(await seed_alerts(daemon))
        alert_writes.pop("alert.channel_test")
        writes: dict[str, dict[str, Any]] = {
            "auth.login": {"username": "rita", "password": PW},
            "auth.refresh": {"refresh_token": refresh},
            "auth.logout": {"refresh_token": refresh},
            "auth.passwd": {"old_password": PW, "new_password": NEW_PW},  # with rita's token
            "user.add": {"username": "newbie", "role": "viewer", "password": NEW_PW},
            "user.set_role": {"username": "rita", "role": "viewer"},
            "user.disable": {"username": "rita"},
            "user.enable": {"username": "rita"},
            "user.passwd": {"username": "rita", "password": NEW_PW},
            "service.add": {"id": "more", "url": target.url, "interval": "1h"},
            "service.edit": {"id": "extra", "interval": "2h"},
            "service.pause": {"id": "extra"},
            "service.resume": {"id": "extra"},
            "maintenance.create": window,
            "maintenance.cancel": {"id": wid},
            "incident.create": {"title": "Slow", "severity": "low", "priority": "P4"},
            "incident.update": {"id": iid, "version": version, "changes": {"impact": "all"}},
            "incident.add_update": {"id": iid, "message": "looking"},
            "incident.resolve": {"id": iid, "version": version, "root_cause": "disk"},
            **alert_writes,
        }
        reads: dict[str, dict[str, Any]] = {
            "status.history": {},
            "service.get": {"id": "api"},
            "service.series": {"id": "api", "range": "24h"},
            "service.calendar": {"id": "api"},
            "service.day": {"id": "api", "day": datetime.now(UTC).date().isoformat()},
            "sla.report": {"days": 7},
            "maintenance.list": {},
            "user.list": {},
            "audit.list": {},
            "service.list": {},
            "incident.get": {"id": iid},
            "incident.list": {},
            "incident.past": {},
            "incident.search": {"query": "disk"},
            "alert.list": {},
            "alert.channels": {},
            "alert.deliveries": {},
        }
        registered = {m["name"] for m in await ok(c, "methods")}
        assert registered == NO_STORE | set(writes) | set(reads), (
            "a feed method is missing from this test; list it in NO_STORE or with its params"
        )

        async def call(method: str, params: dict[str, Any]) -> dict[str, Any]:
            c.token = login["access_token"] if method == "auth.passwd" else None
            try:
                return await c.call(method, params)
            finally:
                c.token = None

        # -- 1. the audit log refuses writes: the mutation itself still succeeds ------------
        await db.fail_writes(("audit_log",))
        reply = await call("maintenance.cancel", {"id": wid})
        assert "result" in reply, reply
        assert reply["result"]["cancelled_at"] is not None
        wid = (await ok(c, "maintenance.create", window))["id"]
        writes["maintenance.cancel"] = {"id": wid}

        # -- 2. every written table refuses writes; reads work -------------------------------
        await db.fail_writes(tuple(t for t in WRITTEN if t != "audit_log"))
        for method, params in writes.items():
            assert_unavailable(method, await call(method, params))
        for method, params in reads.items():  # nothing above changed or broke them
            assert "result" in await call(method, params), method

        # -- 3. the database goes away ------------------------------------------------------
        await db.go_away()
        for method, params in {**reads, **writes}.items():
            assert_unavailable(method, await call(method, params))
        assert "result" in await c.call("status.get")  # the live state still answers
        await c.close()
