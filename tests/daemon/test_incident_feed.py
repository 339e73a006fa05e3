"""Incidents and presence through a real daemon and its socket (SPEC §3.6, docs/feed.md).

Each test runs a ``Daemon`` in this event loop with its socket in a short /tmp folder and talks
to it with bare newline-JSON clients. Users are made through the store with
``auth.hash_password`` and log in over the socket like any client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon.auth import hash_password
from slamon_daemon.config import load_settings
from slamon_daemon.daemon import Daemon
from slamon_daemon.models import Incident, Role
from slamon_daemon.store import open_store
from slamon_daemon.targets import Target, free_port, respond

from .support import WAIT_S, FeedClient, remove_dir, short_dir, wait_until, write_config

PASSWORDS = {"rita": "rita-Reporter-pw-1", "rob": "rob-Reporter-pw-2", "vera": "vera-Viewer-pw-3"}
ROLES = {"rita": Role.REPORTER, "rob": Role.REPORTER, "vera": Role.VIEWER}


class Client(FeedClient):
    """A feed client that sends its login's access token with every request."""

    token: str | None = None

    async def call(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = WAIT_S
    ) -> dict[str, Any]:
        self._next_id += 1
        rid = self._next_id
        frame: dict[str, Any] = {"id": rid, "method": method}
        if params is not None:
            frame["params"] = params
        if self.token is not None:
            frame["token"] = self.token
        await self.send(frame)
        return await self.reply_to(rid, timeout)

    async def error(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = await self.call(method, params)
        assert "error" in reply, reply
        return reply["error"]


@pytest.fixture
def folder() -> Iterator[Path]:
    d = short_dir()
    yield d
    remove_dir(d)


def config(
    folder: Path,
    *,
    db_url: str | None = None,
    services: tuple[dict[str, Any], ...] = (),
    extra: str = "",
) -> Path:
    lines = [f'spool_dir = "{folder}/spool"', f'secret_file = "{folder}/jwt.secret"', extra]
    return write_config(
        folder / "slamon.toml",
        db_url=db_url or f"sqlite:///{folder}/db.sqlite",
        socket=folder / "s.sock",
        services=services,
        extra_daemon="\n".join(lines),
    )


def two_services(url: str, interval: str = "1h") -> tuple[dict[str, Any], ...]:
    return (
        {"id": "api", "url": url, "interval": interval, "timeout": "2s"},
        {"id": "payments", "url": url, "interval": interval, "timeout": "2s"},
    )


@contextlib.asynccontextmanager
async def running(cfg: Path, *, users: bool = True) -> AsyncIterator[Daemon]:
    settings, _ = load_settings(cfg)
    daemon = Daemon(settings)
    task = asyncio.create_task(daemon.run())
    started = asyncio.create_task(daemon.started.wait())
    done, _ = await asyncio.wait({task, started}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        started.cancel()
        task.result()
        raise AssertionError("daemon stopped right after starting")
    assert started in done, "daemon did not start within 30 s"
    try:
        for name, pw in PASSWORDS.items() if users else ():
            if await daemon.store.get_user(name) is None:
                await daemon.store.create_user(
                    name, f"{name}@example.com", hash_password(pw), ROLES[name]
                )
        yield daemon
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)


async def connect(folder: Path, user: str | None = None) -> Client:
    c = await Client.connect(folder / "s.sock")
    if user is not None:
        reply = await c.call("auth.login", {"username": user, "password": PASSWORDS[user]})
        assert "result" in reply, reply
        c.token = reply["result"]["access_token"]
    return c


def at(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text)


# -- a reporter's whole incident ------------------------------------------------------------


async def test_reporter_creates_updates_resolves_and_finds_an_incident(folder: Path) -> None:
    async with (
        Target(respond(200)) as target,
        running(config(folder, services=two_services(target.url))),
    ):
        watcher = await connect(folder)  # anonymous read-only NOC screen
        assert (await watcher.result("subscribe", {"topics": ["incident"]}))["topics"] == [
            "incident"
        ]
        rita = await connect(folder, "rita")
        try:
            t_before = datetime.now(UTC)
            created = await rita.result(
                "incident.create",
                {
                    "title": "  Payments failing  ",
                    "severity": "high",
                    "priority": "P1",
                    "services": ["payments", "api"],
                    "description": "Card checkout returns 502",
                    "impact": "EU customers cannot pay",
                },
            )
            iid = created["id"]
            assert (
                created["title"],
                created["status"],
                created["priority"],
                created["severity"],
            ) == ("Payments failing", "investigating", "P1", "high")
            assert created["services"] == ["api", "payments"]
            assert (created["created_by"], created["version"], created["auto"]) == (
                "rita",
                1,
                False,
            )
            assert created["identified_at"] is None and created["monitoring_at"] is None
            assert created["resolved_at"] is None and created["first_update_at"] is None
            assert t_before <= at(created["created_at"]) <= datetime.now(UTC)
            assert at(created["response_due"]) == at(created["created_at"]) + timedelta(minutes=15)
            assert created["updates"] == [] and created["overdue"] is False

            # Timestamps are the daemon's: a client cannot send them.
            bad = await rita.error(
                "incident.create",
                {
                    "title": "x",
                    "severity": "low",
                    "priority": "P4",
                    "identified_at": "2026-01-01T00:00:00Z",
                },
            )
            assert bad["code"] == "invalid_params" and "identified_at" in bad["message"]
            bad = await rita.error(
                "incident.add_update",
                {"id": iid, "message": "m", "created_at": "2026-01-01T00:00:00Z"},
            )
            assert bad["code"] == "invalid_params" and "created_at" in bad["message"]
            bad = await rita.error(
                "incident.update",
                {"id": iid, "version": 1, "changes": {"identified_at": "2026-01-01T00:00:00Z"}},
            )
            assert bad["code"] == "invalid_params" and "identified_at" in bad["fields"]
            bad = await rita.error(
                "incident.update", {"id": iid, "version": 1, "changes": {"severity": "apocalyptic"}}
            )
            assert bad["code"] == "invalid_params" and "severity" in bad["fields"]
            bad = await rita.error(
                "incident.create",
                {"title": "x", "severity": "low", "priority": "P4", "services": ["ghost"]},
            )
            assert bad["code"] == "invalid_params" and "services" in bad["fields"]
            still = await rita.result("incident.get", {"id": iid})
            assert still["version"] == 1 and still["updates"] == []  # none of that changed anything

            t1 = datetime.now(UTC)
            one = await rita.result(
                "incident.add_update",
                {"id": iid, "status": "identified", "message": "Gateway **certificate** expired"},
            )
            t2 = datetime.now(UTC)
            assert one["status"] == "identified" and one["version"] == 2
            assert t1 <= at(one["identified_at"]) <= t2
            assert at(one["first_update_at"]) == at(one["identified_at"])
            assert one["updates_count"] == 1 and one["updates"][0]["author"] == "rita"
            assert one["monitoring_at"] is None

            two = await rita.result(
                "incident.add_update",
                {
                    "id": iid,
                    "status": "monitoring",
                    "message": "New certificate deployed",
                    "customer_visible": False,
                },
            )
            assert two["status"] == "monitoring" and two["version"] == 3
            assert at(two["monitoring_at"]) >= at(two["identified_at"])
            assert two["identified_at"] == one["identified_at"]  # set once
            assert two["first_update_at"] == one["first_update_at"]
            assert [u["customer_visible"] for u in two["updates"]] == [True, False]

            edited = await rita.result(
                "incident.update", {"id": iid, "version": 3, "changes": {"impact": "EU and UK"}}
            )
            assert (edited["impact"], edited["version"]) == ("EU and UK", 4)

            missing = await rita.error("incident.resolve", {"id": iid, "version": 4})
            assert missing["code"] == "invalid_params" and "root_cause" in missing["message"]
            resolved = await rita.result(
                "incident.resolve",
                {
                    "id": iid,
                    "version": 4,
                    "root_cause": "TLS certificate on the gateway expired",
                    "resolution_notes": "Renewed; expiry alert added",
                    "message": "All clear",
                },
            )
            assert (resolved["status"], resolved["resolved_by"]) == ("resolved", "rita")
            assert resolved["root_cause"] == "TLS certificate on the gateway expired"
            assert resolved["resolution_notes"] == "Renewed; expiry alert added"
            assert resolved["duration_s"] == round(
                (at(resolved["resolved_at"]) - at(resolved["started_at"])).total_seconds(), 3
            )
            assert resolved["duration_s"] > 0
            again = await rita.error(
                "incident.resolve", {"id": iid, "version": resolved["version"], "root_cause": "x"}
            )
            assert again["code"] == "conflict" and "already resolved" in again["message"]

            full = await rita.result("incident.get", {"id": iid})
            assert [(u["status"], u["message"]) for u in full["updates"]] == [
                ("identified", "Gateway **certificate** expired"),
                ("monitoring", "New certificate deployed"),
                ("resolved", "All clear"),
            ]
            assert full["presence"] == []

            assert await rita.result("incident.list") == []
            past = await rita.result("incident.past", {"days": 1})
            assert [i["id"] for i in past["items"]] == [iid] and past["total"] == 1
            assert "updates" not in past["items"][0]
            for q in ("payments", "certif", "deployed gateway", "checkout 502"):
                assert [i["id"] for i in await rita.result("incident.search", {"query": q})] == [
                    iid
                ], q
            assert await rita.result("incident.search", {"query": "payments nowhere"}) == []

            # Every change reached the subscriber, in order, without updates inside.
            events = []
            for _ in range(5):
                e = await watcher.next_event(lambda f: f["event"] == "incident")
                events.append(e["data"])
            assert [
                (e["action"], e["incident"]["id"], e["incident"]["version"]) for e in events
            ] == [
                ("created", iid, 1),
                ("update_added", iid, 2),
                ("update_added", iid, 3),
                ("updated", iid, 4),
                ("resolved", iid, resolved["version"]),
            ]
            assert all("updates" not in e["incident"] for e in events)
            assert events[-1]["incident"]["status"] == "resolved"
        finally:
            await watcher.close()
            await rita.close()


async def test_reopen_by_update_clears_resolved_and_a_status_change_via_update_is_stamped(
    folder: Path,
) -> None:
    async with running(config(folder, services=two_services(f"http://127.0.0.1:{free_port()}/"))):
        rita = await connect(folder, "rita")
        try:
            inc = await rita.result(
                "incident.create",
                {
                    "title": "Slow logins",
                    "severity": "medium",
                    "priority": "P3",
                    "status": "identified",
                },
            )
            assert inc["identified_at"] is not None and inc["status"] == "identified"
            r = await rita.result(
                "incident.update",
                {"id": inc["id"], "version": 1, "changes": {"status": "resolved"}},
            )
            assert r["resolved_at"] is not None and r["resolved_by"] == "rita"
            reopened = await rita.result(
                "incident.update",
                {"id": inc["id"], "version": 2, "changes": {"status": "monitoring"}},
            )
            assert reopened["resolved_at"] is None and reopened["resolved_by"] is None
            assert reopened["monitoring_at"] is not None
            assert [i["id"] for i in await rita.result("incident.list")] == [inc["id"]]
        finally:
            await rita.close()


async def test_resolve_with_a_bad_message_changes_nothing(folder: Path) -> None:
    async with running(config(folder, services=two_services(f"http://127.0.0.1:{free_port()}/"))):
        rita = await connect(folder, "rita")
        try:
            inc = await rita.result(
                "incident.create", {"title": "Search down", "severity": "high", "priority": "P2"}
            )
            bad = await rita.error(
                "incident.resolve",
                {"id": inc["id"], "version": 1, "root_cause": "index corrupt", "message": "   "},
            )
            assert bad["code"] == "invalid_params"
            now = await rita.result("incident.get", {"id": inc["id"]})
            assert (now["status"], now["version"], now["resolved_at"]) == ("investigating", 1, None)
        finally:
            await rita.close()


# -- roles ----------------------------------------------------------------------------------


async def test_a_viewer_reads_but_every_incident_mutation_is_forbidden(folder: Path) -> None:
    async with running(config(folder, services=two_services(f"http://127.0.0.1:{free_port()}/"))):
        rita, vera, anon = (
            await connect(folder, "rita"),
            await connect(folder, "vera"),
            await connect(folder),
        )
        try:
            inc = await rita.result(
                "incident.create",
                {
                    "title": "DNS flapping",
                    "severity": "medium",
                    "priority": "P2",
                    "services": ["api"],
                },
            )
            iid = inc["id"]
            for c in (vera, anon):
                assert (await c.result("incident.get", {"id": iid}))["title"] == "DNS flapping"
                assert [i["id"] for i in await c.result("incident.list")] == [iid]
                assert (await c.result("incident.past"))["total"] == 0
                assert [i["id"] for i in await c.result("incident.search", {"query": "dns"})] == [
                    iid
                ]
                assert (await c.result("presence.set", {"incident_id": iid, "mode": "viewing"}))[
                    "mode"
                ] == "viewing"
                attempts = [
                    ("incident.create", {"title": "x", "severity": "low", "priority": "P4"}),
                    (
                        "incident.update",
                        {"id": iid, "version": 1, "changes": {"title": "hijacked"}},
                    ),
                    ("incident.add_update", {"id": iid, "message": "hijacked"}),
                    ("incident.resolve", {"id": iid, "version": 1, "root_cause": "hijacked"}),
                    ("presence.set", {"incident_id": iid, "mode": "editing", "field": "title"}),
                ]
                for method, params in attempts:
                    err = await c.error(method, params)
                    assert err["code"] == "forbidden", (method, err)
            editing = await vera.error("presence.set", {"incident_id": iid, "mode": "editing"})
            assert "reporter" in editing["message"]
            after = await rita.result("incident.get", {"id": iid})
            assert (after["version"], after["title"], after["updates"], after["status"]) == (
                1,
                "DNS flapping",
                [],
                "investigating",
            )
            assert len(await rita.result("incident.list")) == 1
            missing = await vera.error("incident.get", {"id": iid + 100})
            assert missing["code"] == "not_found"
        finally:
            for c in (rita, vera, anon):
                await c.close()


# -- past incidents, paged ------------------------------------------------------------------


async def test_past_incidents_by_days_with_paging(folder: Path) -> None:
    async with running(
        config(folder, services=two_services(f"http://127.0.0.1:{free_port()}/"))
    ) as daemon:
        now = datetime.now(UTC)
        ids = []
        for i in range(25):
            started = now - timedelta(hours=1, minutes=i)  # newest first by index
            made = await daemon.store.create_incident(
                Incident(
                    title=f"Resolved {i}",
                    status="resolved",
                    severity="low",
                    priority=4,
                    started_at=started,
                    created_by="rita",
                    created_at=started,
                    resolved_at=started + timedelta(minutes=10),
                    resolved_by="rita",
                )
            )
            ids.append(made.id)
        old = await daemon.store.create_incident(
            Incident(
                title="Old one",
                status="resolved",
                severity="low",
                priority=4,
                started_at=now - timedelta(days=10),
                created_by="rita",
                created_at=now - timedelta(days=10),
                resolved_at=now - timedelta(days=10) + timedelta(hours=1),
                resolved_by="rita",
            )
        )
        await daemon.store.create_incident(
            Incident(
                title="Still open",
                status="investigating",
                severity="low",
                priority=4,
                started_at=now,
                created_by="rita",
                created_at=now,
            )
        )
        c = await connect(folder)
        try:
            pages = [
                await c.result("incident.past", {"days": 7, "page": p, "limit": 10})
                for p in (1, 2, 3, 4)
            ]
            assert [(p["total"], p["pages"], p["page"], p["limit"], p["days"]) for p in pages] == [
                (25, 3, 1, 10, 7),
                (25, 3, 2, 10, 7),
                (25, 3, 3, 10, 7),
                (25, 3, 4, 10, 7),
            ]
            assert [len(p["items"]) for p in pages] == [10, 10, 5, 0]
            assert [
                i["id"] for p in pages for i in p["items"]
            ] == ids  # newest start first, no repeats
            assert all(i["status"] == "resolved" for p in pages for i in p["items"])
            default = await c.result("incident.past")
            assert (default["days"], default["limit"], default["page"], len(default["items"])) == (
                7,
                20,
                1,
                20,
            )
            month = await c.result("incident.past", {"days": 30, "limit": 100})
            assert (
                month["total"] == 26 and month["pages"] == 1 and month["items"][-1]["id"] == old.id
            )
            for bad in (
                {"days": 0},
                {"limit": 101},
                {"page": 0},
                {"days": "7"},
                {"since": "2026-01-01"},
            ):
                assert (await c.error("incident.past", bad))["code"] == "invalid_params", bad
        finally:
            await c.close()


# -- concurrent editing loses nothing -------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


async def test_two_editors_at_once_lose_no_words(folder: Path, db_url: str | None) -> None:
    rounds = 40
    cfg = config(
        folder,
        db_url=db_url,
        services=two_services(f"http://127.0.0.1:{free_port()}/"),
        extra="request_rate = 1000",
    )
    async with running(cfg):
        a, b = await connect(folder, "rita"), await connect(folder, "rob")
        try:
            inc = await a.result(
                "incident.create", {"title": "Shared", "severity": "high", "priority": "P2"}
            )
            iid = inc["id"]
            # (client, field, value, version sent, reply)
            log: list[tuple[str, str, str, int, dict[str, Any]]] = []

            async def save(c: Client, who: str, field: str, value: str, version: int) -> None:
                reply = await c.call(
                    "incident.update", {"id": iid, "version": version, "changes": {field: value}}
                )
                log.append((who, field, value, version, reply))

            # Lockstep: both read the same version, then both save at once. Exactly one wins,
            # the other is told the winner's field, and the winner's value is what is stored.
            for i in range(rounds // 2):
                va, vb = await asyncio.gather(
                    *(c.result("incident.get", {"id": iid}) for c in (a, b))
                )
                assert va["version"] == vb["version"]
                fa = ("title", "impact")[i % 2]
                fb = ("description", "impact")[i // 2 % 2]
                pair = [
                    save(a, "A", fa, f"A{i}-{fa}", va["version"]),
                    save(b, "B", fb, f"B{i}-{fb}", vb["version"]),
                ]
                await asyncio.gather(*(pair if i % 2 else pair[::-1]))
                [won] = [r for r in log[-2:] if "result" in r[4]]
                [lost] = [r for r in log[-2:] if "error" in r[4]]
                err = lost[4]["error"]
                assert err["code"] == "conflict", err
                assert err["data"]["changed_fields"] == [won[1]] and err["fields"] == {
                    won[1]: "changed by someone else"
                }
                assert err["data"]["current"][won[1]] == won[2]
                assert err["data"]["current"]["version"] == va["version"] + 1
                now = await a.result("incident.get", {"id": iid})
                assert now["version"] == va["version"] + 1 and now[won[1]] == won[2]
                if lost[1] != won[1]:  # the loser's field kept its previous value
                    assert now[lost[1]] == va[lost[1]]

            # Free running: each reads and saves as fast as it can; A edits title and impact,
            # B description and impact.
            phase2 = len(log)

            async def editor(c: Client, who: str, fields: tuple[str, str]) -> None:
                for i in range(rounds // 2, rounds):
                    cur = await c.result("incident.get", {"id": iid})
                    f = fields[i % 2]
                    await save(c, who, f, f"{who}{i}-{f}", cur["version"])

            await asyncio.gather(
                editor(a, "A", ("title", "impact")), editor(b, "B", ("impact", "description"))
            )

            final = await a.result("incident.get", {"id": iid})
            accepted = [r for r in log if "result" in r[4]]
            refused = [r for r in log if "error" in r[4]]
            assert len(accepted) + len(refused) == 2 * rounds
            # Every accepted save made exactly one version: none lost, none applied twice.
            assert final["version"] == 1 + len(accepted)
            for _, field, value, sent, reply in accepted:
                assert reply["result"]["version"] > sent
                if reply["result"]["version"] == sent + 1:
                    assert reply["result"][field] == value

            # Each field holds its last accepted value. A client's own saves are in order, the
            # lockstep rounds too; in the free-running phase only impact is edited by both.
            def last(field: str, who: str | None = None, since: int = 0) -> str | None:
                vals = [
                    r[2]
                    for r in log[since:]
                    if "result" in r[4] and r[1] == field and who in (None, r[0])
                ]
                return vals[-1] if vals else None

            assert final["title"] == (last("title", "A") or "Shared")
            assert final["description"] == (last("description", "B") or "")
            free = {v for v in (last("impact", "A", phase2), last("impact", "B", phase2)) if v}
            assert final["impact"] in (free or {last("impact") or ""})
            # Every refused save got a conflict naming fields that did change, with the incident
            # as it is now; a refused value is nowhere in the final incident.
            accepted_fields = {r[1] for r in accepted}
            for who, _field, value, sent, reply in refused:
                err = reply["error"]
                assert err["code"] == "conflict", reply
                changed = err["data"]["changed_fields"]
                assert changed and set(changed) <= accepted_fields and changed == sorted(changed)
                assert err["fields"] == {f: "changed by someone else" for f in changed}
                assert (
                    err["data"]["current"]["id"] == iid and err["data"]["current"]["version"] > sent
                )
                assert "nothing was saved" in err["message"]
                assert value not in final.values(), f"refused {who} value {value!r} ended up saved"
        finally:
            await a.close()
            await b.close()


# -- presence -------------------------------------------------------------------------------


async def test_presence_is_pushed_listed_and_cleared_on_disconnect(folder: Path) -> None:
    async with running(config(folder, services=two_services(f"http://127.0.0.1:{free_port()}/"))):
        a, b = await connect(folder, "rita"), await connect(folder, "rob")
        try:
            inc = await a.result(
                "incident.create", {"title": "Presence", "severity": "low", "priority": "P4"}
            )
            iid = inc["id"]
            await b.result("subscribe", {"topics": ["presence"]})
            mine = await a.result(
                "presence.set", {"incident_id": iid, "mode": "editing", "field": "title"}
            )
            assert (mine["user"], mine["mode"], mine["field"], mine["incident_id"]) == (
                "rita",
                "editing",
                "title",
                iid,
            )
            ev = await b.next_event(lambda e: e["event"] == "presence")
            assert ev["data"] == {"action": "set", "presence": mine}
            seen = await b.result("incident.get", {"id": iid})
            assert seen["presence"] == [mine]
            assert await b.result("presence.list", {"incident_id": iid}) == [mine]
            # A second presence.set replaces the first (one per connection).
            moved = await a.result(
                "presence.set", {"incident_id": iid, "mode": "editing", "field": "impact"}
            )
            assert await b.result("presence.list", {"incident_id": iid}) == [moved]
            missing = await a.error("presence.set", {"incident_id": iid + 50, "mode": "viewing"})
            assert missing["code"] == "not_found"

            await a.close()
            cleared = await b.next_event(
                lambda e: e["event"] == "presence" and e["data"]["action"] == "cleared"
            )
            assert cleared["data"]["presence"]["session"] == moved["session"]
            assert cleared["data"]["presence"]["user"] == "rita"
            assert (await b.result("incident.get", {"id": iid}))["presence"] == []
            assert await b.result("presence.list", {"incident_id": iid}) == []
        finally:
            await a.close()
            await b.close()


# -- overdue --------------------------------------------------------------------------------


async def test_overdue_is_past_response_due_without_any_update(folder: Path) -> None:
    async with running(
        config(folder, services=two_services(f"http://127.0.0.1:{free_port()}/"))
    ) as daemon:
        rita = await connect(folder, "rita")
        try:
            # Recorded now for an outage that began 3 h ago: due 15 min after it was recorded.
            backdated = await rita.result(
                "incident.create",
                {
                    "title": "Backdated",
                    "severity": "high",
                    "priority": "P1",
                    "started_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
                },
            )
            assert at(backdated["response_due"]) == at(backdated["created_at"]) + timedelta(
                minutes=15
            )
            assert at(backdated["started_at"]) < at(backdated["created_at"]) - timedelta(hours=2)
            # Recorded 40 minutes ago and never answered: past P1's 15 min, not P2's hour.
            hour_ago = datetime.now(UTC) - timedelta(minutes=40)
            made = {}
            for p in (1, 2, 3):
                made[p] = await daemon.store.create_incident(
                    Incident(
                        title=f"Unanswered P{p}",
                        status="investigating",
                        severity="low",
                        priority=p,
                        started_at=hour_ago,
                        created_by="rita",
                        created_at=hour_ago,
                    )
                )

            listed = {i["title"]: i for i in await rita.result("incident.list")}
            now = datetime.now(UTC)
            assert {t: i["overdue"] for t, i in listed.items()} == {
                "Backdated": False,
                "Unanswered P1": True,
                "Unanswered P2": False,
                "Unanswered P3": False,
            }
            for i in listed.values():  # the documented rule, for each one
                assert i["overdue"] == (now > at(i["response_due"]) and i["updates_count"] == 0)

            await rita.result("incident.add_update", {"id": made[1].id, "message": "Looking"})
            after = {i["title"]: i["overdue"] for i in await rita.result("incident.list")}
            assert after["Unanswered P1"] is False
        finally:
            await rita.close()


# -- open incidents raise the overall status ------------------------------------------------


async def test_open_incidents_raise_the_overall_status(folder: Path) -> None:
    async with (
        Target(respond(200)) as target,
        running(config(folder, services=two_services(target.url, interval="300ms"))),
    ):
        rita = await connect(folder, "rita")
        try:

            async def overall() -> str:
                return str((await rita.result("status.get"))["overall"]["status"])

            async def all_up() -> bool:
                st = await rita.result("status.get")
                return (
                    all(s["status"] == "operational" for s in st["services"])
                    and st["overall"]["status"] == "operational"
                )

            await wait_until(all_up, what="both services operational")
            await rita.result("subscribe", {"topics": ["status"]})
            critical = await rita.result(
                "incident.create",
                {"title": "Data centre fire", "severity": "critical", "priority": "P1"},
            )
            await wait_until(lambda: _is(overall(), "major_outage"), what="overall major_outage")
            st = await rita.result("status.get")
            assert [i["id"] for i in st["incidents"]] == [critical["id"]]
            assert all(s["status"] == "operational" for s in st["services"])
            ev = await rita.next_event(
                lambda e: (
                    e["event"] == "status"
                    and e["data"]["kind"] == "overall"
                    and e["data"]["status"] == "major_outage"
                )
            )
            assert ev["data"]["previous"] == "operational"

            high = await rita.result(
                "incident.create", {"title": "Slow API", "severity": "high", "priority": "P2"}
            )
            await rita.result(
                "incident.resolve", {"id": critical["id"], "version": 1, "root_cause": "drill"}
            )
            await wait_until(
                lambda: _is(overall(), "partial_outage"), what="overall partial_outage"
            )
            await rita.result(
                "incident.update",
                {"id": high["id"], "version": 1, "changes": {"severity": "medium"}},
            )
            await wait_until(lambda: _is(overall(), "degraded"), what="overall degraded")
            await rita.result(
                "incident.update", {"id": high["id"], "version": 2, "changes": {"severity": "low"}}
            )
            await wait_until(lambda: _is(overall(), "operational"), what="low raises nothing")
            await rita.result(
                "incident.update",
                {"id": high["id"], "version": 3, "changes": {"severity": "critical"}},
            )
            await wait_until(lambda: _is(overall(), "major_outage"), what="major again")
            await rita.result(
                "incident.resolve", {"id": high["id"], "version": 4, "root_cause": "cache"}
            )
            await wait_until(lambda: _is(overall(), "operational"), what="back to operational")
            assert (await rita.result("status.get"))["incidents"] == []

            async def recorded() -> bool:  # the overall transitions are kept in the history too
                history = await rita.result("status.history", {})
                return [h["status"] for h in history[:2]] == ["operational", "major_outage"]

            await wait_until(recorded, what="the overall history")
        finally:
            await rita.close()


async def _is(value: Any, expected: str) -> bool:
    return bool(await value == expected)


# -- auto-incidents -------------------------------------------------------------------------

AUTO = 'auto_incident_after = "1s"'


def outage_service(port: int) -> tuple[dict[str, Any], ...]:
    return (
        {
            "id": "api",
            "name": "Public API",
            "url": f"http://127.0.0.1:{port}/",
            "interval": "200ms",
            "timeout": "1s",
            "confirm_failures": 2,
        },
    )


async def _incidents(c: Client) -> list[dict[str, Any]]:
    active = await c.result("incident.list")
    past = (await c.result("incident.past", {"days": 1, "limit": 100}))["items"]
    return list(active) + list(past)


async def test_auto_incident_once_per_outage_across_a_restart_and_a_monitoring_update_on_recovery(
    folder: Path,
) -> None:
    port = free_port()
    cfg = config(folder, services=outage_service(port), extra=AUTO)
    async with running(cfg, users=False) as daemon:
        c = await connect(folder)  # subscribed long before the outage can be 1 s old
        await c.result("subscribe", {"topics": ["incident"]})
        try:

            async def one_incident() -> bool:
                return len(await _incidents(c)) >= 1

            await wait_until(one_incident, timeout=20, what="an auto-incident")
            [auto] = await _incidents(c)
            assert (auto["created_by"], auto["auto"], auto["services"]) == ("system", True, ["api"])
            assert (auto["status"], auto["priority"], auto["severity"]) == (
                "investigating",
                "P2",
                "high",
            )
            assert auto["title"] == "Public API is down"
            episode = daemon.state.services["api"].episode
            assert episode is not None and at(auto["episode_started_at"]) == episode.started_at
            assert at(auto["started_at"]) == episode.started_at
            ev = await c.next_event(lambda e: e["event"] == "incident")
            assert (ev["data"]["action"], ev["data"]["incident"]["id"]) == ("created", auto["id"])
            # The outage goes on: checks keep coming, no second incident.
            made = daemon.checks_made
            await wait_until(lambda: daemon.checks_made >= made + 10, what="ten more checks")
            assert [i["id"] for i in await _incidents(c)] == [auto["id"]]
        finally:
            await c.close()

    # A restart in the middle of the same outage opens nothing new.
    async with running(cfg, users=False) as daemon:
        c = await connect(folder)
        try:
            await wait_until(lambda: daemon.checks_made >= 10, what="checks after the restart")
            episode = daemon.state.services["api"].episode
            assert episode is not None and episode.started_at == at(auto["episode_started_at"])
            assert [i["id"] for i in await _incidents(c)] == [auto["id"]]

            # The service comes back on the same port: a monitoring update by system.
            async with Target(respond(200), port=port):

                async def monitoring() -> bool:
                    inc = await c.result("incident.get", {"id": auto["id"]})
                    return inc["status"] == "monitoring"

                await wait_until(monitoring, timeout=20, what="the recovery update")
                inc = await c.result("incident.get", {"id": auto["id"]})
                [update] = inc["updates"]
                assert (update["status"], update["author"]) == ("monitoring", "system")
                assert (
                    "recovered" in update["message"] and "consider resolving" in update["message"]
                )
                assert inc["monitoring_at"] is not None and inc["resolved_at"] is None
                # Issue 12: the daemon's own update is not the first human response.
                assert inc["first_update_at"] is None
                assert [i["id"] for i in await _incidents(c)] == [auto["id"]]
        finally:
            await c.close()


async def test_no_auto_incident_when_one_is_already_open_for_the_service(folder: Path) -> None:
    port = free_port()
    cfg = config(folder, services=outage_service(port), extra=AUTO)
    # A reporter's incident is open for the service before the outage starts.
    settings, _ = load_settings(cfg)
    async with open_store(settings.daemon.database_url) as store:
        await store.migrate()
        mine = await store.create_incident(
            Incident(
                title="API maintenance gone wrong",
                status="identified",
                severity="medium",
                priority=3,
                started_at=datetime.now(UTC),
                created_by="rita",
                created_at=datetime.now(UTC),
                services=("api",),
            )
        )
    async with running(cfg) as daemon:
        c = await connect(folder)
        try:

            def long_outage() -> bool:
                st = daemon.state.services["api"]
                return (
                    st.episode is not None
                    and st.last_check is not None
                    and st.status.value == "major_outage"
                    and (st.last_check.started_at - st.episode.started_at).total_seconds() >= 3
                )

            await wait_until(long_outage, timeout=20, what="three seconds of confirmed outage")
            made = daemon.checks_made
            await wait_until(lambda: daemon.checks_made >= made + 5, what="more checks")
            listed = await _incidents(c)
            assert [(i["id"], i["created_by"]) for i in listed] == [(mine.id, "rita")]
        finally:
            await c.close()
