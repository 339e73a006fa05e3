"""The fake daemon of the TUI tests keeps the real daemon's contract.

One scripted sequence of requests runs against the fake (fake_daemon.py) and against a real
daemon on a temporary SQLite database: status and service detail, incidents (created,
updated, refused with a conflict, updated again, resolved), presence, logins, and the roles'
refusals. For each step the two replies must agree: both a result or both an error with
the same code, and the same shape (keys and JSON types, recursively). The incident and
presence events a subscribed client receives meanwhile must have the same shape too. So the
fake cannot drift from the daemon without this test saying where.

Values are not compared (the fake makes its figures up), and ``null`` matches any type: a
field the daemon may leave empty is still checked wherever both sides fill it.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon.auth import hash_password
from slamon_daemon.config import load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Role
from slamon_daemon.targets import Target, respond
from tests.daemon.support import FeedClient, wait_until

from .fake_daemon import FakeDaemon, make_service, make_snapshot

USERS = {
    "alice": ("alice-Admin-pw-1", Role.ADMIN),
    "rita": ("rita-Reporter-pw-2", Role.REPORTER),
    "victor": ("victor-Viewer-pw-3", Role.VIEWER),
}
SERVICES = (("api", "Public API"), ("payments", "Payments"))
MAP_KEYS = frozenset({"errors", "changes", "fields", "by_service", "sent", "reminders", "details"})
"""Objects whose keys are data (error kinds, changed params, field names, service and channel
ids, an alert's rule-specific details): only their values' shape is compared."""
WAIT_S = 20.0

Shape = Any
Reply = tuple[str, Any]
"""("result", shape) or ("error", code, shape) of one step."""


# --- the shape of a JSON value ------------------------------------------------------------------


def shape(value: Any, key: str = "") -> Shape:
    """Keys and JSON types of ``value``: a dict of shapes, ("list", item shape), ("map",
    value shape), or "null" / "bool" / "number" / "string"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return ("list", _merged([shape(v) for v in value]))
    if isinstance(value, dict):
        if key in MAP_KEYS:
            return ("map", _merged([shape(v) for v in value.values()]))
        return {k: shape(v, k) for k, v in value.items()}
    raise TypeError(f"not JSON: {value!r}")


def _merged(shapes: list[Shape]) -> Shape:
    """One shape for the items of a list (None for an empty one)."""
    out: Shape = None
    for s in shapes:
        out = s if out is None else _merge(out, s)
    return out


def _merge(a: Shape, b: Shape) -> Shape:
    if a == "null" or a is None:
        return b
    if b == "null" or b is None:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a.get(k), b.get(k)) for k in {**a, **b}}
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0]:
        return (a[0], _merge(a[1], b[1]))
    return a if a == b else f"{a}|{b}"


OPTIONAL_KEYS = {"previous_down_until"}
"""Keys the daemon sends only sometimes, whatever the fake does: a check's
``previous_down_until`` is there only when it started before the failed check before it had
used up its interval (a scheduler waking a moment early), so a real run may or may not
show one."""


def differences(fake: Shape, real: Shape, path: str) -> list[str]:
    """Where the fake's shape and the daemon's disagree ("" when they agree)."""
    if fake in ("null", None) or real in ("null", None):
        return []
    if isinstance(fake, dict) and isinstance(real, dict):
        odd = (set(fake) ^ set(real)) - OPTIONAL_KEYS
        out = [f"{path}.{k}: only in the fake" for k in sorted(odd & set(fake))]
        out += [f"{path}.{k}: missing from the fake" for k in sorted(odd & set(real))]
        for k in sorted(set(fake) & set(real)):
            out += differences(fake[k], real[k], f"{path}.{k}")
        return out
    if isinstance(fake, tuple) and isinstance(real, tuple) and fake[0] == real[0]:
        return differences(fake[1], real[1], f"{path}[]")
    if fake != real:
        return [f"{path}: the fake sends {_kind(fake)}, the daemon {_kind(real)}"]
    return []


def _kind(s: Shape) -> str:
    if isinstance(s, dict):
        return "an object"
    if isinstance(s, tuple):
        return "a list" if s[0] == "list" else "a map"
    return str(s)


# --- the script -----------------------------------------------------------------------------------


