"""Every feed method against every kind of caller, over a real daemon's socket (SPEC §3.10,
docs/feed.md "Roles and logins").

The intended least role of each method is written down here, in ``INTENDED``, not read from
the code: a method added to the registry without an entry here, or registered with another
role, fails these tests. The same table is checked against the one in docs/feed.md.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon.api.registry import Method
from slamon_daemon.config import ServiceConfig, load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Incident, MaintenanceWindow, Role
from slamon_daemon.protocol import ErrorCode

from .alert_seed import alert_write_params, seed_alerts
from .support import remove_dir, short_dir
from .test_auth import Client, add_user, daemon_config, login, running_daemon

A, V, R, ADM = Role.ANONYMOUS, Role.VIEWER, Role.REPORTER, Role.ADMIN

INTENDED: dict[str, Role] = {
    # open to anyone: liveness, discovery and logging in
    "ping": A,
    "methods": A,
    "auth.login": A,
    "auth.refresh": A,
    "auth.logout": A,
    "auth.whoami": A,
    # reading
    "status.get": V,
    "subscribe": V,
    "unsubscribe": V,
    "daemon.stats": V,
    "nodes.list": V,
    "status.history": V,
    "service.get": V,
    "service.series": V,
    "service.calendar": V,
    "service.day": V,
    "maintenance.list": V,
    "sla.report": V,
    "incident.get": V,
    "incident.list": V,
    "incident.past": V,
    "incident.search": V,
    # presence is not a write: it says who looks at what and ends with the connection
    "presence.set": V,
    "presence.clear": V,
    "presence.list": V,
    # incidents
    "incident.create": R,
    "incident.update": R,
    "incident.add_update": R,
    "incident.resolve": R,
    # one's own password (needs a login; see SELF_SERVICE)
    "auth.passwd": V,
    # administration
    "user.list": ADM,
    "user.add": ADM,
    "user.set_role": ADM,
    "user.disable": ADM,
    "user.enable": ADM,
    "user.passwd": ADM,
    "audit.list": ADM,
    "service.list": ADM,
    "service.add": ADM,
    "service.edit": ADM,
    "service.pause": ADM,
    "service.resume": ADM,
    "maintenance.create": ADM,
    "maintenance.cancel": ADM,
    "daemon.reload": ADM,
    # alerts (issue 11): reading for all, ack and silence for reporters, channels for admins
    "alert.list": V,
    "alert.channels": V,
    "alert.deliveries": V,
    "alert.ack": R,
    "alert.silence": R,
    "alert.unsilence": R,
    "alert.channel_test": ADM,
    "alert.channel_save": ADM,
    "alert.channel_delete": ADM,
}

AUDITED = {
    "auth.passwd",
    "user.add",
    "user.set_role",
    "user.disable",
    "user.enable",
    "user.passwd",
    "service.add",
    "service.edit",
    "service.pause",
    "service.resume",
    "maintenance.create",
    "maintenance.cancel",
    "incident.create",
    "incident.update",
    "incident.add_update",
    "incident.resolve",
    "daemon.reload",
    "alert.ack",
    "alert.silence",
    "alert.unsilence",
    "alert.channel_test",
    "alert.channel_save",
    "alert.channel_delete",
}
"""Methods that change state (Method.audited): each successful call is audited."""

SELF_SERVICE = {"auth.passwd"}
"""Mutating methods open to viewers because they act only on the logged-in caller's own
account; without a login they are refused like every other write."""

PW = {
    "viewer": "viewer-Pa55word-1",
    "reporter": "reporter-Pa55word-2",
    "admin": "admin-Pa55word-3",
    "target": "target-Pa55word-4",
}

CALLERS = ("anonymous", "noc", "viewer", "reporter", "admin")
CALLER_ROLE = {"anonymous": A, "noc": V, "viewer": V, "reporter": R, "admin": ADM}
"""noc: no login on a daemon with anonymous_read = true (a viewer that may never write)."""


def expected_allowed(caller: str, method: str) -> bool:
    if caller in ("anonymous", "noc") and method in AUDITED:
        return False  # anonymous access never allows a write
    return CALLER_ROLE[caller] >= INTENDED[method]


@pytest.fixture
def folder() -> Iterator[Path]:
    d = short_dir()  # a short path: AF_UNIX socket paths are limited
    yield d
    remove_dir(d)


def registry_of(tmp_path: Path) -> dict[str, Method]:
    settings, _ = load_settings(daemon_config(tmp_path))
    return Daemon(settings).feed.methods  # not started: nothing to stop


# -- the registry ---------------------------------------------------------------------------


def test_registry_names_and_roles_are_the_intended_ones(tmp_path: Path) -> None:
    methods = registry_of(tmp_path)
    assert sorted(methods) == sorted(INTENDED), (
        "a method was added or removed: give it its intended role in INTENDED"
    )
    wrong = {
        n: (m.role.name, INTENDED[n].name) for n, m in methods.items() if m.role is not INTENDED[n]
    }
    assert wrong == {}, "registered role differs from the intended one (registered, intended)"
    for name, m in methods.items():
        assert m.name == name
        assert callable(m.handler)


def test_a_method_cannot_be_made_without_a_role(tmp_path: Path) -> None:
    role_field = next(f for f in dataclasses.fields(Method) if f.name == "role")
    assert role_field.default is dataclasses.MISSING
    assert role_field.default_factory is dataclasses.MISSING

    async def handler(s: Any, p: dict[str, Any]) -> Any:
        return None

    with pytest.raises(TypeError):
        Method("x.y", handler=handler)  # type: ignore[call-arg]
    for m in registry_of(tmp_path).values():
        assert isinstance(m.role, Role), m.name


def test_mutating_methods_are_audited_and_need_at_least_reporter(tmp_path: Path) -> None:
    methods = registry_of(tmp_path)
    assert {n for n, m in methods.items() if m.audited} == AUDITED
    for name in AUDITED:
        assert INTENDED[name] >= Role.REPORTER or name in SELF_SERVICE, name
        assert methods[name].role >= Role.REPORTER or name in SELF_SERVICE, name
    assert SELF_SERVICE <= AUDITED


def documented_methods() -> dict[str, tuple[str, bool]]:
    """docs/feed.md's method tables: name → (role word, audited)."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "feed.md").read_text(encoding="utf-8")
    section = docs.split("## Methods", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, tuple[str, bool]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`"):
            continue
        role_word = cells[1].split()[0]
        for name in re.findall(r"`([a-z_.]+)`", cells[0]):
            documented[name] = (role_word, "(audited)" in cells[1])
    return documented


def test_docs_give_each_documented_method_its_intended_role() -> None:
    documented = documented_methods()
    assert len(documented) >= 30  # the tables were found
    assert set(documented) <= set(INTENDED), "documented but not in INTENDED"
    assert {n: r for n, (r, _) in documented.items()} == {
        n: INTENDED[n].name.lower() for n in documented
    }
    assert {n for n, (_, audited) in documented.items() if audited} == AUDITED & set(documented)


def test_docs_list_every_method() -> None:
    assert sorted(set(INTENDED) - set(documented_methods())) == []


# -- over the socket ------------------------------------------------------------------------


async def _seed(daemon: Daemon) -> dict[str, Any]:
    """Users of each role plus things the mutating methods can act on."""
    for role in ("viewer", "reporter", "admin", "target"):
        await add_user(
            daemon, role, PW[role], Role.VIEWER if role == "target" else Role[role.upper()]
        )
    await daemon.store.save_admin_service(
        ServiceConfig(id="admin-svc", url="http://127.0.0.1:9/health", interval=3600).to_service()
    )
    await daemon.services_changed()
    start = datetime.now(UTC) + timedelta(days=2)
    window = await daemon.store.create_maintenance(
        MaintenanceWindow(
            title="seeded", starts_at=start, ends_at=start + timedelta(hours=1), created_by="test"
        )
    )
    incidents = []
    for title in ("to update", "to add an update to", "to resolve"):
        inc = await daemon.store.create_incident(
            Incident(
                title=title,
                status="investigating",
                severity="low",
                priority=3,
                started_at=datetime.now(UTC),
                created_by="test",
            )
        )
        incidents.append(inc.id)
    alerts = await seed_alerts(daemon, "admin-svc")
    return {"window_id": window.id, "start": start, "incidents": incidents, **alerts}


async def _matrix_row(c: Client, token: str | None, names: list[str]) -> dict[str, dict[str, Any]]:
    # auth.logout last: it ends the access token it is called with (issue 10).
    ordered = sorted(names, key=lambda n: n == "auth.logout")
    return {name: await c.req(name, {}, token=token) for name in ordered}


def _check_row(caller: str, replies: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for name, reply in replies.items():
        code = reply.get("error", {}).get("code")
        if expected_allowed(caller, name):
            if code in (ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN):
                problems.append(f"{caller} should be allowed {name}: {reply}")
            continue
        want = {
            "anonymous": {ErrorCode.UNAUTHORIZED},
            # docs/feed.md: unauthorized is for anonymous_read = false; without a login on a
            # NOC daemon the role gate says forbidden, the own-password method unauthorized.
            "noc": {ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN},
        }.get(caller, {ErrorCode.FORBIDDEN})
        if code not in want:
            problems.append(f"{caller} should be refused {name} with {sorted(want)}: {reply}")
        elif CALLER_ROLE[caller] < INTENDED[name]:
            needed = INTENDED[name].name.lower()
            if f"needs the {needed} role" not in reply["error"]["message"]:
                problems.append(f"{caller} refused {name} without naming the role: {reply}")
    return problems


async def test_every_method_against_every_caller(folder: Path) -> None:
    names = sorted(INTENDED)
    replies: dict[str, dict[str, dict[str, Any]]] = {}
    closed = daemon_config(folder, extra="anonymous_read = false")
    async with running_daemon(closed) as daemon:
        assert sorted(daemon.feed.methods) == names
        await _seed(daemon)
        c = await Client.connect(folder / "s.sock")
        try:
            assert c.hello["anonymous_read"] is False
            listed = await c.ok("methods")
            assert {m["name"]: m["role"] for m in listed} == {
                n: r.name.lower() for n, r in INTENDED.items()
            }
            replies["anonymous"] = await _matrix_row(c, None, names)
            for role in ("viewer", "reporter", "admin"):
                token = (await login(c, role, PW[role]))["access_token"]
                me = await c.ok("auth.whoami", token=token)
                assert (me["role"], me["logged_in"]) == (role, True)
                replies[role] = await _matrix_row(c, token, names)
        finally:
            await c.close()

    open_ = daemon_config(folder, extra="anonymous_read = true")
    async with running_daemon(open_):
        c = await Client.connect(folder / "s.sock")
        try:
            assert c.hello["anonymous_read"] is True
            me = await c.ok("auth.whoami")
            assert (me["role"], me["logged_in"]) == ("viewer", False)
            replies["noc"] = await _matrix_row(c, None, names)
        finally:
            await c.close()

    problems = [p for caller in CALLERS for p in _check_row(caller, replies[caller])]
    assert problems == []
    # The table is not vacuous: each caller is refused something and allowed something,
    # except the admin, who is refused nothing.
    for caller in CALLERS:
        allowed = [n for n in names if expected_allowed(caller, n)]
        assert allowed and (caller == "admin" or len(allowed) < len(names))


def _valid_params(seed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    start = seed["start"] + timedelta(days=1)
    return {
        "auth.passwd": {"old_password": PW["admin"], "new_password": "admin-Changed-Pa55"},
        "user.add": {"username": "mallory", "role": "admin", "password": "mallory-Pa55word"},
        "user.set_role": {"username": "target", "role": "admin"},
        "user.disable": {"username": "target"},
        "user.enable": {"username": "target"},
        "user.passwd": {"username": "target", "password": "target-Changed-Pa55"},
        "service.add": {"id": "new-svc", "url": "http://127.0.0.1:9/x", "interval": "1h"},
        "service.edit": {"id": "admin-svc", "name": "Renamed"},
        "service.pause": {"id": "admin-svc"},
        "service.resume": {"id": "admin-svc"},
        "maintenance.create": {
            "title": "sneaky",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
        },
        "maintenance.cancel": {"id": seed["window_id"]},
        "incident.create": {"title": "made up", "severity": "critical", "priority": "P1"},
        "incident.update": {
            "id": seed["incidents"][0],
            "version": 1,
            "changes": {"title": "renamed"},
        },
        "incident.add_update": {"id": seed["incidents"][1], "message": "all fine, honest"},
        "incident.resolve": {"id": seed["incidents"][2], "version": 1, "root_cause": "none"},
        "daemon.reload": {},
        **alert_write_params(seed),
    }


async def _snapshot(daemon: Daemon) -> Any:
    users = [
        (u.username, u.role, u.active, u.password_hash, u.token_version)
        for u in await daemon.store.list_users()
    ]
    services = [
        (s.id, s.name, s.active) for s in await daemon.store.list_services(include_inactive=True)
    ]
    windows = [
        (w.id, w.title, w.cancelled_at) for w in await daemon.store.list_maintenance(since=None)
    ]
    incidents = []
    for i in range(1, 10):
        inc = await daemon.store.get_incident(i)
        if inc is not None:
            incidents.append((inc.id, inc.title, inc.status, inc.version, len(inc.updates)))
    alerts = [(a.alert_id, a.acked_by) for a in await daemon.store.open_alerts()]
    silences = [(x.id, x.cancelled_at) for x in await daemon.store.list_silences()]
    channels = [(c.id, c.config) for c in await daemon.store.list_channel_rows()]
    return users, services, windows, incidents, alerts, silences, channels


async def test_writes_with_valid_params_are_refused_below_their_role(folder: Path) -> None:
    """Not just empty params: a complete, valid write by a caller below its role changes
    nothing and leaves no audit entry; the same writes by an admin all succeed."""
    async with running_daemon(daemon_config(folder, extra="anonymous_read = true")) as daemon:
        seed = await _seed(daemon)
        valid = _valid_params(seed)
        assert set(valid) == AUDITED, "give every mutating method valid params here"
        before = await _snapshot(daemon)
        c = await Client.connect(folder / "s.sock")
        try:
            tokens = {
                r: (await login(c, r, PW[r]))["access_token"]
                for r in ("viewer", "reporter", "admin")
            }
            for caller, token in (
                ("noc", None),
                ("viewer", tokens["viewer"]),
                ("reporter", tokens["reporter"]),
            ):
                for name, params in valid.items():
                    if expected_allowed(caller, name):
                        continue  # e.g. a reporter's incidents, one's own password
                    reply = await c.req(name, params, token=token)
                    code = reply.get("error", {}).get("code")
                    assert code in (ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN), (
                        caller,
                        name,
                        reply,
                    )
            assert await _snapshot(daemon) == before
            assert await daemon.store.list_audit() == []

            # The same params are valid: an admin succeeds with each (own password last).
            for name in sorted(valid, key=lambda n: n in SELF_SERVICE):
                reply = await c.req(name, valid[name], token=tokens["admin"])
                assert "result" in reply, (name, reply)
            assert await _snapshot(daemon) != before
            audited = {e.method for e in await daemon.store.list_audit()}
            assert audited == AUDITED
        finally:
            await c.close()