class Run:
    """One run of the script against one daemon: a connection per user, the replies kept."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket
        self.replies: dict[str, Reply] = {}
        self.clients: dict[str, FeedClient] = {}
        self.tokens: dict[str, str] = {}

    async def connect(self, who: str) -> FeedClient:
        client = await FeedClient.connect(self.socket)
        self.clients[who] = client
        self.replies[f"{who}: hello"] = ("result", shape(client.hello))
        return client

    async def call(self, who: str, step: str, method: str, params: dict[str, Any]) -> Any:
        """Send ``method`` as ``who`` (with its token once logged in); keep the reply."""
        frame: dict[str, Any] = {"id": len(self.replies) + 1, "method": method, "params": params}
        if who in self.tokens:
            frame["token"] = self.tokens[who]
        client = self.clients[who]
        await client.send(frame)
        reply = await client.reply_to(frame["id"], WAIT_S)
        label = f"{who}: {step} ({method})"
        if "error" in reply:
            error = reply["error"]
            self.replies[label] = ("error", error.get("code"), shape(error))
            return None
        self.replies[label] = ("result", shape(reply.get("result")))
        return reply.get("result")

    async def log_in(self, who: str) -> dict[str, Any]:
        await self.connect(who)
        login = await self.call(who, "log in", "auth.login", _credentials(who))
        assert isinstance(login, dict), f"{who} could not log in"
        self.tokens[who] = login["access_token"]
        return login

    def events(self, who: str) -> dict[str, Shape]:
        """The shape of the first event of each (topic, action) ``who`` received."""
        out: dict[str, Shape] = {}
        for frame in self.clients[who].events:
            topic = str(frame.get("event"))
            if topic not in ("incident", "presence"):
                continue
            label = f"{who}: {topic} event, {frame.get('data', {}).get('action')}"
            out.setdefault(label, shape(frame))
        return out

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()


def _credentials(who: str, password: str | None = None) -> dict[str, Any]:
    return {"username": who, "password": password or USERS[who][0]}


async def script(run: Run) -> None:
    """The sequence: the same requests, in the same order, on either daemon."""
    today = datetime.now(UTC).date().isoformat()
    # A reader without a login (the daemon lets anyone read): status and service detail.
    await run.connect("anon")
    await run.call("anon", "who", "auth.whoami", {})
    await run.call("anon", "subscribe", "subscribe", {"topics": ["incident", "presence"]})
    await run.call("anon", "status", "status.get", {})
    await run.call("anon", "detail", "service.get", {"id": "api"})
    await run.call("anon", "series", "service.series", {"id": "api", "range": "24h"})
    await run.call("anon", "calendar", "service.calendar", {"id": "api", "months": 3})
    await run.call("anon", "one day", "service.day", {"id": "api", "day": today})
    await run.call("anon", "unknown service", "service.get", {"id": "nope"})
    await run.call("anon", "bad range", "service.series", {"id": "api", "range": "2y"})
    await run.call("anon", "active incidents", "incident.list", {})
    await run.call("anon", "maintenance", "maintenance.list", {})
    await run.call("anon", "sla report", "sla.report", {})
    await run.call("anon", "sla export", "sla.report", {"format": "md"})
    new = {"title": "Checkout slow", "severity": "high", "priority": "P2", "services": ["api"]}
    await run.call("anon", "viewer creates", "incident.create", new)
    await run.call("anon", "viewer lists users", "user.list", {})
    await run.call("anon", "wrong password", "auth.login", _credentials("alice", "not-it-at-all"))
    # Alerts (issue 11): "broken" is down on both, with one open outage alert.
    listed = await run.call("anon", "alerts", "alert.list", {})
    assert isinstance(listed, dict) and listed["alerts"], "no open alert to act on"
    alert_id = next(a["alert_id"] for a in listed["alerts"] if a["rule"] == "down")
    await run.call("anon", "alert channels", "alert.channels", {})
    await run.call("anon", "deliveries", "alert.deliveries", {})
    await run.call("anon", "viewer acks", "alert.ack", {"id": alert_id})

    # A reporter: an incident created, updated, refused as stale, updated, resolved.
    await run.log_in("rita")
    await run.call("rita", "who", "auth.whoami", {})
    created = await run.call(
        "rita", "create", "incident.create", {**new, "description": "p95 up", "message": "Seen"}
    )
    assert isinstance(created, dict)
    iid, version = created["id"], created["version"]
    await run.call("rita", "read", "incident.get", {"id": iid})
    await run.call("rita", "viewing", "presence.set", {"incident_id": iid, "mode": "viewing"})
    await run.call("rita", "who is here", "presence.list", {"incident_id": iid})
    changes = {"severity": "critical"}
    updated = await run.call(
        "rita", "update", "incident.update", {"id": iid, "version": version, "changes": changes}
    )
    assert isinstance(updated, dict)
    stale = {"id": iid, "version": version, "changes": {"title": "Checkout very slow"}}
    await run.call("rita", "stale update", "incident.update", stale)
    update = {"id": iid, "message": "Found it", "status": "identified"}
    after = await run.call("rita", "add update", "incident.add_update", update)
    assert isinstance(after, dict)
    await run.call("rita", "no title", "incident.create", {"severity": "low", "priority": "P4"})
    await run.call("rita", "unknown incident", "incident.get", {"id": 99999})
    await run.call("rita", "lists users", "user.list", {})
    editing = {"incident_id": iid, "mode": "editing", "field": "title"}
    await run.call("rita", "editing", "presence.set", editing)
    await run.call("rita", "leaves", "presence.clear", {})
    resolve = {"id": iid, "version": after["version"], "root_cause": "a slow query"}
    await run.call("rita", "resolve", "incident.resolve", resolve)
    await run.call("rita", "resolve again", "incident.resolve", resolve)
    await run.call("rita", "past", "incident.past", {"days": 7})
    await run.call("rita", "search", "incident.search", {"query": "checkout"})
    await run.call("rita", "empty search", "incident.search", {"query": ""})
    await run.call("rita", "ack", "alert.ack", {"id": alert_id})
    await run.call("rita", "ack unknown", "alert.ack", {"id": "down|nope|x"})
    silence = {"services": ["broken"], "reason": "known", "duration": "1h"}
    muted = await run.call("rita", "silence", "alert.silence", silence)
    assert isinstance(muted, dict)
    await run.call("rita", "silence without reason", "alert.silence", {"services": []})
    await run.call("rita", "alerts", "alert.list", {})
    await run.call("rita", "unsilence", "alert.unsilence", {"id": muted["id"]})
    await run.call("rita", "test-send", "alert.channel_test", {"id": "ops"})
    hook = {"id": "team-hook", "type": "webhook", "url": "http://127.0.0.1:9/hook/abc"}
    await run.call("rita", "save channel", "alert.channel_save", {"channel": hook})

    # A viewer who logged in: no editing, no updates.
    await run.log_in("victor")
    await run.call("victor", "editing", "presence.set", editing)
    await run.call("victor", "update", "incident.update", {**stale, "version": 99})
    await run.call("victor", "silence", "alert.silence", silence)

    # An admin: users, the audit log, a refused user, a refreshed and an ended login.
    login = await run.log_in("alice")
    await run.call("alice", "users", "user.list", {})
    weak = {"username": "carol", "role": "viewer", "password": "short"}
    await run.call("alice", "weak password", "user.add", weak)
    await run.call("alice", "audit", "audit.list", {"limit": 10})
    await run.call("alice", "test-send", "alert.channel_test", {"id": "ops"})
    await run.call("alice", "test-send unknown", "alert.channel_test", {"id": "nope"})
    # Channels (the TUI's form): added, edited with its secrets left out, refused.
    with_secrets = {**hook, "headers": {"X-Token": "t0ken"}}
    await run.call("alice", "add channel", "alert.channel_save", {"channel": with_secrets})
    edit = {"id": "team-hook", "type": "webhook", "name": "Team", "rules": ["down"]}
    await run.call("alice", "edit channel", "alert.channel_save", {"channel": edit})
    bad = {"id": "other", "type": "webhook", "url": "ftp://nowhere"}
    await run.call("alice", "bad channel", "alert.channel_save", {"channel": bad})
    mine = {"id": "ops", "type": "webhook", "url": "http://127.0.0.1:9/h"}
    await run.call("alice", "change the file's", "alert.channel_save", {"channel": mine})
    await run.call("alice", "channels", "alert.channels", {})
    await run.call("alice", "delete the file's", "alert.channel_delete", {"id": "ops"})
    await run.call("alice", "delete channel", "alert.channel_delete", {"id": "team-hook"})
    await run.call("alice", "delete again", "alert.channel_delete", {"id": "team-hook"})
    refresh = {"refresh_token": login["refresh_token"]}
    fresh = await run.call("alice", "refresh", "auth.refresh", refresh)
    assert isinstance(fresh, dict)
    await run.call("alice", "refresh used token", "auth.refresh", refresh)
    await run.call("alice", "log out", "auth.logout", {"refresh_token": fresh["refresh_token"]})
    # The events the reader saw meanwhile arrive with the replies; one more round trip
    # makes sure the last ones are in.
    await run.call("anon", "ping", "ping", {})
    await asyncio.sleep(0.2)
    await run.call("anon", "ping again", "ping", {})


# --- the two daemons ------------------------------------------------------------------------------


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short directory under /tmp (socket paths stay under ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="slamon-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@asynccontextmanager
async def real_daemon(folder: Path) -> AsyncIterator[Path]:
    """A daemon on SQLite in ``folder`` with two checked services and three users."""
    async with Target(respond(200)) as target, Target(respond(500)) as failing:
        services = "".join(
            f'\n[[service]]\nid = "{sid}"\nname = "{name}"\nurl = "{target.url}"\ninterval = "2s"\n'
            for sid, name in SERVICES
        )
        services += (
            f'\n[[service]]\nid = "broken"\nname = "Broken"\nurl = "{failing.url}"\n'
            'interval = "1s"\nconfirm_failures = 1\n'
        )
        services += (
            '\n[alerts]\ngrouping_window = "1s"\n\n[[alert_channel]]\nid = "ops"\n'
            f'type = "webhook"\nurl = "{target.url}"\n'
        )
        config = folder / "slamon.toml"
        config.write_text(
            "[daemon]\n"
            f'database_url = "sqlite:///{folder}/db.sqlite"\n'
            f'socket = "{folder}/s.sock"\n'
            f'spool_dir = "{folder}/spool"\n'
            f'secret_file = "{folder}/jwt.secret"\n'
            "anonymous_read = true\n"
            "owner_is_admin = false\n"
            "auto_incident = false\n"
            f'write_flush_interval = "100ms"\n{services}',
            encoding="utf-8",
        )
        settings, _ = load_settings(config)
        daemon = Daemon(settings)
        runner = asyncio.create_task(daemon.run())
        try:
            await asyncio.wait_for(daemon.started.wait(), WAIT_S)
            for name, (password, role) in USERS.items():
                await daemon.store.create_user(
                    name, f"{name}@example.com", hash_password(password), role
                )
            await _checked(settings.daemon.socket)
            await _alerting(settings.daemon.socket)
            yield settings.daemon.socket
        finally:
            daemon.request_stop()
            await asyncio.wait_for(runner, WAIT_S)


async def _checked(socket: Path) -> None:
    """Wait until every service has been checked once (a last check, a latency)."""
    client = await FeedClient.connect(socket)
    try:

        async def checked() -> bool:
            status = await client.result("status.get", {})
            return all(s.get("last_check") for s in status["services"])

        await wait_until(checked, timeout=WAIT_S, what="a first check of every service")
    finally:
        await client.close()


async def _alerting(socket: Path) -> None:
    """Wait until "broken" has an open alert that was delivered once."""
    client = await FeedClient.connect(socket)
    try:

        async def alerted() -> bool:
            listed = await client.result("alert.list", {})
            log = await client.result("alert.deliveries", {})
            return bool(listed["alerts"]) and bool(log["deliveries"])

        await wait_until(alerted, timeout=WAIT_S, what="an alert of the broken service")
    finally:
        await client.close()


@asynccontextmanager
async def fake_daemon(folder: Path) -> AsyncIterator[Path]:
    """The fake, serving the same services and users."""
    snapshot = make_snapshot(
        [make_service(sid, name) for sid, name in SERVICES]
        + [make_service("broken", "Broken", status="major_outage", outcome="down")]
    )
    async with FakeDaemon(folder / "fake.sock", snapshot) as fake:
        for name, (password, role) in USERS.items():
            fake.auth.add_user(name, password, role.name.lower(), f"{name}@example.com")
        yield fake.path


async def replies_of(daemon: Any, folder: Path) -> tuple[dict[str, Reply], dict[str, Shape]]:
    """Run the script against the daemon ``daemon(folder)`` opens."""
    async with daemon(folder) as socket:
        run = Run(socket)
        try:
            await script(run)
            return run.replies, run.events("anon")
        finally:
            await run.close()


async def test_the_fake_daemon_answers_like_the_real_one(folder: Path) -> None:
    real, real_events = await replies_of(real_daemon, folder)
    fake, fake_events = await replies_of(fake_daemon, folder)
    assert list(fake) == list(real)  # the same steps were run on both
    problems = []
    for step in real:
        (fake_kind, *fake_rest), (real_kind, *real_rest) = fake[step], real[step]
        if fake_kind != real_kind or fake_rest[:-1] != real_rest[:-1]:
            said = {"result": "a result", "error": "error"}
            problems.append(
                f"{step}: the fake answers {said[fake_kind]} {' '.join(map(str, fake_rest[:-1]))}"
                f", the daemon {said[real_kind]} {' '.join(map(str, real_rest[:-1]))}"
            )
            continue
        problems += differences(fake_rest[-1], real_rest[-1], step)
    assert set(fake_events) == set(real_events), "the events seen differ"
    for label in real_events:
        problems += differences(fake_events[label], real_events[label], label)
    assert not problems, "The fake daemon drifted from the real one:\n" + "\n".join(problems)
    # The script did reach what it is about.
    assert real["rita: stale update (incident.update)"][:2] == ("error", "conflict")
    assert real["victor: editing (presence.set)"][:2] == ("error", "forbidden")
    assert real["anon: viewer creates (incident.create)"][:2] == ("error", "forbidden")
    assert {"anon: incident event, created", "anon: presence event, set"} <= set(real_events)
    assert real["alice: bad channel (alert.channel_save)"][:2] == ("error", "invalid_params")
    assert real["alice: change the file's (alert.channel_save)"][:2] == ("error", "forbidden")
    assert real["rita: save channel (alert.channel_save)"][:2] == ("error", "forbidden")
    assert real["alice: edit channel (alert.channel_save)"][0] == "result"  # the URL kept
